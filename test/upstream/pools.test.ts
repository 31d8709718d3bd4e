/**
 * One undici pool per origin and options: a reload that changes `providers.<name>.connections`
 * or `resilience.connectTimeoutMs`, or a second provider on the same origin with other
 * options, must get a pool with its own options, not the first one made for that origin.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamPools } from '../../src/upstream/pools.js';

describe('UpstreamPools', () => {
  let server: Server;
  let origin: string;
  const sockets = new Set<Socket>();
  const waiting: Array<() => void> = [];

  beforeAll(async () => {
    // Each request waits until two are in flight, so a pool's connection count is what it can open.
    server = createServer((req, res) => {
      sockets.add(req.socket);
      waiting.push(() => res.end('ok'));
      if (waiting.length === 2) for (const done of waiting.splice(0)) done();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('shares a pool for the same origin and options, and makes another when the options differ', async () => {
    const pools = new UpstreamPools();
    try {
      const first = pools.get(origin, { connections: 1, connectTimeoutMs: 5000 });
      expect(pools.get(origin, { connections: 1, connectTimeoutMs: 5000 })).toBe(first);
      expect(pools.get(origin, { connections: 2, connectTimeoutMs: 5000 })).not.toBe(first);
      expect(pools.get(origin, { connections: 1, connectTimeoutMs: 100 })).not.toBe(first);
    } finally {
      await pools.close();
    }
  });

  it('a pool asked for with more connections (a reload raising connections) opens them', async () => {
    const pools = new UpstreamPools();
    try {
      pools.get(origin, { connections: 1, connectTimeoutMs: 5000 });
      const wider = pools.get(origin, { connections: 2, connectTimeoutMs: 5000 });
      sockets.clear();
      // With one connection the second request would queue behind the first, which waits for it: a deadlock, cut by the timeout.
      const send = () => wider.request({ path: '/', method: 'GET', headersTimeout: 5000 }).then((r) => r.body.text());
      await expect(Promise.all([send(), send()])).resolves.toEqual(['ok', 'ok']);
      expect(sockets.size).toBe(2);
    } finally {
      await pools.close();
    }
  });

  it('retain lets go of pools no endpoint uses (still open for who holds one), and close still closes them', async () => {
    const pools = new UpstreamPools();
    const old = pools.get(origin, { connections: 1, connectTimeoutMs: 5000 });
    const current = pools.get(origin, { connections: 2, connectTimeoutMs: 5000 });
    pools.retain(new Set([current]));
    expect(pools.size).toBe(1);
    expect(pools.get(origin, { connections: 2, connectTimeoutMs: 5000 })).toBe(current);
    expect(old.closed).toBe(false);
    await pools.close();
    expect([old.closed, current.closed]).toEqual([true, true]);
  });
});
