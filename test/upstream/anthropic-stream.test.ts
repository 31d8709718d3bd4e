import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { anthropicAdapter } from '../../src/upstream/adapters/anthropic.js';
import { SseParser } from '../../src/upstream/sse.js';
import type { StreamPiece } from '../../src/upstream/types.js';

/** A realistic Anthropic stream (shape of a recorded tool-use answer), as bytes on the wire. */
const RECORDED = [
  'event: message_start',
  'data: {"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":100,"cache_read_input_tokens":1000,"output_tokens":2}}}',
  '',
  'event: content_block_start',
  'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
  '',
  'event: ping',
  'data: {"type": "ping"}',
  '',
  'event: content_block_delta',
  'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay, let\'s check"}}',
  '',
  'event: content_block_delta',
  'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" the weather."}}',
  '',
  'event: content_block_stop',
  'data: {"type":"content_block_stop","index":0}',
  '',
  'event: content_block_start',
  'data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}',
  '',
  'event: content_block_delta',
  'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}',
  '',
  'event: content_block_delta',
  'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"location\\":"}}',
  '',
  'event: content_block_delta',
  'data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \\"San Francisco, CA\\"}"}}',
  '',
  'event: content_block_stop',
  'data: {"type":"content_block_stop","index":1}',
  '',
  'event: message_delta',
  'data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}',
  '',
  'event: message_stop',
  'data: {"type":"message_stop"}',
  '',
  '',
].join('\r\n');

/** Feeds the wire text through the one SSE parser in awkward 7-byte pieces, then the decoder. */
function decodeWire(wire: string, jsonAnswer = false): StreamPiece[] {
  const parser = new SseParser();
  const decoder = anthropicAdapter.streamDecoder(false, jsonAnswer);
  const bytes = new TextEncoder().encode(wire);
  const out: StreamPiece[] = [];
  for (let i = 0; i < bytes.length; i += 7) for (const ev of parser.push(bytes.subarray(i, i + 7))) out.push(...decoder.decode(ev));
  for (const ev of parser.end()) out.push(...decoder.decode(ev));
  return out;
}

const ID = 'msg_014p7gG3wDgGV9EUtLvnow3U';
const MODEL = 'claude-sonnet-4-5-20250929';

function chunk(delta: Record<string, unknown>, finish: string | null = null): Record<string, unknown> {
  return {
    id: ID,
    object: 'chat.completion.chunk',
    created: expect.any(Number) as number,
    model: MODEL,
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
}

describe('anthropic stream decoder', () => {
  it('turns a recorded text + tool_use stream into OpenAI chunks, usage and done', () => {
    const pieces = decodeWire(RECORDED);
    expect(pieces).toEqual([
      { type: 'chunk', chunk: chunk({ role: 'assistant', content: '' }), text: '', content: false, finishReason: null },
      // message_start's counts: a stream cut before message_delta is settled by its exact input count
      { type: 'usage', usage: { promptTokens: 1572, completionTokens: 2, cachedTokens: 1000, cacheCreationTokens: 100 } },
      { type: 'chunk', chunk: chunk({ content: "Okay, let's check" }), text: "Okay, let's check", content: true, finishReason: null },
      { type: 'chunk', chunk: chunk({ content: ' the weather.' }), text: ' the weather.', content: true, finishReason: null },
      {
        type: 'chunk',
        chunk: chunk({ tool_calls: [{ index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
        text: '',
        content: true,
        finishReason: null,
        // Tool-call output is billed as output (estimates of a cut stream count it), never prefill text.
        other: 'get_weather',
      },
      {
        type: 'chunk',
        chunk: chunk({ tool_calls: [{ index: 0, function: { arguments: '{"location":' } }] }),
        text: '',
        content: true,
        finishReason: null,
        other: '{"location":',
      },
      {
        type: 'chunk',
        chunk: chunk({ tool_calls: [{ index: 0, function: { arguments: ' "San Francisco, CA"}' } }] }),
        text: '',
        content: true,
        finishReason: null,
        other: ' "San Francisco, CA"}',
      },
      { type: 'chunk', chunk: chunk({}, 'tool_calls'), text: '', content: false, finishReason: 'tool_calls' },
      // message_delta's counts so far (a stream that ends without message_stop settles by them); prompt = 472 + 1000 cache read + 100 cache creation
      { type: 'usage', usage: { promptTokens: 1572, completionTokens: 89, cachedTokens: 1000, cacheCreationTokens: 100 } },
      { type: 'usage', usage: { promptTokens: 1572, completionTokens: 89, cachedTokens: 1000, cacheCreationTokens: 100 } },
      { type: 'done' },
    ]);
  });

  it('numbers several tool calls and sends {} arguments for one that streamed none', () => {
    const d = anthropicAdapter.streamDecoder();
    const ev = (event: string, data: Record<string, unknown>): StreamPiece[] =>
      d.decode({ event, data: JSON.stringify({ type: event, ...data }), id: undefined, retry: undefined });
    ev('message_start', { message: { id: 'm', model: 'c', usage: { input_tokens: 5, output_tokens: 1 } } });
    ev('content_block_start', { index: 0, content_block: { type: 'tool_use', id: 't0', name: 'now', input: {} } });
    const stop0 = ev('content_block_stop', { index: 0 });
    const start1 = ev('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 't1', name: 'f', input: {} } });
    const delta1 = ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"a":1}' } });
    const stop1 = ev('content_block_stop', { index: 1 });
    const tc = (p: StreamPiece[]): unknown => (p[0]?.type === 'chunk' ? p[0].chunk.choices[0]!.delta.tool_calls : undefined);
    expect(tc(stop0)).toEqual([{ index: 0, function: { arguments: '{}' } }]);
    expect(tc(start1)).toEqual([{ index: 1, id: 't1', type: 'function', function: { name: 'f', arguments: '' } }]);
    expect(tc(delta1)).toEqual([{ index: 1, function: { arguments: '{"a":1}' } }]);
    expect(stop1).toEqual([]);
  });

  it.each([
    ['end_turn', 'stop'],
    ['max_tokens', 'length'],
    ['stop_sequence', 'stop'],
    ['refusal', 'content_filter'],
  ])('maps message_delta stop_reason %s to finish_reason %s', (stop, finish) => {
    const d = anthropicAdapter.streamDecoder();
    const [p] = d.decode({
      event: 'message_delta',
      data: JSON.stringify({ type: 'message_delta', delta: { stop_reason: stop }, usage: { output_tokens: 3 } }),
      id: undefined,
      retry: undefined,
    });
    expect(p).toMatchObject({ type: 'chunk', finishReason: finish, content: false, chunk: { choices: [{ delta: {}, finish_reason: finish }] } });
  });

  it("gives thinking text as reasoning_content chunks that are not content but billed output (other); the signature and the block's empty start nothing", () => {
    const wire = RECORDED.replace(
      'event: content_block_start\r\ndata: {"type":"content_block_start","index":0,',
      'event: content_block_start\r\ndata: {"type":"content_block_start","index":9,"content_block":{"type":"thinking","thinking":""}}\r\n\r\n' +
        'event: content_block_delta\r\ndata: {"type":"content_block_delta","index":9,"delta":{"type":"thinking_delta","thinking":"hmm"}}\r\n\r\n' +
        'event: content_block_delta\r\ndata: {"type":"content_block_delta","index":9,"delta":{"type":"signature_delta","signature":"EqQB"}}\r\n\r\n' +
        'event: content_block_start\r\ndata: {"type":"content_block_start","index":0,',
    );
    expect(wire).not.toBe(RECORDED);
    // Both decoded in the same second (each chunk's `created` is the decode's clock).
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['Date'] });
    try {
      const got = decodeWire(wire);
      const reasoning = got.filter((p) => p.type === 'chunk' && p.other === 'hmm');
      expect(reasoning).toEqual([
        {
          type: 'chunk',
          chunk: expect.objectContaining({ choices: [{ index: 0, delta: { reasoning_content: 'hmm' }, finish_reason: null }] }),
          text: '',
          content: false,
          finishReason: null,
          other: 'hmm',
        },
      ]);
      // Everything else as without the thinking block.
      expect(got.filter((p) => !reasoning.includes(p))).toEqual(decodeWire(RECORDED));
    } finally {
      vi.useRealTimers();
    }
  });

  it('gives an error piece for an error event mid-stream', () => {
    const cut = RECORDED.indexOf('event: content_block_stop');
    const wire = `${RECORDED.slice(0, cut)}event: error\r\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\r\n\r\n`;
    const pieces = decodeWire(wire);
    expect(pieces.filter((p) => p.type === 'chunk' && p.content)).toHaveLength(2);
    expect(pieces[pieces.length - 1]).toEqual({
      type: 'error',
      error: { message: 'Overloaded', type: 'overloaded_error', code: 'overloaded_error', param: null },
    });
    expect(pieces.some((p) => p.type === 'done')).toBe(false);
    // Only message_start's counts came (the input is exact; the output a floor for the estimate).
    expect(pieces.filter((p) => p.type === 'usage')).toEqual([
      { type: 'usage', usage: { promptTokens: 1572, completionTokens: 2, cachedTokens: 1000, cacheCreationTokens: 100 } },
    ]);
  });

  it('reports a malformed event and keeps decoding', () => {
    // Two decoders stamp `created` from the clock: pin it so a second boundary between them cannot differ.
    const now = vi.spyOn(Date, 'now').mockReturnValue(1_767_000_000_000);
    onTestFinished(() => now.mockRestore());
    const wire = RECORDED.replace(
      'event: ping\r\ndata: {"type": "ping"}',
      'event: content_block_delta\r\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_de',
    );
    const pieces = decodeWire(wire);
    // message_start's chunk and counts, then the malformed event, then the rest as without it.
    expect(pieces[2]).toEqual({ type: 'malformed', raw: '{"type":"content_block_delta","index":0,"delta":{"type":"text_de', lost: true });
    expect(pieces.slice(3)).toEqual(decodeWire(RECORDED).slice(2));
  });

  it.each([
    ['negative', '{"output_tokens":-7}'],
    ['a string', '{"output_tokens":"abc"}'],
    ['absent', null],
  ])(
    "a message_delta whose output count is %s leaves the output at 0, a placeholder to estimate, not message_start's 1 (it was billed 1 token for a 600-token tool call)",
    (_k, usage) => {
      for (const relay of [false, true]) {
        const d = anthropicAdapter.streamDecoder(relay);
        const ev = (event: string, data: string) => d.decode({ event, data, id: undefined, retry: undefined });
        ev('message_start', '{"type":"message_start","message":{"id":"m","type":"message","model":"c","usage":{"input_tokens":20,"output_tokens":1}}}');
        ev('message_delta', `{"type":"message_delta","delta":{"stop_reason":"end_turn"}${usage === null ? '' : `,"usage":${usage}`}}`);
        expect(ev('message_stop', '{"type":"message_stop"}')).toContainEqual({ type: 'usage', usage: { promptTokens: 20, completionTokens: 0 } });
      }
    },
  );

  it.each([
    ['a string', '"1500"'],
    ['fractional', '1500.5'],
    ['negative', '-3'],
  ])("a message_delta's cache count that is %s voids the counts (billed at the estimate), not read as 0 nor left at message_start's", (_k, bad) => {
    for (const relay of [false, true])
      for (const key of ['cache_read_input_tokens', 'cache_creation_input_tokens']) {
        const d = anthropicAdapter.streamDecoder(relay);
        const ev = (event: string, data: string) => d.decode({ event, data, id: undefined, retry: undefined });
        ev('message_start', '{"type":"message_start","message":{"id":"m","type":"message","model":"c","usage":{"input_tokens":10,"output_tokens":1}}}');
        const pieces = [
          ...ev('message_delta', `{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5,"${key}":${bad}}}`),
          ...ev('message_stop', '{"type":"message_stop"}'),
        ];
        const usages = pieces.filter((p) => p.type === 'usage');
        expect(usages.length, `${key} relay=${relay}`).toBeGreaterThan(0);
        expect(usages.at(-1), `${key} relay=${relay}`).toEqual({ type: 'usage', usage: null });
      }
  });

  it('ends with done and no usage when the stream carried no usage', () => {
    const d = anthropicAdapter.streamDecoder();
    expect(d.decode({ event: 'message_stop', data: '{"type":"message_stop"}', id: undefined, retry: undefined })).toEqual([{ type: 'done' }]);
  });
});

describe('relay mode (a Messages request answered natively)', () => {
  it('passes every event through as received, with content flags, stop reason and usage read on the way', () => {
    const parser = new SseParser();
    const decoder = anthropicAdapter.streamDecoder(true);
    const pieces = parser.push(RECORDED).flatMap((ev) => decoder.decode(ev));
    const native = pieces.filter((p): p is Extract<StreamPiece, { type: 'native' }> => p.type === 'native');
    // Every event of the recording is relayed, in order, with its own name and data.
    expect(native.map((p) => p.name)).toEqual(
      RECORDED.split('\r\n')
        .filter((l) => l.startsWith('event: '))
        .map((l) => l.slice(7)),
    );
    const dataLines = RECORDED.split('\r\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => l.slice(6));
    expect(native.map((p) => p.data)).toEqual(dataLines);
    // The empty text block's start, ping, stops and message events carry no content; deltas and the tool_use start do.
    expect(native.map((p) => p.content)).toEqual([false, false, false, true, true, false, true, true, true, true, false, false, false]);
    expect(native[0]!.messageStart).toBe(true);
    expect(native.find((p) => p.name === 'message_delta')?.finishReason).toBe('tool_calls');
    expect(pieces.slice(-2)).toEqual([
      { type: 'usage', usage: { promptTokens: 1572, completionTokens: 89, cachedTokens: 1000, cacheCreationTokens: 100 } },
      { type: 'done' },
    ]);
  });

  it('counts thinking and signature deltas as content, never relays an error event, rejoins multi-line data', () => {
    const d = anthropicAdapter.streamDecoder(true);
    const ev = (event: string, data: string) => ({ event, data, id: undefined, retry: undefined });
    const [think] = d.decode(ev('content_block_delta', '{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}'));
    expect(think).toMatchObject({ type: 'native', content: true, text: 'hmm' });
    expect(
      d.decode(ev('content_block_delta', '{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"c2ln"}}'))[0],
    ).toMatchObject({ type: 'native', content: true });
    expect(
      d.decode(ev('content_block_start', '{"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"xx"}}'))[0],
    ).toMatchObject({ content: true });
    expect(d.decode(ev('error', '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'))).toEqual([
      { type: 'error', error: { message: 'Overloaded', type: 'overloaded_error', code: 'overloaded_error', param: null } },
    ]);
    const [split] = d.decode(ev('future_event', '{"type":"future_event",\n"x":1}'));
    expect(split).toMatchObject({ type: 'native', name: 'future_event', data: '{"type":"future_event","x":1}', content: false });
  });
});

describe('a json_schema answer (jsonAnswer): text that does not begin as JSON is held until the stream says what it was', () => {
  const wire = (texts: string[], stop: string): string =>
    [
      `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'm', type: 'message', role: 'assistant', model: 'c', content: [], stop_reason: null, usage: { input_tokens: 3, output_tokens: 1 } } })}\n\n`,
      `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n`,
      ...texts.map(
        (t) => `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: t } })}\n\n`,
      ),
      `event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n`,
      `event: message_delta\ndata: ${JSON.stringify({ type: 'message_delta', delta: { stop_reason: stop }, usage: { output_tokens: 9 } })}\n\n`,
      'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ].join('');
  const deltas = (pieces: StreamPiece[]) =>
    pieces.flatMap((p) => (p.type === 'chunk' ? [[p.chunk.choices[0]!.delta, p.chunk.choices[0]!.finish_reason ?? null, p.content, p.other ?? '']] : []));

  it('a refusal goes out whole as delta.refusal with finish stop (billed as other output), not as content', () => {
    expect(deltas(decodeWire(wire(["I'm sorry, ", 'I cannot help.'], 'refusal'), true))).toEqual([
      [{ role: 'assistant', content: '' }, null, false, ''],
      [{ refusal: "I'm sorry, I cannot help." }, null, true, "I'm sorry, I cannot help."],
      [{}, 'stop', false, ''],
    ]);
  });

  it('JSON goes out as it comes (whitespace before it with it); text that was no refusal goes out as content before its finish', () => {
    expect(deltas(decodeWire(wire(['  ', '{"a":', '1}'], 'end_turn'), true)).slice(1)).toEqual([
      [{ content: '  {"a":' }, null, true, ''],
      [{ content: '1}' }, null, true, ''],
      [{}, 'stop', false, ''],
    ]);
    expect(deltas(decodeWire(wire(['Here ', 'it is'], 'end_turn'), true)).slice(1)).toEqual([
      [{ content: 'Here it is' }, null, true, ''],
      [{}, 'stop', false, ''],
    ]);
    // Without a json_schema format, the same refusal's words are content, finish content_filter.
    expect(deltas(decodeWire(wire(["I'm sorry."], 'refusal'))).slice(1)).toEqual([
      [{ content: "I'm sorry." }, null, true, ''],
      [{}, 'content_filter', false, ''],
    ]);
  });

  it('text held past 4,000 characters is no short refusal: it goes out as content from there', () => {
    const got = deltas(decodeWire(wire(['x'.repeat(3_000), 'y'.repeat(2_000), 'z'], 'end_turn'), true)).slice(1);
    expect(got.map(([d]) => (d as { content?: string }).content?.length)).toEqual([5_000, 1, undefined]);
  });
});
