/**
 * `POST /v1/responses` through the real sidecar and simulator with the official openai SDK:
 * JSON, stream, a tool round trip, previous_response_id, refused fields, ledger and metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import { ledgerFileOf, ledgerRow } from './ledger-row.js';

let sim: SimHandle;
let sc: SidecarHandle;
let ledgerFile: string;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: 12 } });
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

  it('ends a stream cut after the commit with error then response.failed, never a completed response', async () => {
    await sim.setFault('deepseek-chat', { kind: 'cut', afterTokens: 4 });
    const stream = await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'cut me off', stream: true });
    const types: string[] = [];
    for await (const ev of stream) types.push(ev.type);
    await sim.clearFaults();
    expect(types).toContain('response.output_text.delta');
    expect(types.slice(-2)).toEqual(['error', 'response.failed']);
    expect(types).not.toContain('response.completed');
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
    const wrongMethod = await fetch(`${sc.url}/v1/responses/${created.id}`, { method: 'PUT' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toContain('DELETE');
    // A sub-resource (the SDK's inputItems.list) is not a response id with a slash in it.
    const items = await sc.client.responses.inputItems.list(created.id).catch((e: unknown) => e);
    expect(items).toMatchObject({ status: 404, code: 'not_found' });
    expect((items as Error).message).toContain('serves GET and DELETE /v1/responses/{id} only');
  });

  it("deletes a stored response (DELETE /v1/responses/{id}, the SDK's responses.delete): then it is neither retrieved nor continued", async () => {
    const created = await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'Delete me later.' });
    await sc.client.responses.retrieve(created.id);
    const del = await fetch(`${sc.url}/v1/responses/${created.id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(await del.json()).toEqual({ id: created.id, object: 'response', deleted: true });
    expect(await sc.client.responses.retrieve(created.id).catch((e: unknown) => e)).toMatchObject({ status: 404, code: 'not_found' });
    const cont = await sc.client.responses.create({ model: 'gpt-4.1', input: 'x', previous_response_id: created.id }).catch((e: unknown) => e);
    expect(cont).toMatchObject({ status: 400, param: 'previous_response_id' });
    // Through the SDK, and a second time: gone is a 404.
    const other = await sc.client.responses.create({ model: 'deepseek-v3.2', input: 'Delete me with the SDK.' });
    await sc.client.responses.delete(other.id);
    expect(await sc.client.responses.delete(other.id).catch((e: unknown) => e)).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('refuses an unknown previous_response_id with a 400', async () => {
    const err = await sc.client.responses.create({ model: 'gpt-4.1', input: 'x', previous_response_id: 'resp_nope' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, param: 'previous_response_id' });
    expect((err as Error).message).toMatch(/unknown or expired/);
  });

  it('refuses a built-in tool with a 400 naming the field', async () => {
    const err = await sc.client.responses.create({ model: 'gpt-4.1', input: 'x', tools: [{ type: 'web_search' }] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, param: 'tools[0].type' });
    const bad = await fetch(`${sc.url}/v1/responses`, { method: 'POST', body: '{"model":', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
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
