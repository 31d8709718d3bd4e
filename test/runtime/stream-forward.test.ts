/** Stream chunks forwarded as the upstream wrote them when nothing needs rewriting: byte-identical to the rewrite path. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { EndpointHandle } from '../../src/runtime/endpoints.js';
import { StreamSession } from '../../src/runtime/stream-session.js';
import { recordingSink } from './recording-sink.js';
import { openaiAdapter } from '../../src/upstream/adapters/openai.js';
import { SseParser } from '../../src/upstream/sse.js';
import type { StreamPiece } from '../../src/upstream/types.js';

const CREATED = 1_764_000_000;

const sink = () => recordingSink();

const h = { model: 'gpt-4.1', id: 'openai/gpt-4.1' } as unknown as EndpointHandle;

/** An upstream stream as OpenAI (and the simulator) write it: compact JSON, one event per chunk. */
function upstream(texts: string[], over: { model?: string; created?: number; id?: string } = {}): string {
  const base = { id: over.id ?? 'chatcmpl-up', object: 'chat.completion.chunk', created: over.created ?? CREATED, model: over.model ?? 'gpt-4.1' };
  const chunks = [
    { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
    ...texts.map((t) => ({ ...base, choices: [{ index: 0, delta: { content: t }, finish_reason: null }] })),
    { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
  ];
  return chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('');
}

async function relay(sse: string, keepRaw: boolean): Promise<{ events: string[]; raws: number }> {
  const s = sink();
  const session = new StreamSession(s, 'chatcmpl-fallback', false, () => ({}), CREATED);
  session.beginAttempt();
  const decoder = openaiAdapter.streamDecoder();
  let raws = 0;
  for (const ev of new SseParser().push(sse)) {
    for (const p of decoder.decode(ev) as StreamPiece[]) {
      if (p.type !== 'chunk') continue;
      if (p.raw !== undefined) raws++;
      if (!keepRaw) delete p.raw;
      await session.forward(p, h);
    }
  }
  return { events: s.events, raws };
}

describe('stream forwarding as is', () => {
  it('writes exactly the bytes of the rewrite path (property over contents, incl. unicode and escapes)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ unit: 'grapheme' }), { minLength: 1, maxLength: 8 }), async (texts) => {
        const sse = upstream(texts);
        const fast = await relay(sse, true);
        const slow = await relay(sse, false);
        expect(fast.raws).toBeGreaterThan(0);
        expect(fast.events).toEqual(slow.events);
      }),
      { numRuns: 200 },
    );
  });

  it('the fast path really forwards the upstream text', async () => {
    const sse = upstream(['Hel', 'lo']);
    const datas = sse
      .split('\n\n')
      .filter(Boolean)
      .map((l) => l.slice('data: '.length));
    expect((await relay(sse, true)).events).toEqual(datas);
  });

  it('rewrites when the model or the created time differ, as before', async () => {
    for (const over of [{ model: 'gpt-4.1-2025-04-14' }, { created: CREATED + 1 }]) {
      const fast = await relay(upstream(['a', 'b'], over), true);
      expect(fast.events).toEqual((await relay(upstream(['a', 'b'], over), false)).events);
      const first = JSON.parse(fast.events[0]!) as { model: string; created: number };
      expect([first.model, first.created]).toEqual(['gpt-4.1', CREATED]);
    }
  });
});
