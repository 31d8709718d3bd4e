/** Bounded tokenizer pieces: lossless, bounded, and exact on ordinary text. */
import fc from 'fast-check';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { boundedPieces, MAX_PIECE_CHARS } from '../../src/accounting/token-pieces.js';
import { countTextTokens, EXACT_TEXT_CHARS } from '../../src/accounting/tokens.js';

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
    const prose = 'The harbour master counted ships at dawn, and again at dusk; nobody knew why. '.repeat(400);
    expect(countTextTokens(prose)).toBe(countTokens(prose, PLAIN));
  });

  it('counts a long run of one letter like the tokenizer does on a short one (same ratio)', () => {
    expect(countTextTokens('a'.repeat(64 * 1024))).toBe(countTokens('a'.repeat(1024), PLAIN) * 64);
  });

  it('estimates a text beyond EXACT_TEXT_CHARS from its head, scaled to its length', () => {
    const unit = 'one two three four five six seven. ';
    const long = unit.repeat(Math.ceil((2 * EXACT_TEXT_CHARS) / unit.length));
    const exact = countTokens(long, PLAIN);
    expect(Math.abs(countTextTokens(long) - exact) / exact).toBeLessThan(0.01);
  });
});
