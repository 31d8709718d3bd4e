/**
 * A stream whose first event is an error of the client's kind (`invalid_request_error`: some
 * OpenAI-compatible servers answer 200 and put their 400 in the stream) is the request's own
 * fault: the client gets that 400 at once, not a fail-over through every endpoint ending in a
 * 502 upstream_error. A server-side error event still fails over.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addFakeProvider, chatChunk, fakeModel, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';
import { sleep, startSidecar, testConfig, type SidecarHandle } from './harness.js';
import { ledgerFileOf, ledgerRow } from './ledger-row.js';

let upstream: FakeUpstream;
let sc: SidecarHandle;
let cfg: Record<string, unknown>;
const hits: string[] = [];

/** Claude's stream as it opens: message_start reports 1 output token (a placeholder). */
const CLAUDE_START = `event: message_start\ndata: ${JSON.stringify({
  type: 'message_start',
  message: {
    id: 'msg_x',
    type: 'message',
    role: 'assistant',
    model: 'x',
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 5, output_tokens: 1 },
  },
})}\n\n`;
const claudeError = (message: string) => `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message } })}\n\n`;
const CLAUDE_TEXT =
  `event: content_block_start\ndata: ${JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })}\n\n` +
  `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Some words' } })}\n\n`;

/** A whole Claude stream after `start`: "Some words", then its output count of 10. */
const claudeWhole = (start: string): string =>
  start +
  CLAUDE_TEXT +
  `event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n` +
  `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":10}}\n\n` +
  `event: message_stop\ndata: {"type":"message_stop"}\n\n`;

beforeAll(async () => {
  upstream = await startFakeUpstream((j, res) => {
    hits.push(j.model);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (j.model === 'claude-first') return res.end(CLAUDE_START + claudeError('prompt is too long: 250000 tokens > 200000 maximum'));
    if (j.model === 'claude-mid') return res.end(CLAUDE_START + CLAUDE_TEXT + claudeError('Output blocked by content filtering policy'));
    if (j.model === 'claude-nullcache')
      return res.end(
        claudeWhole(CLAUDE_START.replace('"output_tokens":1', '"output_tokens":1,"cache_creation_input_tokens":null,"cache_read_input_tokens":null')),
      );
    if (j.model === 'claude-badstart') return res.end(claudeWhole(CLAUDE_START.replace('"input_tokens":5', '"input_tokens":-100')));
    if (j.model === 'client-err')
      res.end(
        `data: ${JSON.stringify({ error: { message: "Unsupported parameter: 'foo'", type: 'invalid_request_error', param: 'foo', code: 'unsupported_parameter' } })}\n\n`,
      );
    else if (j.model === 'server-err') res.end(`data: ${JSON.stringify({ error: { message: 'overloaded', type: 'server_error' } })}\n\n`);
    else res.end(`${chatChunk(j.model, { role: 'assistant', content: 'fine' }, 'stop')}data: [DONE]\n\n`);
  });
  cfg = testConfig(upstream.url);
  addFakeProvider(cfg, upstream.url);
  const models = cfg.models as Record<string, unknown>;
  models['m-client'] = fakeModel('client-err', ['m-ok']);
  models['m-server'] = fakeModel('server-err', ['m-ok']);
  models['m-ok'] = fakeModel('ok');
  (cfg.providers as Record<string, unknown>).claude = { kind: 'anthropic', baseUrl: upstream.origin, apiKeyEnv: 'SY_TEST_OPENAI_KEY' };
  for (const m of ['claude-first', 'claude-mid', 'claude-badstart', 'claude-nullcache'])
    models[`m-${m}`] = { ...fakeModel(m), endpoints: [{ provider: 'claude', upstreamModel: m }] };
  models['m-claude-mid-2'] = { ...fakeModel('claude-mid'), tier: 'high_quality', endpoints: [{ provider: 'claude', upstreamModel: 'claude-mid' }] };
  cfg.routing = { ...(cfg.routing as object), routes: { blocked: ['m-claude-mid', 'm-claude-mid-2'] } };
  sc = await startSidecar(cfg);
});

afterAll(async () => {
  await sc?.stop();
  upstream?.close();
});

const ask = (model: string) =>
  fetch(`${sc.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });

it("a first stream event of the client's kind is answered as the 400 it is, after one attempt", async () => {
  hits.length = 0;
  const r = await ask('m-client');
  expect(r.status).toBe(400);
  expect(await r.json()).toEqual({
    error: { message: "Unsupported parameter: 'foo'", type: 'invalid_request_error', param: 'foo', code: 'unsupported_parameter' },
  });
  expect(hits).toEqual(['client-err']);
});

it('a server-side error event still fails over to the fallback', async () => {
  hits.length = 0;
  const r = await ask('m-server');
  expect(r.status).toBe(200);
  expect(await r.text()).toContain('fine');
  expect(hits[0]).toBe('server-err');
  expect(hits.at(-1)).toBe('ok');
});

const stateOf = async (id: string): Promise<string> => {
  const st = (await (await fetch(`${sc.url}/switchyard/state`)).json()) as { endpoints: Array<{ id: string; state: string }> };
  return st.endpoints.find((e) => e.id === id)!.state;
};

it("Claude's invalid_request_error after its message_start is the client's 400, on chat and on Messages, and never trips the endpoint's breaker (five did)", async () => {
  for (let i = 0; i < 6; i++) {
    const r = await ask('m-claude-first');
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { type: string; message: string } }).error).toMatchObject({
      type: 'invalid_request_error',
      message: 'prompt is too long: 250000 tokens > 200000 maximum',
    });
  }
  const m = await fetch(`${sc.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'm-claude-first', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  expect(m.status).toBe(400);
  expect(await m.json()).toMatchObject({
    type: 'error',
    error: { type: 'invalid_request_error', message: 'prompt is too long: 250000 tokens > 200000 maximum' },
  });
  expect(await stateOf('m-claude-first@claude')).toBe('healthy');
});

it("a content filter's invalid_request_error part way through a stream ends it, and is not counted against the endpoint", async () => {
  for (let i = 0; i < 6; i++) {
    const r = await ask('m-claude-mid');
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(text).toContain('Some words');
    expect(text).toContain('Output blocked by content filtering policy');
  }
  // Relayed to a Messages client, the error event keeps its type (it was api_error).
  const m = await fetch(`${sc.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'm-claude-mid', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const events = (await m.text()).split('\n').filter((l) => l.startsWith('data: '));
  expect(JSON.parse(events.at(-1)!.slice(6))).toMatchObject({
    type: 'error',
    error: { type: 'invalid_request_error', message: expect.stringContaining('Output blocked by content filtering policy') },
  });
  expect(await stateOf('m-claude-mid@claude')).toBe('healthy');
});

it('a held cascade step blocked part way on every model ends in a 502 the SDKs are told not to retry (each retry paid for the same block again)', async () => {
  for (const [path, body, headers] of [
    ['/v1/chat/completions', { model: 'route/blocked', stream: true, messages: [{ role: 'user', content: 'hi' }] }, {}],
    [
      '/v1/messages',
      { model: 'route/blocked', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hi' }] },
      { 'anthropic-version': '2023-06-01' },
    ],
  ] as const) {
    const r = await fetch(`${sc.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-switchyard-cascade': 'on', ...headers },
      body: JSON.stringify(body),
    });
    expect(r.status, path).toBe(502);
    expect(r.headers.get('x-should-retry'), path).toBe('false');
    expect(await r.text(), path).toContain('Output blocked by content filtering policy');
  }
});

it("a relayed Messages stream whose message_start counts cannot be read shows, in its message_delta, the counts its row bills (it showed the upstream's 10)", async () => {
  const r = await fetch(`${sc.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'm-claude-badstart', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  expect(r.status).toBe(200);
  const id = r.headers.get('x-request-id');
  const deltas = (await r.text())
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)) as { type: string; usage?: { output_tokens: number } })
    .filter((e) => e.type === 'message_delta');
  expect(deltas).toHaveLength(1);
  let row: Record<string, unknown> | undefined;
  for (let i = 0; i < 200 && row === undefined; i++) {
    row = ledgerRow(ledgerFileOf(cfg), id);
    if (row === undefined) await sleep(10);
  }
  expect(row).toMatchObject({ estimated: 1 });
  expect(deltas[0]!.usage!.output_tokens).toBe(row!.completion_tokens);
  expect(deltas[0]!.usage!.output_tokens).not.toBe(10);
});

it('null cache counts in a relayed message_start are none, to the client as to the row (the client was shown the estimate, the row billed the counts)', async () => {
  const r = await fetch(`${sc.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'm-claude-nullcache', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const id = r.headers.get('x-request-id');
  const events = (await r.text())
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)) as { type: string; message?: { usage: { input_tokens: number } }; usage?: { output_tokens: number } });
  let row: Record<string, unknown> | undefined;
  for (let i = 0; i < 200 && row === undefined; i++) {
    row = ledgerRow(ledgerFileOf(cfg), id);
    if (row === undefined) await sleep(10);
  }
  expect(row).toMatchObject({ prompt_tokens: 5, completion_tokens: 10, estimated: 0 });
  expect(events.find((e) => e.type === 'message_start')!.message!.usage.input_tokens).toBe(5);
  expect(events.find((e) => e.type === 'message_delta')!.usage!.output_tokens).toBe(10);
});
