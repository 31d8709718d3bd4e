import fc from 'fast-check';
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { atInId, ID_TIME_SLACK_MS, idFloor, idTime } from '../../src/accounting/ledger-span.js';
import type { LedgerRow, SpendGroup } from '../../src/accounting/ledger.js';
import { SqliteLedger } from '../../src/accounting/sqlite-ledger.js';
import { timeOrderedId } from '../../src/http/request-id.js';
import { makeRow } from './ledger-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'switchyard-span-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const T0 = Date.UTC(2026, 10, 30, 12);

describe('ids and time', () => {
  it("reads the time at the head of switchyard's ids, and nothing from other ids", () => {
    expect(idTime(timeOrderedId(T0))).toBe(T0);
    expect(idTime(timeOrderedId(0))).toBe(0);
    // Upper-case hex in the head (a random UUID's head can be all digits, which case does not change: 0.4 % of runs).
    expect(idTime('ABCDEF01-2345-4678-9ABC-DEF012345678')).toBeNull();
    expect(idTime('req-1')).toBeNull();
    expect(idTime('0192abcd-ef0')).toBeNull();
    expect(idTime(`${timeOrderedId(T0)}#2`)).toBe(T0); // a cascade step's id
  });

  it('finds a row by id only when its at is within the slack of the id time', () => {
    const id = timeOrderedId(T0);
    expect(atInId(id, T0)).toBe(1);
    expect(atInId(id, T0 + ID_TIME_SLACK_MS)).toBe(1);
    expect(atInId(id, T0 - ID_TIME_SLACK_MS)).toBe(1);
    expect(atInId(id, T0 + ID_TIME_SLACK_MS + 1)).toBe(0);
    expect(atInId(id, 1000)).toBe(0);
    expect(atInId('req-1', T0)).toBe(0);
  });

  it('bounds ids by time: every id of time t or later is >= idFloor(t), every earlier one < (property)', () => {
    const time = fc.integer({ min: 0, max: 0xffff_ffff_ffff });
    fc.assert(
      fc.property(time, time, (a, b) => {
        const id = timeOrderedId(a);
        expect(id >= idFloor(b)).toBe(a >= b);
      }),
      { numRuns: 2000 },
    );
    expect(idFloor(-5)).toBe('');
    expect(idFloor(Number.MAX_SAFE_INTEGER) > timeOrderedId(0xffff_ffff_ffff)).toBe(true);
  });
});

/** Rows of every kind: ids with their own time (found by id), ids whose time is far from `at`, ids of other shapes. */
const rowArb = fc
  .record({
    kind: fc.constantFrom('v7', 'v7-far', 'v4', 'plain', 'step'),
    // Mostly within seconds of each other, so spans, slack and ties meet at their edges.
    at: fc.oneof(
      { arbitrary: fc.integer({ min: T0 - 8_000, max: T0 + 8_000 }), weight: 4 },
      { arbitrary: fc.integer({ min: T0 - 3 * 86_400_000, max: T0 + 3 * 86_400_000 }), weight: 1 },
    ),
    off: fc.integer({ min: -ID_TIME_SLACK_MS, max: ID_TIME_SLACK_MS }),
    far: fc.integer({ min: ID_TIME_SLACK_MS + 1, max: 86_400_000 }),
    keyId: fc.constantFrom('a', 'b', null),
    model: fc.constantFrom('m1', 'm2', null),
    costNano: fc.integer({ min: 0, max: 1_000_000 }),
    n: fc.nat(),
  })
  .map((r): LedgerRow => {
    const id =
      r.kind === 'v7'
        ? timeOrderedId(r.at + r.off)
        : r.kind === 'v7-far'
          ? timeOrderedId(r.at + (r.n % 2 === 0 ? r.far : -r.far))
          : r.kind === 'v4'
            ? randomUUID()
            : r.kind === 'step'
              ? `${timeOrderedId(r.at + r.off)}#${1 + (r.n % 3)}`
              : `req-${r.n}-${randomUUID().slice(0, 8)}`;
    return makeRow({ requestId: id, at: r.at, keyId: r.keyId, model: r.model, costNano: r.costNano });
  });

const rangeArb = fc.oneof(
  { arbitrary: fc.tuple(fc.integer({ min: T0 - 10_000, max: T0 + 10_000 }), fc.integer({ min: 0, max: 6_000 })), weight: 3 },
  { arbitrary: fc.tuple(fc.integer({ min: T0 - 4 * 86_400_000, max: T0 + 4 * 86_400_000 }), fc.integer({ min: 0, max: 8 * 86_400_000 })), weight: 1 },
);

function groupOf(r: LedgerRow, g: SpendGroup): string {
  if (g === 'model') return r.model ?? '(none)';
  if (g === 'key') return r.keyId ?? '(none)';
  if (g === 'endpoint') return r.endpoint ?? '(none)';
  return new Date(r.at).toISOString().slice(0, 10);
}

describe('the SQLite ledger keyed by request id answers as a plain scan of its rows would', () => {
  it('spend by scope and group, and the newest rows, on a mix of rows found by id and by the at index (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(rowArb, { minLength: 0, maxLength: 60 }),
        fc.array(rangeArb, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 40 }),
        async (rows, ranges, limit) => {
          files += 1;
          const ledger = SqliteLedger.open(files % 2 === 0 ? ':memory:' : join(dir, `span-${files}.db`));
          try {
            const unique = [...new Map(rows.map((r) => [r.requestId, r])).values()];
            await Promise.all(unique.map((r) => ledger.insert(r)));
            for (const [from, width] of ranges) {
              const to = from + width;
              const inSpan = unique.filter((r) => r.at >= from && r.at < to);
              const sum = (xs: LedgerRow[]): number => xs.reduce((s, r) => s + r.costNano, 0);
              expect(await ledger.spentSince({}, from, to)).toBe(sum(inSpan));
              expect(await ledger.spentSince({ keyId: 'a' }, from, to)).toBe(sum(inSpan.filter((r) => r.keyId === 'a')));
              expect(await ledger.spentSince({ model: 'm2' }, from, to)).toBe(sum(inSpan.filter((r) => r.model === 'm2')));
              expect(await ledger.spentSince({ keyId: 'b', model: 'm1' }, from, to)).toBe(sum(inSpan.filter((r) => r.keyId === 'b' && r.model === 'm1')));
              for (const g of ['model', 'key', 'day'] as const) {
                const want = new Map<string, { requests: number; costNano: number }>();
                for (const r of inSpan) {
                  const k = groupOf(r, g);
                  const t = want.get(k) ?? { requests: 0, costNano: 0 };
                  want.set(k, { requests: t.requests + 1, costNano: t.costNano + r.costNano });
                }
                const got = await ledger.spendBy(g, from, to);
                expect(new Map(got.map((t) => [t.group, { requests: t.requests, costNano: t.costNano }]))).toEqual(want);
              }
            }
            const newest = [...unique].sort((a, b) => b.at - a.at || (a.requestId < b.requestId ? 1 : -1)).slice(0, limit);
            expect((await ledger.rows({ limit })).map((r) => r.requestId)).toEqual(newest.map((r) => r.requestId));
          } finally {
            await ledger.close();
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('lists as newest a row whose id is older than the newer ids but whose at is the latest', async () => {
    const ledger = SqliteLedger.open(':memory:');
    try {
      const early = makeRow({ requestId: timeOrderedId(T0), at: T0 + ID_TIME_SLACK_MS }); // id at the slack's start
      const later = makeRow({ requestId: timeOrderedId(T0 + 1000), at: T0 + 1000 - ID_TIME_SLACK_MS });
      await ledger.insert(early);
      await ledger.insert(later);
      expect((await ledger.rows({ limit: 1 })).map((r) => r.requestId)).toEqual([early.requestId]);
      expect((await ledger.rows({ limit: 2 })).map((r) => r.requestId)).toEqual([early.requestId, later.requestId]);
    } finally {
      await ledger.close();
    }
  });

  it('marks the rows of requests it serves as found by id, and the others as indexed', async () => {
    const path = join(dir, `marks-${++files}.db`);
    const ledger = SqliteLedger.open(path);
    const served = timeOrderedId(T0);
    await ledger.insert(makeRow({ requestId: served, at: T0 + 1 }));
    await ledger.insert(makeRow({ requestId: 'client-chosen', at: T0 }));
    await ledger.insert(makeRow({ requestId: timeOrderedId(T0), at: 5 })); // a simulated clock in a test
    await ledger.close();
    const db = new Database(path, { readonly: true });
    try {
      const marks = db.prepare<[], { request_id: string; at_in_id: number }>('SELECT request_id, at_in_id FROM ledger').all();
      expect(new Map(marks.map((m) => [m.request_id, m.at_in_id])).get(served)).toBe(1);
      expect(marks.filter((m) => m.at_in_id === 0)).toHaveLength(2);
      const indexed = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM ledger INDEXED BY ledger_at WHERE at_in_id = 0 AND at >= 0').get();
      expect(indexed?.n).toBe(2);
    } finally {
      db.close();
    }
  });
});
