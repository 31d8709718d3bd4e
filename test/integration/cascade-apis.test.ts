/**
 * The quality cascade on `/v1/messages`, `/v1/responses` and legacy `/v1/completions`, through the
 * real sidecar and simulator with the official Anthropic and OpenAI SDKs: a cheap step's bad answer escalates as
 * on chat completions (JSON and stream); on Messages an Anthropic-kind step's own answer is held
 * and checked as it is and delivered relayed (its own `msg_` id and blocks); on Responses the
 * delivered answer is the one stored; each step is its own ledger row.
 */
import Anthropic from '@anthropic-ai/sdk';
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sleep, startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';

let sim: SimHandle;
let sy: SidecarHandle;
let client: Anthropic;

const ask = (text: string) => ({ max_tokens: 300, messages: [{ role: 'user' as const, content: text }] });

async function steps(requestId: string, count: number): Promise<Array<{ model: string; step: number; quality: string; delivered: number }>> {
  const file = /ledger: sqlite:(\S+)/.exec(readFileSync(sy.configFile, 'utf8'))![1]!;
  for (let i = 0; i < 40; i++) {
    const db = new Database(file, { readonly: true });
    const r = db.prepare('select model, step, quality, delivered from ledger where parent_id = ? order by step').all(requestId) as Array<{
      model: string;
      step: number;
      quality: string;
      delivered: number;
    }>;
    db.close();
    if (r.length >= count) return r;
    await sleep(25);
  }
  throw new Error(`fewer than ${count} rows for ${requestId}`);
}

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 0, tokenGapMs: 0, outputTokens: 12 } });
  const cfg = testConfig(sim.url, { routing: { strategy: 'cost', cascade: { enabled: true, startAt: 'cheapest' } } });
  (cfg.routing as Record<string, unknown>).routes = { claudefirst: ['claude-sonnet-4.5', 'gpt-4.1'] };
  sy = await startSidecar(cfg);
  client = new Anthropic({ baseURL: sy.url, apiKey: 'unused', maxRetries: 0 });
}, 60_000);
afterAll(async () => {
  await sy?.stop();
  await sim?.stop();
});
beforeEach(async () => {
  await sim.clearFaults();
});

describe('cascade on /v1/messages', () => {
  it('a cheap step’s empty answer escalates; the passing answer is delivered in Messages shape (JSON)', async () => {
    await sim.setFault('deepseek-chat', { kind: 'empty', times: 1 });
    const { data, response } = await client.messages.create({ model: 'auto', ...ask('Explain how a bloom filter works') }).withResponse();
    expect(response.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:empty>gpt-4.1:pass');
    expect(data.type).toBe('message');
    expect(data.model).toBe('gpt-4.1');
    expect(data.content[0]).toMatchObject({ type: 'text' });
    expect((data.content[0] as { text: string }).text.length).toBeGreaterThan(0);
    const rows = await steps(response.headers.get('x-request-id')!, 2);
    expect(rows.map((r) => [r.model, r.quality, r.delivered])).toEqual([
      ['deepseek-v3.2', 'empty', 0],
      ['gpt-4.1', 'pass', 1],
    ]);
  });

  it('the same on a stream: the client sees no byte of the failed step', async () => {
    await sim.setFault('deepseek-chat', { kind: 'refusal', times: 1 });
    const stream = client.messages.stream({ model: 'auto', ...ask('Explain how a bloom filter works') });
    const types: string[] = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    const msg = await stream.finalMessage();
    const { response } = await stream.withResponse();
    expect(response.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:refusal>gpt-4.1:pass');
    expect(msg.model).toBe('gpt-4.1');
    expect(msg.stop_reason).toBe('end_turn');
    expect(types[0]).toBe('message_start');
    expect(types.filter((t) => t === 'message_start')).toHaveLength(1);
    expect(JSON.stringify(msg.content)).not.toContain("can't help");
  });

  it('an Anthropic-kind step’s own answer is held, checked and delivered as relayed (JSON and stream)', async () => {
    await sim.setFault('deepseek-chat', { kind: 'empty', times: 2 });
    await sim.setFault('gpt-4.1', { kind: 'empty', times: 2 });
    const { data, response } = await client.messages.create({ model: 'auto', ...ask('Explain how a bloom filter works') }).withResponse();
    expect(response.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:empty>gpt-4.1:empty>claude-sonnet-4.5:pass');
    expect(data.model).toBe('claude-sonnet-4.5');
    // The simulator's own id (msg_sim…): relayed, not translated (a translated answer's id is msg_<hex>).
    expect(data.id).toMatch(/^msg_sim/);
    const stream = client.messages.stream({ model: 'auto', ...ask('Explain how a bloom filter works') });
    const msg = await stream.finalMessage();
    const { response: r2 } = await stream.withResponse();
    expect(r2.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:empty>gpt-4.1:empty>claude-sonnet-4.5:pass');
    expect(msg.model).toBe('claude-sonnet-4.5');
    expect(msg.id).toMatch(/^msg_sim/);
    expect((msg.content[0] as { text: string }).text.length).toBeGreaterThan(0);
  });

  it('an Anthropic-kind step’s own answer that fails a check escalates (JSON and stream)', async () => {
    await sim.setFault('claude-sonnet-4-5', { kind: 'refusal', times: 2 });
    const { data, response } = await client.messages.create({ model: 'route/claudefirst', ...ask('Explain how a bloom filter works') }).withResponse();
    expect(response.headers.get('x-switchyard-cascade')).toBe('claude-sonnet-4.5:refusal>gpt-4.1:pass');
    expect(data.model).toBe('gpt-4.1');
    const msg = await client.messages.stream({ model: 'route/claudefirst', ...ask('Explain how a bloom filter works') }).finalMessage();
    expect(msg.model).toBe('gpt-4.1');
    expect(JSON.stringify(msg.content)).not.toContain("can't help");
  });

  it('x-switchyard-cascade: off serves it plain; embeddings refuse on', async () => {
    await sim.setFault('deepseek-chat', { kind: 'empty', times: 1 });
    const { response } = await client.messages
      .create({ model: 'auto', ...ask('Explain how a bloom filter works') }, { headers: { 'x-switchyard-cascade': 'off' } })
      .withResponse();
    expect(response.headers.get('x-switchyard-cascade')).toBeNull();
    const r = await fetch(`${sy.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-switchyard-cascade': 'on' },
      body: JSON.stringify({ model: 'text-embedding-3-small', input: 'hi' }),
    });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { message: string } }).error.message).toContain(
      'only supported on /v1/chat/completions, /v1/messages, /v1/responses and /v1/completions',
    );
    // An SDK client that sends the header on every call: its token counts are answered (nothing to cascade there).
    const counted = await new Anthropic({
      baseURL: sy.url,
      apiKey: 'unused',
      maxRetries: 0,
      defaultHeaders: { 'x-switchyard-cascade': 'on' },
    }).messages.countTokens({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'hello there' }],
    });
    expect(counted.input_tokens).toBeGreaterThan(0);
    const inputTokens = await fetch(`${sy.url}/v1/responses/input_tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-switchyard-cascade': 'on' },
      body: JSON.stringify({ model: 'gpt-4.1', input: 'hello there' }),
    });
    expect(inputTokens.status).toBe(200);
  });

  it('the dry run of a Messages body lists the cascade’s steps', async () => {
    const r = await fetch(`${sy.url}/switchyard/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'auto', ...ask('Explain how a bloom filter works') }),
    });
    expect(await r.json()).toMatchObject({ model: 'deepseek-v3.2', cascade: [['deepseek-v3.2', 'gemini-2.5-flash'], ['gpt-4.1'], ['claude-sonnet-4.5']] });
  });
});

describe('cascade on /v1/responses', () => {
  it('a cheap step’s empty answer escalates; the delivered answer is the one stored (JSON)', async () => {
    await sim.setFault('deepseek-chat', { kind: 'empty', times: 1 });
    const { data, response } = await sy.client.responses.create({ model: 'auto', input: 'Explain how a bloom filter works' }).withResponse();
    expect(response.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:empty>gpt-4.1:pass');
    expect(data.model).toBe('gpt-4.1');
    expect(data.status).toBe('completed');
    expect(data.output_text.length).toBeGreaterThan(0);
    const stored = await sy.client.responses.retrieve(data.id);
    expect(stored.output_text).toBe(data.output_text);
    const rows = await steps(response.headers.get('x-request-id')!, 2);
    expect(rows.map((r) => [r.model, r.quality, r.delivered])).toEqual([
      ['deepseek-v3.2', 'empty', 0],
      ['gpt-4.1', 'pass', 1],
    ]);
  });

  it('a stream: one response, the failed step never shown', async () => {
    await sim.setFault('deepseek-chat', { kind: 'refusal', times: 1 });
    const stream = await sy.client.responses.create({ model: 'auto', input: 'Explain how a bloom filter works', stream: true });
    const types: string[] = [];
    let text = '';
    let done: { model: string; id: string } | null = null;
    for await (const e of stream) {
      types.push(e.type);
      if (e.type === 'response.output_text.delta') text += e.delta;
      if (e.type === 'response.completed') done = e.response;
    }
    expect(types.filter((t) => t === 'response.created')).toHaveLength(1);
    expect(done?.model).toBe('gpt-4.1');
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain("can't help");
    expect((await sy.client.responses.retrieve(done!.id)).output_text).toBe(text);
  });

  it('structured output: an answer that is not JSON escalates (text.format json_schema is checked as response_format is)', async () => {
    await sim.setFault('deepseek-chat', { kind: 'invalid_json', times: 1 });
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
    const { data, response } = await sy.client.responses
      .create({ model: 'auto', input: 'Explain how a bloom filter works', text: { format: { type: 'json_schema', name: 'a', schema, strict: true } } })
      .withResponse();
    expect(response.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:invalid_json>gpt-4.1:pass');
    expect(() => JSON.parse(data.output_text) as unknown).not.toThrow();
  });
});

describe('cascade on legacy /v1/completions', () => {
  it('a cheap step’s empty or refused answer escalates (JSON and stream)', async () => {
    await sim.setFault('deepseek-chat', { kind: 'empty', times: 1 });
    const { data, response } = await sy.client.completions.create({ model: 'auto', prompt: 'Explain how a bloom filter works', max_tokens: 50 }).withResponse();
    expect(response.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:empty>gpt-4.1:pass');
    expect(data.object).toBe('text_completion');
    expect(data.model).toBe('gpt-4.1');
    expect(data.choices[0]!.text.length).toBeGreaterThan(0);
    await sim.setFault('deepseek-chat', { kind: 'refusal', times: 1 });
    const { data: stream, response: r2 } = await sy.client.completions
      .create({ model: 'auto', prompt: 'Explain how a bloom filter works', max_tokens: 50, stream: true })
      .withResponse();
    expect(r2.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:refusal>gpt-4.1:pass');
    let text = '';
    for await (const c of stream) text += c.choices[0]?.text ?? '';
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain("can't help");
  });
});
