/**
 * The client key (`auth.keys`) is looked up the same way on every route: `authorization: Bearer
 * <key>`, else `x-api-key: <key>` (what Anthropic's SDK sends); when both are sent,
 * `authorization` is the one checked. `/v1/chat/completions` read `authorization` only: a key
 * sent as `x-api-key` was a 401, whose message told Anthropic clients to send `x-api-key`.
 * Real node:http server on port 0, real simulator upstream.
 */
import type { AddressInfo } from 'node:net';
import { Agent, request as undiciRequest } from 'undici';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger } from '../../src/accounting/ledger.js';
import { configSchema } from '../../src/config/schema.js';
import { apiRoutes } from '../../src/http/api-routes.js';
import { ClientKeys, resetDuration } from '../../src/http/auth.js';
import { registerSecrets } from '../../src/observe/scrub.js';
import { createHttpServer } from '../../src/http/server.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { rawRequest } from '../hostile/raw.js';

const GOOD = 'sk-good-client-key';
const LIMITED = 'sk-limited-client-key';
let sim: Simulator;
let rt: Runtime;
let base: string;
let close: () => void = () => undefined;

beforeAll(async () => {
  sim = await startSimulator({ profile: { defaults: { ttftMs: 0, tokenGapMs: 0, outputTokens: 5 } } });
  const cfg = configSchema.parse({
    providers: { p: { kind: 'openai', baseUrl: `${sim.url}/openai/v1` } },
    models: {
      a: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100_000, endpoints: [{ provider: 'p', upstreamModel: 'up-a' }] },
    },
    auth: {
      keys: [
        { id: 'k1', keyEnv: 'SY_TEST_KEY' },
        { id: 'k2', keyEnv: 'SY_TEST_KEY2', rpm: 3 },
      ],
    },
  });
  const log = pino({ level: 'silent' });
  rt = new Runtime({ cfg, ledger: await openLedger('memory'), log });
  await rt.restoreBudgets();
  const server = createHttpServer({
    runtime: () => rt,
    keys: new ClientKeys(cfg, { SY_TEST_KEY: GOOD, SY_TEST_KEY2: LIMITED }),
    log,
    maxBodyBytes: () => 100_000,
    models: () => ({ object: 'list', data: [{ id: 'a', object: 'model', created: 0, owned_by: 'switchyard' }] }),
    ops: {},
    adminToken: () => null,
    loopbackOnly: true,
    draining: () => false,
    apis: apiRoutes({ responses: () => null }),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  close = () => server.close();
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  close();
  await rt.close();
  await sim.close();
});

const chatBody = JSON.stringify({ model: 'a', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
const ROUTES: Array<[string, string, string | undefined]> = [
  ['POST', '/v1/chat/completions', chatBody],
  ['POST', '/chat/completions', chatBody],
  ['POST', '/v1/responses', JSON.stringify({ model: 'a', input: 'hi', max_output_tokens: 16 })],
  ['POST', '/v1/embeddings', JSON.stringify({ model: 'a', input: 'hi' })],
  ['POST', '/v1/messages', JSON.stringify({ model: 'a', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })],
  ['POST', '/v1/messages/count_tokens', JSON.stringify({ model: 'a', messages: [{ role: 'user', content: 'hi' }] })],
  ['GET', '/v1/models', undefined],
  ['GET', '/v1/models/a', undefined],
  ['GET', '/v1/responses/resp_none', undefined],
];

const call = async (method: string, path: string, body: string | undefined, headers: Record<string, string>): Promise<number> => {
  const r = await fetch(`${base}${path}`, { method, body, headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers } });
  await r.arrayBuffer();
  return r.status;
};

describe.each(ROUTES)('%s %s', (method, path, body) => {
  it('takes the key as x-api-key as well as authorization: Bearer, and refuses none or a wrong one (401)', async () => {
    expect(await call(method, path, body, {})).toBe(401);
    expect(await call(method, path, body, { 'x-api-key': 'sk-wrong-client-key' })).toBe(401);
    expect(await call(method, path, body, { 'x-api-key': GOOD })).not.toBe(401);
    expect(await call(method, path, body, { authorization: `Bearer ${GOOD}` })).not.toBe(401);
  });

  it('checks authorization when both are sent', async () => {
    expect(await call(method, path, body, { authorization: `Bearer ${GOOD}`, 'x-api-key': 'sk-wrong-client-key' })).not.toBe(401);
    expect(await call(method, path, body, { authorization: 'Bearer sk-wrong-client-key', 'x-api-key': GOOD })).toBe(401);
  });

  it('an empty authorization is none: it does not hide a key sent as x-api-key', async () => {
    expect(await call(method, path, body, { authorization: '', 'x-api-key': GOOD })).not.toBe(401);
  });
});

it('a chat request with the key as x-api-key is served', async () => {
  expect(await call('POST', '/v1/chat/completions', chatBody, { 'x-api-key': GOOD })).toBe(200);
});

describe('the whitespace around a key', () => {
  it('spaces and tabs are taken, a no-break space is not (it is no HTTP whitespace)', async () => {
    const ask = (authorization: string) => fetch(`${base}/v1/models`, { headers: { authorization } }).then(async (r) => (await r.text(), r.status));
    expect(await ask(`Bearer   ${GOOD}`)).toBe(200);
    expect(await ask(`Bearer\t${GOOD}`)).toBe(200);
    expect(await ask(`Bearer \u00a0${GOOD}`)).toBe(401);
    expect(await ask(`Bearer ${GOOD}\u00a0`)).toBe(401);
  });
});

describe('a client key sent as x-switchyard-task', () => {
  it('is not echoed in x-switchyard-reason (an unknown task is named there): scrubbed like every configured secret', async () => {
    registerSecrets([GOOD]);
    const r = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${GOOD}`, 'x-switchyard-task': GOOD },
      body: JSON.stringify({ model: 'auto', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    });
    await r.text();
    expect(r.status).toBe(200);
    const reason = r.headers.get('x-switchyard-reason') ?? '';
    expect(reason).toContain('unknown task "[redacted]" ignored');
    expect(reason).not.toContain(GOOD);
    // In other letters' case too (the key nearly whole otherwise).
    const upper = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${GOOD}`, 'x-switchyard-task': GOOD.toUpperCase() },
      body: JSON.stringify({ model: 'auto', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    });
    await upper.text();
    expect(upper.headers.get('x-switchyard-reason')).toContain('unknown task "[redacted]" ignored');
  });
});

describe('Expect: 100-continue and a body declared over the limit (raw socket)', () => {
  it('a request without a key it takes is answered 401 at once: no 100 Continue invites a body it will refuse', async () => {
    for (const key of ['', 'authorization: Bearer wrong-key\r\n']) {
      const r = await rawRequest(
        base,
        `POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${key}content-length: 100000\r\nexpect: 100-continue\r\n\r\n`,
      );
      expect(r.status).toBe(401);
      expect(r.headers).toMatch(/\r\nconnection: close/i);
    }
    // With the key, the body is invited as before.
    const ok = await rawRequest(
      base,
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer ${GOOD}\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n`,
      1500,
    );
    expect(ok.status).toBe(100);
  });

  it('a body over the limit, sent whole before the answer is read (as fetch, undici and the SDKs send), gets its 413, and the connection serves the next request', async () => {
    const agent = new Agent({ connections: 1 });
    try {
      // Just over the 100,000-byte limit; over it by about 1 MiB (the connection was kept, then cut); far over it.
      for (const size of [100_001, 1_060_000, 3_000_000, 12_000_000]) {
        const body = JSON.stringify({ model: 'a', messages: [{ role: 'user', content: 'x'.repeat(size) }] });
        const r = await undiciRequest(`${base}/v1/chat/completions`, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${GOOD}` },
          body,
        });
        expect(r.statusCode, String(size)).toBe(413);
        expect(((await r.body.json()) as { error: { code: string } }).error.code).toBe('body_too_large');
        const next = await undiciRequest(`${base}/v1/models`, { dispatcher: agent, headers: { authorization: `Bearer ${GOOD}` } });
        expect(next.statusCode).toBe(200);
        await next.body.text();
        // fetch sends the whole body before it reads the answer.
        const f = await fetch(`${base}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${GOOD}` },
          body,
        });
        expect(f.status, `fetch ${size}`).toBe(413);
        await f.arrayBuffer();
      }
    } finally {
      await agent.close();
    }
  }, 30_000);
});

describe('a key with an rpm', () => {
  it('says its window on every answer as OpenAI does, and its 429 says when to come back (retry-after, retry-after-ms)', async () => {
    const window = async (path: string, body: string): Promise<[number, string | null, string | null, string | null, Response]> => {
      const r = await fetch(`${base}${path}`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', authorization: `Bearer ${LIMITED}` },
      });
      await r.arrayBuffer();
      return [
        r.status,
        r.headers.get('x-ratelimit-limit-requests'),
        r.headers.get('x-ratelimit-remaining-requests'),
        r.headers.get('x-ratelimit-reset-requests'),
        r,
      ];
    };
    const messagesBody = JSON.stringify({ model: 'a', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    // The chat route and the other routes (set before they run) count in one window.
    expect((await window('/v1/chat/completions', chatBody)).slice(0, 3)).toEqual([200, '3', '2']);
    // The Messages API says it under Anthropic's names (its dashboards read those), the reset as an RFC 3339 time.
    const msg = (await window('/v1/messages', messagesBody))[4];
    expect([msg.status, msg.headers.get('x-ratelimit-limit-requests')]).toEqual([200, null]);
    expect([msg.headers.get('anthropic-ratelimit-requests-limit'), msg.headers.get('anthropic-ratelimit-requests-remaining')]).toEqual(['3', '1']);
    const resetAt = Date.parse(msg.headers.get('anthropic-ratelimit-requests-reset') ?? '');
    expect(msg.headers.get('anthropic-ratelimit-requests-reset')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // Two requests at 20 s each: whole again in about 40 s.
    expect(resetAt - Date.now()).toBeGreaterThan(35_000);
    expect(resetAt - Date.now()).toBeLessThanOrEqual(41_000);
    const third = await window('/v1/chat/completions', chatBody);
    expect(third.slice(0, 3)).toEqual([200, '3', '0']);
    // Three requests at 20 s each: the window is whole again in (almost) a minute.
    expect(third[3]).toMatch(/^(59(\.\d+)?s|1m0s)$/);
    const [status, limit, remaining, reset, r] = await window('/v1/chat/completions', chatBody);
    expect([status, limit, remaining]).toEqual([429, '3', '0']);
    expect(r.headers.get('x-switchyard-error-code')).toBe('rate_limited');
    const ms = Number(r.headers.get('retry-after-ms'));
    // One request frees 20 s after the first was taken.
    expect(ms).toBeGreaterThan(15_000);
    expect(ms).toBeLessThanOrEqual(20_000);
    expect(r.headers.get('retry-after')).toBe(String(Math.ceil(ms / 1000)));
    expect(reset).toMatch(/^\d+(\.\d+)?s$|^1m0s$/);
    // The Messages API however its path is written (`//v1/messages` is served as it): Anthropic's names on its 429 too.
    const doubled = (await window('//v1/messages', messagesBody))[4];
    expect([doubled.status, doubled.headers.get('anthropic-ratelimit-requests-remaining'), doubled.headers.get('x-ratelimit-limit-requests')]).toEqual([
      429,
      '0',
      null,
    ]);
    // A key without an rpm gets none of them.
    const free = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      body: chatBody,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${GOOD}` },
    });
    await free.arrayBuffer();
    expect(free.status).toBe(200);
    expect(free.headers.get('x-ratelimit-limit-requests')).toBeNull();
  });

  it('formats the reset as OpenAI does (20ms, 1.5s, 6m0s)', () => {
    expect(resetDuration(19.2)).toBe('20ms');
    expect(resetDuration(1500)).toBe('1.5s');
    expect(resetDuration(360_000)).toBe('6m0s');
    expect(resetDuration(61_250)).toBe('1m1.25s');
    expect(resetDuration(-5)).toBe('0ms');
  });
});
