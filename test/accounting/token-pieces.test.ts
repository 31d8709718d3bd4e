/** Bounded tokenizer pieces: lossless, bounded, and exact on ordinary text. */
import fc from 'fast-check';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it, vi } from 'vitest';
import { boundedPieces, countInPieces, MAX_PIECE_CHARS } from '../../src/accounting/token-pieces.js';
import { countTextTokens, EXACT_TEXT_CHARS, loadTokenizer } from '../../src/accounting/tokens.js';

const PLAIN = { disallowedSpecial: new Set<string>() };

describe('boundedPieces', () => {
  it('concatenates back to the text, never exceeds the bound, never splits a surrogate pair (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 5000 }), fc.integer({ min: 300, max: 2000 }), (text, max) => {
        const pieces = [...boundedPieces(text, max)];
        expect(pieces.join('')).toBe(text);
        for (const p of pieces) {
          expect(p.length).toBeLessThanOrEqual(max);
          expect(p.length).toBeGreaterThan(0);
        }
        for (let i = 1; i < pieces.length; i++) {
          const prev = pieces[i - 1]!;
          const joinsPair = /[\uD800-\uDBFF]$/.test(prev) && /^[\uDC00-\uDFFF]/.test(pieces[i]!);
          expect(joinsPair).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('cuts a run without whitespace into bounded pieces', () => {
    const pieces = [...boundedPieces('a'.repeat(10 * MAX_PIECE_CHARS + 5))];
    expect(pieces).toHaveLength(11);
  });

  it('counts ordinary prose exactly as the whole text', () => {
    const prose = 'The harbour master counted ships at dawn, and again at dusk; nobody knew why. '.repeat(100);
    expect(prose.length).toBeLessThanOrEqual(EXACT_TEXT_CHARS);
    expect(countTextTokens(prose)).toBe(countTokens(prose, PLAIN));
    // Longer, it is sampled: windows cut at whitespace keep it close.
    const long = prose.repeat(40);
    expect(Math.abs(countTextTokens(long) - countTokens(long, PLAIN)) / countTokens(long, PLAIN)).toBeLessThan(0.005);
  });

  it('counts a long run of one letter like the tokenizer does on a short one (same ratio)', () => {
    expect(countTextTokens('a'.repeat(64 * 1024))).toBe(countTokens('a'.repeat(1024), PLAIN) * 64);
  });

  it('estimates a text beyond EXACT_TEXT_CHARS from windows over all of it, scaled to its length', () => {
    const unit = 'one two three four five six seven. ';
    const long = unit.repeat(Math.ceil((2 * EXACT_TEXT_CHARS) / unit.length));
    const exact = countTokens(long, PLAIN);
    expect(Math.abs(countTextTokens(long) - exact) / exact).toBeLessThan(0.01);
    // English, then as much CJK (several tokens a character more): the head alone said English's rate.
    const mixed = unit.repeat(Math.ceil(300_000 / unit.length)) + '中文字符的令牌化测试用例'.repeat(25_000);
    const mixedExact = countInPieces(mixed, (p) => countTokens(p, PLAIN));
    expect(Math.abs(countTextTokens(mixed) - mixedExact) / mixedExact).toBeLessThan(0.05);
  });

  it('hands the tokenizer at most EXACT_TEXT_CHARS characters of one text, however long (the event loop is never held long)', () => {
    const tok = loadTokenizer();
    const spy = vi.spyOn(tok, 'countTokens');
    try {
      const cjk = Array.from({ length: 1_000_000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20000))).join('');
      expect(countTextTokens(cjk)).toBeGreaterThan(500_000);
      const handed = spy.mock.calls.reduce((a, [piece]) => a + (piece as string).length, 0);
      expect(handed).toBeLessThanOrEqual(EXACT_TEXT_CHARS);
    } finally {
      spy.mockRestore();
    }
  });
});
