/**
 * The bridge to the Stately inspector: with `observe.statelyInspectUrl` (or `--inspect-ws`)
 * the sidecar forwards sanitised inspection events over @statelyai/inspect's WebSocket
 * protocol, so the machines show up in a Stately inspector.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, startSidecar, startSimulatorProc, testConfig, TEST_KEYS, type SidecarHandle, type SimHandle } from './harness.js';

let wss: WebSocketServer;
const frames: string[] = [];
let sim: SimHandle;
let sc: SidecarHandle;

beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (socket) => socket.on('message', (data: Buffer) => frames.push(data.toString())));
  const port = (wss.address() as AddressInfo).port;
  sim = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: 8 } });
  sc = await startSidecar(testConfig(sim.url, { observe: { statelyInspectUrl: `ws://127.0.0.1:${port}` } }), { SWITCHYARD_ADMIN_TOKEN: 'admin-SECRET-token' });
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
  wss?.close();
});

describe('Stately inspector bridge', () => {
  it('forwards the actors and their events over the WebSocket, with no secret in them', async () => {
    await sc.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hello' }] });
    for (let i = 0; i < 50 && !frames.some((f) => f.includes('upstream.succeeded')); i++) await sleep(100);
    const all = frames.join('\n');
    const parsed = frames.map((f) => JSON.parse(f) as { type?: string });
    expect(parsed.some((p) => p.type === '@xstate.actor')).toBe(true);
    expect(parsed.some((p) => p.type === '@xstate.snapshot')).toBe(true);
    expect(all).toContain('endpoint:gpt-4.1@openai');
    expect(all).toContain('upstream.succeeded');
    for (const v of [...Object.values(TEST_KEYS), 'admin-SECRET-token']) expect(all).not.toContain(v);
  });
});

describe('Stately inspector bridge to nothing', () => {
  it('says in the log that the inspector cannot be reached (and why), and keeps serving', async () => {
    const closed = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => closed.once('listening', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const lone = await startSidecar(testConfig(sim.url, { observe: { statelyInspectUrl: `ws://127.0.0.1:${port}` } }));
    try {
      for (let i = 0; i < 100 && !lone.stdout().includes('cannot reach the Stately inspector'); i++) await sleep(50);
      const line = lone
        .stdout()
        .split('\n')
        .find((l) => l.includes('cannot reach the Stately inspector'));
      expect(line, lone.stdout()).toBeDefined();
      expect(JSON.parse(line!)).toMatchObject({ level: 40 });
      expect(line).toContain(`ws://127.0.0.1:${port}`);
      expect(line).toContain('ECONNREFUSED');
      const r = await lone.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hello' }] });
      expect(r.choices[0]?.message.content).toBeTruthy();
    } finally {
      await lone.stop();
    }
  });
});
