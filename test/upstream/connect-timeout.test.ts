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
/**
 * How much later than a native timer of the same length, started at the same moment, the connect
 * timeout may end the attempt: the fixed timer fires with it (both are delayed alike by a busy
 * event loop, so the bound does not depend on the machine's load); undici's coarse clock ended it
 * ~500 ms late.
 */
const SLACK_MS = 250;

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
    let reference = Number.NaN;
    setTimeout(() => (reference = performance.now() - t0), CONNECT_TIMEOUT_MS);
    const err = await attempt(`https://127.0.0.1:${port}`).then(
      () => null,
      (e: unknown) => e,
    );
    const elapsed = performance.now() - t0;
    expect(err).toBeInstanceOf(UpstreamFault);
    expect((err as UpstreamFault).kind).toBe('connect_timeout');
    expect(elapsed).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 5);
    // The reference timer has fired by now (the attempt ended after the limit), or within the slack.
    if (Number.isNaN(reference)) await new Promise((r) => setTimeout(r, SLACK_MS));
    expect(elapsed - reference).toBeLessThan(SLACK_MS);
  });

  it('a connection made in time is not cut by the timer while the answer takes longer', async () => {
    const port = (slow.address() as AddressInfo).port;
    await expect(attempt(`http://127.0.0.1:${port}`)).resolves.toBe('{"ok":true}');
  });
});
