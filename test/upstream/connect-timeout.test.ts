/**
 * The upstream connect timeout (src/upstream/pools.ts) against real local servers: a TLS
 * handshake that is never answered (a TCP server that accepts and stays silent, reached over
 * https) fails as `connect_timeout` on time — undici's own connect timeout ran on its ~0.5 s
 * clock and ended such an attempt about half a second late — and a connection that did connect
 * is not cut by the timer afterwards, however long the answer takes.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cancel } from '../../src/runtime/cancel.js';
import { UpstreamPools } from '../../src/upstream/pools.js';
import { readText, send } from '../../src/upstream/transport.js';
import { UpstreamFault } from '../../src/upstream/types.js';

const CONNECT_TIMEOUT_MS = 1000;
/** Generous: the timer fires within a few ms; undici's coarse clock fired ~500 ms late. */
const SLACK_MS = 300;

let silent: TcpServer;
let slow: Server;
const held = new Set<Socket>();
const pools = new UpstreamPools();

beforeAll(async () => {
  // Accepts the TCP connection and never answers the TLS ClientHello: the handshake never ends.
  silent = createTcpServer((s) => {
    held.add(s);
    s.on('error', () => undefined);
  });
  // Answers after longer than the connect timeout.
  slow = createServer((_q, res) => setTimeout(() => res.end('{"ok":true}'), CONNECT_TIMEOUT_MS + 200));
  await Promise.all([new Promise<void>((r) => silent.listen(0, '127.0.0.1', r)), new Promise<void>((r) => slow.listen(0, '127.0.0.1', r))]);
});

afterAll(async () => {
  await pools.close();
  for (const s of held) s.destroy();
  await Promise.all([new Promise((r) => silent.close(r)), new Promise((r) => slow.close(r))]);
});

function attempt(origin: string): Promise<string> {
  const cancel = new Cancel();
  const pool = pools.get(origin, { connections: 1, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  const opts = { headersTimeoutMs: 10_000, signal: cancel, abort: (f: UpstreamFault) => cancel.abort(f) };
  return send(pool, { path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: '{}' }, opts).then((res) => readText(res, cancel));
}

describe('upstream connect timeout', () => {
  it('a handshake never answered fails as connect_timeout within the configured time', async () => {
    const port = (silent.address() as AddressInfo).port;
    const t0 = performance.now();
    const err = await attempt(`https://127.0.0.1:${port}`).then(
      () => null,
      (e: unknown) => e,
    );
    const elapsed = performance.now() - t0;
    expect(err).toBeInstanceOf(UpstreamFault);
    expect((err as UpstreamFault).kind).toBe('connect_timeout');
    expect(elapsed).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 5);
    expect(elapsed).toBeLessThan(CONNECT_TIMEOUT_MS + SLACK_MS);
  });

  it('a connection made in time is not cut by the timer while the answer takes longer', async () => {
    const port = (slow.address() as AddressInfo).port;
    await expect(attempt(`http://127.0.0.1:${port}`)).resolves.toBe('{"ok":true}');
  });
});
