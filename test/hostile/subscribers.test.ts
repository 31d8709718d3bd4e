/**
 * Event subscribers cannot exhaust memory: the real `/switchyard/events` route on a node:http
 * server (port 0), a hub pumping ~200 MB of records, and three subscribers that never read.
 * Each is dropped with a final `dropped` event once its backlog passes the bound, and memory
 * stays flat (before the fix: three such subscribers took a sidecar from 172 MB to 1.49 GB).
 */
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventsRoute, MAX_UNSENT_BYTES } from '../../src/http/events-route.js';
import type { HubRecord } from '../../src/observe/hub.js';

const RECORDS = 200_000;
const PAD = 'x'.repeat(1000);
/** Generous: three bounded subscribers hold ~3 MB; unbounded ones grow by ~600 MB here. */
const RSS_GROWTH_BOUND_MB = 150;

const listeners = new Set<(r: HubRecord) => void>();
const hub = {
  history: (): HubRecord[] => [],
  since: () => ({ records: [], missed: false, unknown: false }),
  subscribe: (l: (r: HubRecord) => void) => {
    listeners.add(l);
    return () => void listeners.delete(l);
  },
};
let server: Server;
let port = 0;

beforeAll(async () => {
  const route = eventsRoute(hub);
  server = createServer((req, res) => route(req, res, new URL(req.url ?? '/', 'http://x')));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

function neverReads(to = port): Promise<Socket> {
  return new Promise((resolve) => {
    const s = connect({ port: to, host: '127.0.0.1' }, () => {
      s.pause();
      s.write('GET /switchyard/events?all=1 HTTP/1.1\r\nhost: x\r\n\r\n');
      resolve(s);
    });
    s.on('error', () => undefined);
  });
}

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

it('subscribers that never read are dropped with a notice, and memory stays bounded', async () => {
  const subs = await Promise.all([neverReads(), neverReads(), neverReads()]);
  await until(() => listeners.size === 3);
  expect(listeners.size).toBe(3);
  const before = process.memoryUsage().rss;
  for (let seq = 1; seq <= RECORDS; seq++) {
    const r: HubRecord = { seq, at: seq, kind: 'inspection', actor: 'a', from: null, to: null, event: { pad: PAD }, context: null };
    for (const l of listeners) l(r);
    // Let the sockets flush now and then, as a live process would between requests.
    if (seq % 5000 === 0) await new Promise((res) => setImmediate(res));
  }
  const growthMb = (process.memoryUsage().rss - before) / 1024 / 1024;
  expect(listeners.size).toBe(0);
  const tails = await Promise.all(
    subs.map(
      (s) =>
        new Promise<string>((resolve) => {
          let tail = '';
          s.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-1000)));
          s.on('close', () => resolve(tail));
          setTimeout(() => resolve(`${tail}<<still open>>`), 10_000);
          s.resume();
        }),
    ),
  );
  for (const t of tails) expect(t).toMatch(/event: dropped\ndata: \{"reason":"this subscriber fell behind by more than \d+ unsent bytes/);
  expect(growthMb).toBeLessThan(RSS_GROWTH_BOUND_MB);
  expect(MAX_UNSENT_BYTES).toBe(1024 * 1024);
}, 30_000);

it('many subscribers share a total bound: each is dropped at its share, under its own bound (200 of them held 1 MiB each)', async () => {
  const TOTAL = 4 * 1024 * 1024;
  const SUBS = 16;
  const route = eventsRoute(hub, MAX_UNSENT_BYTES, TOTAL);
  const many = createServer((req, res) => route(req, res, new URL(req.url ?? '/', 'http://x')));
  await new Promise<void>((r) => many.listen(0, '127.0.0.1', r));
  try {
    const to = (many.address() as AddressInfo).port;
    const subs = await Promise.all(Array.from({ length: SUBS }, () => neverReads(to)));
    await until(() => listeners.size === SUBS);
    expect(listeners.size).toBe(SUBS);
    for (let seq = 1; seq <= 40_000 && listeners.size > 0; seq++) {
      const r: HubRecord = { seq, at: seq, kind: 'inspection', actor: 'a', from: null, to: null, event: { pad: PAD }, context: null };
      for (const l of listeners) l(r);
      if (seq % 500 === 0) await new Promise((res) => setImmediate(res));
    }
    expect(listeners.size).toBe(0);
    const bounds = await Promise.all(
      subs.map(
        (s) =>
          new Promise<number>((resolve) => {
            let tail = '';
            s.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-1000)));
            s.on('close', () => resolve(Number(/fell behind by more than (\d+) unsent bytes/.exec(tail)?.[1] ?? NaN)));
            s.resume();
          }),
      ),
    );
    // The first dropped had a sixteenth of the total; each later one a larger share, never over its own 1 MiB.
    expect(Math.min(...bounds)).toBe(Math.floor(TOTAL / SUBS));
    for (const b of bounds) expect(b).toBeLessThanOrEqual(MAX_UNSENT_BYTES);
    expect(bounds.filter((b) => b < MAX_UNSENT_BYTES).length).toBeGreaterThanOrEqual(SUBS - 4);
  } finally {
    many.closeAllConnections();
    many.close();
  }
}, 30_000);
