import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asciiReason, asciiReasonSlow, headerReason, REASON_HEADER_MAX } from '../../src/runtime/request-prep.js';

describe('asciiReason', () => {
  it('equals its slow path (replaces, NFKD, strip) on any text (property)', () => {
    const chars = fc.oneof(
      fc.constantFrom('→', '≥', '≤', '×', 'é', 'ﬁ', '\t', '\n', '\x7f', '\x1f', ' ', '~', 'a', ';', '😀'),
      fc.string({ minLength: 1, maxLength: 1 }),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
    );
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 40 }), (parts) => {
        const s = parts.join('');
        expect(asciiReason(s)).toBe(asciiReasonSlow(s));
      }),
      { numRuns: 5000 },
    );
  });

  it('spells out the symbols of real reasons', () => {
    expect(asciiReason('requested gpt-4.1')).toBe('requested gpt-4.1');
    expect(asciiReason('auto → balanced (prompt ≥ 8000 tokens, 1.5× budget)')).toBe('auto -> balanced (prompt >= 8000 tokens, 1.5x budget)');
    expect(asciiReason('café\tnaïve')).toBe('cafenaive');
    // A keyword with no ASCII form is percent-encoded, not dropped (three Cyrillic keywords left "(, , )").
    expect(asciiReason('3 complexity keywords (сравни, porównaj) ≥ 3')).toBe('3 complexity keywords (%D1%81%D1%80%D0%B0%D0%B2%D0%BD%D0%B8, porownaj) >= 3');
    expect(decodeURIComponent('%D1%81%D1%80%D0%B0%D0%B2%D0%BD%D0%B8')).toBe('сравни');
    for (const s of ['😀 \ud800 x', '中文', '\u0000\u007f']) expect(asciiReason(s)).toMatch(/^[\x20-\x7e]*$/);
    // Marks are dropped from Latin letters only: "рассчитай" decodes as itself, not as "рассчитаи".
    expect(decodeURIComponent(asciiReason('(рассчитай, Ёлка, ﬁle)'))).toBe('(рассчитай, Ёлка, file)');
  });
});

describe('headerReason', () => {
  it('is the ASCII reason, cut to REASON_HEADER_MAX with how long it was and where it is whole (a reason naming 160 models ran to 3 KB, past what a proxy takes)', () => {
    expect(headerReason('scored 0.71 → high_quality')).toBe('scored 0.71 -> high_quality');
    const long = `no model fast enough: ${Array.from({ length: 200 }, (_, i) => `model-${i}`).join(', ')}`;
    const h = headerReason(long);
    expect(h).toHaveLength(REASON_HEADER_MAX);
    expect(h.startsWith('no model fast enough: model-0, model-1,')).toBe(true);
    expect(h.endsWith(` ... (${long.length} characters; the dry run POST /switchyard/route gives it whole)`)).toBe(true);
  });
});
