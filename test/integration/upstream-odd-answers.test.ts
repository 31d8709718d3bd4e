/**
 * Upstream answers that are not what an API says, against the real sidecar and a node:http
 * upstream: a 429 (or an exhausted window) asking for a wait decades long, and a redirect where
 * an answer should be.
 */
import { gzipSync } from 'node:zlib';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFakeProvider, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';
import { sleep, startSidecar, testConfig, type SidecarHandle } from './harness.js';
import { ledgerFileOf, ledgerRow } from './ledger-row.js';

/** A chat completion of one choice with `message`, as an upstream writes it (3 prompt tokens). */
const oneChoice = (model: string, message: Record<string, unknown>, finish: string, completionTokens: number): string =>
  JSON.stringify({
    id: 'c',
    object: 'chat.completion',
    created: 1,
    model,
    choices: [{ index: 0, message, finish_reason: finish }],
    usage: { prompt_tokens: 3, completion_tokens: completionTokens, total_tokens: 3 + completionTokens },
  });

let upstream: FakeUpstream;
let sc: SidecarHandle;
let ledgerFile = '';
const hits: string[] = [];
const HOUR = 3_600_000;
/** A date 60 years ahead, as an HTTP-date. */
const farDate = (): string => new Date(Date.now() + 60 * 365 * 86_400_000).toUTCString();

const completion = (model: string) =>
  JSON.stringify({
    id: 'c',
    object: 'chat.completion',
    created: 1,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: 'fine' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
  });
const rateLimited = JSON.stringify({ error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } });

beforeAll(async () => {
  upstream = await startFakeUpstream((j, res) => {
    hits.push(j.model);
    const json = { 'content-type': 'application/json' };
    if (j.model === 'huge-429') res.writeHead(429, { ...json, 'retry-after': '1000000000' }).end(rateLimited);
    else if (j.model === 'huge-429-20') res.writeHead(429, { ...json, 'retry-after': '99999999999999999999' }).end(rateLimited);
    else if (j.model === 'date-429') res.writeHead(429, { ...json, 'retry-after': farDate() }).end(rateLimited);
    else if (j.model === 'reset-far')
      res.writeHead(200, { ...json, 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '100000000h' }).end(completion(j.model));
    else if (j.model === 'huge-body') {
      // A 200 whose body never fits: 17 MiB of one answer (an upstream that ignored max_tokens).
      res.writeHead(200, json);
      res.write('{"id":"h","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"');
      for (let i = 0; i < 17; i++) res.write('x'.repeat(1024 * 1024));
      res.end('"},"finish_reason":"stop"}]}');
    } else if (j.model === 'huge-event') {
      // A stream whose first event never ends within the event limit.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"id":"h","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"');
      for (let i = 0; i < 17; i++) res.write('x'.repeat(1024 * 1024));
      res.end('"}}]}\n\n');
    } else if (j.model === 'usage-zero' || j.model === 'usage-parts') {
      // Placeholder zeros (a proxy's), or parts that cannot be read: a negative cached count, more cache writes than the prompt.
      const usage =
        j.model === 'usage-zero'
          ? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }
          : { prompt_tokens: 8, completion_tokens: 1, total_tokens: 9, prompt_tokens_details: { cached_tokens: -1_000_000 }, cache_write_tokens: 10_000_000 };
      if ((j as { stream?: boolean }).stream) {
        const base = { id: 'z', object: 'chat.completion.chunk', created: 1, model: j.model };
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(
          `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'fine words here' }, finish_reason: null }] })}\n\n`,
        );
        res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
        res.write(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`);
        res.end('data: [DONE]\n\n');
      } else res.writeHead(200, json).end(JSON.stringify({ ...(JSON.parse(completion(j.model).replace('"fine"', '"fine words here"')) as object), usage }));
    } else if (j.model === 'emb-bad') {
      // An embeddings answer whose first vector is none: the input names which kind.
      const input = (j as { input?: unknown[] }).input ?? [];
      const bad: Record<string, unknown> = { str: 'abc', words: ['a', 'b'], holes: [null, 2], empty: [], nan: 'AADAfwAAAD8=' };
      res.writeHead(200, json).end(
        JSON.stringify({
          object: 'list',
          model: j.model,
          data: input.map((_, index) => ({ object: 'embedding', index, embedding: index === 0 ? bad[String(input[0])] : [0.1, 0.2] })),
          usage: { prompt_tokens: 2, total_tokens: 2 },
        }),
      );
    } else if (j.model === 'emb-short' || j.model === 'emb-ok') {
      // An embeddings answer: one vector per input, or (emb-short) always one.
      const input = (j as { input?: unknown }).input;
      const n = j.model === 'emb-short' ? 1 : Array.isArray(input) ? input.length : 1;
      res.writeHead(200, json).end(
        JSON.stringify({
          object: 'list',
          model: j.model,
          data: Array.from({ length: n }, (_, index) => ({ object: 'embedding', index, embedding: [0.1, 0.2] })),
          usage: { prompt_tokens: 2, total_tokens: 2 },
        }),
      );
    } else if (j.model === 'json-for-stream')
      // A server that ignores stream: true and answers the whole completion as JSON.
      res.writeHead(200, json).end(
        JSON.stringify({
          ...(JSON.parse(completion(j.model).replace('"fine"', '"fine words here"')) as object),
          usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        }),
      );
    else if (j.model === 'error-200') res.writeHead(200, json).end('{"error":{"message":"upstream overloaded, try later","type":"server_error","code":null}}');
    else if (j.model === 'error-200-usage')
      // An error object that reports what the provider billed for reading the prompt.
      res
        .writeHead(200, json)
        .end(
          '{"error":{"message":"answer withheld by policy","type":"server_error","code":null},"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}',
        );
    else if (j.model === 'no-choices-json') res.writeHead(200, json).end(JSON.stringify({ ...(JSON.parse(completion(j.model)) as object), choices: [] }));
    else if (j.model === 'no-choices-nousage') {
      const { usage: _u, ...rest } = JSON.parse(completion(j.model)) as Record<string, unknown>;
      res.writeHead(200, json).end(JSON.stringify({ ...rest, choices: [] }));
    } else if (j.model === 'legacy-fn')
      // The legacy functions API's answer: one function_call, content null.
      res
        .writeHead(200, json)
        .end(oneChoice(j.model, { role: 'assistant', content: null, function_call: { name: 'lookup', arguments: '{"q":"x"}' } }, 'function_call', 5));
    else if (j.model === 'two-calls')
      // Two tool calls, whatever parallel_tool_calls said.
      res.writeHead(200, json).end(
        oneChoice(
          j.model,
          {
            role: 'assistant',
            content: null,
            tool_calls: ['a', 'b'].map((q, i) => ({ id: `call_${i}`, type: 'function', function: { name: 'lookup', arguments: JSON.stringify({ q }) } })),
          },
          'tool_calls',
          9,
        ),
      );
    else if (j.model === 'code-null')
      res
        .writeHead(400, json)
        .end('{"error":{"message":"Unrecognized request argument supplied: fallbacks","type":"invalid_request_error","param":null,"code":null}}');
    else if (j.model === 'gemini-unknown-field') {
      // Gemini's OpenAI-compatible API on a field it does not know: its error wrapped in an array.
      const message = 'Invalid JSON payload received. Unknown name "prompt_cache_key": Cannot find field.';
      const error = {
        code: 400,
        message,
        status: 'INVALID_ARGUMENT',
        details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ description: message }] }],
      };
      res.writeHead(400, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify([{ error }], null, 2));
    } else if (j.model === 'deepseek-image')
      // DeepSeek's API on an image part (its models read text only).
      res.writeHead(400, json).end(
        JSON.stringify({
          error: {
            message: 'Failed to deserialize the JSON body into the target type: messages[0]: unknown variant `image_url`, expected `text` at line 1 column 171',
            type: 'invalid_request_error',
            param: null,
            code: 'invalid_request_error',
          },
        }),
      );
    else if (j.model === 'reasoning-temperature' && (j as { temperature?: number }).temperature !== undefined)
      // OpenAI's reasoning models on a sampling value they do not take.
      res.writeHead(400, json).end(
        JSON.stringify({
          error: {
            message: "Unsupported value: 'temperature' does not support 0.7 with this model. Only the default (1) value is supported.",
            type: 'invalid_request_error',
            param: 'temperature',
            code: 'unsupported_value',
          },
        }),
      );
    else if (j.model === 'no-balance')
      // DeepSeek's answer when the account has no money left.
      res.writeHead(402, json).end('{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error"}}');
    else if (j.model.startsWith('bad-key'))
      // The provider refusing switchyard's own key (a rotated or revoked one).
      res.writeHead(401, json).end('{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}');
    else if (j.model === 'bom') res.writeHead(200, json).end(`\ufeff${completion(j.model)}`);
    else if (j.model === 'gzipped') res.writeHead(200, { ...json, 'content-encoding': 'gzip' }).end(gzipSync(completion(j.model)));
    else if (j.model === 'cached-over')
      res.writeHead(200, json).end(
        JSON.stringify({
          ...(JSON.parse(completion(j.model)) as object),
          usage: { prompt_tokens: 10, completion_tokens: 1, total_tokens: 11, prompt_tokens_details: { cached_tokens: 50 } },
        }),
      );
    else if (j.model === 'no-choices' || j.model === 'no-choices-usage') {
      if ((j as { stream?: boolean }).stream) {
        const base = { id: 'n', object: 'chat.completion.chunk', created: 1, model: j.model, choices: [] };
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`data: ${JSON.stringify(base)}\n\n`);
        // The provider read (and billed) the prompt: its usage chunk says so.
        if (j.model === 'no-choices-usage')
          res.write(`data: ${JSON.stringify({ ...base, usage: { prompt_tokens: 7, completion_tokens: 0, total_tokens: 7 } })}\n\n`);
        res.end('data: [DONE]\n\n');
      } else res.writeHead(200, json).end(JSON.stringify({ ...(JSON.parse(completion(j.model)) as object), choices: [] }));
    } else if (j.model === 'content-object') res.writeHead(200, json).end(completion(j.model).replace('"content":"fine"', '"content":{"evil":true}'));
    else if (j.model === 'too-long') res.writeHead(200, json).end(completion(j.model).replace('"fine"', JSON.stringify('word '.repeat(4000))));
    else if (j.model === 'malformed-delta') {
      // A delta cut in half (not JSON) between two good ones: the words in it are lost.
      const base = { id: 'm', object: 'chat.completion.chunk', created: 1, model: j.model };
      const piece = (content: string, finish: string | null = null) =>
        `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(piece('hello '));
      // Its "delta" past the first 200 characters, as with a provider's long id and fingerprint.
      res.write(`data: {"id":"${'m'.repeat(220)}","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"LOST WORDS \n\n`);
      res.write(piece('world', 'stop'));
      res.end('data: [DONE]\n\n');
    } else if (j.model === 'no-delta' || j.model === 'fin-then-garbage' || j.model === 'fin-then-error') {
      const base = { id: 'd', object: 'chat.completion.chunk', created: 1, model: j.model };
      const chunk = (choice: Record<string, unknown>) => `data: ${JSON.stringify({ ...base, choices: [{ index: 0, ...choice }] })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk({ delta: { role: 'assistant', content: 'Hello ' }, finish_reason: null }));
      if (j.model === 'no-delta') {
        // The finish written without a delta, then Azure's asynchronous content-filter annotation (no delta either).
        res.write(chunk({ delta: { content: 'world' }, finish_reason: null }));
        res.write(chunk({ finish_reason: 'stop' }));
        res.write(
          chunk({
            finish_reason: null,
            content_filter_results: { hate: { filtered: false, severity: 'safe' } },
            content_filter_offsets: { start_offset: 0 },
          }),
        );
      } else if (j.model === 'fin-then-error') {
        // After the finish, an error event instead of the usage chunk and [DONE].
        res.write(chunk({ delta: { content: 'world' }, finish_reason: 'stop' }));
        res.end(`data: ${JSON.stringify({ error: { message: 'Internal server error', type: 'server_error' } })}\n\n`);
        return;
      } else {
        // After the finish, a trailing chunk cut in half.
        res.write(chunk({ delta: { content: 'world' }, finish_reason: 'stop' }));
        res.write('data: {"id":"d","choices":[{"index":0,"delta":{},"logprobs\n\n');
      }
      res.write(`data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } })}\n\n`);
      res.end('data: [DONE]\n\n');
    } else if (j.model === 'long-tool')
      res.writeHead(200, json).end(
        JSON.stringify({
          ...(JSON.parse(completion(j.model)) as object),
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: null,
                tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: JSON.stringify({ x: 'y'.repeat(50_000) }) } }],
              },
              finish_reason: 'tool_calls',
            },
          ],
        }),
      );
    else if (j.model === 'tool-nousage' || j.model === 'reasoning-nousage') {
      // A tool call of ~300 tokens of arguments (or as much reasoning text) and a few words, with no usage (a proxy that drops it).
      const { usage: _u, ...rest } = JSON.parse(completion(j.model)) as Record<string, unknown>;
      const message =
        j.model === 'tool-nousage'
          ? {
              role: 'assistant',
              content: 'Checking.',
              tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: JSON.stringify({ city: 'Paris '.repeat(300) }) } }],
            }
          : { role: 'assistant', content: 'Checking.', reasoning_content: 'Paris '.repeat(300) };
      res.writeHead(200, json).end(JSON.stringify({ ...rest, choices: [{ index: 0, message, finish_reason: 'stop' }] }));
    } else if (j.model === 'reasoning-stream') {
      // DeepSeek's reasoning deltas (~300 tokens) before a short answer, and no usage chunk.
      const base = { id: 'rs', object: 'chat.completion.chunk', created: 1, model: j.model };
      const delta = (d: Record<string, unknown>, finish: string | null = null) =>
        `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: d, finish_reason: finish }] })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(delta({ role: 'assistant', content: null, reasoning_content: 'Paris '.repeat(300) }));
      res.write(delta({ content: 'ok' }));
      res.write(delta({}, 'stop'));
      res.end('data: [DONE]\n\n');
    } else if (j.model === 'broken-off') {
      // DeepSeek's answer when its inference system runs out of resources part way: finish_reason insufficient_system_resource.
      if ((j as { stream?: boolean }).stream) {
        const base = { id: 'b', object: 'chat.completion.chunk', created: 1, model: j.model };
        const delta = (d: Record<string, unknown>, finish: string | null = null) =>
          `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: d, finish_reason: finish }] })}\n\n`;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(delta({ role: 'assistant', content: 'The first half of' }));
        res.write(delta({ content: ' an answer' }, 'insufficient_system_resource'));
        res.write(`data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 3, completion_tokens: 6, total_tokens: 9 } })}\n\n`);
        res.end('data: [DONE]\n\n');
      } else res.writeHead(200, json).end(oneChoice(j.model, { role: 'assistant', content: 'The first half of an answer' }, 'insufficient_system_resource', 6));
    } else if (j.model === 'reasoning-slow') {
      // A reasoning model (DeepSeek's reasoner) that reasons longer than firstTokenTimeoutMs (2 s here) before its answer, streaming its reasoning.
      const base = { id: 'rl', object: 'chat.completion.chunk', created: 1, model: j.model };
      const delta = (d: Record<string, unknown>, finish: string | null = null) =>
        `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: d, finish_reason: finish }] })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(delta({ role: 'assistant', content: null, reasoning_content: 'Let me think.' }));
      let n = 0;
      const tick = setInterval(() => {
        if (++n < 12) {
          res.write(delta({ reasoning_content: ' Still thinking.' }));
          return;
        }
        clearInterval(tick);
        res.write(delta({ content: 'Forty-two.' }));
        res.write(delta({}, 'stop'));
        res.write(`data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 3, completion_tokens: 40, total_tokens: 43 } })}\n\n`);
        res.end('data: [DONE]\n\n');
      }, 250);
    } else if (j.model === 'anthropic-no-reason') {
      // An Anthropic-wire stream that ends with message_stop but never said a stop reason (no message_delta): a gateway that cut it.
      const ev = (name: string, data: Record<string, unknown>) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        ev('message_start', {
          message: {
            id: 'msg_x',
            type: 'message',
            role: 'assistant',
            model: j.model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: 3, output_tokens: 1 },
          },
        }),
      );
      res.write(ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
      res.write(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'The first half' } }));
      res.write(ev('content_block_stop', { index: 0 }));
      res.end(ev('message_stop', {}));
    } else if (j.model === 'anthropic-thinks-cut') {
      // An Anthropic-wire upstream that thinks unasked (~300 tokens), says two words, and drops the connection.
      const ev = (name: string, data: Record<string, unknown>) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const start = { id: 'msg_t', type: 'message', role: 'assistant', model: j.model, content: [], stop_reason: null, stop_sequence: null };
      res.write(ev('message_start', { message: { ...start, usage: { input_tokens: 3, output_tokens: 1 } } }));
      res.write(ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '' } }));
      for (let i = 0; i < 30; i++)
        res.write(ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'weigh the ten options here. '.repeat(2) } }));
      res.write(ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'EqQB' } }));
      res.write(ev('content_block_stop', { index: 0 }));
      res.write(ev('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }));
      res.write(ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'Two words' } }));
      setTimeout(() => res.destroy(), 50);
    } else if (j.model === 'no-role') {
      // Deltas that never say role (some OpenAI-compatible servers).
      const base = { id: 'r', object: 'chat.completion.chunk', created: 1, model: j.model };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: 'hello ' }, finish_reason: null }] })}\n\n`);
      res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: 'world' }, finish_reason: 'stop' }] })}\n\n`);
      res.end('data: [DONE]\n\n');
    } else if (j.model === 'no-finish') {
      // Content, then [DONE], never a finish_reason: a proxy that cut the answer and closed cleanly.
      const base = { id: 'f', object: 'chat.completion.chunk', created: 1, model: j.model };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'half an ans' }, finish_reason: null }] })}\n\n`);
      res.end('data: [DONE]\n\n');
    } else if (j.model === 'usage-negative')
      res
        .writeHead(200, json)
        .end(JSON.stringify({ ...(JSON.parse(completion(j.model)) as object), usage: { prompt_tokens: -5, completion_tokens: -100, total_tokens: -105 } }));
    else if (j.model === 'usage-huge' || j.model === 'usage-over') {
      // Counts no request could use: 10^15 tokens, or 100,000 output tokens for max_tokens 100.
      const usage =
        j.model === 'usage-huge'
          ? { prompt_tokens: 1e15, completion_tokens: 1e15, total_tokens: 2e15, prompt_tokens_details: { cached_tokens: 1e15 } }
          : { prompt_tokens: 3, completion_tokens: 100_000, total_tokens: 100_003 };
      if ((j as { stream?: boolean }).stream) {
        const base = { id: 'u', object: 'chat.completion.chunk', created: 1, model: j.model };
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'fine' }, finish_reason: null }] })}\n\n`);
        res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
        res.write(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`);
        res.end('data: [DONE]\n\n');
      } else res.writeHead(200, json).end(JSON.stringify({ ...(JSON.parse(completion(j.model)) as object), usage }));
    } else if (j.model === 'always-sse') {
      // A server that streams whatever `stream` says: a whole answer and its usage, as events.
      const base = { id: 's', object: 'chat.completion.chunk', created: 1, model: j.model };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'streamed words' }, finish_reason: null }] })}\n\n`,
      );
      res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
      res.write(`data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } })}\n\n`);
      res.end('data: [DONE]\n\n');
    } else if (j.model === '503-later' || j.model === '503-hour')
      // Overloaded, asking to be asked again in 10 s (or in two hours).
      res
        .writeHead(503, { ...json, 'retry-after': j.model === '503-later' ? '10' : '7200' })
        .end(JSON.stringify({ error: { message: 'overloaded, come back later', type: 'server_error', code: null } }));
    else if (j.model === 'web-page')
      // A web server's page, 200 text/html, for every request (a baseUrl pointing at a site or a login portal, not the API).
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end('<!doctype html><html><head><title>Welcome</title></head><body>Sign in</body></html>');
    else if (j.model === 'redirect')
      res
        .writeHead(301, { 'content-type': 'text/html', location: 'https://api.example.com/v1/chat/completions?token=secret' })
        .end(
          '<html><head><title>301 Moved Permanently</title></head><body><center><h1>301 Moved Permanently</h1></center><hr><center>nginx</center></body></html>',
        );
    else if ((j as { stream?: boolean }).stream) {
      const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: j.model };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'fine' }, finish_reason: null }] })}\n\n`);
      res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
      res.end('data: [DONE]\n\n');
    } else res.writeHead(200, json).end(completion(j.model));
  });
  const url = upstream.url;
  const cfg = testConfig(url);
  addFakeProvider(cfg, url);
  (cfg.providers as Record<string, unknown>).fakeAnthropic = { kind: 'anthropic', baseUrl: url.replace(/\/v1$/, ''), apiKeyEnv: 'SY_TEST_ANTHROPIC_KEY' };
  const model = (upstreamModel: string, fallbacks: string[] = []) => ({
    tier: 'balanced',
    price: { inputPerMTok: 1, outputPerMTok: 1 },
    contextWindow: 100_000,
    fallbacks,
    endpoints: [{ provider: 'fake', upstreamModel }],
  });
  Object.assign(cfg.models as Record<string, unknown>, {
    'm-429': model('huge-429'),
    'm-429-20': model('huge-429-20'),
    'm-date': model('date-429'),
    'm-reset': model('reset-far'),
    'm-redirect': model('redirect', ['m-ok']),
    'm-redirect-alone': model('redirect'),
    'm-web-page': model('web-page', ['m-ok']),
    'm-503-later': model('503-later'),
    'm-always-sse': model('always-sse', ['m-ok']),
    'm-503-hour': model('503-hour'),
    'm-web-page-alone': model('web-page'),
    'm-ok': model('ok'),
    'm-usage-huge': { ...model('usage-huge'), endpoints: [{ provider: 'fake', upstreamModel: 'usage-huge', maxConcurrent: 2 }] },
    'm-usage-over': model('usage-over'),
    'm-usage-negative': model('usage-negative'),
    'm-no-finish': model('no-finish'),
    'm-anthropic-thinks-cut': { ...model('anthropic-thinks-cut'), endpoints: [{ provider: 'fakeAnthropic', upstreamModel: 'anthropic-thinks-cut' }] },
    'm-anthropic-no-reason': { ...model('anthropic-no-reason'), endpoints: [{ provider: 'fakeAnthropic', upstreamModel: 'anthropic-no-reason' }] },
    'm-reasoning-slow': model('reasoning-slow'),
    'm-broken-off': model('broken-off', ['m-ok']),
    'm-broken-off-alone': model('broken-off'),
    // The chat client's own (its failures open no breaker the Messages and Responses tests use).
    'm-broken-off-chat': model('broken-off', ['m-ok']),
    'm-broken-off-chat-alone': model('broken-off'),
    'm-no-role': model('no-role'),
    'm-no-delta': model('no-delta'),
    'm-fin-then-garbage': model('fin-then-garbage'),
    // A prefill model to fall back on: an error event after the finish was taken for a cut and continued there.
    'm-fin-then-error': model('fin-then-error', ['m-ok-prefill']),
    'm-ok-prefill': { ...model('ok'), capabilities: ['chat', 'prefill'] },
    'm-long-tool': model('long-tool', ['m-ok']),
    'm-too-long': model('too-long', ['m-ok']),
    'm-malformed-delta': model('malformed-delta'),
    'm-no-choices': model('no-choices', ['m-ok']),
    'm-content-object': model('content-object', ['m-ok']),
    'm-no-choices-usage': model('no-choices-usage', ['m-ok']),
    'm-no-choices-nousage': model('no-choices-nousage', ['m-ok']),
    'm-no-choices-json': model('no-choices-json', ['m-ok']),
    'm-gzipped': model('gzipped'),
    'm-huge-body': model('huge-body'),
    'm-huge-event': model('huge-event'),
    'm-usage-zero': model('usage-zero'),
    'm-usage-parts': model('usage-parts'),
    'm-bom': model('bom'),
    'm-code-null': model('code-null'),
    'm-legacy-fn': model('legacy-fn', ['m-ok']),
    'm-two-calls': { ...model('two-calls', ['m-ok-tools']), capabilities: ['chat', 'tools'] },
    'm-ok-tools': { ...model('ok'), capabilities: ['chat', 'tools'] },
    'm-gemini-field': model('gemini-unknown-field', ['m-ok']),
    'm-gemini-field-alone': model('gemini-unknown-field'),
    'm-deepseek-image': model('deepseek-image', ['m-ok-vision']),
    'm-reasoning': model('reasoning-temperature', ['m-ok']),
    'm-reasoning-alone': model('reasoning-temperature'),
    'm-no-balance': model('no-balance', ['m-ok']),
    'm-no-balance-alone': model('no-balance'),
    'm-ok-vision': { ...model('ok'), capabilities: ['chat', 'vision'] },
    'm-bad-key': model('bad-key'),
    'm-bad-key-messages': model('bad-key-messages'),
    'm-json-for-stream': model('json-for-stream'),
    'm-error-200': model('error-200'),
    'm-error-200-usage': model('error-200-usage'),
    'm-emb-short': { ...model('emb-short', ['m-emb-ok']), capabilities: ['embeddings'], price: { inputPerMTok: 1, outputPerMTok: 0 } },
    'm-emb-ok': { ...model('emb-ok'), capabilities: ['embeddings'], price: { inputPerMTok: 1, outputPerMTok: 0 } },
    'm-emb-bad': { ...model('emb-bad', ['m-emb-ok']), capabilities: ['embeddings'], price: { inputPerMTok: 1, outputPerMTok: 0 } },
    'm-cached-over': model('cached-over'),
    'm-tool-nousage': model('tool-nousage'),
    'm-reasoning-nousage': model('reasoning-nousage'),
    'm-reasoning-stream': model('reasoning-stream'),
  });
  cfg.budget = { limits: [{ scope: 'global', period: 'day', usd: 100 }] };
  ledgerFile = ledgerFileOf(cfg);
  sc = await startSidecar(cfg);
});

afterAll(async () => {
  await sc?.stop();
  upstream?.close();
});

const ask = (model: string, stream = false) =>
  fetch(`${sc.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
  });

const endpointOf = async (model: string) => {
  const ep = (await sc.state()).endpoints.find((e) => e.model === model);
  if (!ep) throw new Error(`no endpoint for ${model}`);
  return ep;
};

/** Throttled, until at most an hour from now (not decades), and still so a while later. */
async function expectThrottledForAnHour(model: string): Promise<void> {
  const ep = await endpointOf(model);
  expect(ep.state).toBe('throttled');
  const retryIn = Date.parse(ep.retryAt!) - Date.now();
  expect(retryIn).toBeGreaterThan(HOUR - 60_000);
  expect(retryIn).toBeLessThanOrEqual(HOUR);
  // Before, Node fired the overlong timer after 1 ms: healthy again, its clock decades ahead.
  await sleep(300);
  expect((await endpointOf(model)).state).toBe('throttled');
}

describe('a wait decades long from the upstream is held at an hour', () => {
  it.each([
    ['m-429', 'retry-after: 1000000000'],
    ['m-429-20', 'retry-after: 99999999999999999999'],
    ['m-date', 'retry-after: an HTTP-date 60 years ahead'],
  ])('%s (%s): throttled for an hour; the 503 says retry-after of at most 3600 s', async (model) => {
    const r = await ask(model);
    expect(r.status).toBe(503);
    const ra = Number(r.headers.get('retry-after'));
    expect(ra).toBeGreaterThan(3500);
    expect(ra).toBeLessThanOrEqual(3600);
    // An SDK would sleep the whole hour before its retry: it is told not to retry by itself.
    expect(r.headers.get('x-should-retry')).toBe('false');
    await expectThrottledForAnHour(model);
    // Turned away without asking the upstream again.
    const before = hits.length;
    expect((await ask(model)).status).toBe(503);
    expect(hits.length).toBe(before);
  });

  it('x-ratelimit-reset-requests: 100000000h on an answer with no requests left: throttled for an hour', async () => {
    expect((await ask('m-reset')).status).toBe(200);
    await expectThrottledForAnHour('m-reset');
  });

  it('no timer overflowed (Node warns TimeoutOverflowWarning on stderr when one does)', () => {
    expect(sc.stderr()).not.toContain('TimeoutOverflowWarning');
  });
});

describe('a redirect where an answer should be is not the API', () => {
  it('fails over to a model that serves, counts against the endpoint and logs an error naming the redirect and the baseUrl', async () => {
    hits.length = 0;
    const r = await ask('m-redirect');
    expect(r.status).toBe(200);
    expect(((await r.json()) as { model: string }).model).toBe('m-ok');
    expect(hits).toEqual(['redirect', 'ok']);
    expect((await endpointOf('m-redirect')).consecutiveFailures).toBe(1);
    const out = await sc.waitForOutput(/answered 301 \(a redirect to https:\/\/api\.example\.com\/v1\/chat\/completions, not followed\)/);
    const line = out.split('\n').find((l) => l.includes('answered 301'))!;
    expect(JSON.parse(line)).toMatchObject({ level: 50, baseUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/v1$/) });
    expect(line).not.toContain('secret');
  });

  it.each([false, true])('with nothing else to serve: 502 upstream_error saying where it redirected (stream: %s)', async (stream) => {
    const r = await ask('m-redirect-alone', stream);
    expect(r.status).toBe(502);
    const body = (await r.json()) as { error: { message: string; code: string } };
    expect(body.error.code).toBe('upstream_error');
    expect(body.error.message).toContain(
      "upstream answered 301 (a redirect to https://api.example.com/v1/chat/completions, not followed): check the provider's baseUrl",
    );
    expect(body.error.message).not.toContain('<html>');
  });
});

describe('a web page (200 text/html) where an answer should be is not the API', () => {
  it.each([false, true])('fails over to a model that serves, counts against the endpoint and logs an error naming the baseUrl (stream: %s)', async (stream) => {
    hits.length = 0;
    const failures = (await endpointOf('m-web-page')).consecutiveFailures;
    const r = await ask('m-web-page', stream);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-switchyard-model')).toBe('m-ok');
    expect(hits).toEqual(['web-page', 'ok']);
    expect((await endpointOf('m-web-page')).consecutiveFailures).toBe(failures + 1);
    // The page made and billed nothing: the request costs what m-ok's answer alone costs (it was billed the whole reservation).
    if (!stream) {
      const alone = await ask('m-ok');
      await alone.arrayBuffer();
      expect(r.headers.get('x-switchyard-cost-usd')).toBe(alone.headers.get('x-switchyard-cost-usd'));
    }
    const out = await sc.waitForOutput(/endpoint m-web-page@fake: upstream answered 200 with a web page \(text\/html\)/);
    const line = out.split('\n').find((l) => l.includes('endpoint m-web-page@fake: upstream answered 200 with a web page'))!;
    expect(JSON.parse(line)).toMatchObject({ level: 50, baseUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/v1$/) });
  });

  it.each([false, true])(
    "with nothing else to serve: 502 upstream_error saying so, with x-should-retry: false (stream: %s; it said 'the upstream stream ended before the answer finished', or 'not JSON')",
    async (stream) => {
      const r = await ask('m-web-page-alone', stream);
      expect(r.status).toBe(502);
      expect(r.headers.get('x-should-retry')).toBe('false');
      const body = (await r.json()) as { error: { message: string; code: string } };
      expect(body.error.code).toBe('upstream_error');
      expect(body.error.message).toContain("upstream answered 200 with a web page (text/html), not an answer of the API: check the provider's baseUrl");
      expect(body.error.message).not.toContain('<html>');
    },
  );
});

describe('a last upstream 5xx that said when to ask again', () => {
  it("its retry-after is on the 502, so an SDK's retry waits for it (the SDKs asked again within 1.5 s, twice, of a provider asking for 10 s)", async () => {
    for (const stream of [false, true]) {
      const r = await ask('m-503-later', stream);
      expect(r.status).toBe(502);
      expect([r.headers.get('retry-after'), r.headers.get('x-should-retry')]).toEqual(['10', null]);
    }
  });

  it('past a minute the SDKs are told not to retry on their own (they would sleep it): an SDK call with maxRetries 2 asks once', async () => {
    hits.length = 0;
    const client = new OpenAI({ baseURL: `${sc.url}/v1`, apiKey: 'x', maxRetries: 2 });
    const err = (await client.chat.completions
      .create({ model: 'm-503-hour', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(502);
    expect([err.headers?.get('retry-after'), err.headers?.get('x-should-retry')]).toEqual(['3600', 'false']);
    expect(hits).toEqual(['503-hour']);
  });
});

describe('the SDKs on a 502 that asking again cannot mend', () => {
  it("the provider refusing switchyard's key: one upstream call for an SDK call with maxRetries 2, told x-should-retry: false (the SDKs retried the 502 twice, three 401s upstream for one call)", async () => {
    const openai = new OpenAI({ baseURL: `${sc.url}/v1`, apiKey: 'client', maxRetries: 2 });
    const anthropic = new Anthropic({ baseURL: sc.url, apiKey: 'client', maxRetries: 2 });
    const calls = [
      { model: 'bad-key', call: () => openai.chat.completions.create({ model: 'm-bad-key', messages: [{ role: 'user', content: 'hi' }] }) },
      {
        model: 'bad-key-messages',
        call: () => anthropic.messages.create({ model: 'm-bad-key-messages', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
      },
    ];
    for (const { model, call } of calls) {
      const before = hits.filter((m) => m === model).length;
      const err = (await call().catch((e: unknown) => e)) as { status?: number; headers?: Headers };
      expect(err.status).toBe(502);
      expect(err.headers?.get('x-should-retry')).toBe('false');
      expect(err.headers?.get('x-switchyard-error-code')).toBe('upstream_error');
      expect(hits.filter((m) => m === model).length - before).toBe(1);
    }
  });
});

describe('usage counts no request could use', () => {
  it('10^15 tokens: served (JSON and stream), billed within the reservation, the slot and the reservation freed (it was a 500 that leaked both until the endpoint wedged)', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await ask('m-usage-huge', i % 2 === 1);
      expect(r.status).toBe(200);
      const text = await r.text();
      expect(text).not.toContain('internal_error');
      const row = ledgerRow(ledgerFile, r.headers.get('x-request-id'));
      // The JSON body shows the counts billed (it showed 10^15); a stream's usage chunk already did.
      if (i % 2 === 0)
        expect((JSON.parse(text) as { usage: unknown }).usage).toMatchObject({
          prompt_tokens: Number(row!.prompt_tokens),
          completion_tokens: Number(row!.completion_tokens),
          total_tokens: Number(row!.prompt_tokens) + Number(row!.completion_tokens),
        });
      // The held prompt is billed at the input price, not as all cache reads (the cheapest split).
      expect(row).toMatchObject({ status: 200, estimated: 1, error_code: null, cached_tokens: 0 });
      // Price 1/1 USD per MTok: 1,000 nano a token; the counts held to the prompt's bound and the output cap.
      expect(row!.cost_nano).toBe((Number(row!.prompt_tokens) + Number(row!.completion_tokens)) * 1000);
      expect(Number(row!.completion_tokens)).toBeLessThanOrEqual(100_000);
    }
    const ep = await endpointOf('m-usage-huge');
    expect(ep.inFlight).toBe(0);
    const budget = (await sc.state()) as unknown as { budgets: Array<{ reservedUsd: number }> };
    expect(budget.budgets[0]!.reservedUsd).toBe(0);
  });

  it('counts that cannot be read (negative): the body shows the estimate billed, as the row has it (it showed -5/-100)', async () => {
    const r = await ask('m-usage-negative');
    expect(r.status).toBe(200);
    const row = ledgerRow(ledgerFile, r.headers.get('x-request-id'));
    expect(row).toMatchObject({ estimated: 1 });
    expect(((await r.json()) as { usage: unknown }).usage).toEqual({
      prompt_tokens: Number(row!.prompt_tokens),
      completion_tokens: Number(row!.completion_tokens),
      total_tokens: Number(row!.prompt_tokens) + Number(row!.completion_tokens),
    });
    expect(Number(row!.prompt_tokens)).toBeGreaterThan(0);
  });

  it.each([
    ['m-tool-nousage', 'tool-call arguments'],
    ['m-reasoning-nousage', 'reasoning text'],
  ])('%s: a JSON answer with no usage is billed its %s as output, not only its text (it was 2 tokens for ~300)', async (model) => {
    const r = await ask(model);
    expect(r.status).toBe(200);
    const row = ledgerRow(ledgerFile, r.headers.get('x-request-id'));
    expect(row).toMatchObject({ estimated: 1 });
    // "Paris " 300 times is 300 tokens in o200k; "Checking." and the name a few more.
    expect(Number(row!.completion_tokens)).toBeGreaterThanOrEqual(300);
    expect(Number(row!.completion_tokens)).toBeLessThan(330);
    expect(((await r.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(Number(row!.completion_tokens));
  });

  it("a stream with no usage is billed its reasoning deltas (DeepSeek's reasoning_content) as output, as a JSON answer is (it was 1 token for ~300)", async () => {
    const r = await ask('m-reasoning-stream', true);
    expect(r.status).toBe(200);
    await r.text();
    const row = ledgerRow(ledgerFile, r.headers.get('x-request-id'));
    expect(row).toMatchObject({ estimated: 1 });
    expect(Number(row!.completion_tokens)).toBeGreaterThanOrEqual(300);
    expect(Number(row!.completion_tokens)).toBeLessThan(330);
  });

  it('more cached tokens than prompt tokens: no split is taken from the count, the prompt is billed at the input price (it billed all 10 as cached, the cheapest reading)', async () => {
    const r = await ask('m-cached-over');
    expect(r.status).toBe(200);
    expect(ledgerRow(ledgerFile, r.headers.get('x-request-id'))).toMatchObject({ prompt_tokens: 10, cached_tokens: 0, completion_tokens: 1, estimated: 1 });
    await sc.waitForOutput(/reported more cached tokens than prompt tokens/);
  });

  it('100,000 output tokens reported for max_tokens 100: billed at the 100 it was sent', async () => {
    const r = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm-usage-over', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(200);
    const row = ledgerRow(ledgerFile, r.headers.get('x-request-id'));
    expect(row).toMatchObject({ completion_tokens: 100, estimated: 1 });
    expect(sc.stdout()).toMatch(/reported more tokens than the request could use/);
    // The body the SDK reads shows what was billed (it showed the upstream's 100,000).
    const body = (await r.json()) as { usage: Record<string, number>; model: string };
    expect(body.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 100, total_tokens: 103 });
    expect(body.model).toBe('m-usage-over');
  });
});

describe('an answer whose message content is an object', () => {
  it('is no answer a client can read: it fails over to a model that answers (it was a 200 passed on as it came)', async () => {
    const r = await ask('m-content-object');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-switchyard-attempts')).toBe('2');
    const body = (await r.json()) as { choices: Array<{ message: { content: unknown } }> };
    expect(body.choices[0]!.message.content).toBe('fine');
  });
});

describe('an answer with no choices', () => {
  it.each([false, true])('is no answer (stream: %s): it fails over to a model that answers (it was a 200 with choices [] or only [DONE])', async (stream) => {
    const r = await ask('m-no-choices', stream);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-switchyard-attempts')).toBe('2');
    const text = await r.text();
    expect(text).toContain('fine');
  });

  it('an answer with no choice that reports no usage is billed its prompt, estimated, beside the fallback (the provider read it; it was $0)', async () => {
    const alone = await ask('m-ok');
    await alone.text();
    const okRow = ledgerRow(ledgerFile, alone.headers.get('x-request-id'))!;
    const r = await ask('m-no-choices-nousage');
    expect(r.status).toBe(200);
    await r.text();
    const row = ledgerRow(ledgerFile, r.headers.get('x-request-id'))!;
    expect(row).toMatchObject({ attempts: 2, estimated: 1 });
    expect(Number(row.prompt_tokens)).toBeGreaterThan(Number(okRow.prompt_tokens));
    expect(Number(row.cost_nano)).toBe((Number(row.prompt_tokens) + Number(row.completion_tokens)) * 1000);
  });

  it('the same no-choice answer as JSON to a stream request (a server that ignores stream) is billed the usage it reports (it was $0)', async () => {
    const alone = await ask('m-ok', true);
    await alone.text();
    const okNano = Number(ledgerRow(ledgerFile, alone.headers.get('x-request-id'))!.cost_nano);
    const r = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm-no-choices-json', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(200);
    await r.text();
    expect(Number(ledgerRow(ledgerFile, r.headers.get('x-request-id'))!.cost_nano)).toBe(okNano + (3 + 1) * 1000);
  });

  it.each([
    [false, 'm-no-choices', (3 + 1) * 1000],
    [true, 'm-no-choices-usage', 7 * 1000],
  ])('the usage it reported is billed: the provider billed it (stream: %s, %s; it was $0)', async (stream, model, badNano) => {
    // What m-ok alone costs for this request (its stream reports no usage: estimated).
    const alone = await ask('m-ok', stream);
    await alone.text();
    const okNano = Number(ledgerRow(ledgerFile, alone.headers.get('x-request-id'))!.cost_nano);
    const r = await ask(model, stream);
    expect(r.status).toBe(200);
    await r.text();
    // m-ok's answer and the bad answer's reported counts, at 1 USD/MTok.
    const row = ledgerRow(ledgerFile, r.headers.get('x-request-id'));
    expect(row).toMatchObject({ status: 200, attempts: 2 });
    expect(Number(row!.cost_nano)).toBe(okNano + badNano);
    // A stream's headers go out before its cost is known.
    if (!stream) expect(Number(r.headers.get('x-switchyard-cost-usd'))).toBeCloseTo((okNano + badNano) / 1e9, 9);
  });
});

describe('an event stream where a whole JSON answer was asked for (a server that streams whatever stream says)', () => {
  it("fails over, saying so, and is billed the usage the stream reported (the provider made and billed the answer; it was 'not JSON', billed $0)", async () => {
    const alone = await ask('m-ok');
    await alone.text();
    const okNano = Number(ledgerRow(ledgerFile, alone.headers.get('x-request-id'))!.cost_nano);
    const r = await ask('m-always-sse');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-switchyard-model')).toBe('m-ok');
    await r.text();
    const row = ledgerRow(ledgerFile, r.headers.get('x-request-id'));
    expect(row).toMatchObject({ status: 200, attempts: 2 });
    // m-ok's answer and the stream's reported 9 + 4 tokens, at 1 USD/MTok.
    expect(Number(row!.cost_nano)).toBe(okNano + 13 * 1000);
    await sc.waitForOutput('upstream answered an event stream to a request that was not streamed (stream: false)');
  });
});

describe('a stream that ends with [DONE] but never says how it finished', () => {
  it('is a cut, not a finished answer: with no model to continue it, it ends with an error event (it was relayed as finished; the SDK helpers threw on the missing finish_reason)', async () => {
    const r = await ask('m-no-finish', true);
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(text).toContain('half an ans');
    expect(text).toMatch(/without saying how the answer finished/);
    expect(text).not.toContain('data: [DONE]');
    expect(ledgerRow(ledgerFile, r.headers.get('x-request-id'))).toMatchObject({ status: 200, error_code: 'upstream_error' });
  });
});

describe("an answer its provider broke off (DeepSeek's finish_reason insufficient_system_resource), to a chat client", () => {
  it('as JSON is a bad answer: it fails over to the fallback, and is billed; alone it is an error (it was the half answer, a 200)', async () => {
    const r = await ask('m-broken-off-chat');
    expect(r.headers.get('x-switchyard-model')).toBe('m-ok');
    const body = (await r.json()) as { choices: { message: { content: string }; finish_reason: string }[] };
    expect([body.choices[0]!.message.content, body.choices[0]!.finish_reason]).toEqual(['fine', 'stop']);
    // Both attempts billed: the broken-off one's 3 + 6 tokens, then m-ok's 3 + 1.
    expect(ledgerRow(ledgerFile, r.headers.get('x-request-id'))).toMatchObject({ attempts: 2, prompt_tokens: 6, completion_tokens: 7 });
    const alone = await ask('m-broken-off-chat-alone');
    expect(alone.status).toBeGreaterThanOrEqual(500);
    expect(((await alone.json()) as { error: { message: string } }).error.message).toContain('insufficient_system_resource');
  });

  it('streamed is a cut: the half answer is sent without its finish reason, and with no model to continue it the stream ends with an error event, no [DONE]', async () => {
    const r = await ask('m-broken-off-chat-alone', true);
    const text = await r.text();
    expect(text).toContain('The first half of');
    expect(text).toContain(' an answer');
    expect(text).not.toContain('"finish_reason":"insufficient_system_resource"');
    expect(text).toMatch(/data: \{"error":\{.*insufficient_system_resource/);
    expect(text).not.toContain('data: [DONE]');
    expect(ledgerRow(ledgerFile, r.headers.get('x-request-id'))).toMatchObject({ status: 200, error_code: 'upstream_error' });
  });
});

describe("an answer its provider broke off (DeepSeek's finish_reason insufficient_system_resource), to a Messages client", () => {
  const claude = () => new Anthropic({ baseURL: sc.url, apiKey: 'unused', maxRetries: 0 });
  const ask = { max_tokens: 50, messages: [{ role: 'user' as const, content: 'hi' }] };
  it('as JSON is a bad answer: it fails over to the fallback, and is billed (it was the half answer with stop_reason end_turn)', async () => {
    const { data, response } = await claude()
      .messages.create({ model: 'm-broken-off', ...ask })
      .withResponse();
    expect(response.headers.get('x-switchyard-model')).toBe('m-ok');
    expect(data.content).toEqual([{ type: 'text', text: 'fine' }]);
    expect(data.stop_reason).toBe('end_turn');
    // Both attempts billed: the broken-off one's 3 + 6 tokens, then m-ok's 3 + 1.
    expect(ledgerRow(ledgerFile, response.headers.get('x-request-id'))).toMatchObject({ attempts: 2, prompt_tokens: 6, completion_tokens: 7 });
    const alone = await claude()
      .messages.create({ model: 'm-broken-off-alone', ...ask })
      .catch((e: unknown) => e);
    expect(alone).toBeInstanceOf(Anthropic.InternalServerError);
    expect((alone as Error).message).toContain('insufficient_system_resource');
  });

  it('streamed is a cut: with no model to continue it, the stream ends with an error event, never message_delta end_turn', async () => {
    const r = await fetch(`${sc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'm-broken-off-alone', stream: true, ...ask }),
    });
    const text = await r.text();
    expect(text).toContain('The first half of');
    expect(text).not.toContain('message_delta');
    expect(text).not.toContain('end_turn');
    expect(text).toMatch(/event: error\ndata: .*insufficient_system_resource/);
    expect(ledgerRow(ledgerFile, r.headers.get('x-request-id'))).toMatchObject({ status: 200, error_code: 'upstream_error' });
  });
});

describe("an answer its provider broke off (DeepSeek's finish_reason insufficient_system_resource), to a Responses client", () => {
  const client = () => new OpenAI({ baseURL: `${sc.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  it('as JSON fails over to the fallback and is billed; alone it is an error (it was the half answer with status completed)', async () => {
    const { data, response } = await client().responses.create({ model: 'm-broken-off', input: 'hi', max_output_tokens: 50 }).withResponse();
    expect(response.headers.get('x-switchyard-model')).toBe('m-ok');
    expect([data.status, data.output_text]).toEqual(['completed', 'fine']);
    expect(ledgerRow(ledgerFile, response.headers.get('x-request-id'))).toMatchObject({ attempts: 2, prompt_tokens: 6, completion_tokens: 7 });
    const alone = await client()
      .responses.create({ model: 'm-broken-off-alone', input: 'hi', max_output_tokens: 50 })
      .catch((e: unknown) => e);
    expect(alone).toBeInstanceOf(OpenAI.InternalServerError);
    expect((alone as Error).message).toContain('insufficient_system_resource');
  });

  it('streamed is a cut: the stream ends with error then response.failed, never response.completed', async () => {
    const stream = await client().responses.create({ model: 'm-broken-off-alone', input: 'hi', max_output_tokens: 50, stream: true });
    const types: string[] = [];
    let text = '';
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
    }
    expect(text).toContain('The first half of');
    expect(types.slice(-2)).toEqual(['error', 'response.failed']);
    expect(types).not.toContain('response.completed');
  });
});

describe('a reasoning model that streams its reasoning for longer than firstTokenTimeoutMs before the answer', () => {
  it('is alive, not silent: the answer comes, to a Messages client and a chat client (both were a 502 first_token_timeout after 2 s of reasoning)', async () => {
    const claude = new Anthropic({ baseURL: sc.url, apiKey: 'unused', maxRetries: 0 });
    const msg = await claude.messages.stream({ model: 'm-reasoning-slow', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
    expect(msg.content).toEqual([{ type: 'text', text: 'Forty-two.' }]);
    expect(msg.stop_reason).toBe('end_turn');
    const r = await ask('m-reasoning-slow', true);
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(text).toContain('Forty-two.');
    expect(text).toContain('[DONE]');
  });
});

describe('a relayed Anthropic stream that ends with message_stop but never said a stop reason', () => {
  it('is a cut: its message_stop is not relayed, the stream ends with the error event alone (a client read message_stop, a clean end, before the error)', async () => {
    const r = await fetch(`${sc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'm-anthropic-no-reason', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const events = (await r.text()).split('\n').filter((l) => l.startsWith('event: '));
    expect(events).toEqual(['event: message_start', 'event: content_block_start', 'event: content_block_delta', 'event: content_block_stop', 'event: error']);
  });
});

describe('an Anthropic-wire stream that thinks unasked, then is cut', () => {
  it('as chat or Responses: its thinking is billed as output in the estimate (it was the two words of text: 8 tokens for ~300) and shown as reasoning', async () => {
    const r = await ask('m-anthropic-thinks-cut', true);
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(text).toContain('"reasoning_content":"weigh the ten options here.');
    expect(text).toContain('"error"');
    const row = ledgerRow(ledgerFile, r.headers.get('x-request-id'));
    expect(row).toMatchObject({ estimated: 1 });
    // 30 deltas of 12 words: ~360 tokens of thinking, 2 of text.
    expect(Number(row!.completion_tokens)).toBeGreaterThan(300);
    const rr = await fetch(`${sc.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm-anthropic-thinks-cut', stream: true, input: 'hi' }),
    });
    await rr.text();
    expect(Number(ledgerRow(ledgerFile, rr.headers.get('x-request-id'))!.completion_tokens)).toBeGreaterThan(300);
  });
});

describe('a stream whose deltas never say role', () => {
  it("its first delta gets the assistant's: the OpenAI SDK's stream helper finishes (it threw 'missing role for choice 0')", async () => {
    const client = new OpenAI({ baseURL: `${sc.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const final = await client.chat.completions.stream({ model: 'm-no-role', messages: [{ role: 'user', content: 'hi' }] }).finalChatCompletion();
    expect(final.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'hello world' });
    expect(final.choices[0]!.finish_reason).toBe('stop');
  });
});

describe('chunks after or around the finish that are odd but harmless', () => {
  it.each(['m-no-delta', 'm-fin-then-garbage', 'm-fin-then-error'])(
    '%s: the answer ends cleanly with its finish (a choice without delta threw in the session, a cut half chunk after the finish was taken for lost words: both gave an error event after the finish; an error event after it was continued past the finish on a prefill model)',
    async (model) => {
      const client = new OpenAI({ baseURL: `${sc.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const final = await client.chat.completions.stream({ model, messages: [{ role: 'user', content: 'hi' }] }).finalChatCompletion();
      expect(final.choices[0]!.message.content).toBe('Hello world');
      expect(final.choices[0]!.finish_reason).toBe('stop');
      const r = await ask(model, true);
      const text = await r.text();
      expect(text).not.toContain('"error"');
      expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
      expect(ledgerRow(ledgerFile, r.headers.get('x-request-id'))).toMatchObject({ status: 200, error_code: null, attempts: 1 });
    },
  );
});

describe('answers that lose or overrun what they were asked for', () => {
  it('a stream event that carried part of the answer but is not JSON is a cut: the stream ends with an error event, never cleanly without those words', async () => {
    const r = await ask('m-malformed-delta', true);
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(text).toContain('hello ');
    expect(text).toMatch(/could not be read \(not JSON\)/);
    expect(text).not.toContain('data: [DONE]');
  });

  it('a JSON answer far longer than the output cap allows is a bad answer, failed over (it was delivered: 20,000 characters for max_tokens 100)', async () => {
    const r = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm-too-long', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-switchyard-attempts')).toBe('2');
    const body = (await r.json()) as { model: string; choices: Array<{ message: { content: string } }> };
    expect(body.model).toBe('m-ok');
    expect(body.choices[0]!.message.content).toBe('fine');
  });

  it('so is one whose tool call arguments are far longer (50 KB for max_tokens 100; only the text was counted)', async () => {
    const r = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm-long-tool', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-switchyard-attempts')).toBe('2');
    expect(((await r.json()) as { model: string }).model).toBe('m-ok');
  });
});

describe('answers larger than switchyard reads, and counts that are no counts', () => {
  const capped = (model: string, stream: boolean) =>
    fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, stream, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }),
    });

  it.each([
    ['m-huge-body', false, /upstream body larger than 16777216 bytes/],
    ['m-huge-event', true, /upstream event larger than 16777216 characters/],
  ])('%s: the answer the provider made (and bills) is billed at its reservation, the prompt and the 100 sent (it was $0)', async (model, stream, why) => {
    const r = await capped(model, stream);
    const text = await r.text();
    if (!stream) expect(r.status).toBe(502);
    expect(text).toMatch(why);
    const row = ledgerRow(ledgerFile, r.headers.get('x-request-id'));
    expect(row).toMatchObject({ completion_tokens: 100, estimated: 1 });
    expect(Number(row!.prompt_tokens)).toBeGreaterThan(0);
    expect(row!.cost_nano).toBe((Number(row!.prompt_tokens) + 100) * 1000);
  });

  it.each([false, true])(
    'zeros reported for an answer with a prompt and words (stream: %s): estimated, and the answer shows what was billed (it was $0)',
    async (stream) => {
      const r = await capped('m-usage-zero', stream);
      expect(r.status).toBe(200);
      const text = await r.text();
      const row = ledgerRow(ledgerFile, r.headers.get('x-request-id'));
      expect(row).toMatchObject({ estimated: 1 });
      expect(Number(row!.prompt_tokens)).toBeGreaterThan(0);
      expect(Number(row!.completion_tokens)).toBeGreaterThan(0);
      expect(row!.cost_nano).toBe((Number(row!.prompt_tokens) + Number(row!.completion_tokens)) * 1000);
      if (!stream)
        expect((JSON.parse(text) as { usage: unknown }).usage).toEqual({
          prompt_tokens: row!.prompt_tokens,
          completion_tokens: row!.completion_tokens,
          total_tokens: Number(row!.prompt_tokens) + Number(row!.completion_tokens),
        });
    },
  );

  it('parts that cannot be read (a negative cached count, cache writes above the prompt): the JSON answer shows the parts billed (it relayed -1000000 and 10000000)', async () => {
    const r = await capped('m-usage-parts', false);
    expect(r.status).toBe(200);
    const usage = ((await r.json()) as { usage: Record<string, unknown> }).usage;
    expect(usage).toMatchObject({ prompt_tokens: 8, completion_tokens: 1, total_tokens: 9, prompt_tokens_details: { cached_tokens: 0 } });
    expect(usage.cache_write_tokens).toBeLessThanOrEqual(8);
    expect(ledgerRow(ledgerFile, r.headers.get('x-request-id'))).toMatchObject({ prompt_tokens: 8, cached_tokens: 0, completion_tokens: 1 });
  });

  it("a provider's 400 with code null is passed on with code null (it said invalid_request); the header keeps switchyard's own code", async () => {
    const r = await ask('m-code-null');
    expect(r.status).toBe(400);
    expect(r.headers.get('x-switchyard-error-code')).toBe('invalid_request');
    expect(((await r.json()) as { error: unknown }).error).toEqual({
      message: 'Unrecognized request argument supplied: fallbacks',
      type: 'invalid_request_error',
      param: null,
      code: null,
    });
  });

  it("Gemini's 400 for a field it does not know (an array-wrapped error) fails over to a model that takes the request, and the last candidate's is passed on with Gemini's own message (it was the raw JSON text, and no fail-over)", async () => {
    const body = (model: string) => JSON.stringify({ model, prompt_cache_key: 'greeting', messages: [{ role: 'user', content: 'hi' }] });
    const init = (model: string) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: body(model) });
    const served = await fetch(`${sc.url}/v1/chat/completions`, init('m-gemini-field'));
    expect(served.status).toBe(200);
    expect(served.headers.get('x-switchyard-model')).toBe('m-ok');
    const alone = await fetch(`${sc.url}/v1/chat/completions`, init('m-gemini-field-alone'));
    expect(alone.status).toBe(400);
    const error = ((await alone.json()) as { error: { message: string; type: string } }).error;
    expect(error.message).toBe('Invalid JSON payload received. Unknown name "prompt_cache_key": Cannot find field.');
    expect(error.type).toBe('invalid_request_error');
  });

  it("DeepSeek's 400 for an image part (unknown variant `image_url`) fails over to the model's fallback, as the README says a provider's 400 about a feature does (it reached the client)", async () => {
    const r = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'm-deepseek-image',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
            ],
          },
        ],
      }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-switchyard-model')).toBe('m-ok-vision');
  });

  it("a reasoning model's 400 for a sampling value it does not take (Unsupported value: 'temperature' … with this model) fails over to its fallback; alone, the client gets OpenAI's 400 as it was written (it reached the client with a fallback left)", async () => {
    const ask = (model: string) =>
      fetch(`${sc.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, temperature: 0.7, messages: [{ role: 'user', content: 'hi' }] }),
      });
    const served = await ask('m-reasoning');
    expect(served.status).toBe(200);
    expect(served.headers.get('x-switchyard-model')).toBe('m-ok');
    const alone = await ask('m-reasoning-alone');
    expect(alone.status).toBe(400);
    expect(((await alone.json()) as { error: unknown }).error).toMatchObject({ param: 'temperature', code: 'unsupported_value' });
  });

  it("a provider's 402 (our account out of balance, DeepSeek's Insufficient Balance) fails over and logs an error for the operator; alone it is a 502, never the client's 402 (it was passed on as the client's)", async () => {
    const served = await ask('m-no-balance');
    expect(served.status).toBe(200);
    expect(served.headers.get('x-switchyard-model')).toBe('m-ok');
    await sc.waitForOutput(
      /endpoint m-no-balance@fake refused our account for payment \(upstream answered 402: Insufficient Balance\): check the provider account's balance/,
    );
    const alone = await ask('m-no-balance-alone');
    expect(alone.status).toBe(502);
    expect(alone.headers.get('x-switchyard-error-code')).toBe('upstream_error');
    expect(((await alone.json()) as { error: { message: string } }).error.message).toMatch(/402/);
  });

  it('an embeddings answer with fewer vectors than inputs is a bad answer, failed over (it was a 200 with one vector for two texts)', async () => {
    const r = await fetch(`${sc.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm-emb-short', input: ['first text', 'second text'], encoding_format: 'float' }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-switchyard-model')).toBe('m-emb-ok');
    const body = (await r.json()) as { data: Array<{ index: number }> };
    expect(body.data.map((d) => d.index)).toEqual([0, 1]);
    // The bad answer's reported 2 tokens are billed beside the good one's 2, as the provider billed both (it was 2).
    expect(ledgerRow(ledgerFile, r.headers.get('x-request-id'))).toMatchObject({ prompt_tokens: 4, cost_nano: 4000 });
  });

  it('an embeddings answer whose vector is none (a string not base64, words, holes, empty) is a bad answer, failed over (it was a 200 mixing encodings; the SDK decoded it to [])', async () => {
    const ask = (first: string, encoding_format: string) =>
      fetch(`${sc.url}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm-emb-bad', input: [first, 'second text'], encoding_format }),
      });
    // Base64 of whole float32s (here a NaN among them, as a provider may send) is a vector: delivered
    // (first: the bad answers below count against the endpoint and open its circuit).
    const nan = await ask('nan', 'base64');
    expect([nan.status, nan.headers.get('x-switchyard-model')]).toEqual([200, 'm-emb-bad']);
    for (const kind of ['str', 'words', 'holes', 'empty']) {
      for (const encoding_format of ['float', 'base64']) {
        const r = await ask(kind, encoding_format);
        expect([kind, encoding_format, r.status, r.headers.get('x-switchyard-model')]).toEqual([kind, encoding_format, 200, 'm-emb-ok']);
        // The bad answer's reported 2 tokens are billed beside the good one's 2, as a wrong count's are (it was an estimate).
        if (kind === 'str' && encoding_format === 'float')
          expect(ledgerRow(ledgerFile, r.headers.get('x-request-id'))).toMatchObject({ prompt_tokens: 4, cost_nano: 4000 });
      }
    }
  });

  it('an upstream that ignores dimensions is a bad answer, not a 200 with vectors of another size (a vector store refused them later, far from the cause)', async () => {
    const ask = (dimensions: number, encoding_format: string) =>
      fetch(`${sc.url}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm-emb-ok', input: ['a', 'b'], dimensions, encoding_format }),
      });
    // This upstream always answers 2 floats a vector.
    for (const encoding_format of ['float', 'base64']) {
      const wrong = await ask(4, encoding_format);
      const body = (await wrong.json()) as { error: { message: string } };
      expect([wrong.status, wrong.headers.get('x-switchyard-error-code')]).toEqual([502, 'upstream_error']);
      expect(body.error.message).toMatch(/a vector of 2 dimensions where 4 were asked/);
      const right = await ask(2, encoding_format);
      expect(right.status).toBe(200);
      await right.text();
    }
    // The request's field, not the endpoint's health: many such answers open no circuit for the others (a re-test round saw 503 circuit-open).
    for (let i = 0; i < 8; i++) expect((await ask(4, 'float')).status).toBe(502);
    const plain = await fetch(`${sc.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm-emb-ok', input: 'hello' }),
    });
    expect(plain.status).toBe(200);
    await plain.text();
    expect((await sc.state()).endpoints.find((e) => e.model === 'm-emb-ok')).toMatchObject({ state: 'healthy', consecutiveFailures: 0 });
  });

  it('an upstream that ignores encoding_format: the client gets the encoding it asked for (the OpenAI SDK, asking base64, decoded float lists to empty vectors)', async () => {
    const f32 = (x: number) => Math.fround(x);
    // The SDK asks for base64 and decodes it.
    const client = new OpenAI({ baseURL: `${sc.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const viaSdk = await client.embeddings.create({ model: 'm-emb-ok', input: ['a', 'b'] });
    expect(viaSdk.data.map((d) => d.embedding)).toEqual([
      [f32(0.1), f32(0.2)],
      [f32(0.1), f32(0.2)],
    ]);
    // Raw: base64 is OpenAI's, the little-endian float32s.
    const raw = await fetch(`${sc.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm-emb-ok', input: 'a', encoding_format: 'base64' }),
    });
    const want = Buffer.alloc(8);
    want.writeFloatLE(0.1, 0);
    want.writeFloatLE(0.2, 4);
    expect(((await raw.json()) as { data: Array<{ embedding: unknown }> }).data[0]!.embedding).toBe(want.toString('base64'));
    // Float asked, float given: passed as the upstream wrote it.
    const floats = await fetch(`${sc.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm-emb-ok', input: 'a' }),
    });
    expect(((await floats.json()) as { data: Array<{ embedding: unknown }> }).data[0]!.embedding).toEqual([0.1, 0.2]);
  });

  it('a stream request answered with a whole JSON completion (a server that ignores stream) is streamed to the client and billed its usage (it was a 502 stream_cut, billed $0)', async () => {
    const r = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm-json-for-stream', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(200);
    const text = await r.text();
    const chunks = text
      .split('\n\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)) as { choices: Array<{ delta?: { content?: string }; finish_reason?: string | null }>; usage?: unknown });
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('fine words here');
    expect(chunks.some((c) => c.choices[0]?.finish_reason === 'stop')).toBe(true);
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 5 });
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(ledgerRow(ledgerFile, r.headers.get('x-request-id'))).toMatchObject({ prompt_tokens: 10, completion_tokens: 5, cost_nano: 15_000, estimated: 0 });
  });

  it("a 200 whose JSON is an error, to a stream request, fails with the upstream's own message (it said 'stream ended before the answer finished')", async () => {
    const r = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm-error-200', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(502);
    expect(((await r.json()) as { error: { message: string } }).error.message).toContain('upstream overloaded, try later');
    // And to a JSON request (it said "not a chat.completion object").
    const j = await ask('m-error-200');
    expect(j.status).toBe(502);
    expect(((await j.json()) as { error: { message: string } }).error.message).toContain('upstream answered 200 with an error: upstream overloaded, try later');
  });

  it.each([true, false])(
    'a 200 whose JSON is an error that reports usage is billed that usage (stream request: %s; as a stream it was billed $0)',
    async (stream) => {
      const r = await ask('m-error-200-usage', stream);
      expect(r.status).toBe(502);
      expect(((await r.json()) as { error: { message: string } }).error.message).toContain('answer withheld by policy');
      expect(ledgerRow(ledgerFile, r.headers.get('x-request-id'))).toMatchObject({ prompt_tokens: 7, completion_tokens: 3, cost_nano: 10_000 });
    },
  );

  it('a legacy functions answer (function_call, content null) passes the quality cascade (it was "empty" and escalated to the fallback)', async () => {
    const r = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-switchyard-cascade': 'on' },
      body: JSON.stringify({
        model: 'm-legacy-fn',
        functions: [{ name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } }],
        messages: [{ role: 'user', content: 'look up x' }],
      }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-switchyard-cascade')).toBe('m-legacy-fn:pass');
    const body = (await r.json()) as { choices: Array<{ message: { function_call?: { name: string } } }> };
    expect(body.choices[0]!.message.function_call?.name).toBe('lookup');
  });

  it('two tool calls to a request with parallel_tool_calls false fail the quality cascade and escalate (they passed)', async () => {
    const ask = (parallel: boolean) =>
      fetch(`${sc.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-switchyard-cascade': 'on' },
        body: JSON.stringify({
          model: 'm-two-calls',
          parallel_tool_calls: parallel,
          tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } } }],
          messages: [{ role: 'user', content: 'look up a and b' }],
        }),
      });
    const one = await ask(false);
    expect(one.status).toBe(200);
    expect(one.headers.get('x-switchyard-cascade')).toBe('m-two-calls:tool_args>m-ok-tools:pass');
    const both = await ask(true);
    expect(both.headers.get('x-switchyard-cascade')).toBe('m-two-calls:pass');
  });

  it('a JSON answer after a byte order mark is read (it was "not JSON")', async () => {
    const r = await ask('m-bom');
    expect(r.status).toBe(200);
    expect(((await r.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe('fine');
  });
});

describe('a body compressed though switchyard asked for identity', () => {
  it('the 502 says it came compressed (it said only "not JSON")', async () => {
    const r = await ask('m-gzipped');
    expect(r.status).toBe(502);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/not JSON \(it came compressed, content-encoding: gzip/);
  });
});
