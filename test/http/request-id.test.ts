import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { timeOrderedId } from '../../src/http/request-id.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('timeOrderedId', () => {
  it('is a UUIDv7 whose first 48 bits are the time in ms', () => {
    const at = Date.UTC(2026, 10, 29, 5, 30, 0, 123);
    const id = timeOrderedId(at);
    expect(id).toMatch(V7);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(at);
  });

  it('sorts by creation time (so ledger inserts append to the primary key)', () => {
    const ids = Array.from({ length: 200 }, (_, i) => timeOrderedId(1_700_000_000_000 + i * 7));
    expect([...ids].sort()).toEqual(ids);
  });

  it('differs between two ids of the same millisecond', () => {
    const a = timeOrderedId(1_700_000_000_000);
    const b = timeOrderedId(1_700_000_000_000);
    expect(a).not.toBe(b);
    expect(a.slice(0, 13)).toBe(b.slice(0, 13));
  });
});

describe('timeOrderedId, the time part kept per millisecond', () => {
  it('is the id built afresh for each time (property)', () => {
    const fresh = (at: number, u: string): string => {
      const t = Math.max(0, Math.floor(at)).toString(16).padStart(12, '0').slice(-12);
      return `${t.slice(0, 8)}-${t.slice(8)}-7${u.slice(15)}`;
    };
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: -5, max: 2 ** 50 }), fc.double({ min: 0, max: 2 ** 49, noNaN: true }), fc.constant(1_700_000_000_000)), {
          maxLength: 30,
        }),
        (times) => {
          for (const at of times) {
            const id = timeOrderedId(at);
            expect(id).toMatch(V7);
            expect(id).toBe(fresh(at, id));
          }
        },
      ),
    );
  });
});
