/**
 * The debug lines of an event stream's connection ending. A `/switchyard/events` subscriber that
 * leaves was logged as 'client connection error while reading the request' (its request had been
 * read whole long before), and every subscriber still connected at shutdown the same way, after
 * `stopped`: switchyard closed those connections itself, no client did anything.
 */
import type { AddressInfo } from 'node:net';
import { request } from 'node:http';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { ClientKeys } from '../../src/http/auth.js';
import { eventsRoute } from '../../src/http/events-route.js';
import { closeAllConnections, createHttpServer } from '../../src/http/server.js';
import type { Server } from 'node:http';

const lines: Array<{ level: number; msg: string; requestId?: string }> = [];
let server: Server;
let port: number;

beforeAll(async () => {
  const cfg = configSchema.parse({
    providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    models: { a: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000, endpoints: [{ provider: 'p', upstreamModel: 'a' }] } },
  });
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) });
  const hub = { history: () => [], since: () => ({ records: [], missed: false, unknown: false }), subscribe: () => () => undefined };
  server = createHttpServer({
    runtime: () => {
      throw new Error('no runtime in this test');
    },
    keys: new ClientKeys(cfg, {}),
    log,
    maxBodyBytes: () => 2000,
    models: () => ({ data: [] }),
    ops: { '/switchyard/events': eventsRoute(hub) },
    adminToken: () => null,
    loopbackOnly: true,
    draining: () => false,
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => {
  server?.close();
});

/** A subscriber: resolves once the stream's first bytes came, with the request to end it by. */
function subscribe(): Promise<{ leave(): void; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/switchyard/events' }, (res) => {
      const closed = new Promise<void>((r) => res.once('close', () => r()));
      res.on('error', () => undefined);
      res.once('data', () => resolve({ leave: () => req.destroy(), closed }));
    });
    req.on('error', () => undefined);
    req.once('error', reject);
    req.end();
  });
}

async function until(ok: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

it('a subscriber leaving is a connection closed before the answer ended, not an error while reading the request', async () => {
  const from = lines.length;
  const s = await subscribe();
  s.leave();
  await until(() => lines.length > from);
  expect(lines.slice(from).map((l) => [l.level, l.msg])).toEqual([[20, 'client connection closed before the answer ended']]);
});

it('the subscribers switchyard closes at shutdown write no line', async () => {
  const from = lines.length;
  const subs = [await subscribe(), await subscribe()];
  closeAllConnections(server);
  await Promise.all(subs.map((s) => s.closed));
  // The server's side of each connection closed (its request's 'aborted' is emitted as it closes), then a turn more.
  let open = -1;
  await until(() => {
    server.getConnections((_e, n) => (open = n));
    return open === 0;
  });
  await new Promise((r) => setImmediate(r));
  expect(open).toBe(0);
  expect(lines.slice(from)).toEqual([]);
});
