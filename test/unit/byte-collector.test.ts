/**
 * ByteCollector (src/upstream/byte-collector.ts): the body a request or an upstream answer
 * arrives as, whatever its pieces — the same bytes as concatenating them, one piece kept as it
 * came, nothing kept past the limit.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteCollector } from '../../src/upstream/byte-collector.js';
import { HeldShare, type HeldPool } from '../../src/upstream/held-bytes.js';

describe('ByteCollector', () => {
  it('gives the concatenation of any pieces, with or without a declared length', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 60 }), fc.boolean(), (pieces, declare) => {
        const whole = Buffer.concat(pieces.map((p) => Buffer.from(p)));
        const c = new ByteCollector(10_000, declare ? whole.length : NaN);
        for (const p of pieces) expect(c.add(Buffer.from(p))).toBe(true);
        expect(c.size).toBe(whole.length);
        expect(c.bytes().equals(whole)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps a body in one piece as it came (no copy), and an empty one as empty', () => {
    const one = Buffer.from('{"model":"m"}');
    const c = new ByteCollector(100);
    c.add(one);
    expect(c.bytes()).toBe(one);
    expect(new ByteCollector(100).bytes().length).toBe(0);
  });

  it('refuses the piece that would pass the limit, and holds nothing after it', () => {
    const c = new ByteCollector(5);
    expect(c.add(Buffer.from('abc'))).toBe(true);
    expect(c.add(Buffer.from('de'))).toBe(true);
    expect(c.add(Buffer.from('f'))).toBe(false);
    expect(c.bytes().length).toBe(0);
  });

  it('a body sized to its declared length counts what has come against its share, not the length declared; the share refuses past its limit', () => {
    const pool: HeldPool = { held: 0 };
    const c = new ByteCollector(4_194_304, 4_194_000, new HeldShare(1_000, pool));
    expect(c.add(Buffer.from('{"a":'))).toBe(true);
    expect(c.add(Buffer.from('"bc"'))).toBe(true);
    expect(pool.held).toBe(9);
    expect(c.add(Buffer.alloc(900, 0x20))).toBe(true);
    expect(pool.held).toBe(909);
    expect(c.add(Buffer.alloc(100, 0x20))).toBe(false);
    expect(c.overShared).toBe(true);
    expect(pool.held).toBe(0);
  });
});
