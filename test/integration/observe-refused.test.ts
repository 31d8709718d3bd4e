/**
 * Requests refused at the HTTP edge, before routing (a wrong client key, a key over its rpm, a
 * body that is not JSON, a bad routing hint), on a real sidecar: each is counted in `/metrics`
 * like any other request and logged at info with its status and error code, on every API, and
 * none of them writes a ledger row or shows a key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { waitFor } from './fault-helpers.js';
import { startSidecar, testConfig, TEST_KEYS, type SidecarHandle } from './harness.js';

const KEY = 'sy-refused-client-SECRET-1';
const SLOW_KEY = 'sy-refused-slow-SECRET-2';
const WRONG_KEY = 'sy-refused-wrong-SECRET-3';

let sim: Simulator;
let sc: SidecarHandle;

beforeAll(async () => {
  sim = await startSimulator({ profile: { defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: 6 } } });
  const cfg = testConfig(sim.url, {
    auth: {
      keys: [
        { id: 'ci', keyEnv: 'SY_REFUSED_KEY' },
        { id: 'slow', keyEnv: 'SY_REFUSED_SLOW_KEY', rpm: 1 },
      ],
    },
  });
  sc = await startSidecar(cfg, { SY_REFUSED_KEY: KEY, SY_REFUSED_SLOW_KEY: SLOW_KEY });
});

afterAll(async () => {
  await sc?.stop();
  await sim?.close();
});

const post = async (path: string, key: string, body: string, headers: Record<string, string> = {}): Promise<number> => {
  const res = await fetch(`${sc.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body,
  });
  await res.arrayBuffer();
  return res.status;
};

const chatBody = JSON.stringify({ model: 'deepseek-v3.2', messages: [{ role: 'user', content: 'hi' }] });

describe('requests refused at the edge', () => {
  it('are counted in /metrics and logged at info, without a ledger row or a key', async () => {
    const statuses = [
      await post('/v1/chat/completions', WRONG_KEY, chatBody),
      await post('/v1/messages', WRONG_KEY, JSON.stringify({ model: 'claude-sonnet-4.5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })),
      await post('/v1/chat/completions', KEY, '{"model":'),
      await post('/v1/responses', KEY, 'not json'),
      await post('/v1/embeddings', KEY, '[]'),
      await post('/v1/chat/completions', KEY, chatBody, { 'x-switchyard-tier': 'bogus' }),
      await post('/v1/chat/completions', SLOW_KEY, chatBody),
      await post('/v1/chat/completions', SLOW_KEY, chatBody),
    ];
    expect(statuses).toEqual([401, 401, 400, 400, 400, 400, 200, 429]);

    const metrics = await (await fetch(`${sc.url}/metrics`)).text();
    const sample = (line: string): number => Number(new RegExp(`^${line.replace(/[{}.]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1] ?? 0);
    expect(sample('switchyard_requests_total{model="none",endpoint="none",status="401"}')).toBe(2);
    expect(sample('switchyard_requests_total{model="none",endpoint="none",status="400"}')).toBe(4);
    expect(sample('switchyard_requests_total{model="none",endpoint="none",status="429"}')).toBe(1);
    expect(sample('switchyard_requests_total{model="deepseek-v3.2",endpoint="deepseek-v3.2@deepseek",status="200"}')).toBe(1);
    expect(sample('switchyard_api_requests_total{api="chat",status="401"}')).toBe(1);
    expect(sample('switchyard_api_requests_total{api="messages",status="401"}')).toBe(1);
    expect(sample('switchyard_api_requests_total{api="chat",status="400"}')).toBe(2);
    expect(sample('switchyard_api_requests_total{api="responses",status="400"}')).toBe(1);
    expect(sample('switchyard_api_requests_total{api="embeddings",status="400"}')).toBe(1);
    expect(sample('switchyard_api_requests_total{api="chat",status="429"}')).toBe(1);
    expect(sample('switchyard_request_duration_seconds_count{model="none"}')).toBe(7);

    // Only the request that was routed has a ledger row.
    const spend = (await (await fetch(`${sc.url}/switchyard/spend?group_by=model`)).json()) as { total: { requests: number } };
    expect(spend.total.requests).toBe(1);

    // Log lines reach stdout through an asynchronous write (pino's destination): on a loaded host
    // the last one can come after the answers above, so wait for all seven.
    const refusedLines = (): string[] =>
      sc
        .stdout()
        .split('\n')
        .filter((l) => l.includes('request refused'));
    await waitFor(
      'seven "request refused" lines',
      async () => refusedLines().length,
      (n) => n >= 7,
    );
    const refused = refusedLines().map(
      (l) => JSON.parse(l) as { level: number; requestId: string; api: string; status: number; error: string; keyId: string | null },
    );
    // The key's id (never its secret) when the key was a known one; null for a wrong key.
    expect(refused.map((l) => [l.api, l.status, l.error, l.keyId])).toEqual([
      ['chat', 401, 'invalid_api_key', null],
      ['messages', 401, 'invalid_api_key', null],
      ['chat', 400, 'invalid_request', 'ci'],
      ['responses', 400, 'invalid_request', 'ci'],
      ['embeddings', 400, 'invalid_request', 'ci'],
      ['chat', 400, 'invalid_request', 'ci'],
      ['chat', 429, 'rate_limited', 'slow'],
    ]);
    // The line of the request that was served names its key and its billed tokens (the ledger row's names).
    await sc.waitForOutput('request served');
    const served = sc
      .stdout()
      .split('\n')
      .filter((l) => l.includes('request served'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(served).toHaveLength(1);
    expect(served[0]).toMatchObject({ keyId: 'slow', completionTokens: 6, status: 200 });
    expect(served[0]!.promptTokens).toBeGreaterThan(0);
    for (const l of refused) {
      expect(l.level).toBe(30);
      expect(l.requestId).toMatch(/^[0-9a-f-]{36}$/);
    }
    const logs = sc.stdout() + sc.stderr();
    for (const secret of [...Object.values(TEST_KEYS), KEY, SLOW_KEY, WRONG_KEY]) expect(logs.includes(secret), secret).toBe(false);
  });

  it('a wrong key on the routes that call no model (count_tokens, input_tokens, a stored response) is logged and counted too (they left no trace)', async () => {
    const metric = async (line: string): Promise<number> => {
      const text = await (await fetch(`${sc.url}/metrics`)).text();
      return Number(new RegExp(`^${line.replace(/[{}.]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    };
    const before = [
      await metric('switchyard_api_requests_total{api="messages",status="401"}'),
      await metric('switchyard_api_requests_total{api="responses",status="401"}'),
    ];
    const count = JSON.stringify({ model: 'claude-sonnet-4.5', messages: [{ role: 'user', content: 'hi' }] });
    const statuses = [
      await post('/v1/messages/count_tokens', 'guess-count-1', count),
      await post('/v1/responses/input_tokens', 'guess-input-2', JSON.stringify({ model: 'gpt-4.1', input: 'hi' })),
      (await fetch(`${sc.url}/v1/responses/resp_abc`, { headers: { authorization: 'Bearer guess-stored-3' } })).status,
    ];
    expect(statuses).toEqual([401, 401, 401]);
    expect([
      await metric('switchyard_api_requests_total{api="messages",status="401"}'),
      await metric('switchyard_api_requests_total{api="responses",status="401"}'),
    ]).toEqual([before[0]! + 1, before[1]! + 2]);
    await waitFor(
      'ten "request refused" lines',
      async () =>
        sc
          .stdout()
          .split('\n')
          .filter((l) => l.includes('request refused')).length,
      (n) => n >= 10,
    );
    expect(sc.stdout()).not.toMatch(/guess-(count|input|stored)/);
    // The models routes too (logged; not counted in the request metrics, as the README says).
    for (const path of ['/v1/models', '/v1/models/gpt-4.1'])
      expect((await fetch(`${sc.url}${path}`, { headers: { authorization: 'Bearer guess-models-4' } })).status).toBe(401);
    await waitFor(
      'two models refusals logged',
      async () =>
        sc
          .stdout()
          .split('\n')
          .filter((l) => l.includes('request refused') && l.includes('"api":"models"')).length,
      (n) => n >= 2,
    );
    expect(sc.stdout()).not.toContain('guess-models-4');
  });

  it("a request's log lines carry the id its client sent (x-client-request-id, or x-request-id), served or refused, on every API", async () => {
    const lines = (id: string): Array<Record<string, unknown>> =>
      sc
        .stdout()
        .split('\n')
        .filter((l) => l.includes(id))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(await post('/v1/chat/completions', KEY, chatBody, { 'x-client-request-id': 'app-chat-0001' })).toBe(200);
    const messages = JSON.stringify({ model: 'claude-sonnet-4.5', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    expect(await post('/v1/messages', KEY, messages, { 'x-request-id': 'app-msgs-0002' })).toBe(200);
    expect(await post('/v1/chat/completions', WRONG_KEY, chatBody, { 'x-client-request-id': 'app-refused-0003' })).toBe(401);
    await waitFor(
      'the three requests logged',
      async () => ['app-chat-0001', 'app-msgs-0002', 'app-refused-0003'].map((id) => lines(id).length),
      (n) => n.every((c) => c > 0),
    );
    const served = lines('app-chat-0001').find((l) => l.msg === 'request served');
    expect(served).toMatchObject({ clientRequestId: 'app-chat-0001', status: 200, keyId: 'ci' });
    expect(served!.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines('app-msgs-0002').find((l) => l.msg === 'request served')).toMatchObject({ clientRequestId: 'app-msgs-0002', status: 200, stream: true });
    expect(lines('app-refused-0003').find((l) => String(l.msg).startsWith('request refused'))).toMatchObject({
      clientRequestId: 'app-refused-0003',
      status: 401,
      api: 'chat',
    });
    // An id that is not of the accepted shape is neither echoed nor logged.
    expect(await post('/v1/chat/completions', KEY, chatBody, { 'x-client-request-id': 'bad id {"forged":1}' })).toBe(200);
    await sc.waitForOutput('request served');
    expect(sc.stdout()).not.toContain('forged');
  });
});
