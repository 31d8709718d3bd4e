/**
 * Stream chunks matched to their stream's template instead of parsed (src/upstream/chunk-template.ts):
 * every piece, and every byte the client gets, is the same as when each chunk is parsed.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { EndpointHandle } from '../../src/runtime/endpoints.js';
import { StreamSession } from '../../src/runtime/stream-session.js';
import { recordingSink } from './recording-sink.js';
import { OpenAIStreamDecoder } from '../../src/upstream/adapters/openai.js';
import { SseParser } from '../../src/upstream/sse.js';
import type { StreamPiece } from '../../src/upstream/types.js';

const CREATED = 1_764_000_000;

const sink = () => recordingSink({ markStart: true });

const h = { model: 'gpt-4.1', id: 'openai/gpt-4.1' } as unknown as EndpointHandle;

/** Non-ASCII written as \uXXXX escapes, as upstreams serialising with Python's json.dumps send it. */
const asciiJson = (v: unknown): string => JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

interface Shape {
  /** Extra envelope fields (OpenAI's system_fingerprint, service_tier). */
  extra?: Record<string, unknown>;
  /** `logprobs: null` in each choice, as OpenAI writes it. */
  logprobs?: boolean;
  /** A field after the choices that changes every chunk (OpenAI's `obfuscation`). */
  varying?: boolean;
  ascii?: boolean;
  model?: string;
}

function upstream(texts: string[], shape: Shape = {}): string {
  const base = { id: 'chatcmpl-up', object: 'chat.completion.chunk', created: CREATED, model: shape.model ?? 'gpt-4.1', ...shape.extra };
  const choice = (delta: Record<string, unknown>, finish: string | null) => ({
    index: 0,
    delta,
    ...(shape.logprobs ? { logprobs: null } : {}),
    finish_reason: finish,
  });
  let n = 0;
  const tail = (): Record<string, unknown> => (shape.varying ? { obfuscation: `x${n++}` } : {});
  const chunks = [
    { ...base, choices: [choice({ role: 'assistant', content: '' }, null)], ...tail() },
    ...texts.map((t) => ({ ...base, choices: [choice({ content: t }, null)], ...tail() })),
    { ...base, choices: [choice({}, 'stop')], ...tail() },
    { ...base, choices: [], usage: { prompt_tokens: 5, completion_tokens: texts.length, total_tokens: 5 + texts.length } },
  ];
  const enc = shape.ascii ? asciiJson : JSON.stringify;
  return `${chunks.map((c) => `data: ${enc(c)}\n\n`).join('')}data: [DONE]\n\n`;
}

/** Every piece as plain data (the chunk as its JSON), and what a session writes from them. */
async function relay(sse: string, templates: boolean, wantUsage = true) {
  const s = sink();
  const session = new StreamSession(s, 'chatcmpl-fallback', wantUsage, () => ({}), CREATED);
  session.beginAttempt();
  const decoder = new OpenAIStreamDecoder({ templates });
  const pieces: unknown[] = [];
  let matched = 0;
  for (const ev of new SseParser().push(sse)) {
    for (const p of decoder.decode(ev) as StreamPiece[]) {
      if (p.type === 'chunk') {
        if (p.shape !== undefined) matched++;
        await session.forward(p, h);
        // After forward (which may rewrite the chunk), as the slow path leaves it.
        pieces.push({ text: p.text, content: p.content, finishReason: p.finishReason, raw: p.raw, chunk: JSON.stringify(p.chunk) });
      } else pieces.push(p);
    }
  }
  session.finish(h, { promptTokens: 5, completionTokens: 3 });
  return { pieces, events: s.events, delivered: session.delivered, matched };
}

const text = fc.oneof(
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\u0001', '\u2028', 'é', '😀', 'a', ' ', '}', ']', ',', ':') }),
);

describe('stream chunks matched to a template', () => {
  it('give the same pieces and bytes as parsing every chunk (property over contents and envelopes)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(text, { minLength: 1, maxLength: 10 }),
        fc.record({ logprobs: fc.boolean(), ascii: fc.boolean(), extra: fc.constantFrom(undefined, { system_fingerprint: 'fp_1', service_tier: 'default' }) }),
        fc.boolean(),
        async (texts, shape, wantUsage) => {
          const sse = upstream(texts, shape);
          const fast = await relay(sse, true, wantUsage);
          const slow = await relay(sse, false, wantUsage);
          expect(slow.matched).toBe(0);
          expect(fast.pieces).toEqual(slow.pieces);
          expect(fast.events).toEqual(slow.events);
          expect(fast.delivered).toBe(slow.delivered);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('really skips the parse: every content chunk after the first is matched and forwarded as the upstream wrote it', async () => {
    const texts = ['Hel', 'lo', ' wor', 'ld', '!'];
    const sse = upstream(texts, { logprobs: true, extra: { system_fingerprint: 'fp_1' } });
    const fast = await relay(sse, true);
    expect(fast.matched).toBe(texts.length - 1);
    const datas = sse
      .split('\n\n')
      .filter(Boolean)
      .map((l) => l.slice('data: '.length));
    // role chunk (held, then written as is), the content chunks, the finish chunk: the upstream's own text.
    expect(fast.events.slice(1, 2 + texts.length + 1)).toEqual(datas.slice(0, texts.length + 2));
  });

  it('a field that changes every chunk (OpenAI obfuscation) means no match, and the same output', async () => {
    const sse = upstream(['a', 'b', 'c', 'd'], { varying: true });
    const fast = await relay(sse, true);
    const slow = await relay(sse, false);
    expect(fast.matched).toBe(0);
    expect(fast.events).toEqual(slow.events);
  });

  it('content equal to a later field value is not taken for that field (the position is proven, not searched)', async () => {
    // The second chunk's content "x1" is also its obfuscation value (after the choices); a later
    // chunk has the same content and another obfuscation value.
    const sse = upstream(['x1', 'x1', 'x1'], { varying: true });
    expect(sse.split('\n\n')[1]).toContain('"obfuscation":"x1"');
    const fast = await relay(sse, true);
    const slow = await relay(sse, false);
    expect(fast.pieces).toEqual(slow.pieces);
    expect(fast.delivered).toBe('x1x1x1');
  });

  it('a continuation on another model, or an upstream model name the client does not see, rewrites as before', async () => {
    const sse = upstream(['one', 'two', 'three'], { model: 'gpt-4.1-2025-04-14' });
    const fast = await relay(sse, true);
    const slow = await relay(sse, false);
    expect(fast.matched).toBe(2);
    expect(fast.events).toEqual(slow.events);
    expect(fast.events.filter((e) => e.includes('gpt-4.1-2025-04-14'))).toEqual([]);
  });

  it('an event that only looks like the template (two fields where the content was) is parsed', async () => {
    const sse = upstream(['first', 'second']);
    const second = sse.split('\n\n')[2]!.slice('data: '.length);
    const forged = second.replace('"content":"second"', '"content":"x","extra":"y"');
    expect(forged).not.toBe(second);
    const all = `${sse.split('\n\n').slice(0, 3).join('\n\n')}\n\ndata: ${forged}\n\n`;
    const fast = await relay(all, true);
    const slow = await relay(all, false);
    expect(fast.matched).toBe(1);
    expect(fast.pieces).toEqual(slow.pieces);
    expect(fast.events).toEqual(slow.events);
    expect((fast.pieces.at(-1) as { chunk: string }).chunk).toContain('"extra":"y"');
  });
});
