/**
 * `POST /v1/responses` through the real sidecar and simulator with the official openai SDK:
 * JSON, stream, a tool round trip, previous_response_id, refused fields, ledger and metrics;
 * and a stored response's routes (retrieve, delete, input items, cancel), the last two with
 * client keys on (a second sidecar).
 */
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFakeProvider, chatChunk, fakeModel, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import { ledgerFileOf, ledgerRow } from './ledger-row.js';

let sim: SimHandle;
let sc: SidecarHandle;
let ledgerFile: string;

beforeAll(async () => {
  // gemini answers longer than OpenAI's least max_output_tokens (16), so a limit can cut it.
  sim = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: 12 }, models: { 'gemini-2.5-flash': { outputTokens: 24 } } });
  const cfg = testConfig(sim.url);
  ledgerFile = ledgerFileOf(cfg);
  sc = await startSidecar(cfg);
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

const tools = [
  {
    type: 'function' as const,
    name: 'lookup',
    description: 'Look a word up',
    parameters: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'] },
    strict: false,
  },
];

describe('POST /v1/responses', () => {
  it('answers a string input as a Response object, billed in the ledger', async () => {
    const { data, response } = await sc.client.responses
      .create({ model: 'deepseek-v3.2', input: 'Say hello.', instructions: 'Be brief.', metadata: { team: 'a' } })
      .withResponse();
    expect(data.object).toBe('response');
    expect(data.id).toMatch(/^resp_/);
    expect(data.status).toBe('completed');
    expect(data.model).toBe('deepseek-v3.2');
    expect(data.output_text.split(' ')).toHaveLength(12);
    expect(data.metadata).toEqual({ team: 'a' });
    expect(data.instructions).toBe('Be brief.');
    expect(data.usage!.output_tokens).toBe(12);
    expect(data.usage!.total_tokens).toBe(data.usage!.input_tokens + 12);
    const row = ledgerRow(ledgerFile, response.headers.get('x-request-id'));
    expect(row).toMatchObject({ model: 'deepseek-v3.2', status: 200, completion_tokens: 12 });
    expect(Number(row!.cost_nano)).toBeGreaterThan(0);
    expect(response.headers.get('x-switchyard-cost-usd')).not.toBeNull();
  });

  it('streams the documented semantic events and completes with usage', async () => {
    const stream = sc.client.responses.stream({ model: 'gpt-4.1', input: [{ role: 'user', content: [{ type: 'input_text', text: 'Tell me a story.' }] }] });
    const types: string[] = [];
    let deltas = '';
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.output_text.delta') deltas += ev.delta;
    }
    const final = await stream.finalResponse();
    expect(types[0]).toBe('response.created');
    expect(types).toContain('response.output_item.added');
    expect(types).toContain('response.output_text.delta');
    expect(types.at(-1)).toBe('response.completed');
    expect(final.output_text).toBe(deltas);
    expect(final.usage!.output_tokens).toBe(12);
    expect(final.model).toBe('gpt-4.1');
    // A streamed response is stored too, before response.completed is sent.
    const next = await sc.client.responses.create({ model: 'gpt-4.1', previous_response_id: final.id, input: 'Go on.' });
    expect(next.usage!.input_tokens).toBeGreaterThan(final.usage!.input_tokens);
  });

  it('round-trips a function call and continues with previous_response_id', async () => {
    const first = await sc.client.responses.create({ model: 'gpt-4.1', input: 'Look up the word "rail".', tools, tool_choice: 'required' });
    const call = first.output.find((o) => o.type === 'function_call');
    expect(call).toBeDefined();
    if (call?.type !== 'function_call') throw new Error('no function call');
    expect(call.name).toBe('lookup');
    expect(JSON.parse(call.arguments)).toHaveProperty('input');
    await sim.clearLog();
    const second = await sc.client.responses.create({
      model: 'gpt-4.1',
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"meaning":"a bar"}' }],
      tools,
    });
    expect(second.status).toBe('completed');
    expect(second.previous_response_id).toBe(first.id);
    expect(second.output_text.length).toBeGreaterThan(0);
    // The stored conversation was sent again: the prompt grew by the first turn and the tool output.
    expect(second.usage!.input_tokens).toBeGreaterThan(first.usage!.input_tokens);
  });

  it('refuses a function_call_output answering no function_call (in its input or the previous response) with 400 param input, before any upstream call or ledger row', async () => {
    const plain = await sc.client.responses.create({ model: 'gpt-4.1', input: 'Say hello.' });
    await sim.clearLog();
    const output = { type: 'function_call_output' as const, call_id: 'c1', output: 'a bar' };
    for (const extra of [{}, { previous_response_id: plain.id }]) {
      for (const stream of [false, true]) {
        const err = (await sc.client.responses.create({ model: 'gpt-4.1', input: [output], tools, stream, ...extra }).catch((e: unknown) => e)) as InstanceType<
          typeof OpenAI.BadRequestError
        >;
        expect(err).toBeInstanceOf(OpenAI.BadRequestError);
        expect([err.status, err.param, err.type]).toEqual([400, 'input', 'invalid_request_error']);
        expect(err.message).toMatch(/^400 No tool call found for function call output with call_id c1\./);
        expect(ledgerRow(ledgerFile, err.headers.get('x-request-id'))).toBeUndefined();
      }
    }
    expect(await sim.log()).toHaveLength(0);
    // Its function_call in the same input matches it.
    const same = await sc.client.responses.create({
      model: 'gpt-4.1',
      input: [{ role: 'user', content: 'Look up "rail".' }, { type: 'function_call', call_id: 'c1', name: 'lookup', arguments: '{"input":"rail"}' }, output],
      tools,
    });
    expect(same.status).toBe('completed');
  });

  it('reads an input_file (a PDF by its bytes) on an OpenAI-kind model and on Claude (as a document), and auto sends it only to a model with vision', async () => {
    const input = [
      {
        role: 'user' as const,
        content: [
          { type: 'input_text' as const, text: 'Summarise the report.' },
          { type: 'input_file' as const, filename: 'report.pdf', file_data: 'data:application/pdf;base64,JVBERi0xLjQK' },
        ],
      },
    ];
    for (const model of ['gpt-4.1', 'claude-sonnet-4.5']) {
      const r = await sc.client.responses.create({ model, input });
      expect([r.status, r.model]).toEqual(['completed', model]);
      expect(r.output_text.length).toBeGreaterThan(0);
      // Listed as given: the file, not an empty text part.
      const items = await sc.client.responses.inputItems.list(r.id);
      expect(items.data[0]).toMatchObject({
        content: [
          { type: 'input_text', text: 'Summarise the report.' },
          { type: 'input_file', file_id: null, filename: 'report.pdf', file_data: 'data:application/pdf;base64,JVBERi0xLjQK' },
        ],
      });
    }
    await sim.clearLog();
    const { response } = await sc.client.responses.create({ model: 'auto', input }, { headers: { 'x-switchyard-tier': 'fast_cheap' } }).withResponse();
    // deepseek-v3.2, the cheapest of the tier, reads no PDF (no vision): gemini-2.5-flash serves it.
    expect(response.headers.get('x-switchyard-model')).toBe('gemini-2.5-flash');
    expect((await sim.log()).map((e) => e.model)).toEqual(['gemini-2.5-flash']);
  });

  it('streams a function call with argument deltas', async () => {
    const stream = sc.client.responses.stream({
      model: 'claude-sonnet-4.5',
      input: 'Look up "switch".',
      tools,
      tool_choice: { type: 'function', name: 'lookup' },
    });
    let args = '';
    for await (const ev of stream) if (ev.type === 'response.function_call_arguments.delta') args += ev.delta;
    const final = await stream.finalResponse();
    const call = final.output.find((o) => o.type === 'function_call');
    expect(call?.type === 'function_call' && call.arguments).toBe(args);
    expect(JSON.parse(args)).toHaveProperty('input');
  });

  it('continues an empty answer (no output items, JSON or streamed) with previous_response_id: the stored turn is no assistant message without content, which OpenAI refuses', async () => {
    await sim.setFault('*', { kind: 'empty' });
    const json = await sc.client.responses.create({ model: 'gpt-4.1', input: 'Say nothing.' });
    const streamed = await sc.client.responses.stream({ model: 'gpt-4.1', input: 'Say nothing.' }).finalResponse();
    await sim.clearFaults();
    for (const r of [json, streamed]) {
      expect([r.status, r.output, r.output_text]).toEqual(['completed', [], '']);
      const next = await sc.client.responses.create({ model: 'gpt-4.1', previous_response_id: r.id, input: 'Now say something.' });
      expect([next.status, next.previous_response_id]).toEqual(['completed', r.id]);
      expect(next.output_text.length).toBeGreaterThan(0);
      // Both turns of the user's were sent.
      expect(next.usage!.input_tokens).toBeGreaterThan(r.usage!.input_tokens);
    }
  });

  it("renders a model's refusal as a refusal part (JSON and stream events), never an empty output", async () => {
    await sim.setFault('deepseek-chat', { kind: 'refusal', times: 1 });
    const json = await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'Refuse me.' });
    await sim.setFault('deepseek-chat', { kind: 'refusal', times: 1 });
    const stream = sc.client.responses.stream({ model: 'deepseek-v3.2', input: 'Refuse me.' });
    const types: string[] = [];
    let deltas = '';
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.refusal.delta') deltas += ev.delta;
    }
    const streamed = await stream.finalResponse();
    await sim.clearFaults();
    for (const r of [json, streamed]) {
      expect(r.status).toBe('completed');
      expect(r.output).toHaveLength(1);
      expect(r.output[0]).toMatchObject({ type: 'message', status: 'completed', content: [{ type: 'refusal', refusal: expect.stringMatching(/sorry/) }] });
    }
    expect(deltas).toBe((streamed.output[0] as { content: Array<{ refusal: string }> }).content[0]!.refusal);
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...types.filter((t) => t === 'response.refusal.delta'),
      'response.refusal.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    // Stored as answered (the stream helper's own `parsed` field aside).
    const stored = await sc.client.responses.retrieve(streamed.id);
    expect(stored.output).toEqual([{ ...streamed.output[0], content: [{ type: 'refusal', refusal: deltas }] }]);
  });

  const statuses = (r: { output: unknown[] }): unknown[] => r.output.map((o) => (o as { status?: string }).status);

  it('an answer cut by max_output_tokens is incomplete, and so is the item it cut (JSON, stream, stored); a failed stream leaves its open item incomplete', async () => {
    const json = await sc.client.responses.create({ model: 'gemini-2.5-flash', input: 'Go on.', max_output_tokens: 16 });
    const stream = sc.client.responses.stream({ model: 'gemini-2.5-flash', input: 'Go on.', max_output_tokens: 16 });
    const done: unknown[] = [];
    for await (const ev of stream) if (ev.type === 'response.output_item.done') done.push(statuses({ output: [ev.item] })[0]);
    const streamed = await stream.finalResponse();
    for (const r of [json, streamed, await sc.client.responses.retrieve(streamed.id)]) {
      expect([r.status, r.incomplete_details, statuses(r)]).toEqual(['incomplete', { reason: 'max_output_tokens' }, ['incomplete']]);
    }
    expect(done).toEqual(['incomplete']);
    expect(json.usage!.output_tokens).toBe(16);
    const whole = await sc.client.responses.create({ model: 'gemini-2.5-flash', input: 'Go on.' });
    expect([whole.status, statuses(whole)]).toEqual(['completed', ['completed']]);
    await sim.setFault('deepseek-chat', { kind: 'cut', afterTokens: 4, times: 1 });
    const cut = await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'cut me off', stream: true });
    let failed: { status?: string; output: unknown[] } | null = null;
    for await (const ev of cut) if (ev.type === 'response.failed') failed = ev.response;
    await sim.clearFaults();
    expect(failed && [failed.status, statuses(failed)]).toEqual(['failed', ['incomplete']]);
  });

  it("echoes the max_output_tokens the model was sent: a value over the model's maxOutputTokens is capped to it (JSON, stream's created and completed events, stored); one within it, or none, as sent", async () => {
    // deepseek-v3.2's maxOutputTokens is 8192: OpenAI refuses a value over a model's maximum, so its echo is always the cap it used.
    const json = await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'Say hi.', max_output_tokens: 100_000 });
    const stream = sc.client.responses.stream({ model: 'deepseek-v3.2', input: 'Say hi.', max_output_tokens: 100_000 });
    const echoed: unknown[] = [];
    for await (const ev of stream) if (ev.type === 'response.created' || ev.type === 'response.completed') echoed.push(ev.response.max_output_tokens);
    const streamed = await stream.finalResponse();
    expect([json.max_output_tokens, ...echoed, streamed.max_output_tokens]).toEqual([8192, 8192, 8192, 8192]);
    expect((await sc.client.responses.retrieve(json.id)).max_output_tokens).toBe(8192);
    expect((await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'Say hi.', max_output_tokens: 500 })).max_output_tokens).toBe(500);
    expect((await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'Say hi.' })).max_output_tokens).toBeNull();
  });

  it('ends a stream cut after the commit with error then response.failed, never a completed response; the failed response is not stored and says so, and its usage is what the ledger billed', async () => {
    const billed = async () => {
      const j = (await (await fetch(`${sc.url}/switchyard/spend?group_by=model`)).json()) as {
        groups: Array<{ model: string; promptTokens: number; completionTokens: number }>;
      };
      const g = j.groups.find((x) => x.model === 'deepseek-v3.2');
      return { input: g?.promptTokens ?? 0, output: g?.completionTokens ?? 0 };
    };
    const before = await billed();
    await sim.setFault('deepseek-chat', { kind: 'cut', afterTokens: 4 });
    const stream = await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'cut me off', stream: true });
    const types: string[] = [];
    let failed: { id: string; store?: boolean | null; usage?: { input_tokens: number; output_tokens: number; total_tokens: number } | null } | null = null;
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.failed') failed = ev.response;
    }
    await sim.clearFaults();
    expect(types).toContain('response.output_text.delta');
    expect(types.slice(-2)).toEqual(['error', 'response.failed']);
    expect(types).not.toContain('response.completed');
    expect(failed?.store).toBe(false);
    await expect(sc.client.responses.retrieve(failed!.id)).rejects.toMatchObject({ status: 404 });
    const after = await billed();
    expect(after.output - before.output).toBeGreaterThan(0);
    expect(failed?.usage).toMatchObject({ input_tokens: after.input - before.input, output_tokens: after.output - before.output });
    expect(failed?.usage?.total_tokens).toBe(after.input - before.input + after.output - before.output);
  });

  it("retrieves a stored response (GET /v1/responses/{id}, the SDK's responses.retrieve) as it was answered; 404 otherwise", async () => {
    const created = await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'Keep this one.', metadata: { tag: 'kept' } });
    const got = await sc.client.responses.retrieve(created.id);
    expect(JSON.parse(JSON.stringify(got))).toEqual(JSON.parse(JSON.stringify(created)));
    // A streamed one is stored as completed.
    const stream = sc.client.responses.stream({ model: 'gpt-4.1', input: 'Stream and keep.' });
    for await (const _ of stream) void _;
    const final = await stream.finalResponse();
    const again = await sc.client.responses.retrieve(final.id);
    expect([again.id, again.status, again.output_text, again.usage?.output_tokens]).toEqual([
      final.id,
      'completed',
      final.output_text,
      final.usage?.output_tokens,
    ]);
    // Not stored, unknown: 404 in OpenAI's shape.
    const unstored = await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'Forget this one.', store: false });
    for (const id of [unstored.id, 'resp_nope']) {
      const err = await sc.client.responses.retrieve(id).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 404, code: 'not_found' });
    }
    // The SDK's `stream: true` asks for a background response's events: a 400 naming it, not a
    // JSON answer the SDK would read as an empty stream.
    const asStream = await sc.client.responses.retrieve(created.id, { stream: true }).catch((e: unknown) => e);
    expect(asStream).toMatchObject({ status: 400, param: 'stream' });
    expect((await fetch(`${sc.url}/v1/responses/${created.id}?stream=false`)).status).toBe(200);
    const wrongMethod = await fetch(`${sc.url}/v1/responses/${created.id}`, { method: 'PUT' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD, DELETE');
    // Its input items (the SDK's inputItems.list); none of one not stored.
    const items = await sc.client.responses.inputItems.list(created.id);
    expect(items.data.map(({ id: _, ...rest }) => rest)).toEqual([
      { type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_text', text: 'Keep this one.' }] },
    ]);
    await expect(sc.client.responses.inputItems.list(unstored.id)).rejects.toMatchObject({ status: 404, code: 'not_found' });
    // Another sub-resource is not a response id with a slash in it.
    const other = await fetch(`${sc.url}/v1/responses/${created.id}/output_items`);
    expect(other.status).toBe(404);
    expect(((await other.json()) as { error: { message: string } }).error.message).toContain('/v1/responses/{id}/input_items');
  });

  it("deletes a stored response (DELETE /v1/responses/{id}, the SDK's responses.delete): then it is unknown everywhere", async () => {
    const created = await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'Delete me later.' });
    const raw = await fetch(`${sc.url}/v1/responses/${created.id}`, { method: 'DELETE' });
    expect(raw.status).toBe(200);
    expect(await raw.json()).toEqual({ id: created.id, object: 'response', deleted: true });
    const err = await sc.client.responses.retrieve(created.id).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 404, code: 'not_found' });
    const cont = await sc.client.responses.create({ model: 'gpt-4.1', input: 'and then?', previous_response_id: created.id }).catch((e: unknown) => e);
    expect(cont).toMatchObject({ status: 400, param: 'previous_response_id' });
    // Deleting it again, or an id never stored: 404 in OpenAI's shape (the SDK throws).
    for (const id of [created.id, 'resp_nope']) {
      const again = await sc.client.responses.delete(id).catch((e: unknown) => e);
      expect(again).toMatchObject({ status: 404, code: 'not_found' });
    }
    // The SDK's own call succeeds on a stored one.
    const other = await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'Delete me now.' });
    await sc.client.responses.delete(other.id);
    await expect(sc.client.responses.retrieve(other.id)).rejects.toMatchObject({ status: 404 });
  });

  it("counts a request's input tokens (POST /v1/responses/input_tokens, the SDK's responses.inputTokens.count) without calling a model, a previous response's conversation included", async () => {
    const logged = (await sim.log()).length;
    const one = await sc.client.responses.inputTokens.count({ model: 'gpt-4.1', input: 'Say hello.' });
    expect(one.object).toBe('response.input_tokens');
    expect(one.input_tokens).toBeGreaterThan(0);
    const more = await sc.client.responses.inputTokens.count({
      model: 'gpt-4.1',
      input: 'Say hello.',
      instructions: 'Answer in the style of a long formal letter, please.',
    });
    expect(more.input_tokens).toBeGreaterThan(one.input_tokens);
    // `model` is optional, as OpenAI's; the count is the same.
    expect((await sc.client.responses.inputTokens.count({ input: 'Say hello.' })).input_tokens).toBe(one.input_tokens);
    const first = await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'Say hello.' });
    const chained = await sc.client.responses.inputTokens.count({ model: 'deepseek-v3.2', input: 'And again.', previous_response_id: first.id });
    const alone = await sc.client.responses.inputTokens.count({ model: 'deepseek-v3.2', input: 'And again.' });
    expect(chained.input_tokens).toBeGreaterThan(alone.input_tokens + one.input_tokens - 8);
    // Only the one real request reached a model.
    expect((await sim.log()).length).toBe(logged + 1);
    const unknown = await sc.client.responses.inputTokens.count({ model: 'no-such-model', input: 'x' }).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ status: 400, param: 'model' });
    const get = await fetch(`${sc.url}/v1/responses/input_tokens`);
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
    // Another POST under /v1/responses/ (OpenAI's compact) is a 404 saying what is served, not a 405 for a stored response.
    const compact = await fetch(`${sc.url}/v1/responses/compact`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(compact.status).toBe(404);
    expect(((await compact.json()) as { error: { message: string } }).error.message).toMatch(
      /^no route POST \/v1\/responses\/compact: switchyard serves POST \/v1\/responses and \/v1\/responses\/input_tokens/,
    );
  });

  it("resolves item_reference input items (the AI SDK's form for earlier output items when store is on) to the stored items they name, JSON and streamed; an unknown one is a 400 naming it", async () => {
    const first = await sc.client.responses.create({ model: 'gpt-4.1', input: 'Look up the word "rail".', tools, tool_choice: 'required' });
    const call = first.output.find((o) => o.type === 'function_call');
    if (call?.type !== 'function_call') throw new Error('no function call');
    const streamed = await sc.client.responses.stream({ model: 'deepseek-v3.2', input: 'Say hello.' }).finalResponse();
    const said = streamed.output.find((o) => o.type === 'message');
    if (said?.type !== 'message') throw new Error('no message');
    // The ids tell the response they came from, each unique.
    for (const [o, r] of [
      [call, first],
      [said, streamed],
    ] as const)
      expect(o.id!.startsWith(`${o.type === 'message' ? 'msg' : 'fc'}_${r.id.slice('resp_'.length)}`)).toBe(true);
    const turns = (ref: boolean) => [
      { role: 'user' as const, content: 'Look up the word "rail".' },
      ref
        ? { type: 'item_reference' as const, id: call.id! }
        : { type: 'function_call' as const, call_id: call.call_id, name: call.name, arguments: call.arguments },
      { type: 'function_call_output' as const, call_id: call.call_id, output: '{"meaning":"a bar"}' },
      ref ? { type: 'item_reference' as const, id: said.id } : { role: 'assistant' as const, content: streamed.output_text },
      { role: 'user' as const, content: 'Thanks. And "yard"?' },
    ];
    // The same prompt as the items themselves give.
    const counted = async (ref: boolean) => (await sc.client.responses.inputTokens.count({ model: 'gpt-4.1', input: turns(ref), tools })).input_tokens;
    expect(await counted(true)).toBe(await counted(false));
    const next = await sc.client.responses.create({ model: 'gpt-4.1', input: turns(true), tools });
    expect(next.status).toBe('completed');
    // The listed input items are the items referred to.
    const listed = await sc.client.responses.inputItems.list(next.id);
    expect(listed.data.map((i) => ('id' in i ? i.id : null))).toEqual(expect.arrayContaining([call.id, said.id]));
    const unknown = await sc.client.responses
      .create({
        model: 'gpt-4.1',
        input: [
          { role: 'user', content: 'x' },
          { type: 'item_reference', id: 'msg_nope' },
        ],
      })
      .catch((e: unknown) => e);
    expect(unknown).toMatchObject({ status: 400, param: 'input[1].id' });
    expect((unknown as Error).message).toMatch(/item_reference "msg_nope" is not an output item of a stored response/);
    // An item previous_response_id already brings is refused as OpenAI refuses it (it was sent and billed twice):
    // an output of that response, or a call of its conversation.
    const again = (prev: string, id: string) =>
      sc.client.responses
        .create({
          model: 'gpt-4.1',
          previous_response_id: prev,
          input: [
            { type: 'item_reference', id },
            { role: 'user', content: 'x' },
          ],
        })
        .catch((e: unknown) => e);
    for (const [prev, id] of [
      [streamed.id, said.id],
      [next.id, call.id!],
    ] as const) {
      const dup = await again(prev, id);
      expect(dup).toMatchObject({ status: 400, param: 'input[0].id' });
      expect((dup as Error).message).toMatch(/^400 Duplicate item found with id /);
    }
    // Further back in the chain too (walked by the stored responses' previous_response_id); an output item passed back
    // whole with its id likewise; and one reference given twice.
    const c2 = await sc.client.responses.create({ model: 'gpt-4.1', previous_response_id: streamed.id, input: 'Again.' });
    const refused = [
      await again(c2.id, said.id),
      await sc.client.responses
        .create({ model: 'gpt-4.1', previous_response_id: streamed.id, input: [said, { role: 'user', content: 'x' }] } as never)
        .catch((e: unknown) => e),
      await sc.client.responses
        .create({
          model: 'gpt-4.1',
          input: [
            { type: 'item_reference', id: said.id },
            { type: 'item_reference', id: said.id },
            { role: 'user', content: 'x' },
          ],
        })
        .catch((e: unknown) => e),
    ];
    expect(refused.map((r) => [(r as { status?: number }).status, (r as { param?: string }).param])).toEqual([
      [400, 'input[0].id'],
      [400, 'input[0].id'],
      [400, 'input[1].id'],
    ]);
    for (const r of refused) expect((r as Error).message).toMatch(/^400 Duplicate item found with id /);
  });

  it('refuses an unknown previous_response_id with a 400', async () => {
    const err = await sc.client.responses.create({ model: 'gpt-4.1', input: 'x', previous_response_id: 'resp_nope' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, param: 'previous_response_id' });
    expect((err as Error).message).toMatch(/unknown or expired/);
  });

  it('refuses a tool_choice naming a function that is not in tools (or with no tools) with 400 param tool_choice, before any upstream call or ledger row', async () => {
    await sim.clearLog();
    for (const [extra, declared] of [
      [{ tools }, 'declared: lookup'],
      [{}, 'the request declares no tools'],
    ] as const) {
      for (const stream of [false, true]) {
        const err = (await sc.client.responses
          .create({ model: 'gpt-4.1', input: 'x', stream, tool_choice: { type: 'function', name: 'x' }, ...extra })
          .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
        expect(err).toBeInstanceOf(OpenAI.BadRequestError);
        expect([err.status, err.param, err.type]).toEqual([400, 'tool_choice', 'invalid_request_error']);
        expect(err.message).toContain(`tool "x" is not in tools (${declared})`);
        expect(ledgerRow(ledgerFile, err.headers.get('x-request-id'))).toBeUndefined();
      }
    }
    expect(await sim.log()).toHaveLength(0);
  });

  it('refuses tool_choice "required" with no tools (absent or []) with 400 param tool_choice, before any upstream call or ledger row', async () => {
    await sim.clearLog();
    for (const extra of [{}, { tools: [] }])
      for (const stream of [false, true]) {
        const err = (await sc.client.responses
          .create({ model: 'gpt-4.1', input: 'x', stream, tool_choice: 'required', ...extra })
          .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
        expect(err).toBeInstanceOf(OpenAI.BadRequestError);
        expect([err.status, err.param, err.type]).toEqual([400, 'tool_choice', 'invalid_request_error']);
        expect(err.message).toContain('"required" makes the model call one of tools, and the request declares no tools');
        expect(ledgerRow(ledgerFile, err.headers.get('x-request-id'))).toBeUndefined();
      }
    expect(await sim.log()).toHaveLength(0);
  });

  it('serves tool_choice auto or none, and parallel_tool_calls, with no tools (absent or []) on every kind of target, echoed as sent (an OpenAI-kind upstream, which refuses them without tools, gets neither)', async () => {
    await sim.clearLog();
    const models = ['gpt-4.1', 'deepseek-v3.2', 'claude-sonnet-4.5'];
    for (const model of models)
      for (const [tool_choice, parallel_tool_calls] of [
        ['auto', undefined],
        ['none', undefined],
        ['auto', false],
        [undefined, true],
      ] as const)
        for (const extra of [{}, { tools: [] }]) {
          const ok = await sc.client.responses.create({ model, input: 'Say hello.', tool_choice, parallel_tool_calls, ...extra });
          expect([ok.status, ok.tool_choice, ok.parallel_tool_calls], `${model} ${tool_choice} ${parallel_tool_calls}`).toEqual([
            'completed',
            tool_choice ?? 'auto',
            parallel_tool_calls ?? true,
          ]);
        }
    const statuses = (await sim.log()).map((e) => e.status);
    expect(statuses).toEqual(statuses.map(() => 200));
    expect(statuses).toHaveLength(models.length * 8);
  });

  it('takes prompt_cache_retention, a caching hint chat completions take too, on every kind of target; a value OpenAI does not know is a 400 naming it', async () => {
    await sim.clearLog();
    for (const model of ['gpt-4.1', 'claude-sonnet-4.5'])
      for (const prompt_cache_retention of ['in_memory', '24h'] as const) {
        const ok = await sc.client.responses.create({ model, input: 'Say hello.', prompt_cache_key: 'greeting', prompt_cache_retention });
        expect(ok.status, `${model} ${prompt_cache_retention}`).toBe('completed');
      }
    expect((await sim.log()).map((e) => e.status)).toEqual([200, 200, 200, 200]);
    const err = await sc.client.responses
      .create({ model: 'gpt-4.1', input: 'x', prompt_cache_retention: 'forever' as unknown as '24h' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, param: 'prompt_cache_retention' });
  });

  it('takes tool_choice allowed_tools (the functions the model may call this turn, of those declared), JSON and stream; one not declared is a 400 naming it', async () => {
    const two = [tools[0]!, { ...tools[0]!, name: 'define', description: 'Define a word' }];
    const tool_choice = { type: 'allowed_tools' as const, mode: 'required' as const, tools: [{ type: 'function', name: 'define' }] };
    const r = await sc.client.responses.create({ model: 'gpt-4.1', input: 'What does switchyard mean?', tools: two, tool_choice });
    expect(r.output.map((o) => (o.type === 'function_call' ? o.name : o.type))).toEqual(['define']);
    expect(r.tool_choice).toEqual(tool_choice);
    const s = sc.client.responses.stream({ model: 'gpt-4.1', input: 'What does switchyard mean?', tools: two, tool_choice });
    const streamed = await s.finalResponse();
    expect(streamed.output.map((o) => (o.type === 'function_call' ? o.name : o.type))).toEqual(['define']);
    const err = await sc.client.responses
      .create({ model: 'gpt-4.1', input: 'x', tools: two, tool_choice: { ...tool_choice, tools: [{ type: 'function', name: 'translate' }] } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, param: 'tool_choice.tools[0]' });
  });

  it("refuses max_output_tokens below OpenAI's minimum (16) with its 400, param max_output_tokens, before any upstream call or ledger row", async () => {
    await sim.clearLog();
    for (const n of [1, 5, 15]) {
      const err = (await sc.client.responses.create({ model: 'gpt-4.1', input: 'x', max_output_tokens: n }).catch((e: unknown) => e)) as InstanceType<
        typeof OpenAI.BadRequestError
      >;
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect([err.status, err.param, err.code]).toEqual([400, 'max_output_tokens', 'integer_below_min_value']);
      expect(err.message).toBe(`400 Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got ${n} instead.`);
      expect(ledgerRow(ledgerFile, err.headers.get('x-request-id'))).toBeUndefined();
    }
    expect(await sim.log()).toHaveLength(0);
  });

  it("refuses a chat completions field or shape sent to /v1/responses with a 400 naming it and saying the Responses API's own (never that switchyard does not support it), before any upstream call", async () => {
    await sim.clearLog();
    const call = { type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } };
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ response_format: { type: 'json_object' } }, 'response_format', /text\.format/],
      [{ max_tokens: 100 }, 'max_tokens', /max_output_tokens/],
      [{ max_completion_tokens: 100 }, 'max_completion_tokens', /max_output_tokens/],
      [{ input: undefined, messages: [{ role: 'user', content: 'x' }] }, 'messages', /\binput\b.*\binstructions\b/],
      [{ tools: [call] }, 'tools[0].name', /\{type: "function", name, parameters\}/],
      [{ input: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }] }, 'input[0].content[0].type', /input_text/],
      [
        { input: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/x.png' } }] }] },
        'input[0].content[0].type',
        /input_image/,
      ],
    ];
    for (const [fields, param, says] of cases) {
      const err = (await sc.client.responses
        .create({ model: 'gpt-4.1', input: 'x', ...fields } as unknown as OpenAI.Responses.ResponseCreateParamsNonStreaming)
        .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
      expect(err, param).toBeInstanceOf(OpenAI.BadRequestError);
      expect([err.status, err.param, err.type]).toEqual([400, param, 'invalid_request_error']);
      expect(err.message, param).toMatch(says);
      expect(err.message, param).not.toMatch(/not supported by switchyard/);
    }
    expect(await sim.log()).toHaveLength(0);
  });

  it('refuses a built-in tool with a 400 naming the field', async () => {
    const err = await sc.client.responses.create({ model: 'gpt-4.1', input: 'x', tools: [{ type: 'web_search' }] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, param: 'tools[0].type' });
    // A custom tool is the client's own: refused as not supported here, never called built-in.
    const custom = await sc.client.responses.create({ model: 'gpt-4.1', input: 'x', tools: [{ type: 'custom', name: 'f' }] }).catch((e: unknown) => e);
    expect(custom).toMatchObject({ status: 400, param: 'tools[0].type' });
    expect((custom as Error).message).toMatch(/custom tools \(free-form input\) are not supported on \/v1\/responses/);
    expect((custom as Error).message).not.toMatch(/built-in/);
    const bad = await fetch(`${sc.url}/v1/responses`, { method: 'POST', body: '{"model":', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });

  it("takes include values that name data switchyard never has (encrypted reasoning, built-in tools' results), as clients with store: false send them; logprobs and unknown values are a 400 naming include", async () => {
    const include = ['reasoning.encrypted_content', 'web_search_call.results', 'file_search_call.results', 'message.input_image.image_url'] as const;
    for (const stream of [false, true]) {
      const r = stream
        ? await sc.client.responses.stream({ model: 'deepseek-v3.2', input: 'Hello there', store: false, include: [...include] }).finalResponse()
        : await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'Hello there', store: false, include: [...include] });
      expect(r.status).toBe('completed');
      expect(r.output_text).not.toBe('');
    }
    for (const bad of [['message.output_text.logprobs'], ['reasoning.everything'], 'reasoning.encrypted_content']) {
      const err = await fetch(`${sc.url}/v1/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'deepseek-v3.2', input: 'x', include: bad }),
      });
      expect([bad, err.status]).toEqual([bad, 400]);
      expect(((await err.json()) as { error: { param: string } }).error.param).toBe('include');
    }
  });

  it("takes reasoning.effort and text.verbosity as chat completions' reasoning_effort and verbosity (an OpenAI-kind model is sent them; an Anthropic model cannot take them: a 400 naming the Responses field); a summary is a 400", async () => {
    const r = await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'Hello there', reasoning: { effort: 'low' } });
    expect(r.status).toBe('completed');
    expect(r.reasoning).toEqual({ effort: 'low' });
    const claude = await sc.client.responses.create({ model: 'claude-sonnet-4.5', input: 'x', reasoning: { effort: 'low' } }).catch((e: unknown) => e);
    expect(claude).toMatchObject({ status: 400, param: 'reasoning.effort' });
    expect((claude as Error).message).not.toMatch(/reasoning_effort/);
    const summary = await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'x', reasoning: { summary: 'auto' } }).catch((e: unknown) => e);
    expect(summary).toMatchObject({ status: 400, param: 'reasoning.summary' });
    const verbose = await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'Hello there', text: { verbosity: 'low' } });
    expect(verbose.text).toMatchObject({ verbosity: 'low' });
    const claudeVerbose = await sc.client.responses.create({ model: 'claude-sonnet-4.5', input: 'x', text: { verbosity: 'low' } }).catch((e: unknown) => e);
    expect(claudeVerbose).toMatchObject({ status: 400, param: 'text.verbosity' });
  });

  it('a field an Anthropic model cannot take is refused naming the Responses field the client sent (text.format), not the chat field it became', async () => {
    const err = await sc.client.responses
      .create({ model: 'claude-sonnet-4.5', input: 'x', text: { format: { type: 'json_object' } } })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, param: 'text.format' });
    expect((err as Error).message).toMatch(/text\.format/);
    expect((err as Error).message).not.toMatch(/response_format/);
    // A json_schema format is Anthropic's structured outputs: served, its text of the schema's shape.
    const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false };
    const ok = await sc.client.responses.create({ model: 'claude-sonnet-4.5', input: 'x', text: { format: { type: 'json_schema', name: 's', schema } } });
    expect(ok.status).toBe('completed');
    expect(Object.keys(JSON.parse(ok.output_text) as object)).toEqual(['a']);
  });

  it("names the Responses field, not the chat form's path, when a part of one an Anthropic model cannot take is refused (a schema, a tool's parameters, an input item)", async () => {
    const map = { type: 'object', additionalProperties: { type: 'string' } };
    const img = (image_url: string) => [{ role: 'user' as const, content: [{ type: 'input_image' as const, image_url, detail: 'auto' as const }] }];
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ text: { format: { type: 'json_schema', name: 's', strict: true, schema: map } } }, 'text.format.schema'],
      [{ tools: [{ type: 'function', name: 'f', strict: true, parameters: map }] }, 'tools[0].parameters'],
      [{ input: img('data:image/bmp;base64,Qk0=') }, 'input'],
      [
        {
          input: [
            { role: 'user', content: 'x' },
            { type: 'function_call', call_id: 'c1', name: 'lookup', arguments: 'not json' },
            { type: 'function_call_output', call_id: 'c1', output: 'r' },
          ],
          tools,
        },
        'input',
      ],
    ];
    for (const [fields, param] of cases) {
      const err = await sc.client.responses
        .create({ model: 'claude-sonnet-4.5', input: 'x', ...fields } as OpenAI.Responses.ResponseCreateParamsNonStreaming)
        .catch((e: unknown) => e);
      expect(err, param).toMatchObject({ status: 400, param });
      const message = (err as Error).message;
      expect(message.startsWith(`400 ${param} cannot be translated for Anthropic models`), message).toBe(true);
      expect(message).not.toMatch(/response_format|json_schema\.schema|\.function\.|messages\[/);
    }
  });

  it('refuses a stream flag that is not a boolean (a string "true" is not a stream request answered as JSON)', async () => {
    for (const stream of ['"true"', '1', '{}']) {
      const r = await fetch(`${sc.url}/v1/responses`, {
        method: 'POST',
        body: `{"model":"gpt-4.1","input":"x","stream":${stream}}`,
        headers: { 'content-type': 'application/json' },
      });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: { type: string; param: string } }).error).toMatchObject({ type: 'invalid_request_error', param: 'stream' });
    }
  });

  it('maps text.format json_schema to a JSON answer', async () => {
    const r = await sc.client.responses.create({
      model: 'gpt-4.1',
      input: 'Give me JSON.',
      text: { format: { type: 'json_schema', name: 'x', schema: { type: 'object', properties: {} } } },
      max_output_tokens: 50,
      temperature: 0.2,
    });
    expect(r.status).toBe('completed');
    expect(r.text?.format?.type).toBe('json_schema');
  });
});

describe('an upstream that answers a function call with empty arguments (JSON and stream)', () => {
  let upstream: FakeUpstream;
  let fake: SidecarHandle;

  beforeAll(async () => {
    // An OpenAI-compatible upstream that writes a call of a function taking no arguments as `"arguments": ""`.
    upstream = await startFakeUpstream<{ model: string; stream?: boolean }>((j, res) => {
      const call = { index: 0, id: 'call_e1', type: 'function', function: { name: 'now', arguments: '' } };
      const usage = { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 };
      if (j.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chatChunk(j.model, { role: 'assistant', content: null, tool_calls: [call] }));
        res.write(chatChunk(j.model, {}, 'tool_calls'));
        res.end(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: j.model, choices: [], usage })}\n\ndata: [DONE]\n\n`);
        return;
      }
      const message = { role: 'assistant', content: null, tool_calls: [call] };
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id: 'c',
          object: 'chat.completion',
          created: 1,
          model: j.model,
          choices: [{ index: 0, message, finish_reason: 'tool_calls' }],
          usage,
        }),
      );
    });
    const cfg = testConfig(sim.url);
    addFakeProvider(cfg, upstream.url);
    (cfg.models as Record<string, unknown>)['empty-args'] = fakeModel('empty-args');
    fake = await startSidecar(cfg);
  });

  afterAll(async () => {
    await fake?.stop();
    upstream?.close();
  });

  it("gives the call's arguments as {} (as OpenAI does), so JSON.parse and the SDK's parse read them; stored so", async () => {
    const now = [{ type: 'function' as const, name: 'now', parameters: { type: 'object', properties: {}, additionalProperties: false }, strict: true }];
    const json = await fake.client.responses.parse({ model: 'empty-args', input: 'What time is it?', tools: now });
    const stream = fake.client.responses.stream({ model: 'empty-args', input: 'What time is it?', tools: now });
    const done: string[] = [];
    stream.on('response.function_call_arguments.done', (e) => done.push(e.arguments));
    const streamed = await stream.finalResponse();
    expect(done).toEqual(['{}']);
    for (const r of [json, streamed]) {
      const call = r.output.find((o) => o.type === 'function_call');
      expect(call && [call.name, call.arguments]).toEqual(['now', '{}']);
      expect((await fake.client.responses.retrieve(r.id)).output).toMatchObject([{ type: 'function_call', arguments: '{}' }]);
    }
    expect(json.output[0]).toMatchObject({ parsed_arguments: {} });
  });
});

const KEY_A = 'sk-sy-items-a-4b2e9d7c1f';
const KEY_B = 'sk-sy-items-b-8c1a3f5e0d';

describe("a stored response's input items and cancel (GET /v1/responses/{id}/input_items, POST …/cancel; client keys on)", () => {
  let keyed: SidecarHandle;
  let keyedLedger: string;
  let a: OpenAI;
  let b: OpenAI;

  beforeAll(async () => {
    const cfg = testConfig(sim.url, {
      auth: {
        keys: [
          { id: 'team-a', keyEnv: 'SY_TEST_ITEMS_A_KEY' },
          { id: 'team-b', keyEnv: 'SY_TEST_ITEMS_B_KEY' },
        ],
      },
    });
    keyedLedger = ledgerFileOf(cfg);
    keyed = await startSidecar(cfg, { SY_TEST_ITEMS_A_KEY: KEY_A, SY_TEST_ITEMS_B_KEY: KEY_B });
    a = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: KEY_A, maxRetries: 0, timeout: 30_000 });
    b = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: KEY_B, maxRetries: 0, timeout: 30_000 });
  });

  afterAll(async () => {
    await keyed?.stop();
  });

  const raw = (path: string, init: RequestInit = {}, key = KEY_A) => fetch(`${keyed.url}${path}`, { ...init, headers: { authorization: `Bearer ${key}` } });
  const texts = (items: readonly object[]) => items.map((i) => ((i as { content: Array<{ text: string }> }).content ?? []).map((c) => c.text).join(''));

  it('lists the input items as the API returns them, newest first by default; instructions are not an item', async () => {
    const r = await a.responses.create({
      model: 'gpt-4.1',
      instructions: 'Be brief.',
      input: [
        { role: 'developer', content: 'Answer in English.' },
        { role: 'user', content: [{ type: 'input_text', text: 'What is a rail?' }] },
        { role: 'assistant', content: 'A bar.' },
        { type: 'message', role: 'user', content: 'And a switch?' },
      ],
    });
    const page = await a.responses.inputItems.list(r.id);
    const ids = page.data.map((i) => i.id);
    for (const id of ids) expect(id).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(4);
    expect(page.data.map(({ id: _, ...rest }) => rest)).toEqual([
      { type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_text', text: 'And a switch?' }] },
      { type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'A bar.', annotations: [], logprobs: [] }] },
      { type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_text', text: 'What is a rail?' }] },
      { type: 'message', role: 'developer', status: 'completed', content: [{ type: 'input_text', text: 'Answer in English.' }] },
    ]);
    // The list object itself, and order=asc: the same items, same ids, in input order.
    const body = await (await raw(`/v1/responses/${r.id}/input_items?order=asc`)).json();
    expect(body).toEqual({ object: 'list', data: [...page.data].reverse(), first_id: ids[3], last_id: ids[0], has_more: false });
  });

  it('pages with limit and after, ids stable across calls; the SDK walks every page', async () => {
    const r = await a.responses.create({
      model: 'deepseek-v3.2',
      input: Array.from({ length: 5 }, (_, i) => ({ role: 'user' as const, content: `line ${i}` })),
    });
    const p1 = await a.responses.inputItems.list(r.id, { limit: 2, order: 'asc' });
    const p2 = await a.responses.inputItems.list(r.id, { limit: 2, order: 'asc', after: p1.data[1]!.id });
    const p3 = await a.responses.inputItems.list(r.id, { limit: 2, order: 'asc', after: p2.data[1]!.id });
    expect([texts(p1.data), texts(p2.data), texts(p3.data)]).toEqual([['line 0', 'line 1'], ['line 2', 'line 3'], ['line 4']]);
    expect([p1.has_more, p2.has_more, p3.has_more]).toEqual([true, true, false]);
    const asc = [...p1.data, ...p2.data, ...p3.data].map((i) => i.id);
    const walked: string[] = [];
    for await (const item of a.responses.inputItems.list(r.id, { limit: 2, order: 'asc' })) walked.push(item.id);
    expect(walked).toEqual(asc);
    const desc: string[] = [];
    for await (const item of a.responses.inputItems.list(r.id, { limit: 3 })) desc.push(item.id);
    expect(desc).toEqual([...asc].reverse());
    const d1 = await (await raw(`/v1/responses/${r.id}/input_items?limit=2&after=${asc[2]}`)).json();
    expect(d1).toMatchObject({ first_id: asc[1], last_id: asc[0], has_more: false });
    const end = await (await raw(`/v1/responses/${r.id}/input_items?order=asc&after=${asc[4]}`)).json();
    expect(end).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: false });
  });

  it("lists only the response's own input when it continued another (previous_response_id); tool items too, a given item id kept", async () => {
    const first = await a.responses.create({ model: 'gpt-4.1', input: 'Look up the word "rail".', tools, tool_choice: 'required' });
    const call = first.output.find((o) => o.type === 'function_call');
    if (call?.type !== 'function_call') throw new Error('no function call');
    const second = await a.responses.create({
      model: 'gpt-4.1',
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"meaning":"a bar"}' }],
      tools,
    });
    const own = await a.responses.inputItems.list(second.id);
    expect(own.data).toHaveLength(1);
    expect(own.data[0]).toEqual({
      id: expect.stringMatching(/^fco_/),
      type: 'function_call_output',
      call_id: call.call_id,
      output: '{"meaning":"a bar"}',
      status: 'completed',
    });
    expect(texts((await a.responses.inputItems.list(first.id)).data)).toEqual(['Look up the word "rail".']);
    // The call passed back as input (manual history) keeps the id it was answered with.
    const third = await a.responses.create({
      model: 'gpt-4.1',
      input: [call, { type: 'function_call_output', call_id: call.call_id, output: 'a bar' }],
      tools,
    });
    const items = (await a.responses.inputItems.list(third.id, { order: 'asc' })).data;
    expect(items[0]).toEqual({ id: call.id, type: 'function_call', call_id: call.call_id, name: 'lookup', arguments: call.arguments, status: 'completed' });
    expect(items[1]).toMatchObject({ type: 'function_call_output', call_id: call.call_id, output: 'a bar' });
  });

  it('gives input images their url only with include=message.input_image.image_url', async () => {
    const url = 'https://example.com/switchyard.png';
    const r = await a.responses.create({
      model: 'gpt-4.1',
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'What is this?' },
            { type: 'input_image', image_url: url, detail: 'low' },
          ],
        },
      ],
    });
    const plain = await a.responses.inputItems.list(r.id);
    expect(plain.data[0]).toMatchObject({ content: [{ type: 'input_text' }, { type: 'input_image', detail: 'low', image_url: null }] });
    const withUrl = await a.responses.inputItems.list(r.id, { include: ['message.input_image.image_url'] });
    expect(withUrl.data[0]).toMatchObject({ content: [{ type: 'input_text' }, { type: 'input_image', detail: 'low', image_url: url }] });
  });

  it('404 for another key, an unknown, an unstored or a deleted response; 401 without a key', async () => {
    const r = await a.responses.create({ model: 'deepseek-v3.2', input: 'Mine only.' });
    const unstored = await a.responses.create({ model: 'deepseek-v3.2', input: 'Not kept.', store: false });
    for (const [c, id] of [
      [b, r.id],
      [a, 'resp_nope'],
      [a, unstored.id],
    ] as const) {
      await expect(c.responses.inputItems.list(id)).rejects.toMatchObject({ status: 404, code: 'not_found', param: 'response_id' });
      await expect(c.responses.cancel(id)).rejects.toMatchObject({ status: 404, code: 'not_found' });
    }
    expect((await raw(`/v1/responses/${r.id}/input_items`, {}, 'sk-wrong')).status).toBe(401);
    expect((await a.responses.inputItems.list(r.id)).data).toHaveLength(1);
    await a.responses.delete(r.id);
    await expect(a.responses.inputItems.list(r.id)).rejects.toMatchObject({ status: 404, code: 'not_found' });
    await expect(a.responses.cancel(r.id)).rejects.toMatchObject({ status: 404, code: 'not_found' });
  });

  it('400 naming the query parameter that is wrong', async () => {
    const r = await a.responses.create({ model: 'deepseek-v3.2', input: 'Query me.' });
    const cases: Array<[string, string]> = [
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=2.5', 'limit'],
      ['limit=ten', 'limit'],
      ['order=up', 'order'],
      ['after=msg_nope', 'after'],
      ['after=', 'after'],
      ['include=reasoning.everything', 'include'],
      ['include[]=nope', 'include'],
    ];
    for (const [query, param] of cases) {
      const res = await raw(`/v1/responses/${r.id}/input_items?${query}`);
      expect([query, res.status]).toEqual([query, 400]);
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request', param });
    }
    await expect(a.responses.inputItems.list(r.id, { limit: 500 })).rejects.toMatchObject({ status: 400, param: 'limit' });
    // Every documented include value is accepted (the others name data switchyard never has).
    const all = await a.responses.inputItems.list(r.id, {
      include: ['file_search_call.results', 'reasoning.encrypted_content', 'message.output_text.logprobs'],
    });
    expect(all.data).toHaveLength(1);
    // Retrieving the response takes `include` too: an unknown value was taken silently there.
    for (const query of ['include=bogus', 'include[]=nope']) {
      const res = await raw(`/v1/responses/${r.id}?${query}`);
      expect([query, res.status]).toEqual([query, 400]);
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request', param: 'include' });
    }
    expect((await a.responses.retrieve(r.id, { include: ['message.input_image.image_url', 'reasoning.encrypted_content'] })).id).toBe(r.id);
  });

  it('cancel refuses a stored response as OpenAI refuses one not created with background: true; methods per path', async () => {
    const r = await a.responses.create({ model: 'deepseek-v3.2', input: 'Too late to cancel.' });
    const err = await a.responses.cancel(r.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, type: 'invalid_request_error', param: null });
    expect((err as { error: { message: string } }).error.message).toBe('Cannot cancel a synchronous response.');
    expect((await a.responses.retrieve(r.id)).status).toBe('completed');
    const cases: Array<[string, string, string]> = [
      [`/v1/responses/${r.id}/cancel`, 'GET', 'POST'],
      [`/v1/responses/${r.id}/input_items`, 'POST', 'GET, HEAD'],
      [`/v1/responses/${r.id}/input_items`, 'DELETE', 'GET, HEAD'],
      [`/v1/responses/${r.id}`, 'PUT', 'GET, HEAD, DELETE'],
      [`/responses/${r.id}/cancel`, 'DELETE', 'POST'],
    ];
    for (const [path, method, allow] of cases) {
      const res = await raw(path, { method });
      expect([path, method, res.status, res.headers.get('allow')]).toEqual([path, method, 405, allow]);
    }
    expect((await raw(`/v1/responses/${r.id}/input_items`, { method: 'HEAD' })).status).toBe(200);
    expect((await raw(`/v1/responses/${r.id}/input_items/x`)).status).toBe(404);
  });

  it('a response stored before input items were kept lists its conversation without the answer, ids stable', async () => {
    const id = 'resp_0123456789abcdef0123456789abcdef';
    const messages = [
      { role: 'user', content: 'q1' },
      { role: 'assistant', content: 'a1', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"input":"q1"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'r1' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'q2' },
          { type: 'image_url', image_url: { url: 'https://example.com/x.png' } },
        ],
      },
      { role: 'assistant', content: 'the answer' },
    ];
    const db = new Database(keyedLedger);
    try {
      db.prepare('INSERT INTO responses (id, key_id, created_at, messages, response, input_items) VALUES (?, ?, ?, ?, ?, NULL)').run(
        id,
        'team-a',
        Date.now(),
        JSON.stringify(messages),
        JSON.stringify({ id, object: 'response' }),
      );
    } finally {
      db.close();
    }
    const items = (await a.responses.inputItems.list(id, { order: 'asc', include: ['message.input_image.image_url'] })).data;
    const base = '0123456789abcdef0123456789abcdef';
    expect(items).toEqual([
      { id: `msg_${base}_0`, type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_text', text: 'q1' }] },
      {
        id: `msg_${base}_1`,
        type: 'message',
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: 'a1', annotations: [], logprobs: [] }],
      },
      { id: `fc_${base}_2`, type: 'function_call', call_id: 'call_1', name: 'lookup', arguments: '{"input":"q1"}', status: 'completed' },
      { id: `fco_${base}_3`, type: 'function_call_output', call_id: 'call_1', output: 'r1', status: 'completed' },
      {
        id: `msg_${base}_4`,
        type: 'message',
        role: 'user',
        status: 'completed',
        content: [
          { type: 'input_text', text: 'q2' },
          { type: 'input_image', detail: 'auto', file_id: null, image_url: 'https://example.com/x.png' },
        ],
      },
    ]);
    const after = await a.responses.inputItems.list(id, { order: 'asc', after: `fc_${base}_2`, limit: 1 });
    expect(after.data.map((i) => i.id)).toEqual([`fco_${base}_3`]);
    await expect(b.responses.inputItems.list(id)).rejects.toMatchObject({ status: 404 });
  });
});
