/**
 * `POST /v1/messages` to an Anthropic-kind target is relayed natively: the upstream's own JSON
 * body and SSE events reach the client with only `model` rewritten — thinking blocks with their
 * signature, the matched `stop_sequence`, the cache usage fields — while usage is still read
 * for the ledger. Through the real sidecar and simulator with the official @anthropic-ai/sdk;
 * a recording proxy in front of the simulator shows the headers switchyard sends upstream.
 */
import Anthropic from '@anthropic-ai/sdk';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, TEST_KEYS, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import { ledgerFileOf, ledgerRow } from './ledger-row.js';

let sim: SimHandle;
let sc: SidecarHandle;
let client: Anthropic;
let ledgerFile: string;
let proxy: Server;
let seen: Array<{ path: string; headers: IncomingHttpHeaders }> = [];
const KEY = 'sy-client-key-native-relay';
const MODEL = 'claude-sonnet-4.5';
const UPSTREAM = 'claude-sonnet-4-5';
const PROVIDER_VERSION = '2023-01-01';

/** Forwards everything to the simulator and records each request's path and headers. */
function startProxy(target: string): Promise<string> {
  proxy = createServer((req, res) => {
    seen.push({ path: req.url ?? '', headers: { ...req.headers } });
    const up = httpRequest(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  return new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`)));
}

beforeAll(async () => {
  sim = await startSimulatorProc({
    defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: 12 },
    models: { [UPSTREAM]: { cachedTokens: 3, cacheWriteTokens: 5 } },
  });
  const via = await startProxy(sim.url);
  const cfg = testConfig(via, { auth: { keys: [{ id: 'team-n', keyEnv: 'SY_TEST_CLIENT_KEY' }] } });
  const providers = cfg.providers as Record<string, Record<string, unknown>>;
  providers.anthropic!.anthropicVersion = PROVIDER_VERSION;
  // A second Anthropic-kind endpoint of the same model: a translated stream would be continued there.
  providers.anthropic2 = { ...providers.anthropic, baseUrl: `${via}/anthropic2` };
  const models = cfg.models as Record<string, { price: Record<string, number>; endpoints: unknown[] }>;
  models[MODEL]!.price = { inputPerMTok: 3, outputPerMTok: 15, cachedInputPerMTok: 0.3, cacheWritePerMTok: 3.75 };
  models[MODEL]!.endpoints = [
    { provider: 'anthropic', upstreamModel: UPSTREAM },
    { provider: 'anthropic2', upstreamModel: UPSTREAM },
  ];
  ledgerFile = ledgerFileOf(cfg);
  sc = await startSidecar(cfg, { SY_TEST_CLIENT_KEY: KEY });
  client = new Anthropic({ baseURL: sc.url, apiKey: KEY, maxRetries: 0, timeout: 30_000 });
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
  await new Promise((r) => proxy?.close(r));
});

afterEach(async () => {
  await sim.clearFaults();
  await sim.clearLog();
  seen = [];
});

const question = (q: string) => [{ role: 'user' as const, content: q }];
const thinking = { type: 'enabled' as const, budget_tokens: 1024 };

/** The simulator asked directly, as Anthropic would be: the reference a native relay must match. */
async function direct(body: Record<string, unknown>): Promise<Response> {
  return fetch(`${sim.url}/anthropic/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'k' },
    body: JSON.stringify({ ...body, model: UPSTREAM }),
  });
}

/** A raw SSE body as [event name, parsed data] pairs. */
function events(text: string): Array<[string, Record<string, unknown>]> {
  return text
    .split('\n\n')
    .filter((b) => b.trim() !== '')
    .map((b) => {
      const name = /^event: (.*)$/m.exec(b)?.[1] ?? '';
      const data = /^data: (.*)$/m.exec(b)?.[1] ?? '{}';
      return [name, JSON.parse(data) as Record<string, unknown>];
    });
}

function withoutIdentity(evs: Array<[string, Record<string, unknown>]>): Array<[string, Record<string, unknown>]> {
  return evs.map(([n, d]) => (n === 'message_start' ? [n, { ...d, message: { ...(d.message as object), id: 'X', model: 'X' } }] : [n, d]));
}

const textOf = (m: Anthropic.Message): string => m.content.map((b) => (b.type === 'text' ? b.text : '')).join('');

function costNano(u: Anthropic.Usage): number {
  // Per token: input $3/MTok = 3000 nano, cache read $0.30/MTok = 300 nano, cache write $3.75/MTok = 3750 nano, output $15/MTok = 15000 nano.
  return u.input_tokens * 3000 + (u.cache_creation_input_tokens ?? 0) * 3750 + (u.cache_read_input_tokens ?? 0) * 300 + u.output_tokens * 15000;
}

describe('native relay from an Anthropic-kind endpoint', () => {
  it('JSON: the upstream body as is (thinking + signature, cache usage), model rewritten, cost = usage × price', async () => {
    const body = { model: MODEL, max_tokens: 2000, thinking, messages: question('Why do rails hum?') };
    const { data, response } = await client.messages.create(body).withResponse();
    expect(data.model).toBe(MODEL);
    expect(data.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    const think = data.content[0]!;
    if (think.type !== 'thinking') throw new Error('no thinking block');
    expect(think.thinking.length).toBeGreaterThan(0);
    expect(think.signature.length).toBeGreaterThan(20);
    expect(data.usage).toMatchObject({ cache_read_input_tokens: 3, cache_creation_input_tokens: 5 });
    const ref = (await (await direct(body)).json()) as Record<string, unknown>;
    expect({ ...data, id: 'X', model: 'X' }).toEqual({ ...ref, id: 'X', model: 'X' });
    const row = ledgerRow(ledgerFile, response.headers.get('x-request-id'));
    expect(row).toMatchObject({ model: MODEL, status: 200, estimated: 0, cached_tokens: 3, completion_tokens: data.usage.output_tokens });
    expect(row?.prompt_tokens).toBe(data.usage.input_tokens + 3 + 5);
    expect(row?.cost_nano).toBe(costNano(data.usage));
  });

  it('a document is reserved for: a 585 KB text document over x-switchyard-max-cost-usd is refused as the same text is; a PDF is reserved at the model window', async () => {
    const big = 'The quick brown fox jumps over the lazy dog. '.repeat(13_000);
    const cap = { headers: { 'x-switchyard-max-cost-usd': '0.01' } };
    const ask = (first: Anthropic.ContentBlockParam) =>
      client.messages
        .create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: [first, { type: 'text', text: 'summarize' }] }] }, cap)
        .catch((e: unknown) => e);
    const asText = await ask({ type: 'text', text: big });
    const asDoc = await ask({ type: 'document', source: { type: 'text', media_type: 'text/plain', data: big } });
    const pdf = await ask({ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' } });
    for (const e of [asText, asDoc, pdf]) {
      expect(e).toBeInstanceOf(Anthropic.APIError);
      expect((e as InstanceType<typeof Anthropic.APIError>).status).toBe(429);
      expect((e as InstanceType<typeof Anthropic.APIError>).message).toMatch(/exceeds x-switchyard-max-cost-usd/);
    }
    // 200,000 tokens (the window) at the dearest prompt price (cache writes, $3.75/MTok) plus 10 at $15: the PDF's worst case.
    expect((pdf as InstanceType<typeof Anthropic.APIError>).message).toContain('($0.750150)');
    // Without a cap the PDF is served (its reservation fits the budget), billed by the upstream's usage.
    const { response } = await client.messages
      .create({
        model: MODEL,
        max_tokens: 10,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' } },
              { type: 'text', text: 'summarize' },
            ],
          },
        ],
      })
      .withResponse();
    expect(response.status).toBe(200);
  });

  it('JSON: stops at a stop sequence with stop_reason stop_sequence and the matched sequence', async () => {
    const messages = question('Name some words.');
    const full = textOf(await client.messages.create({ model: MODEL, max_tokens: 300, messages }));
    const words = full.split(' ');
    expect(words.length).toBe(12);
    const stop = ` ${words[4]!}`;
    const cut = await client.messages.create({ model: MODEL, max_tokens: 300, stop_sequences: ['never-in-the-text', stop], messages });
    expect(cut.stop_reason).toBe('stop_sequence');
    expect(cut.stop_sequence).toBe(stop);
    expect(textOf(cut)).toBe(full.slice(0, full.indexOf(stop)));
  });

  it('stream: the upstream events relayed one for one (thinking_delta, signature_delta, stop_sequence), model rewritten', async () => {
    const messages = question('Tell me about signals.');
    const full = textOf(await client.messages.create({ model: MODEL, max_tokens: 300, messages }));
    const stop = ` ${full.split(' ')[6]!}`;
    const body = { model: MODEL, max_tokens: 2000, stream: true, thinking, stop_sequences: [stop], messages };
    const r = await fetch(`${sc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify(body),
    });
    expect(r.status).toBe(200);
    const got = events(await r.text());
    const ref = events(await (await direct(body)).text());
    expect((got[0]![1].message as { model: string }).model).toBe(MODEL);
    expect(withoutIdentity(got)).toEqual(withoutIdentity(ref));
    const deltas = got.filter(([n]) => n === 'content_block_delta').map(([, d]) => (d.delta as { type: string }).type);
    expect(deltas).toContain('thinking_delta');
    expect(deltas).toContain('signature_delta');
    // The SDK reads the relayed stream into the same message.
    const stream = client.messages.stream({ model: MODEL, max_tokens: 2000, thinking, stop_sequences: [stop], messages });
    const final = await stream.finalMessage();
    expect(final.model).toBe(MODEL);
    expect(final.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    expect(final.content[0]!.type === 'thinking' && final.content[0]!.signature.length).toBeGreaterThan(20);
    expect(final.stop_reason).toBe('stop_sequence');
    expect(final.stop_sequence).toBe(stop);
    expect(textOf(final)).toBe(full.slice(0, full.indexOf(stop)));
    expect(final.usage).toMatchObject({ cache_read_input_tokens: 3, cache_creation_input_tokens: 5 });
    const billed = client.messages.stream({ model: MODEL, max_tokens: 2000, thinking, messages });
    const { response } = await billed.withResponse();
    const again = await billed.finalMessage();
    const row = ledgerRow(ledgerFile, response.headers.get('x-request-id'));
    expect(row).toMatchObject({ model: MODEL, status: 200, stream: 1, estimated: 0, completion_tokens: again.usage.output_tokens });
    expect(row?.cost_nano).toBe(costNano(again.usage));
  });

  it("forwards anthropic-beta and the client's anthropic-version; the upstream gets switchyard's key, never the client's", async () => {
    const beta = new Anthropic({
      baseURL: sc.url,
      apiKey: KEY,
      maxRetries: 0,
      defaultHeaders: { 'anthropic-version': '2024-02-02', 'anthropic-beta': 'interleaved-thinking-2025-05-14' },
    });
    await beta.messages.create({ model: MODEL, max_tokens: 50, messages: question('hi') });
    // The 1M context beta is left out (Anthropic bills a prompt over 200K tokens at rates the catalogue does not price; it was forwarded).
    const longContext = new Anthropic({
      baseURL: sc.url,
      apiKey: KEY,
      maxRetries: 0,
      defaultHeaders: { 'anthropic-beta': 'context-1m-2025-08-07, interleaved-thinking-2025-05-14' },
    });
    await longContext.messages.create({ model: MODEL, max_tokens: 50, messages: question('hi') });
    const only1m = new Anthropic({ baseURL: sc.url, apiKey: KEY, maxRetries: 0, defaultHeaders: { 'anthropic-beta': 'context-1m-2025-08-07' } });
    await only1m.messages.create({ model: MODEL, max_tokens: 50, messages: question('hi') });
    const bare = await fetch(`${sc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, max_tokens: 50, messages: question('hi') }),
    });
    expect(bare.status).toBe(200);
    const log = await sim.log();
    expect(log.map((e) => [(e as { anthropicVersion?: string }).anthropicVersion, (e as { anthropicBeta?: string | null }).anthropicBeta])).toEqual([
      ['2024-02-02', 'interleaved-thinking-2025-05-14'],
      // The SDK's own anthropic-version for the two clients without one of theirs.
      [expect.any(String), 'interleaved-thinking-2025-05-14'],
      [expect.any(String), null],
      [PROVIDER_VERSION, null],
    ]);
    expect(seen).toHaveLength(4);
    for (const s of seen) {
      expect(s.headers['x-api-key']).toBe(TEST_KEYS.SY_TEST_ANTHROPIC_KEY);
      expect(s.headers.authorization).toBeUndefined();
      expect(JSON.stringify(s.headers)).not.toContain(KEY);
    }
  });

  it('a relayed stream whose upstream ends after its stop reason without message_stop still ends with message_stop', async () => {
    await sim.setFault(UPSTREAM, { kind: 'no_done' });
    const r = await fetch(`${sc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, max_tokens: 100, stream: true, messages: question('end quietly') }),
    });
    const got = events(await r.text());
    expect(got.slice(-2).map(([n]) => n)).toEqual(['message_delta', 'message_stop']);
    expect(got.filter(([n]) => n === 'message_stop')).toHaveLength(1);
    expect((await sim.log()).map((e) => e.fault)).toEqual(['no_done']);
  });

  it('a bad anthropic-beta header is a 400 in Anthropic shape naming it', async () => {
    const r = await fetch(`${sc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json', 'anthropic-beta': 'a b;c' },
      body: JSON.stringify({ model: MODEL, max_tokens: 5, messages: question('x') }),
    });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringMatching(/anthropic-beta/) as unknown },
    });
    expect(await sim.log()).toHaveLength(0);
  });

  it('a failure before the first content fails over invisibly, to an OpenAI-kind fallback translated', async () => {
    await sim.setFault(UPSTREAM, { kind: 'http_error', status: 503 });
    const stream = client.messages.stream({ model: MODEL, max_tokens: 100, messages: question('fail over please') });
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe('end_turn');
    expect(final.model).toBe('gpt-4.1');
    expect(textOf(final).split(' ')).toHaveLength(12);
    // Quick retries and both Anthropic endpoints answered 503, then the fallback did.
    const log = (await sim.log()).map((e) => [e.wire, e.status]);
    expect(log.length).toBeGreaterThanOrEqual(3);
    expect(log.slice(0, -1)).toEqual(Array.from({ length: log.length - 1 }, () => ['anthropic', 503]));
    expect(log.at(-1)).toEqual(['openai', 200]);
  });

  it('a relayed stream of text cut after its first content is continued on the other endpoint (translated, a prefill): the SDK reads one whole text block', async () => {
    const whole = await client.messages.create({ model: MODEL, max_tokens: 100, messages: question('cut me off') });
    await sim.clearLog();
    await sim.setFault(UPSTREAM, { kind: 'cut', afterTokens: 3, times: 1 });
    const stream = client.messages.stream({ model: MODEL, max_tokens: 100, messages: question('cut me off') });
    const names: string[] = [];
    stream.on('streamEvent', (e) => names.push(e.type));
    const final = await stream.finalMessage();
    // The words delivered before the cut, then the rest, in the one text block the relay opened.
    expect(textOf(final)).toBe(textOf(whole));
    expect(final.content.map((b) => b.type)).toEqual(['text']);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.model).toBe(MODEL);
    expect(names.filter((n) => n === 'message_start')).toHaveLength(1);
    expect(names.filter((n) => n === 'content_block_start')).toHaveLength(1);
    expect(names.slice(-2)).toEqual(['message_delta', 'message_stop']);
    const log = await sim.log();
    expect(log.map((e) => [e.wire, e.prefill])).toEqual([
      ['anthropic', false],
      ['anthropic', true],
    ]);
    expect(final.usage.output_tokens).toBeGreaterThanOrEqual(whole.usage.output_tokens);
  });

  it('a relayed stream that showed a thinking block, cut after its first content, ends with an error event: no prefill takes up a thinking block', async () => {
    await sim.setFault(UPSTREAM, { kind: 'cut', afterTokens: 3, times: 1 });
    const stream = client.messages.stream({ model: MODEL, max_tokens: 2000, thinking, messages: question('think, then be cut off') });
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    expect(await sim.log()).toHaveLength(1);
  });

  it("a relayed stream ended by the upstream's overloaded_error event after its first content, with nothing to continue it, ends with that error type (the SDK's retry reads it)", async () => {
    // Its thinking block cannot be continued by a prefill.
    await sim.setFault(UPSTREAM, { kind: 'stream_error_event', afterTokens: 3, times: 1 });
    const stream = client.messages.stream({ model: MODEL, max_tokens: 2000, thinking, messages: question('overload me') });
    let thought = '';
    let text = '';
    stream.on('thinking', (t) => (thought += t));
    stream.on('text', (t) => (text += t));
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(thought).not.toBe('');
    expect(text.split(' ').length).toBe(3);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
  });
});

describe('an OpenAI-kind target is still translated', () => {
  it('answers a translated Messages object (no stop_sequence, no Anthropic headers upstream)', async () => {
    const beta = new Anthropic({ baseURL: sc.url, apiKey: KEY, maxRetries: 0, defaultHeaders: { 'anthropic-beta': 'interleaved-thinking-2025-05-14' } });
    const m = await beta.messages.create({ model: 'gpt-4.1', max_tokens: 100, stop_sequences: ['zzz'], messages: question('hello there') });
    expect(m.model).toBe('gpt-4.1');
    expect(m.id).toMatch(/^msg_/);
    expect(m.content.map((b) => b.type)).toEqual(['text']);
    expect(m.stop_reason).toBe('end_turn');
    expect(m.stop_sequence).toBeNull();
    expect((await sim.log()).map((e) => e.wire)).toEqual(['openai']);
    expect(seen[0]!.path).toMatch(/\/chat\/completions$/);
    expect(seen[0]!.headers['anthropic-beta']).toBeUndefined();
    expect(seen[0]!.headers['anthropic-version']).toBeUndefined();
  });
});
