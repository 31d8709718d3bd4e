/**
 * The chat route's exact targets (`/v1/chat/completions`, `/chat/completions`) set no header on
 * the response before routing: their answers carry x-request-id (and x-client-request-id) in
 * `writeHead`'s own headers. Every answer there must be byte-identical to the one the general
 * path gives (headers set first): the same request to the same route through a target that
 * takes the general path (a trailing slash, a query) is the reference, ids and dates masked.
 */
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger } from '../../src/accounting/ledger.js';
import { configSchema } from '../../src/config/schema.js';
import { ClientKeys } from '../../src/http/auth.js';
import { createHttpServer } from '../../src/http/server.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { rawRequest } from '../hostile/raw.js';

let sim: Simulator;
let rt: Runtime;
let base: string;
let draining = false;
let broken = false;
const servers: Array<{ close(): void }> = [];

beforeAll(async () => {
  sim = await startSimulator({ profile: { defaults: { ttftMs: 0, tokenGapMs: 0, outputTokens: 5 } } });
  const cfg = configSchema.parse({
    providers: { p: { kind: 'openai', baseUrl: `${sim.url}/openai/v1` } },
    models: {
      a: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100_000, endpoints: [{ provider: 'p', upstreamModel: 'up-a' }] },
    },
    auth: { keys: [{ id: 'k1', keyEnv: 'SY_TEST_KEY' }] },
  });
  const log = pino({ level: 'silent' });
  rt = new Runtime({ cfg, ledger: await openLedger('memory'), log });
  await rt.restoreBudgets();
  const server = createHttpServer({
    runtime: () => {
      if (broken) throw new Error('no runtime');
      return rt;
    },
    keys: new ClientKeys(cfg, { SY_TEST_KEY: 'sk-good' }),
    log,
    maxBodyBytes: () => 2000,
    models: () => ({ data: [] }),
    ops: {},
    adminToken: () => null,
    loopbackOnly: true,
    draining: () => draining,
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of servers) s.close();
  await rt.close();
  await sim.close();
});

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const mask = (s: string): string =>
  s
    .replace(UUID, '<id>')
    .replace(/^Date: .*$/m, 'Date: <date>')
    .replace(/"created":\d+/g, '"created":0')
    .replace(/chatcmpl-sim\d+/g, 'chatcmpl-sim');

async function answer(target: string, method: string, headers: Record<string, string>, body: string): Promise<{ headers: string; body: string }> {
  const lines = [`${method} ${target} HTTP/1.1`, 'host: x', 'connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  if (body !== '') lines.push(`content-length: ${Buffer.byteLength(body)}`);
  const r = await rawRequest(base, `${lines.join('\r\n')}\r\n\r\n${body}`, 1500);
  return { headers: mask(r.headers), body: mask(/\r\ntransfer-encoding: chunked/i.test(r.headers) ? unchunk(r.body) : r.body) };
}

/** A chunked body's data (how a stream's events fall into chunks depends on timing, not on the route). */
function unchunk(raw: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) return `${out}<cut>`;
    const size = parseInt(raw.slice(at, eol), 16);
    if (size === 0) return out;
    out += raw.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

const good = JSON.stringify({ model: 'a', messages: [{ role: 'user', content: 'hello there' }] });
const auth = { authorization: 'Bearer sk-good', 'content-type': 'application/json' };
const cases: Array<[string, string, Record<string, string>, string, number, (() => void)?]> = [
  ['a JSON answer', 'POST', auth, good, 200],
  ['a JSON answer to a client id', 'POST', { ...auth, 'x-client-request-id': 'client-1' }, good, 200],
  ['a JSON answer to an SDK x-request-id', 'POST', { ...auth, 'x-request-id': 'sdk.id:2' }, good, 200],
  ['a JSON answer to an id that is not taken back', 'POST', { ...auth, 'x-client-request-id': 'no spaces' }, good, 200],
  [
    'a stream',
    'POST',
    { ...auth, 'x-client-request-id': 'client-3' },
    JSON.stringify({ model: 'a', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    200,
  ],
  ['a body zod refuses', 'POST', { ...auth, 'x-client-request-id': 'c4' }, JSON.stringify({ model: 'a', messages: [] }), 400],
  ['a body that is not JSON', 'POST', { ...auth, 'x-client-request-id': 'c5' }, '{nope', 400],
  ['an unknown model', 'POST', { ...auth, 'x-client-request-id': 'c6' }, JSON.stringify({ model: 'zzz', messages: [{ role: 'user', content: 'hi' }] }), 400],
  ['a bad hint header', 'POST', { ...auth, 'x-client-request-id': 'c7', 'x-switchyard-tier': 'nope' }, good, 400],
  [
    'a body over the limit',
    'POST',
    { ...auth, 'x-client-request-id': 'c8' },
    JSON.stringify({ model: 'a', messages: [{ role: 'user', content: 'x'.repeat(3000) }] }),
    413,
  ],
  ['a missing client key', 'POST', { 'content-type': 'application/json', 'x-client-request-id': 'c9' }, good, 401],
  ['a GET', 'GET', { ...auth, 'x-client-request-id': 'c10' }, '', 405],
  [
    'a draining sidecar',
    'POST',
    { ...auth, 'x-client-request-id': 'c11' },
    good,
    503,
    () => {
      draining = true;
    },
  ],
  [
    'an error thrown outside the route',
    'POST',
    { ...auth, 'x-client-request-id': 'c12' },
    good,
    500,
    () => {
      broken = true;
    },
  ],
];

describe('chat answers without headers set ahead of writeHead', () => {
  for (const [fast, slow] of [
    ['/v1/chat/completions', '/v1/chat/completions/'],
    ['/chat/completions', '/chat/completions?q=1'],
  ] as const) {
    for (const [name, method, headers, body, status, setup] of cases) {
      it(`${name} at ${fast}: the same bytes as through ${slow}`, async () => {
        try {
          setup?.();
          const a = await answer(fast, method, headers, body);
          const b = await answer(slow, method, headers, body);
          expect(a.headers).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
          expect(a.headers).toContain('\r\nx-request-id: <id>\r\n');
          const given = headers['x-client-request-id'] ?? headers['x-request-id'];
          if (given !== undefined && !given.includes(' ')) expect(a.headers).toContain(`\r\nx-request-id: <id>\r\nx-client-request-id: ${given}\r\n`);
          else expect(a.headers).not.toContain('x-client-request-id');
          expect(a.headers).toBe(b.headers);
          expect(a.body).toBe(b.body);
        } finally {
          draining = false;
          broken = false;
        }
      });
    }
  }
});
