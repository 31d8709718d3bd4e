/**
 * What a stream costs when it does not end as it should, against a fake upstream (node:http) that
 * misbehaves on purpose, through the real sidecar: the row never settles above what was reserved,
 * output the client was given is billed whatever its kind (tool calls too), the counts an upstream
 * reported before it stopped are the ones billed, a finished answer whose connection drops is a
 * finished answer, and an upstream that ignores max_tokens is cut.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { worstCaseNano } from '../../src/accounting/cost.js';
import { promptBoundTokens } from '../../src/accounting/reservation.js';
import { sleep, startSidecar, testConfig, type SidecarHandle } from './harness.js';
import { ledgerFileOf, ledgerRow } from './ledger-row.js';

let upstream: Server;
let sc: SidecarHandle;
let cfg: Record<string, unknown>;
const PRICE = { inputPerMTok: 1, outputPerMTok: 1000 };

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

function openaiStream(model: string, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(chunk({ role: 'assistant', content: '' }));
  if (model === 'finish-drop') {
    // The whole answer and its finish, then the connection drops before [DONE].
    res.write(chunk({ content: 'All done here.' }));
    res.write(chunk({}, 'stop'));
    setTimeout(() => res.socket?.destroy(), 30);
  } else if (model === 'finish-stall') {
    // The whole answer and its finish, then silence: no [DONE], the connection left open.
    res.write(chunk({ content: 'Finished, then quiet.' }));
    res.write(chunk({}, 'stop'));
    res.on('error', () => undefined);
  } else if (model === 'one-huge') {
    // One event of 2 MB of content: over any small cap in a single piece.
    res.write(chunk({ content: 'Start. ' }));
    res.write(chunk({ content: 'word '.repeat(400_000) }));
    res.write(chunk({}, 'stop'));
    res.end('data: [DONE]\n\n');
  } else if (model === 'ignore-cap') {
    // Far more than any max_tokens, as fast as the client takes it.
    let n = 0;
    const more = (): void => {
      while (n < 5000) {
        n++;
        if (!res.write(chunk({ content: 'word '.repeat(200) }))) return void res.once('drain', more);
      }
      res.end('data: [DONE]\n\n');
    };
    res.on('error', () => undefined);
    more();
  } else if (model === 'tool-cut') {
    res.write(chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'write_story', arguments: '' } }] }));
    res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"title": "The long voyage of the copper kettle", "text": "Once' } }] }));
    setTimeout(() => res.socket?.destroy(), 30);
  } else {
    // 'no-usage-long': long words, no usage: o200k counts more tokens than the words.
    for (let i = 0; i < 8; i++) res.write(chunk({ content: 'Supercalifragilisticexpialidocious ' }));
    res.write(chunk({}, 'length'));
    res.end('data: [DONE]\n\n');
  }
}

function anthropicNoStop(model: string, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const ev = (name: string, data: Record<string, unknown>) => res.write(`event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`);
  ev('message_start', {
    message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-x', content: [], usage: { input_tokens: 1234, output_tokens: 1 } },
  });
  ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
  if (model === 'claude-cut') {
    // Cut mid-answer, before message_delta: only message_start's counts were reported.
    ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'The first part of a longer answer' } });
    setTimeout(() => res.socket?.destroy(), 30);
    return;
  }
  ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hi.' } });
  ev('content_block_stop', { index: 0 });
  ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 57 } });
  // No message_stop: the body just ends.
  res.end();
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const j = JSON.parse(body) as { model: string };
      if (req.url?.includes('/messages')) anthropicNoStop(j.model, res);
      else if (j.model === 'deep') {
        // A whole answer without a top-level model (so it is re-serialised), nested 100,000 deep inside.
        const extra = '['.repeat(100_000) + ']'.repeat(100_000);
        const text = `{"id":"x","object":"chat.completion","created":1,"choices":[{"index":0,"message":{"role":"assistant","content":"hi","extra":${extra}},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(text);
      } else openaiStream(j.model, res);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  cfg = testConfig(url);
  (cfg.resilience as Record<string, unknown>).idleTimeoutMs = 500;
  (cfg.providers as Record<string, unknown>).fake = { kind: 'openai', baseUrl: `${url}/v1`, apiKeyEnv: 'SY_TEST_OPENAI_KEY' };
  (cfg.providers as Record<string, unknown>).fakeant = { kind: 'anthropic', baseUrl: `${url}/ant`, apiKeyEnv: 'SY_TEST_ANTHROPIC_KEY' };
  const model = (provider: string, upstreamModel: string) => ({
    tier: 'balanced',
    price: PRICE,
    contextWindow: 100_000,
    maxOutputTokens: 600,
    capabilities: ['chat', 'tools'],
    endpoints: [{ provider, upstreamModel }],
  });
  const models = cfg.models as Record<string, unknown>;
  for (const m of ['finish-drop', 'finish-stall', 'ignore-cap', 'one-huge', 'tool-cut', 'no-usage-long', 'deep']) models[m] = model('fake', m);
  models['ant-nostop'] = model('fakeant', 'claude-x');
  models['ant-cut'] = model('fakeant', 'claude-cut');
  sc = await startSidecar(cfg);
});

afterAll(async () => {
  await sc?.stop();
  upstream?.close();
});

/** The row of a request, once written (a cut stream's row follows its last byte by a moment). */
async function row(id: string | null): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const r = ledgerRow(ledgerFileOf(cfg), id);
    if (r) return r;
    await sleep(10);
  }
  throw new Error(`no ledger row for ${id}`);
}

async function stream(model: string, extra: Record<string, unknown> = {}): Promise<{ id: string | null; text: string }> {
  const r = await fetch(`${sc.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'go on' }], ...extra }),
  });
  return { id: r.headers.get('x-request-id'), text: await r.text().catch(() => '[cut]') };
}

/** 3,600 bytes (the bound a count can reach) that o200k counts as about 600 tokens. */
const LONG_PROMPT = 'hello world '.repeat(300);

it('an upstream count above what the request could use is held to its bound (a prompt of two words reported as 1,234 tokens)', async () => {
  const { id } = await stream('ant-nostop');
  const r = await row(id);
  // The bound of 'go on' as sent to an Anthropic-kind endpoint (its bytes and framing): under a hundred.
  expect(Number(r.prompt_tokens)).toBeLessThan(100);
  expect(r.estimated).toBe(1);
});

const reserved = (maxTokens: number) => worstCaseNano(promptBoundTokens({ messages: [{ role: 'user', content: 'go on' }] }), maxTokens, PRICE);

it('an answer whose finish came before the connection dropped is whole: one attempt, no error, a clean row', async () => {
  const { id, text } = await stream('finish-drop');
  expect(text).toContain('All done here.');
  expect(text).not.toContain('"error"');
  expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  expect(await row(id)).toMatchObject({ status: 200, error_code: null, attempts: 1 });
});

it('an answer whose finish came before the upstream went silent is whole: ended at the idle limit with [DONE], not an error', async () => {
  const { id, text } = await stream('finish-stall');
  expect(text).toContain('Finished, then quiet.');
  expect(text).not.toContain('"error"');
  expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  expect(await row(id)).toMatchObject({ status: 200, error_code: null, attempts: 1 });
});

it('an estimate never settles above the reservation: usage-less output counted by o200k is capped at the max_tokens sent', async () => {
  const { id } = await stream('no-usage-long', { max_tokens: 8 });
  const r = await row(id);
  expect(r).toMatchObject({ status: 200, estimated: 1, completion_tokens: 8 });
  expect(Number(r.cost_nano)).toBeLessThanOrEqual(reserved(8));
});

it('an upstream that ignores max_tokens is cut (an error, not a clean end), and the row stays within the reservation', async () => {
  const { id, text } = await stream('ignore-cap', { max_tokens: 10 });
  expect(text).toContain('"error"');
  expect(text).not.toContain('data: [DONE]');
  // 10 tokens × 128 characters at most, plus the framing: nowhere near the 5 MB the upstream sent.
  expect(text.length).toBeLessThan(20_000);
  const r = await row(id);
  expect(Number(r.completion_tokens)).toBeLessThanOrEqual(10);
  expect(Number(r.cost_nano)).toBeLessThanOrEqual(reserved(10));
});

it('one event far over the cap is not forwarded: the client gets what came before it and the error (it got 2 MB first)', async () => {
  const { id, text } = await stream('one-huge', { max_tokens: 10 });
  expect(text).toContain('Start.');
  expect(text).toContain('"error"');
  expect(text.length).toBeLessThan(20_000);
  // The upstream generated at least the cap: billed at it (estimated), not at the two words delivered.
  const r = await row(id);
  expect(r).toMatchObject({ completion_tokens: 10, estimated: 1 });
  expect(Number(r.cost_nano)).toBeLessThanOrEqual(reserved(10));
});

it('a tool call cut mid-arguments is billed for what was delivered (it was $0), and its row has the time to first token', async () => {
  const { id } = await stream('tool-cut', {
    tools: [{ type: 'function', function: { name: 'write_story', parameters: { type: 'object' } } }],
    tool_choice: 'required',
  });
  const r = await row(id);
  expect(Number(r.completion_tokens)).toBeGreaterThan(5);
  expect(Number(r.cost_nano)).toBeGreaterThan(0);
  expect(r.ttft_ms).not.toBeNull();
});

it('an Anthropic stream that ends without message_stop is settled by the counts it reported (not an estimate)', async () => {
  const client = new OpenAI({ baseURL: `${sc.url}/v1`, apiKey: 'unused' });
  // A prompt whose bound (its bytes) is above the 1,234 the upstream reports, and our count of it below.
  const s = await client.chat.completions.create({ model: 'ant-nostop', stream: true, messages: [{ role: 'user', content: LONG_PROMPT }] }).withResponse();
  let text = '';
  for await (const c of s.data) text += c.choices[0]?.delta.content ?? '';
  expect(text).toBe('Hi.');
  expect(await row(s.response.headers.get('x-request-id'))).toMatchObject({ prompt_tokens: 1234, completion_tokens: 57, estimated: 0 });
});

it('an Anthropic stream cut before message_delta bills the input count message_start reported (not our estimate of the prompt)', async () => {
  const { id, text } = await stream('ant-cut', { messages: [{ role: 'user', content: LONG_PROMPT }] });
  expect(text).toContain('The first part of a longer answer');
  const r = await row(id);
  // Our estimate of the prompt is about 600 tokens; the upstream said 1,234 (under the prompt's bound).
  expect(Number(r.prompt_tokens)).toBeGreaterThanOrEqual(1234);
  // The delivered text is billed as output (estimated: no final count came).
  expect(Number(r.completion_tokens)).toBeGreaterThan(1);
  expect(r.estimated).toBe(1);
});

it('a whole answer that cannot be serialised again (nested 100,000 deep) is a 502 in the API shape, and its row says so (it was a 500 after a row of 200)', async () => {
  const r = await fetch(`${sc.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'deep', messages: [{ role: 'user', content: 'go on' }] }),
  });
  expect(r.status).toBe(502);
  expect(((await r.json()) as { error: { code: string } }).error.code).toBe('upstream_error');
  const row1 = await row(r.headers.get('x-request-id'));
  expect(row1).toMatchObject({ status: 502, error_code: 'upstream_error' });
  // What the upstream billed is kept.
  expect(Number(row1.cost_nano)).toBeGreaterThan(0);
  // Still serving.
  expect((await stream('finish-drop')).text).toContain('All done here.');
});
