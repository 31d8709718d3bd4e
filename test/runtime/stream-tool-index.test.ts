/**
 * Tool calls in a chat stream, relayed in OpenAI's shape whatever the upstream sent: each call
 * its own `index` in the order calls start, and `finish_reason: tool_calls` when the answer calls
 * a tool. Gemini's OpenAI-compatible API leaves `index` out or numbers every call 0, and finishes
 * with `stop`: openai-node's stream helper then lost a call or merged two, the AI SDK failed. The
 * relayed events are read back by openai-node's own accumulator. An OpenAI-shaped stream is
 * relayed byte for byte as before.
 */
import { ChatCompletionStream } from 'openai/lib/ChatCompletionStream';
import { describe, expect, it } from 'vitest';
import type { EndpointHandle } from '../../src/runtime/endpoints.js';
import { StreamSession } from '../../src/runtime/stream-session.js';
import { openaiAdapter } from '../../src/upstream/adapters/openai.js';
import { SseParser } from '../../src/upstream/sse.js';
import type { StreamPiece } from '../../src/upstream/types.js';
import { recordingSink } from './recording-sink.js';

const h = { model: 'gemini-2.5-flash', id: 'gemini/gemini-2.5-flash' } as unknown as EndpointHandle;
const base = { id: 'chatcmpl-up', object: 'chat.completion.chunk', created: 1_764_000_000, model: 'gemini-2.5-flash' };
type Delta = Record<string, unknown>;
const chunk = (delta: Delta, finish: string | null = null) => ({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] });
const call = (piece: Delta) => chunk({ tool_calls: [piece] });
const fn = (name: string | undefined, args: string) => ({ ...(name ? { name } : {}), arguments: args });

/** The chunks relayed through the real decoder and session, how many went raw, and what openai-node makes of them. */
async function relay(chunks: object[]) {
  const s = recordingSink();
  const session = new StreamSession(s, 'chatcmpl-x', false, () => ({}), base.created);
  session.beginAttempt();
  const decoder = openaiAdapter.streamDecoder();
  let raws = 0;
  // The upstream's first chunk names the role, as every OpenAI-format stream's does.
  const sse = [chunk({ role: 'assistant', content: null }), ...chunks].map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + 'data: [DONE]\n\n';
  for (const ev of new SseParser().push(sse))
    for (const p of decoder.decode(ev) as StreamPiece[]) {
      if (p.type !== 'chunk') continue;
      if (p.raw !== undefined) raws++;
      await session.forward(p, h);
    }
  // The session writes each event's data (what follows `data: `).
  const relayed = s.events
    .filter((e) => e.startsWith('{'))
    .map((e) => JSON.parse(e) as { choices: Array<{ delta: { tool_calls?: Array<{ index?: number }> }; finish_reason: string | null }> });
  const body = new ReadableStream({
    start(ctl) {
      ctl.enqueue(new TextEncoder().encode(relayed.map((c) => `${JSON.stringify(c)}\n`).join('')));
      ctl.close();
    },
  });
  const final = await ChatCompletionStream.fromReadableStream(body).finalChatCompletion();
  return { relayed, raws, final };
}

const calls = (final: Awaited<ReturnType<typeof relay>>['final']) =>
  (final.choices[0]!.message.tool_calls ?? []).map((c) => (c.type === 'function' ? [c.id, c.function.name, c.function.arguments] : []));

describe('tool calls in a relayed chat stream', () => {
  it('calls without an index (Gemini): numbered 0 and 1, finish stop becomes tool_calls; openai-node sees both calls', async () => {
    const r = await relay([
      call({ id: 'c1', type: 'function', function: fn('w', '{"city":"Paris"}') }),
      call({ id: 'c2', type: 'function', function: fn('w', '{"city":"Rome"}') }),
      chunk({}, 'stop'),
    ]);
    expect(r.relayed.map((c) => c.choices[0]!.delta.tool_calls?.[0]?.index ?? null)).toEqual([null, 0, 1, null]);
    expect(r.relayed.at(-1)!.choices[0]!.finish_reason).toBe('tool_calls');
    expect(calls(r.final)).toEqual([
      ['c1', 'w', '{"city":"Paris"}'],
      ['c2', 'w', '{"city":"Rome"}'],
    ]);
    expect(r.final.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('every call at index 0 under its own id: a new id is a new index; pieces without an id go on with their call', async () => {
    const r = await relay([
      call({ index: 0, id: 'a', type: 'function', function: fn('f', '{"n":') }),
      call({ index: 0, function: fn(undefined, '1}') }),
      call({ index: 0, id: 'b', type: 'function', function: fn('g', '{"n":2}') }),
      chunk({}, 'stop'),
    ]);
    expect(calls(r.final)).toEqual([
      ['a', 'f', '{"n":1}'],
      ['b', 'g', '{"n":2}'],
    ]);
  });

  it('an OpenAI-shaped stream (indexes 0, 1; finish tool_calls) is relayed as it came, raw', async () => {
    const chunks = [
      call({ index: 0, id: 'a', type: 'function', function: fn('f', '') }),
      call({ index: 0, function: fn(undefined, '{"n":1}') }),
      call({ index: 1, id: 'b', type: 'function', function: fn('g', '{}') }),
      chunk({}, 'tool_calls'),
    ];
    const r = await relay(chunks);
    expect(r.raws).toBe(chunks.length + 1);
    expect(calls(r.final)).toEqual([
      ['a', 'f', '{"n":1}'],
      ['b', 'g', '{}'],
    ]);
  });

  it('a text answer that finishes with stop keeps stop', async () => {
    const r = await relay([chunk({ content: 'hi' }), chunk({}, 'stop')]);
    expect(r.final.choices[0]!.finish_reason).toBe('stop');
  });

  it('a JSON answer with tool calls and finish_reason stop says tool_calls (written again, not spliced); without calls it is left as is', () => {
    const json = {
      id: 'x',
      object: 'chat.completion',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: fn('f', '{}') }] },
          finish_reason: 'stop',
        },
      ],
    };
    const parsed = openaiAdapter.parseCompletion(json);
    expect(parsed.completion).not.toBe(json);
    expect((parsed.completion as typeof json).choices[0]!.finish_reason).toBe('tool_calls');
    const plain = { id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }] };
    expect(openaiAdapter.parseCompletion(plain).completion).toBe(plain);
  });
});
