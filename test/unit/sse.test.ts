import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SseParser, formatSse, type SseEvent } from '../../src/upstream/sse.js';

const enc = new TextEncoder();

const ev = (data: string, extra: Partial<SseEvent> = {}): SseEvent => ({ event: undefined, data, id: undefined, retry: undefined, ...extra });

/** Feed every chunk, then end(); returns all events in order. */
function parseAll(chunks: ReadonlyArray<Uint8Array | string>, parser = new SseParser()): SseEvent[] {
  const out: SseEvent[] = [];
  for (const c of chunks) out.push(...parser.push(c));
  out.push(...parser.end());
  return out;
}

describe('SseParser line ends', () => {
  it('parses LF-terminated events', () => {
    expect(parseAll(['data: one\n\ndata: two\n\n'])).toEqual([ev('one'), ev('two')]);
  });

  it('parses CRLF-terminated events', () => {
    expect(parseAll(['data: one\r\n\r\ndata: two\r\n\r\n'])).toEqual([ev('one'), ev('two')]);
  });

  it('parses lone-CR-terminated events', () => {
    expect(parseAll(['data: one\r\rdata: two\r\r'])).toEqual([ev('one'), ev('two')]);
  });

  it('treats a CRLF split across two chunks as one line end', () => {
    const p = new SseParser();
    const first = p.push(enc.encode('data: a\r'));
    expect(first).toEqual([]);
    // If the LF were a line end of its own, it would be a blank line and dispatch "a" alone.
    const second = p.push(enc.encode('\ndata: b\r\n\r\n'));
    expect(second).toEqual([ev('a\nb')]);
    expect(p.end()).toEqual([]);
  });

  it('keeps a CRLF whole when an empty chunk arrives between CR and LF', () => {
    const chunks = [enc.encode('data: a\r'), new Uint8Array(0), enc.encode('\ndata: b\r\n\r\n')];
    expect(parseAll(chunks)).toEqual([ev('a\nb')]);
  });

  it('returns events as soon as their blank line arrives', () => {
    const p = new SseParser();
    expect(p.push('data: x\n')).toEqual([]);
    expect(p.push('\n')).toEqual([ev('x')]);
  });
});

describe('SseParser fields', () => {
  it('joins multi-line data with "\\n"', () => {
    expect(parseAll(['data: line 1\ndata: line 2\ndata: line 3\n\n'])).toEqual([ev('line 1\nline 2\nline 3')]);
  });

  it('counts comments and produces no event for them', () => {
    const p = new SseParser();
    expect(parseAll([': ping\n\n:another\n\n'], p)).toEqual([]);
    expect(p.comments).toBe(2);
    const q = new SseParser();
    expect(parseAll([': keep-alive\ndata: x\n\n'], q)).toEqual([ev('x')]);
    expect(q.comments).toBe(1);
  });

  it('reads event:, id: and retry: fields', () => {
    const out = parseAll(['event: delta\nid: 42\nretry: 3000\ndata: {"a":1}\n\n']);
    expect(out).toEqual([{ event: 'delta', data: '{"a":1}', id: '42', retry: 3000 }]);
  });

  it('resets event and retry between events but keeps the last id', () => {
    const out = parseAll(['event: a\nid: 7\nretry: 10\ndata: 1\n\ndata: 2\n\n']);
    expect(out).toEqual([ev('1', { event: 'a', id: '7', retry: 10 }), ev('2', { id: '7' })]);
  });

  it('ignores a non-numeric retry and unknown fields', () => {
    expect(parseAll(['retry: soon\nfoo: bar\ndata: x\n\n'])).toEqual([ev('x')]);
  });

  it('treats a field without colon as a field with an empty value', () => {
    expect(parseAll(['data\n\n'])).toEqual([ev('')]);
    expect(parseAll(['data: a\ndata\ndata: b\n\n'])).toEqual([ev('a\n\nb')]);
  });

  it('strips exactly one leading space from the value', () => {
    expect(parseAll(['data:x\n\n'])).toEqual([ev('x')]);
    expect(parseAll(['data: x\n\n'])).toEqual([ev('x')]);
    expect(parseAll(['data:  x\n\n'])).toEqual([ev(' x')]);
    expect(parseAll(['event:  spaced\ndata: y\n\n'])).toEqual([ev('y', { event: ' spaced' })]);
  });

  it('delivers an empty data: line as an event with empty data', () => {
    expect(parseAll(['data:\n\n'])).toEqual([ev('')]);
    expect(parseAll(['data: \n\n'])).toEqual([ev('')]);
  });

  it('does not dispatch a block with no fields at all', () => {
    expect(parseAll(['\n\n\n'])).toEqual([]);
  });
});

describe('SseParser bytes and stream ends', () => {
  it('decodes a UTF-8 multi-byte character split across Buffers', () => {
    const bytes = Buffer.from('data: Grüße 🚀\n\n', 'utf8');
    const u = bytes.indexOf(0xc3); // first byte of "ü"
    const rocket = bytes.indexOf(0xf0); // first byte of the 4-byte emoji
    const chunks = [bytes.subarray(0, u + 1), bytes.subarray(u + 1, rocket + 2), bytes.subarray(rocket + 2, rocket + 3), bytes.subarray(rocket + 3)];
    expect(parseAll(chunks)).toEqual([ev('Grüße 🚀')]);
  });

  it('flushes a last event without a trailing blank line on end()', () => {
    const p = new SseParser();
    expect(p.push('data: first\n\ndata: last')).toEqual([ev('first')]);
    expect(p.end()).toEqual([ev('last')]);
    const q = new SseParser();
    expect(q.push('data: last\n')).toEqual([]);
    expect(q.end()).toEqual([ev('last')]);
  });

  it('end() on an empty parser yields nothing', () => {
    expect(new SseParser().end()).toEqual([]);
  });

  it('delivers what there is when the stream has no [DONE]', () => {
    const out = parseAll(['data: {"choices":[]}\n\ndata: {"choices":[{"index":0}]}\n\n']);
    expect(out.map((e) => e.data)).toEqual(['{"choices":[]}', '{"choices":[{"index":0}]}']);
  });

  it('delivers [DONE] and malformed JSON as plain data strings', () => {
    const out = parseAll(['data: {"choices": [\n\ndata: [DONE]\n\n']);
    expect(out).toEqual([ev('{"choices": ['), ev('[DONE]')]);
  });

  it('returns many events from one chunk in order', () => {
    const n = 500;
    const wire = Array.from({ length: n }, (_, i) => `data: ${i}\n\n`).join('');
    const out = new SseParser().push(enc.encode(wire));
    expect(out).toHaveLength(n);
    expect(out.map((e) => e.data)).toEqual(Array.from({ length: n }, (_, i) => String(i)));
  });
});

describe('formatSse', () => {
  it('encodes single-line, multi-line and named events', () => {
    expect(formatSse('x')).toBe('data: x\n\n');
    expect(formatSse('a\nb')).toBe('data: a\ndata: b\n\n');
    expect(formatSse('{}', 'ping')).toBe('event: ping\ndata: {}\n\n');
  });
});

describe('formatSse → split bytes → SseParser round trip (property)', () => {
  const line = fc.string({ unit: 'binary', maxLength: 12 }).map((s) => s.replace(/[\r\n]/g, ''));
  const event = fc.record({
    lines: fc.array(line, { minLength: 1, maxLength: 3 }),
    event: fc.option(
      fc.string({ unit: 'binary', maxLength: 8 }).map((s) => s.replace(/[\r\n]/g, '')),
      { nil: undefined },
    ),
  });

  it('yields exactly the original events for any split and line-end style', () => {
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 6 }),
        fc.constantFrom('\n', '\r\n', '\r'),
        // Chunk sizes, used round-robin: small sizes put a cut near every byte position.
        fc.array(fc.integer({ min: 1, max: 24 }), { minLength: 1, maxLength: 8 }),
        (events, eol, sizes) => {
          const wire = events
            .map((e) => formatSse(e.lines.join('\n'), e.event))
            .join('')
            .replaceAll('\n', eol);
          const bytes = enc.encode(wire);
          const chunks: Uint8Array[] = [];
          for (let at = 0, k = 0; at < bytes.length; k++) {
            const end = Math.min(bytes.length, at + (sizes[k % sizes.length] ?? 1));
            chunks.push(bytes.subarray(at, end));
            at = end;
          }
          const expected = events.map((e) => ev(e.lines.join('\n'), { event: e.event }));
          expect(parseAll(chunks)).toEqual(expected);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('splits inside every CRLF and every multi-byte character (exhaustive single cut)', () => {
    const wire = (formatSse('äö€', 'größe') + formatSse('𝄞\n x')).replaceAll('\n', '\r\n');
    const bytes = enc.encode(wire);
    const expected = [ev('äö€', { event: 'größe' }), ev('𝄞\n x')];
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(parseAll([bytes.subarray(0, cut), bytes.subarray(cut)]), `cut at ${cut}`).toEqual(expected);
    }
  });
});

describe('SseParser decoding bytes', () => {
  // Bytes that make every kind of UTF-8 trouble: lead bytes, continuations, overlongs, surrogates, a BOM.
  const byte = fc.oneof(
    fc.constantFrom(0x0a, 0x0d, 0x3a, 0x20, 0x64, 0x61, 0x74, 0x61, 0x78, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xbb, 0xf0, 0xf4, 0xf5, 0xff),
    fc.integer({ min: 0, max: 255 }),
  );
  const wireOf = fc.oneof(
    fc.array(byte, { maxLength: 60 }),
    // Mostly well-formed `data:` lines, with a byte order mark at the start now and then.
    fc
      .tuple(fc.boolean(), fc.array(fc.tuple(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('\n', '\r\n', '\r', '\n\n')), { maxLength: 6 }))
      .map(([bom, lines]) => [...(bom ? [0xef, 0xbb, 0xbf] : []), ...enc.encode(lines.map(([t, e]) => `data: ${t}${e}`).join(''))]),
  );

  it('gives for any bytes and any split the events of the text a streaming TextDecoder makes of them (byte-identical data)', () => {
    fc.assert(
      fc.property(wireOf, fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 8 }), fc.boolean(), (wire, sizes, asBuffers) => {
        const bytes = Uint8Array.from(wire);
        const chunks: Uint8Array[] = [];
        for (let at = 0, k = 0; at < bytes.length || k === 0; k++) {
          const end = Math.min(bytes.length, at + (sizes[k % sizes.length] ?? 1));
          const part = bytes.subarray(at, end);
          chunks.push(asBuffers ? Buffer.from(part) : part);
          at = end;
          if (k > 200) break;
        }
        // The reference: one streaming TextDecoder (default options: a leading BOM dropped) over the same chunks.
        const td = new TextDecoder('utf-8');
        const text = chunks.map((c) => td.decode(c, { stream: true })).join('') + td.decode();
        expect(parseAll(chunks)).toEqual(parseAll([text]));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('SseParser event size', () => {
  it('refuses an event larger than its limit, whether one endless line or many data lines, and keeps the ones below it', () => {
    const line = new SseParser(1000);
    expect(line.push(`data: ${'a'.repeat(900)}\n\n`)).toEqual([ev('a'.repeat(900))]);
    line.push('data: {"content":"');
    for (let i = 0; i < 9; i++) line.push('a'.repeat(100));
    expect(() => line.push('a'.repeat(100))).toThrow(/upstream event larger than 1000 characters/);
    const lines = new SseParser(1000);
    for (let i = 0; i < 300; i++) lines.push('data: x\n');
    expect(() => lines.push('data: 0123456789\n'.repeat(40))).toThrow(/upstream event larger than 1000 characters/);
  });
});
