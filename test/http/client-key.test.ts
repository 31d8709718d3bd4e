/**
 * The client key (`auth.keys`) is looked up the same way on every route: `authorization: Bearer
 * <key>`, else `x-api-key: <key>` (what Anthropic's SDK sends); when both are sent,
 * `authorization` is the one checked. `/v1/chat/completions` read `authorization` only: a key
 * sent as `x-api-key` was a 401, whose message told Anthropic clients to send `x-api-key`.
 * Real node:http server on port 0, real simulator upstream.
 */
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger } from '../../src/accounting/ledger.js';
import { configSchema } from '../../src/config/schema.js';
import { apiRoutes } from '../../src/http/api-routes.js';
import { ClientKeys } from '../../src/http/auth.js';
import { createHttpServer } from '../../src/http/server.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';

const GOOD = 'sk-good-client-key';
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
    auth: { keys: [{ id: 'k1', keyEnv: 'SY_TEST_KEY' }] },
  });
  const log = pino({ level: 'silent' });
  rt = new Runtime({ cfg, ledger: await openLedger('memory'), log });
  await rt.restoreBudgets();
  const server = createHttpServer({
    runtime: () => rt,
    keys: new ClientKeys(cfg, { SY_TEST_KEY: GOOD }),
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
