/**
 * Slow clients are cut: 500 half-open connections (headers never finished, or a body that
 * stops half way) against the real sidecar with `server.requestTimeoutMs: 3000`. Normal
 * requests keep being served meanwhile, and every half-open socket is closed not long after
 * the limit (before the fix, `requestTimeout: 0` held them forever). A client that stops
 * reading a stream is waited for: the upstream is paused, not cut as idle — until it has taken
 * nothing for `server.sendTimeoutMs`, when its connection is closed.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from '../integration/harness.js';

const LIMIT_MS = 3000;
/** Generous: the limit, node's check interval, and a loaded machine. */
const CLOSED_WITHIN_MS = LIMIT_MS + 6000;

let sim: SimHandle;
let sc: SidecarHandle;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 1, tokenGapMs: 0, outputTokens: 5 } });
  sc = await startSidecar({ ...testConfig(sim.url), server: { requestTimeoutMs: LIMIT_MS } });
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

function halfOpen(i: number): Promise<{ socket: Socket; closed: Promise<number> }> {
  const u = new URL(sc.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    const closed = new Promise<number>((r) => socket.on('close', () => r(Date.now())));
    socket.on('error', () => undefined);
    socket.resume(); // read (and drop) whatever the server answers, so its close is seen
    socket.once('connect', () => {
      // Three kinds: nothing at all, headers that never end, a body that stops half way.
      if (i % 3 === 1) socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-');
      if (i % 3 === 2) socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"model":');
      resolve({ socket, closed });
    });
    socket.once('error', reject);
  });
}

it('500 half-open connections neither degrade normal requests nor stay open past the limit', async () => {
  const started = Date.now();
  const conns = await Promise.all(Array.from({ length: 500 }, (_, i) => halfOpen(i)));
  // Normal requests are served while the half-open ones wait.
  for (let i = 0; i < 5; i++) {
    const t = Date.now();
    const r = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'deepseek-v3.2', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(200);
    await r.arrayBuffer();
    expect(Date.now() - t).toBeLessThan(LIMIT_MS);
  }
  const closedAt = await Promise.race([Promise.all(conns.map((c) => c.closed)), new Promise<null>((r) => setTimeout(() => r(null), CLOSED_WITHIN_MS + 2000))]);
  const open = conns.map((c, i) => (c.socket.readyState === 'closed' || c.socket.destroyed ? -1 : i % 3)).filter((k) => k >= 0);
  for (const c of conns) c.socket.destroy();
  expect(open, 'kinds of sockets still open').toEqual([]);
  expect(closedAt, 'some half-open sockets were still open').not.toBeNull();
  expect(Math.max(...closedAt!) - started).toBeLessThan(CLOSED_WITHIN_MS);
  expect(sc.child.exitCode).toBeNull();
}, 30_000);

it('a slow body gets 408 with an OpenAI-shaped body', async () => {
  const u = new URL(sc.url);
  const socket = connect(Number(u.port), u.hostname);
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString()));
  socket.on('error', () => undefined);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{');
  await new Promise<void>((r) => socket.once('close', () => r()));
  expect(data).toMatch(/^HTTP\/1\.1 408/);
  expect(data).toMatch(/"code":"request_timeout"/);
  // Its metrics and log line say the 408 the client got (they said 499, with no line).
  const metrics = await (await fetch(`${sc.url}/metrics`)).text();
  expect(metrics).toMatch(/^switchyard_requests_total\{model="none",endpoint="none",status="408"\} [1-9]/m);
  expect(metrics).not.toMatch(/^switchyard_requests_total\{model="none",endpoint="none",status="499"\}/m);
  await sc.waitForOutput(/"status":408.*request refused: the request body was not received within server\.requestTimeoutMs/);
}, 15_000);

it("a slow body on /v1/messages gets its 408 in Anthropic's error shape (the head was parsed: its path is known)", async () => {
  const u = new URL(sc.url);
  const socket = connect(Number(u.port), u.hostname);
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString()));
  socket.on('error', () => undefined);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.write('POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: k\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"mo');
  await new Promise<void>((r) => socket.once('close', () => r()));
  expect(data).toMatch(/^HTTP\/1\.1 408/);
  const body = data.slice(data.indexOf('\r\n\r\n') + 4);
  expect(JSON.parse(body)).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('server.requestTimeoutMs') } });
}, 15_000);

describe('a stream whose client stops reading', () => {
  const IDLE_MS = 400;
  const SEND_TIMEOUT_MS = 1000;
  let bigSim: SimHandle;
  let bigSc: SidecarHandle;
  /** The same, with a short `server.sendTimeoutMs`. */
  let cutSc: SidecarHandle;

  beforeAll(async () => {
    // Megabytes of answer at once: the client's socket fills and the sidecar waits for it to drain.
    bigSim = await startSimulatorProc({ defaults: { ttftMs: 1, tokenGapMs: 0, outputTokens: 40_000 } });
    const cfg = testConfig(bigSim.url);
    bigSc = await startSidecar({ ...cfg, resilience: { ...(cfg.resilience as object), idleTimeoutMs: IDLE_MS } });
    cutSc = await startSidecar({ ...testConfig(bigSim.url), server: { sendTimeoutMs: SEND_TIMEOUT_MS } });
  });

  afterAll(async () => {
    await bigSc?.stop();
    await cutSc?.stop();
    await bigSim?.stop();
  });

  /** A raw client that sends a stream request (with `headers` lines) and reads nothing until resumed. */
  async function pausedStream(headers = '', sc = bigSc): Promise<Socket> {
    const u = new URL(sc.url);
    const socket = connect(Number(u.port), u.hostname);
    socket.on('error', () => undefined);
    socket.pause();
    await new Promise<void>((r) => socket.once('connect', () => r()));
    const body = JSON.stringify({ model: 'gpt-4.1', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${headers}connection: close\r\n\r\n${body}`,
    );
    return socket;
  }

  /** Resumes the client and reads until the sidecar closes (generous: megabytes over loopback). */
  async function readAll(socket: Socket): Promise<string> {
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.resume();
    await Promise.race([new Promise<void>((r) => socket.once('close', () => r())), sleep(15_000)]);
    socket.destroy();
    return Buffer.concat(chunks).toString('utf8');
  }

  it('is paused, not cut as an idle upstream: the answer finishes and the endpoint keeps no failure', async () => {
    const socket = await pausedStream();
    // Not reading for many idle limits: the upstream is held back by the sidecar, not silent.
    await sleep(IDLE_MS * 6);
    const text = await readAll(socket);
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text.slice(-300)).toMatch(/data: \[DONE\]/);
    expect(text).not.toContain('"error"');
    expect(text).toContain('data: [DONE]');
    const log = await bigSim.log();
    expect(log.map((e) => e.model)).toEqual(['gpt-4.1']);
    const ep = (await bigSc.state()).endpoints.find((e) => e.id === 'gpt-4.1@openai')!;
    expect(ep.consecutiveFailures).toBe(0);
    expect(ep.state).toBe('healthy');
  }, 30_000);

  it('is still held to the request deadline: the upstream slot is freed while the client reads nothing', async () => {
    const socket = await pausedStream('x-switchyard-timeout-ms: 1000\r\n');
    const inFlight = async () => (await bigSc.state()).endpoints.find((e) => e.id === 'gpt-4.1@openai')!.inFlight;
    const end = Date.now() + 10_000; // generous: the deadline is 1 s
    while ((await inFlight()) !== 1 && Date.now() < end) await sleep(20); // the request has arrived
    while ((await inFlight()) !== 0 && Date.now() < end) await sleep(100);
    expect(await inFlight(), 'the request still holds its endpoint while the client reads nothing').toBe(0);
    const text = await readAll(socket);
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).not.toContain('data: [DONE]');
    expect(text.slice(-400)).toMatch(/data: \{"error":\{[^\n]*"code":"timeout"/);
  }, 30_000);

  it('is closed once it has taken nothing for server.sendTimeoutMs: the request ends and frees its endpoint', async () => {
    // The request deadline is the default two minutes: without the send timeout the request, its
    // endpoint slot and the socket would be held for all of it, while the client reads nothing.
    const socket = await pausedStream('', cutSc);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    const inFlight = async () => (await cutSc.state()).endpoints.find((e) => e.id === 'gpt-4.1@openai')!.inFlight;
    const end = Date.now() + 15_000; // generous: the limit is 1 s
    while ((await inFlight()) !== 1 && Date.now() < end) await sleep(20);
    while ((await inFlight()) !== 0 && Date.now() < end) await sleep(100);
    expect(await inFlight(), 'the request still holds its endpoint while the client takes nothing').toBe(0);
    // The client's socket is closed by the sidecar (seen once the client reads what arrived before).
    socket.on('data', () => undefined);
    socket.resume();
    await Promise.race([closed, sleep(10_000)]);
    expect(socket.destroyed || socket.readyState === 'closed').toBe(true);
    socket.destroy();
    // A reader that takes its answer, however large, is not cut.
    const ok = await readAll(await pausedStream('', cutSc));
    expect(ok.slice(-300)).toMatch(/data: \[DONE\]/);
    expect(cutSc.child.exitCode).toBeNull();
  }, 45_000);
});
