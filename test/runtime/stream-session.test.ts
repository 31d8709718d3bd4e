/** The streaming commit contract at the seam of a continuation. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { SwitchyardError } from '../../src/errors.js';
import type { ChatSink } from '../../src/runtime/api.js';
import { HttpSink } from '../../src/http/sink.js';
import type { EndpointHandle } from '../../src/runtime/endpoints.js';
import { HOLD_TOOLS_MS, StreamSession, usageChunk, usageChunkSlow } from '../../src/runtime/stream-session.js';
import { usageFromOpenAI } from '../../src/accounting/cost.js';
import type { StreamPiece } from '../../src/upstream/types.js';
import { ResponsesSink } from '../../src/http/responses-sink.js';
import { CompletionsSink, KEEPALIVE_EVERY_MS } from '../../src/http/completions-route.js';
import type { RequestLog } from '../../src/observe/request-log.js';
import { inputMessages } from '../../src/apis/responses-request.js';
import { inputItemsOf } from '../../src/apis/responses-items.js';

function sink(): ChatSink & { events: string[]; heads: number; ended: boolean } {
  const s = {
    events: [] as string[],
    heads: 0,
    ended: false,
    started: false,
    signal: new AbortController().signal,
    json: () => undefined,
    startStream() {
      s.heads++;
      s.started = true;
    },
    write(d: string) {
      s.events.push(d);
      return true;
    },
    drain: () => Promise.resolve(),
    end() {
      s.ended = true;
    },
    fail(e: SwitchyardError) {
      s.events.push(JSON.stringify(e.toBody()));
      s.ended = true;
    },
  };
  return s;
}

const h = (model: string) => ({ model, id: `${model}@p` }) as unknown as EndpointHandle;
const chunk = (text: string | null, role = false, finish: string | null = null): Extract<StreamPiece, { type: 'chunk' }> => ({
  type: 'chunk',
  chunk: {
    id: 'up',
    choices: [{ index: 0, delta: { ...(role ? { role: 'assistant' } : {}), ...(text !== null ? { content: text } : {}) }, finish_reason: finish }],
  },
  text: text ?? '',
  content: !!text,
  finishReason: finish,
});
const text = (events: string[]) =>
  events
    .filter((e) => e !== '[DONE]')
    .map((e) => (JSON.parse(e) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ?? '')
    .join('');

/** A chunk of a reasoning model's reasoning (DeepSeek's `reasoning_content`): no content yet. */
const reasoning = (t: string): Extract<StreamPiece, { type: 'chunk' }> => ({
  type: 'chunk',
  chunk: { id: 'up', choices: [{ index: 0, delta: { reasoning_content: t }, finish_reason: null }] },
  text: '',
  content: false,
  finishReason: null,
  other: t,
});
describe('StreamSession', () => {
  it('on a sink that writes tool calls whole at the end (Messages), pieces of tool calls commit nothing: a cut before the end stays invisible', () => {
    const toolPiece = (args: string): Extract<StreamPiece, { type: 'chunk' }> => ({
      type: 'chunk',
      chunk: {
        id: 'up',
        choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'c1', function: { name: 'f', arguments: args } }] }, finish_reason: null }],
      },
      text: '',
      content: true,
      finishReason: null,
    });
    const holding = Object.assign(sink(), { holdsToolCalls: true });
    const ss = new StreamSession(holding, 'fallback', false, () => ({}));
    ss.beginAttempt();
    void ss.forward(toolPiece('{"ci'), h('a'));
    expect([ss.committed, ss.toolCallsSent, holding.heads, holding.events]).toEqual([false, false, 0, []]);
    // The attempt was cut here: the next one starts afresh and its whole answer is what the client gets.
    ss.beginAttempt();
    void ss.forward(toolPiece('{"city":"Paris"}'), h('b'));
    void ss.forward({ ...chunk(null, false, 'tool_calls'), content: false }, h('b'));
    ss.finish(h('b'), { promptTokens: 1, completionTokens: 1 });
    expect(holding.heads).toBe(1);
    expect(holding.events.filter((e) => e.includes('"tool_calls":['))).toHaveLength(1);
    expect(holding.events.some((e) => e.includes('{\\"ci"'))).toBe(false);
    // Held no longer than HOLD_TOOLS_MS: a long call then starts the stream (the sink pings while it gathers).
    const slow = Object.assign(sink(), { holdsToolCalls: true });
    const long = new StreamSession(slow, 'fallback', false, () => ({}));
    long.beginAttempt();
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
    try {
      void long.forward(toolPiece('{"ci'), h('a'));
      vi.setSystemTime(1_000_000 + HOLD_TOOLS_MS - 1);
      void long.forward(toolPiece('ty'), h('a'));
      expect(long.committed).toBe(false);
      vi.setSystemTime(1_000_000 + HOLD_TOOLS_MS);
      void long.forward(toolPiece('":"P'), h('a'));
      expect([long.committed, long.toolCallsSent, slow.heads]).toEqual([true, true, 1]);
    } finally {
      vi.useRealTimers();
    }
    // Elsewhere (chat, Responses stream the pieces as they come) a tool call commits at once.
    const plain = sink();
    const other = new StreamSession(plain, 'fallback', false, () => ({}));
    other.beginAttempt();
    void other.forward(toolPiece('{"ci'), h('a'));
    expect([other.committed, other.toolCallsSent, plain.heads]).toEqual([true, true, 1]);
  });

  it('on a Messages sink, a reasoning phase held HOLD_TOOLS_MS starts the stream (the sink pings while the model reasons); elsewhere it is held until content', () => {
    const holding = Object.assign(sink(), { holdsToolCalls: true });
    const plain = sink();
    const ss = new StreamSession(holding, 'fallback', false, () => ({}));
    const chat = new StreamSession(plain, 'fallback', false, () => ({}));
    ss.beginAttempt();
    chat.beginAttempt();
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
    try {
      void ss.forward(reasoning('Let me'), h('a'));
      void chat.forward(reasoning('Let me'), h('a'));
      vi.setSystemTime(1_000_000 + HOLD_TOOLS_MS - 1);
      void ss.forward(reasoning(' think'), h('a'));
      expect([ss.committed, holding.heads]).toEqual([false, 0]);
      vi.setSystemTime(1_000_000 + HOLD_TOOLS_MS);
      void ss.forward(reasoning(' more'), h('a'));
      void chat.forward(reasoning(' more'), h('a'));
      expect([ss.committed, holding.heads]).toEqual([true, 1]);
      expect([chat.committed, plain.heads]).toEqual([false, 0]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('on a chat sink (the client reads reasoning chunks), a reasoning phase held HOLD_TOOLS_MS starts the stream with the reasoning so far, then relays it as it comes; a cut before stays invisible', () => {
    const reasoning = (t: string, role = false): Extract<StreamPiece, { type: 'chunk' }> => ({
      type: 'chunk',
      chunk: { id: 'up', choices: [{ index: 0, delta: { ...(role ? { role: 'assistant', content: null } : {}), reasoning_content: t }, finish_reason: null }] },
      text: '',
      content: false,
      finishReason: null,
      other: t,
    });
    // The chat route's sink is an HttpSink over the client's response.
    const res = { on: () => undefined, socket: {} } as unknown as ServerResponse;
    expect(new HttpSink({ socket: null } as unknown as IncomingMessage, res, {}).showsReasoning).toBe(true);
    const chat = Object.assign(sink(), { showsReasoning: true });
    const ss = new StreamSession(chat, 'fallback', false, () => ({}));
    ss.beginAttempt();
    vi.useFakeTimers({ now: 2_000_000, toFake: ['Date'] });
    try {
      void ss.forward(reasoning('Let me', true), h('a'));
      vi.setSystemTime(2_000_000 + HOLD_TOOLS_MS - 1);
      void ss.forward(reasoning(' think'), h('a'));
      expect([ss.committed, chat.heads, chat.events.length]).toEqual([false, 0, 0]);
      vi.setSystemTime(2_000_000 + HOLD_TOOLS_MS);
      void ss.forward(reasoning(' more'), h('a'));
      void ss.forward(reasoning(' and more'), h('a'));
      void ss.forward(chunk('Hi'), h('a'));
    } finally {
      vi.useRealTimers();
    }
    const deltas = chat.events.map((e) => (JSON.parse(e) as { choices: Array<{ delta: Record<string, unknown> }> }).choices[0]!.delta);
    expect([ss.committed, chat.heads]).toEqual([true, 1]);
    expect(deltas.map((d) => d.reasoning_content ?? d.content)).toEqual(['Let me', ' think', ' more', ' and more', 'Hi']);
    expect(deltas[0]!.role).toBe('assistant');
  });

  it('a stream started by reasoning alone is one whose answer is still to come (freshAnswer: any model may give it); content, a tool call or a relay ends that', () => {
    const reasoning: Extract<StreamPiece, { type: 'chunk' }> = {
      type: 'chunk',
      chunk: { id: 'up', choices: [{ index: 0, delta: { reasoning_content: 'hmm' }, finish_reason: null }] },
      text: '',
      content: false,
      finishReason: null,
      other: 'hmm',
    };
    const chat = Object.assign(sink(), { showsReasoning: true });
    const ss = new StreamSession(chat, 'fallback', false, () => ({}));
    ss.beginAttempt();
    expect(ss.freshAnswer).toBe(false);
    vi.useFakeTimers({ now: 3_000_000, toFake: ['Date'] });
    try {
      void ss.forward({ ...reasoning }, h('a'));
      vi.setSystemTime(3_000_000 + HOLD_TOOLS_MS);
      void ss.forward({ ...reasoning }, h('a'));
    } finally {
      vi.useRealTimers();
    }
    expect([ss.committed, ss.freshAnswer]).toEqual([true, true]);
    // A continuation: its reasoning is not shown, its first content ends the fresh state.
    ss.beginAttempt();
    void ss.forward({ ...reasoning }, h('b'));
    expect(ss.freshAnswer).toBe(true);
    void ss.forward(chunk('Hi'), h('b'));
    expect(ss.freshAnswer).toBe(false);
    // A stream that began at its content never is one.
    const plain = new StreamSession(sink(), 'fallback', false, () => ({}));
    plain.beginAttempt();
    void plain.forward(chunk('Hi', true), h('a'));
    expect([plain.committed, plain.freshAnswer]).toEqual([true, false]);
  });

  it('holds role-only chunks until the first content, then commits once', async () => {
    const s = sink();
    const ss = new StreamSession(s, 'fallback', false, () => ({}));
    ss.beginAttempt();
    await ss.forward(chunk(null, true), h('a'));
    expect(s.heads).toBe(0);
    expect(ss.committed).toBe(false);
    await ss.forward(chunk('Hi'), h('a'));
    expect(s.heads).toBe(1);
    expect(s.events).toHaveLength(2);
  });

  it("a fail-over before the first content: the stream carries the answering attempt's id, not the failed one's (it kept the failed attempt's)", async () => {
    const s = sink();
    const ss = new StreamSession(s, 'fallback', false, () => ({}));
    ss.beginAttempt();
    await ss.forward({ ...chunk(null, true), chunk: { ...chunk(null, true).chunk, id: 'chatcmpl-BAD' } }, h('a'));
    expect(ss.committed).toBe(false);
    ss.beginAttempt();
    const good = chunk('Hi', true);
    await ss.forward({ ...good, chunk: { ...good.chunk, id: 'chatcmpl-GOOD' } }, h('b'));
    const fin = chunk(null, false, 'stop');
    await ss.forward({ ...fin, chunk: { ...fin.chunk, id: 'chatcmpl-GOOD' } }, h('b'));
    expect(s.events.map((e) => (JSON.parse(e) as { id: string }).id)).toEqual(['chatcmpl-GOOD', 'chatcmpl-GOOD']);
  });

  it('a continuation drops its role chunk, keeps id and model, and does not repeat a trimmed seam', async () => {
    const s = sink();
    const ss = new StreamSession(s, 'fallback', false, () => ({}));
    ss.beginAttempt();
    await ss.forward(chunk('Hello', true), h('a'));
    await ss.forward(chunk(' world '), h('a'));
    ss.beginAttempt();
    ss.prefillSent('Hello world');
    await ss.forward(chunk('', true), h('b'));
    await ss.forward(chunk(' again'), h('b'));
    await ss.forward(chunk(null, false, 'stop'), h('b'));
    expect(text(s.events)).toBe('Hello world again');
    expect(ss.delivered).toBe('Hello world again');
    const parsed = s.events.map((e) => JSON.parse(e) as { id: string; model: string; choices: Array<{ delta: { role?: string } }> });
    expect(new Set(parsed.map((p) => p.id)).size).toBe(1);
    expect(new Set(parsed.map((p) => p.model))).toEqual(new Set(['a']));
    expect(parsed.filter((p) => p.choices[0]?.delta.role).length).toBe(1);
  });

  it('keeps whitespace the continuation did not repeat', async () => {
    const s = sink();
    const ss = new StreamSession(s, 'fallback', false, () => ({}));
    ss.beginAttempt();
    await ss.forward(chunk('Hello '), h('a'));
    ss.beginAttempt();
    ss.prefillSent('Hello');
    await ss.forward(chunk('there'), h('b'));
    expect(text(s.events)).toBe('Hello there');
  });

  it('an untrimmed prefill strips nothing', async () => {
    const s = sink();
    const ss = new StreamSession(s, 'fallback', false, () => ({}));
    ss.beginAttempt();
    await ss.forward(chunk('Hello '), h('a'));
    ss.beginAttempt();
    ss.prefillSent('Hello ');
    await ss.forward(chunk(' spaced'), h('b'));
    expect(text(s.events)).toBe('Hello  spaced');
  });

  it('a failure after the commit is an in-band error, never a [DONE]', async () => {
    const s = sink();
    const ss = new StreamSession(s, 'fallback', false, () => ({}));
    ss.beginAttempt();
    await ss.forward(chunk('partial'), h('a'));
    ss.fail(new SwitchyardError('upstream_error', 'cut'), {});
    expect(s.events.at(-1)).toContain('"upstream_error"');
    expect(s.events).not.toContain('[DONE]');
    expect(s.ended).toBe(true);
  });
});

describe('the usage chunk', () => {
  it('is byte-identical to JSON.stringify of the chunk object, for any id, model, created and counts', () => {
    const n = fc.oneof(
      fc.nat(),
      fc.double(),
      fc.constantFrom(0, -1, 1e21, 1e-7, Number.NaN, Infinity),
      fc.constant(undefined),
      fc.constant(null),
    ) as fc.Arbitrary<number>;
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme' }),
        fc.oneof(fc.nat(), fc.double()),
        fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\u2028', 'é', '😀', '\u0001') })),
        n,
        n,
        fc.option(n, { nil: undefined }),
        fc.option(n, { nil: undefined }),
        fc.record({ service_tier: fc.string(), system_fingerprint: fc.string({ unit: fc.constantFrom('"', '\\', 'a', '\u2028') }) }, { requiredKeys: [] }),
        (id, created, model, promptTokens, completionTokens, cachedTokens, reasoningTokens, envelope) => {
          const u = { promptTokens, completionTokens, cachedTokens, reasoningTokens };
          expect(usageChunk(id, created, model, u, envelope)).toBe(usageChunkSlow(id, created, model, u, envelope));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("relays the upstream's other detail counts (prediction, audio tokens) as the non-streamed answer does", () => {
    const u = usageFromOpenAI({
      prompt_tokens: 100,
      completion_tokens: 50,
      total_tokens: 150,
      prompt_tokens_details: { cached_tokens: 64, audio_tokens: 3, note: 'sk-not-a-count' },
      completion_tokens_details: { reasoning_tokens: 20, audio_tokens: 0, accepted_prediction_tokens: 10, rejected_prediction_tokens: 5 },
    })!;
    const chunk = JSON.parse(usageChunk('c1', 1, 'm', u)) as { usage: Record<string, unknown> };
    expect(chunk.usage).toEqual({
      prompt_tokens: 100,
      completion_tokens: 50,
      total_tokens: 150,
      prompt_tokens_details: { audio_tokens: 3, cached_tokens: 64 },
      completion_tokens_details: { audio_tokens: 0, accepted_prediction_tokens: 10, rejected_prediction_tokens: 5, reasoning_tokens: 20 },
    });
    // Only counts: a string an upstream put there is not relayed.
    expect(JSON.stringify(chunk)).not.toContain('sk-not-a-count');
    expect(usageChunk('c1', 1, 'm', u)).toBe(usageChunkSlow('c1', 1, 'm', u));
  });

  it('shows cache writes as billed, not as the upstream reported them (150 writes for a prompt of 100 were relayed as 150)', () => {
    const raw = usageFromOpenAI({ prompt_tokens: 100, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 150 } })!;
    // What the driver bills (withinReservation): writes held within the prompt.
    const billed = { ...raw, cacheCreationTokens: 100 };
    const chunk = JSON.parse(usageChunk('c1', 1, 'm', billed)) as { usage: { prompt_tokens_details: Record<string, unknown> } };
    expect(chunk.usage.prompt_tokens_details).toEqual({ cached_tokens: 0, cache_write_tokens: 100 });
    // An Anthropic-kind upstream's writes shown in the chat usage too (they were left out).
    const anthropic = JSON.parse(usageChunk('c1', 1, 'm', { promptTokens: 90, completionTokens: 10, cachedTokens: 40, cacheCreationTokens: 20 })) as {
      usage: { prompt_tokens_details: Record<string, unknown> };
    };
    expect(anthropic.usage.prompt_tokens_details).toEqual({ cached_tokens: 40, cache_write_tokens: 20 });
    expect(JSON.parse(usageChunk('c1', 1, 'm', { promptTokens: 9, completionTokens: 1 }))).toMatchObject({
      usage: { prompt_tokens_details: { cached_tokens: 0 } },
    });
  });
});

describe('a native relay', () => {
  function relaySink() {
    const s = sink();
    const events: Array<[string, string]> = [];
    return Object.assign(s, {
      relayed: events,
      native: { startStream: (hd: Record<string, string>) => s.startStream(hd), event: (name: string, data: string) => (events.push([name, data]), true) },
    });
  }
  const native = (name: string, data: object, content = false): Extract<StreamPiece, { type: 'native' }> => ({
    type: 'native',
    name,
    data: JSON.stringify(data),
    content,
    text: '',
    finishReason: null,
    messageStart: name === 'message_start',
  });
  const start = (usage: object) => native('message_start', { type: 'message_start', message: { id: 'm', type: 'message', model: 'up', usage } });
  const delta = (usage: object) => native('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage });
  const text = native('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hi' } }, true);

  it("shows usage over the attempt's bounds as its row bills it (held), and usage within them byte for byte as it came", () => {
    const bounds = { prompt: 50, cap: 100, promptEstimate: () => 7 };
    const over = relaySink();
    const ss = new StreamSession(over, 'fallback', false, () => ({}));
    ss.beginAttempt(true, bounds);
    ss.relay(start({ input_tokens: 10_000, cache_read_input_tokens: 5, output_tokens: 1 }), h('claude'));
    ss.relay(text, h('claude'));
    ss.relay(delta({ output_tokens: 100_000 }), h('claude'));
    const shown = over.relayed.map(([, d]) => JSON.parse(d) as { message?: { usage: object; model: string }; usage?: object });
    // The whole prompt held to its bound as input (no cache split), the output to the cap: what the row bills.
    expect(shown[0]!.message).toMatchObject({ model: 'claude', usage: { input_tokens: 50, cache_read_input_tokens: 0, output_tokens: 1 } });
    expect(shown[2]!.usage).toEqual({ output_tokens: 100 });
    const within = relaySink();
    const ok = new StreamSession(within, 'fallback', false, () => ({}));
    ok.beginAttempt(true, bounds);
    const d = delta({ output_tokens: 12 });
    ok.relay(start({ input_tokens: 20, output_tokens: 1 }), h('claude'));
    ok.relay(text, h('claude'));
    ok.relay(d, h('claude'));
    expect(within.relayed[2]![1]).toBe(d.data);
    expect(JSON.parse(within.relayed[0]![1])).toMatchObject({ message: { usage: { input_tokens: 20, output_tokens: 1 } } });
  });

  it.each([
    ['negative', { input_tokens: -5, output_tokens: -1 }, { output_tokens: -1 }],
    ['strings', { input_tokens: '20', output_tokens: '1' }, { output_tokens: '30' }],
    ['none', undefined, undefined],
    ['a final 0 (a placeholder; the row estimates)', { input_tokens: 7, output_tokens: 0 }, { output_tokens: 0 }],
  ])(
    "counts that cannot be read (%s) are shown as the row bills them: the prompt's estimate at the start, the billed counts in message_delta (they were relayed as they came)",
    (_k, startUsage, deltaUsage) => {
      const out = relaySink();
      const ss = new StreamSession(out, 'fallback', false, () => ({}));
      ss.beginAttempt(true, { prompt: 50, cap: 100, promptEstimate: () => 7 });
      ss.relay(native('message_start', { type: 'message_start', message: { id: 'm', type: 'message', model: 'up', usage: startUsage } }), h('claude'));
      ss.relay(text, h('claude'));
      ss.relay(native('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: deltaUsage }), h('claude'));
      ss.relay(native('message_stop', { type: 'message_stop' }), h('claude'));
      // The delta and what follows it wait for the end, when the billed counts are known.
      expect(out.relayed.map(([n]) => n)).toEqual(['message_start', 'content_block_delta']);
      ss.finish(h('claude'), { promptTokens: 7, completionTokens: 3 });
      expect(out.relayed.map(([n]) => n)).toEqual(['message_start', 'content_block_delta', 'message_delta', 'message_stop']);
      expect(JSON.parse(out.relayed[0]![1])).toMatchObject({ message: { model: 'claude', usage: { input_tokens: 7, output_tokens: 0 } } });
      expect(JSON.parse(out.relayed[2]![1])).toEqual({
        type: 'message_delta',
        delta: { stop_reason: 'end_turn' },
        usage: { input_tokens: 7, output_tokens: 3 },
      });
    },
  );
});

describe('StreamSession on a Responses sink', () => {
  it('a reasoning phase held HOLD_TOOLS_MS starts a Responses stream: the reasoning is a reasoning item (reasoning_text deltas), closed before the answer; a reasoning item sent back as input is taken', () => {
    const events: Array<Record<string, unknown>> = [];
    const out = {
      started: false,
      signal: new AbortController().signal,
      startStream() {
        out.started = true;
      },
      writeEvent(_name: string | null, data: string) {
        events.push(JSON.parse(data) as Record<string, unknown>);
        return true;
      },
      drain: () => Promise.resolve(),
      end: () => undefined,
      json: () => undefined,
    };
    const log = { warn: () => undefined } as unknown as RequestLog;
    const rs = new ResponsesSink(out as unknown as HttpSink, {
      shell: { id: 'resp_1', createdAt: 1, model: 'm', echo: {} },
      store: null,
      keyId: null,
      conversation: [],
      inputItems: [],
      log,
    });
    const ss = new StreamSession(rs, 'fallback', false, () => ({}));
    ss.beginAttempt();
    vi.useFakeTimers({ now: 3_000_000, toFake: ['Date'] });
    try {
      void ss.forward(reasoning('Let me'), h('a'));
      vi.setSystemTime(3_000_000 + HOLD_TOOLS_MS - 1);
      void ss.forward(reasoning(' think'), h('a'));
      expect([ss.committed, out.started, events.length]).toEqual([false, false, 0]);
      vi.setSystemTime(3_000_000 + HOLD_TOOLS_MS);
      void ss.forward(reasoning(' more'), h('a'));
      expect([ss.committed, out.started]).toEqual([true, true]);
      void ss.forward(chunk('Hi', false, 'stop'), h('a'));
    } finally {
      vi.useRealTimers();
    }
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.reasoning_text.delta',
      'response.reasoning_text.delta',
      'response.reasoning_text.delta',
      'response.reasoning_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
    ]);
    expect(events.filter((e) => e.type === 'response.reasoning_text.delta').map((e) => e.delta)).toEqual(['Let me', ' think', ' more']);
    expect(events[9]).toMatchObject({
      output_index: 0,
      item: { type: 'reasoning', summary: [], content: [{ type: 'reasoning_text', text: 'Let me think more' }], status: 'completed' },
    });
    expect(events[10]).toMatchObject({ output_index: 1, item: { type: 'message' } });
    // The stream's output passed back as input (the SDK's round trip) keeps working: the reasoning item is not sent on.
    const item = (events[9] as { item: Record<string, unknown> }).item;
    expect(inputMessages([{ role: 'user', content: 'Hi' }, item, { type: 'message', role: 'assistant', content: 'Hi' }])).toEqual([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hi' },
    ]);
    expect(inputItemsOf([item])).toEqual([{ id: item.id, type: 'reasoning', summary: [], content: [{ type: 'reasoning_text', text: 'Let me think more' }] }]);
  });
});

describe('StreamSession on a legacy Completions sink', () => {
  function completions() {
    const wire: string[] = [];
    const out = {
      started: false,
      heads: 0,
      signal: new AbortController().signal,
      startStream() {
        out.heads++;
        out.started = true;
      },
      write(data: string) {
        wire.push(`data: ${data}`);
        return true;
      },
      comment(text: string) {
        wire.push(`: ${text}`);
        return true;
      },
      drain: () => Promise.resolve(),
      end: () => undefined,
      json: () => undefined,
    };
    const ss = new StreamSession(new CompletionsSink(out as unknown as HttpSink, null), 'fallback', false, () => ({}));
    ss.beginAttempt();
    return { ss, out, wire };
  }
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  const text = (line: string | undefined) => (JSON.parse(line!.slice('data: '.length)) as { choices: Array<{ text: string }> }).choices[0]?.text;

  it('a reasoning phase held HOLD_TOOLS_MS starts the stream (its headers) and keeps it alive with SSE comments until the text (it sent nothing at all)', async () => {
    const { ss, out, wire } = completions();
    vi.useFakeTimers({ now: 4_000_000, toFake: ['Date'] });
    try {
      void ss.forward(reasoning('Let me'), h('a'));
      vi.setSystemTime(4_000_000 + HOLD_TOOLS_MS - 1);
      void ss.forward(reasoning(' think'), h('a'));
      await turn();
      expect([ss.committed, out.heads, wire]).toEqual([false, 0, []]);
      vi.setSystemTime(4_000_000 + HOLD_TOOLS_MS);
      void ss.forward(reasoning(' more'), h('a'));
      await turn();
      // Started: the headers go with one comment (the reasoning itself has no Completions form).
      expect([ss.committed, out.heads, wire]).toEqual([true, 1, [': keep-alive']]);
      vi.setSystemTime(4_000_000 + HOLD_TOOLS_MS + KEEPALIVE_EVERY_MS - 1);
      void ss.forward(reasoning(' and more'), h('a'));
      expect(wire).toHaveLength(1);
      vi.setSystemTime(4_000_000 + HOLD_TOOLS_MS + KEEPALIVE_EVERY_MS);
      void ss.forward(reasoning(' still'), h('a'));
      expect(wire).toEqual([': keep-alive', ': keep-alive']);
      void ss.forward(chunk('Hi', false, 'stop'), h('a'));
    } finally {
      vi.useRealTimers();
    }
    expect(wire).toHaveLength(3);
    expect(JSON.parse(wire[2]!.slice('data: '.length))).toMatchObject({ object: 'text_completion', choices: [{ text: 'Hi', finish_reason: 'stop' }] });
  });

  it('a short reasoning phase before the text: the stream starts at the text, with no comment', async () => {
    const { ss, out, wire } = completions();
    void ss.forward(reasoning('Let me think'), h('a'));
    void ss.forward(chunk('Hi'), h('a'));
    await turn();
    expect([out.heads, wire.length, text(wire[0])]).toEqual([1, 1, 'Hi']);
  });
});
