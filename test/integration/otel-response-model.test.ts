/**
 * An attempt span's `gen_ai.response.model` is the model the upstream says generated the answer,
 * as the GenAI semantic conventions define it: OpenAI answers `gpt-4.1` with its dated snapshot
 * `gpt-4.1-2025-04-14`, Anthropic `claude-sonnet-4-5` with `claude-sonnet-4-5-20250929`. It was the
 * name switchyard sent (`gen_ai.request.model` again), so which snapshot served a call was lost.
 * JSON and streamed answers, translated and relayed (a Messages request to an Anthropic endpoint).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, type SidecarHandle } from './harness.js';
import { OtlpReceiver } from './otlp-receiver.js';

const OPENAI_SNAPSHOT = 'gpt-4.1-2025-04-14';
/** A prompt the upstream begins to answer and never finishes. */
const HANG = 'hang after the first words';
const ANTHROPIC_SNAPSHOT = 'claude-sonnet-4-5-20250929';

let upstream: Server;
let sc: SidecarHandle;
const otlp = new OtlpReceiver();

function sse(events: Array<[string | null, unknown]>): string {
  return events.map(([name, data]) => `${name ? `event: ${name}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`).join('');
}

function openaiAnswer(stream: boolean): { type: string; body: string } {
  if (!stream)
    return {
      type: 'application/json',
      body: JSON.stringify({
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1,
        model: OPENAI_SNAPSHOT,
        choices: [{ index: 0, message: { role: 'assistant', content: 'fine' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
      }),
    };
  const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: OPENAI_SNAPSHOT,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  return {
    type: 'text/event-stream',
    body: sse([
      [null, chunk({ role: 'assistant', content: '' }, null)],
      [null, chunk({ content: 'fine' }, null)],
      [null, chunk({}, 'stop')],
      [null, { ...chunk({}, null), choices: [], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } }],
      [null, '[DONE]'],
    ]),
  };
}

function anthropicAnswer(stream: boolean): { type: string; body: string } {
  const message = { id: 'msg_1', type: 'message', role: 'assistant', model: ANTHROPIC_SNAPSHOT, stop_sequence: null };
  if (!stream)
    return {
      type: 'application/json',
      body: JSON.stringify({ ...message, content: [{ type: 'text', text: 'fine' }], stop_reason: 'end_turn', usage: { input_tokens: 3, output_tokens: 1 } }),
    };
  return {
    type: 'text/event-stream',
    body: sse([
      ['message_start', { type: 'message_start', message: { ...message, content: [], stop_reason: null, usage: { input_tokens: 3, output_tokens: 1 } } }],
      ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
      ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'fine' } }],
      ['content_block_stop', { type: 'content_block_stop', index: 0 }],
      ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 1 } }],
      ['message_stop', { type: 'message_stop' }],
    ]),
  };
}

beforeAll(async () => {
  await otlp.start();
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const stream = (JSON.parse(body) as { stream?: boolean }).stream === true;
      if (body.includes(HANG)) {
        // The answer begins, then nothing more comes: the client leaves mid-answer.
        const first = openaiAnswer(true).body.split('\n\n').slice(0, 2).join('\n\n');
        res.writeHead(200, { 'content-type': 'text/event-stream' }).write(`${first}\n\n`);
        return;
      }
      const a = req.url?.startsWith('/anthropic/') ? anthropicAnswer(stream) : openaiAnswer(stream);
      res.writeHead(200, { 'content-type': a.type }).end(a.body);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  sc = await startSidecar({
    providers: {
      openai: { kind: 'openai', baseUrl: `${base}/openai/v1`, apiKeyEnv: 'SY_TEST_OPENAI_KEY' },
      anthropic: { kind: 'anthropic', baseUrl: `${base}/anthropic`, apiKeyEnv: 'SY_TEST_ANTHROPIC_KEY' },
    },
    models: {
      'gpt-4.1': {
        tier: 'balanced',
        price: { inputPerMTok: 2, outputPerMTok: 8 },
        contextWindow: 1_047_576,
        endpoints: [{ provider: 'openai', upstreamModel: 'gpt-4.1' }],
      },
      'claude-sonnet-4.5': {
        tier: 'high_quality',
        price: { inputPerMTok: 3, outputPerMTok: 15 },
        contextWindow: 200_000,
        endpoints: [{ provider: 'anthropic', upstreamModel: 'claude-sonnet-4-5' }],
      },
    },
    storage: { ledger: 'memory' },
    logging: { level: 'warn' },
    observe: { otlp: { endpoint: otlp.url } },
  });
});

afterAll(async () => {
  await sc?.stop();
  await new Promise((r) => upstream?.close(r));
  await otlp.stop();
});

/** The attempt span (CLIENT) of a request sent with this trace id. */
async function attemptOf(path: string, body: Record<string, unknown>, traceId: string, headers: Record<string, string> = {}) {
  const r = await fetch(`${sc.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01`, ...headers },
    body: JSON.stringify(body),
  });
  expect(r.status).toBe(200);
  await r.text();
  return otlp.waitFor((s) => s.traceId === traceId && s.kind === 3);
}

const chat = (model: string, stream: boolean) => ({ model, stream, max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });

describe("an attempt span's gen_ai.response.model", () => {
  it.each([
    ['gpt-4.1', false, OPENAI_SNAPSHOT, '1'],
    ['gpt-4.1', true, OPENAI_SNAPSHOT, '2'],
    ['claude-sonnet-4.5', false, ANTHROPIC_SNAPSHOT, '3'],
    ['claude-sonnet-4.5', true, ANTHROPIC_SNAPSHOT, '4'],
  ])('chat completions on %s (stream %s): the snapshot the upstream named', async (model, stream, snapshot, n) => {
    const span = await attemptOf('/v1/chat/completions', chat(model, stream), `${'a'.repeat(31)}${n}`);
    expect(span.attributes).toMatchObject({ 'gen_ai.request.model': model === 'gpt-4.1' ? 'gpt-4.1' : 'claude-sonnet-4-5', 'gen_ai.response.model': snapshot });
  });

  it.each([
    [false, '5'],
    [true, '6'],
  ])('a Messages request relayed to Anthropic (stream %s): the snapshot message_start / the body named', async (stream, n) => {
    const span = await attemptOf('/v1/messages', chat('claude-sonnet-4.5', stream), `${'b'.repeat(31)}${n}`, { 'anthropic-version': '2023-06-01' });
    expect(span.attributes['gen_ai.response.model']).toBe(ANTHROPIC_SNAPSHOT);
  });
});

describe('a request span whose client left mid-answer', () => {
  it('names the model and provider that were answering it (the answer had begun: its id is there too)', async () => {
    const traceId = 'c'.repeat(32);
    const ctl = new AbortController();
    const r = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ model: 'gpt-4.1', stream: true, max_tokens: 20, messages: [{ role: 'user', content: HANG }] }),
      signal: ctl.signal,
    });
    const reader = r.body!.getReader();
    let seen = '';
    while (!seen.includes('fine')) seen += new TextDecoder().decode((await reader.read()).value);
    ctl.abort();
    const span = await otlp.waitFor((s) => s.traceId === traceId && s.kind === 2);
    expect(span.attributes).toMatchObject({
      'http.response.status_code': 499,
      'switchyard.error.code': 'client_closed_request',
      'gen_ai.response.id': 'chatcmpl-1',
      'gen_ai.response.model': 'gpt-4.1',
      'gen_ai.provider.name': 'openai',
    });
  });
});
