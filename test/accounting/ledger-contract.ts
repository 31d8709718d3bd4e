/**
 * The behaviour every LedgerStore must show, run against each implementation by its own test
 * file. `open` returns a fresh, empty store each call.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import fc from 'fast-check';
import { costOf } from '../../src/accounting/cost.js';
import { interruptedRow } from '../../src/accounting/ledger-codec.js';
import { NO_GROUP, type LedgerRow, type LedgerStore, type SpendGroup } from '../../src/accounting/ledger.js';

const DAY = 86_400_000;
/** 2024-03-10T00:00:00Z, the start of a UTC day. */
export const T0 = Date.UTC(2024, 2, 10);

let seq = 0;
export function makeRow(over: Partial<LedgerRow> = {}): LedgerRow {
  seq += 1;
  return {
    requestId: `req-${seq}`,
    at: T0 + 1000,
    keyId: 'team-a',
    model: 'gpt-4.1',
    endpoint: 'openai/gpt-4.1',
    attempts: 1,
    promptTokens: 1000,
    completionTokens: 500,
    cachedTokens: 0,
    costNano: 6_000_000,
    estimated: false,
    status: 200,
    latencyMs: 820,
    ttftMs: 140,
    stream: true,
    errorCode: null,
    ...over,
  };
}

export function ledgerContract(name: string, open: () => Promise<LedgerStore>): void {
  describe(`${name}: LedgerStore contract`, () => {
    const opened: LedgerStore[] = [];
    const fresh = async (): Promise<LedgerStore> => {
      const store = await open();
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    it('cascade steps: round-trip under their parent, spend by escalation, feedback and quality per model', async () => {
      const store = await fresh();
      const step = (n: number, model: string, quality: string, delivered: boolean, costNano: number) =>
        makeRow({ requestId: `cas-1#${n}`, model, costNano, cascade: { parentId: 'cas-1', step: n, quality, delivered } });
      const s1 = step(1, 'deepseek-v3.2', 'invalid_json', false, 700);
      const s2 = step(2, 'gpt-4.1', 'pass', true, 9_000);
      const plain = makeRow({ requestId: 'plain-1', model: 'deepseek-v3.2', costNano: 500 });
      for (const r of [s2, plain, s1]) await store.insert(r);
      expect(await store.steps('cas-1')).toEqual([s1, s2]);
      expect(await store.rows({ requestId: 'plain-1' })).toEqual([plain]);
      const byEscalation = await store.spendBy('escalation');
      expect(byEscalation.map((t) => [t.group, t.costNano])).toEqual([
        [NO_GROUP, 500],
        ['deepseek-v3.2:invalid_json', 700],
        ['gpt-4.1:pass', 9_000],
      ]);
      expect(await store.recordFeedback('cas-1', false, T0 + 5)).toBe('stored');
      expect(await store.recordFeedback('cas-1', true, T0 + 6)).toBe('stored'); // the latest verdict wins
      expect(await store.recordFeedback('plain-1', false, T0 + 7)).toBe('stored');
      expect(await store.recordFeedback('nobody', true, T0)).toBe('unknown_request');
      expect(await store.qualityStats()).toEqual([
        { model: 'deepseek-v3.2', requests: 2, checked: 1, failed: 1, good: 0, bad: 1 },
        { model: 'gpt-4.1', requests: 1, checked: 1, failed: 0, good: 1, bad: 0 },
      ]);
      expect(await store.qualityStats(T0 + 2000)).toEqual([]);
    });

    it("shares: each model's part of a row's cost counts for that model in the per-model sums, once", async () => {
      const store = await fresh();
      // A stream on gpt-4.1 continued on claude: the row names gpt-4.1, claude's part is its share.
      const continued = makeRow({ model: 'gpt-4.1', costNano: 10_000, shares: [{ model: 'claude-sonnet-4.5', costNano: 3_000 }] });
      const plain = makeRow({ model: 'claude-sonnet-4.5', costNano: 500, keyId: 'team-b' });
      // A model with only a share (a fail-over's billed attempt) is a group of no request.
      const failedOver = makeRow({ model: 'gpt-4.1', costNano: 2_000, at: T0 + 2 * DAY, shares: [{ model: 'gemini-2.5-flash', costNano: 200 }] });
      for (const r of [continued, plain, failedOver]) expect(await store.insert(r)).toBe('inserted');
      expect(await store.insert({ ...continued })).toBe('duplicate');
      expect(await store.spentSince({}, T0)).toBe(12_500);
      expect(await store.spentSince({ model: 'gpt-4.1' }, T0)).toBe(7_000 + 1_800);
      expect(await store.spentSince({ model: 'claude-sonnet-4.5' }, T0)).toBe(3_500);
      expect(await store.spentSince({ model: 'gemini-2.5-flash' }, T0)).toBe(200);
      expect(await store.spentSince({ model: 'gemini-2.5-flash' }, T0, T0 + DAY)).toBe(0);
      expect(await store.spentSince({ keyId: 'team-a', model: 'claude-sonnet-4.5' }, T0)).toBe(3_000);
      expect(await store.spentSince({ keyId: 'team-b', model: 'claude-sonnet-4.5' }, T0)).toBe(500);
      expect(await store.spentSince({ keyId: 'team-a' }, T0)).toBe(12_000);
      const byModel = await store.spendBy('model');
      expect(byModel.map((t) => [t.group, t.requests, t.costNano])).toEqual([
        ['claude-sonnet-4.5', 1, 3_500],
        ['gemini-2.5-flash', 0, 200],
        ['gpt-4.1', 2, 8_800],
      ]);
      expect((await store.spendBy('model', T0, T0 + DAY)).map((t) => [t.group, t.costNano])).toEqual([
        ['claude-sonnet-4.5', 3_500],
        ['gpt-4.1', 7_000],
      ]);
      expect((await store.spendBy('key')).map((t) => [t.group, t.costNano])).toEqual([
        ['team-a', 12_000],
        ['team-b', 500],
      ]);
      // The row reads back as it was, without its shares.
      const { shares: _s, ...bare } = continued;
      expect(await store.rows({ requestId: continued.requestId })).toEqual([bare]);
      await expect(store.insert(makeRow({ model: 'gpt-4.1', shares: [{ model: 'gpt-4.1', costNano: 1 }] }))).rejects.toThrow(/another model/);
      await expect(store.insert(makeRow({ costNano: 10, shares: [{ model: 'claude-sonnet-4.5', costNano: 11 }] }))).rejects.toThrow(/more than its costNano/);
    });

    it('inserts once per request id; a duplicate changes nothing', async () => {
      const store = await fresh();
      const row = makeRow({ costNano: 123 });
      expect(await store.insert(row)).toBe('inserted');
      expect(await store.insert({ ...row, costNano: 999, status: 500 })).toBe('duplicate');
      expect(await store.rows({ requestId: row.requestId })).toEqual([row]);
      expect(await store.spentSince({}, 0)).toBe(123);
    });

    it("a request's own row replaces a row reclaimed for it (its replica was alive); a reclaimed row never replaces a real one", async () => {
      const store = await fresh();
      const real = makeRow({ costNano: 123, status: 200 });
      const reclaimed = interruptedRow({
        requestId: real.requestId,
        at: real.at,
        keyId: real.keyId,
        model: real.model,
        endpoint: real.endpoint,
        amountNano: 900,
      });
      expect(await store.insert(reclaimed)).toBe('inserted');
      expect(await store.insert(real)).toBe('inserted');
      expect(await store.rows({ requestId: real.requestId })).toEqual([real]);
      expect(await store.spentSince({}, 0)).toBe(123);
      // Then a later reclaim of the same id (another replica's round) changes nothing, nor does a resend.
      expect(await store.insert(reclaimed)).toBe('duplicate');
      expect(await store.insert({ ...real, costNano: 5 })).toBe('duplicate');
      expect(await store.rows({ requestId: real.requestId })).toEqual([real]);
      // Two reclaims of one id count once.
      const other = { ...reclaimed, requestId: `${real.requestId}-b` };
      expect(await store.insert(other)).toBe('inserted');
      expect(await store.insert({ ...other, costNano: 1 })).toBe('duplicate');
      expect(await store.spentSince({}, 0)).toBe(123 + 900);
    });

    it('admits exactly one of many concurrent inserts of the same request', async () => {
      const store = await fresh();
      const row = makeRow();
      const results = await Promise.all(Array.from({ length: 12 }, () => store.insert(row)));
      expect(results.filter((r) => r === 'inserted')).toHaveLength(1);
      expect(await store.spentSince({}, 0)).toBe(row.costNano);
    });

    it('round-trips every field, nulls and extremes included', async () => {
      const store = await fresh();
      const a = makeRow({
        keyId: null,
        model: null,
        endpoint: null,
        ttftMs: null,
        stream: false,
        estimated: true,
        status: 502,
        errorCode: 'upstream_error',
        attempts: 3,
      });
      const b = makeRow({ costNano: 9_000_000_000_000_000, promptTokens: 2_000_000_000_000, at: 4_102_444_800_000, requestId: 'ünï-çødé ✓' });
      await store.insert(a);
      await store.insert(b);
      expect(await store.rows({ requestId: a.requestId })).toEqual([a]);
      expect(await store.rows({ requestId: b.requestId })).toEqual([b]);
      expect(await store.rows({ requestId: 'missing' })).toEqual([]);
    });

    it('lists rows newest first, limited (default 100)', async () => {
      const store = await fresh();
      const rows = Array.from({ length: 105 }, (_, i) => makeRow({ at: T0 + (i % 50) * 1000 }));
      for (const row of rows) await store.insert(row);
      const listed = await store.rows();
      expect(listed).toHaveLength(100);
      const three = await store.rows({ limit: 3 });
      // newest `at` first (rows 49 and 99 share the newest, 48 and 98 the next); among equal `at`
      // each store has its own order (PostgreSQL: the later insert first; SQLite: the larger id)
      expect(new Set(three.slice(0, 2).map((r) => r.requestId))).toEqual(new Set([rows[49]!.requestId, rows[99]!.requestId]));
      expect([rows[48]!.requestId, rows[98]!.requestId]).toContain(three[2]!.requestId);
      await expect(store.rows({ limit: 0 })).rejects.toThrow(RangeError);
    });

    it('rejects rows that would break exact sums, and stores nothing of them', async () => {
      const store = await fresh();
      await expect(store.insert(makeRow({ costNano: 1.5 }))).rejects.toThrow(/costNano/);
      await expect(store.insert(makeRow({ promptTokens: -1 }))).rejects.toThrow(/promptTokens/);
      await expect(store.insert(makeRow({ requestId: '' }))).rejects.toThrow(/requestId/);
      await expect(store.insert(makeRow({ at: -5 }))).rejects.toThrow(/at must/);
      await expect(store.insert(makeRow({ ttftMs: Number.NaN }))).rejects.toThrow(/ttftMs/);
      expect(await store.rows()).toEqual([]);
    });

    it('sums spend by scope: any, key, model, key and model', async () => {
      const store = await fresh();
      await store.insert(makeRow({ keyId: 'team-a', model: 'gpt-4.1', costNano: 1 }));
      await store.insert(makeRow({ keyId: 'team-a', model: 'deepseek-v3.2', costNano: 20 }));
      await store.insert(makeRow({ keyId: 'team-b', model: 'gpt-4.1', costNano: 300 }));
      await store.insert(makeRow({ keyId: null, model: 'gpt-4.1', costNano: 4000 }));
      await store.insert(makeRow({ keyId: 'team-b', model: null, costNano: 50000 }));
      expect(await store.spentSince({}, T0)).toBe(54321);
      expect(await store.spentSince({ keyId: 'team-a' }, T0)).toBe(21);
      expect(await store.spentSince({ keyId: 'team-b' }, T0)).toBe(50300);
      expect(await store.spentSince({ model: 'gpt-4.1' }, T0)).toBe(4301);
      expect(await store.spentSince({ keyId: 'team-b', model: 'gpt-4.1' }, T0)).toBe(300);
      expect(await store.spentSince({ keyId: 'nobody' }, T0)).toBe(0);
    });

    it('sums spend over half-open time ranges [from, to)', async () => {
      const store = await fresh();
      await store.insert(makeRow({ at: T0 - 1, costNano: 1 }));
      await store.insert(makeRow({ at: T0, costNano: 10 }));
      await store.insert(makeRow({ at: T0 + DAY - 1, costNano: 100 }));
      await store.insert(makeRow({ at: T0 + DAY, costNano: 1000 }));
      expect(await store.spentSince({}, T0)).toBe(1110);
      expect(await store.spentSince({}, T0, T0 + DAY)).toBe(110);
      expect(await store.spentSince({}, T0 + DAY)).toBe(1000);
      expect(await store.spentSince({}, 0, T0)).toBe(1);
      expect(await store.spentSince({ keyId: 'team-a', model: 'gpt-4.1' }, T0 - 1, T0 + 1)).toBe(11);
      expect(await store.spentSince({}, T0 + 5 * DAY)).toBe(0);
    });

    it('reports a sum beyond 2^53 nano-USD as an error instead of rounding it', async () => {
      const store = await fresh();
      await store.insert(makeRow({ costNano: 9_000_000_000_000_000 }));
      await store.insert(makeRow({ costNano: 9_000_000_000_000_000 }));
      await expect(store.spentSince({}, 0)).rejects.toThrow(RangeError);
    });

    it('totals spend by model, endpoint and key, null as (none), sorted by group', async () => {
      const store = await fresh();
      await store.insert(makeRow({ model: 'gpt-4.1', endpoint: 'openai/gpt-4.1', keyId: 'team-b', promptTokens: 10, completionTokens: 1, costNano: 5 }));
      await store.insert(makeRow({ model: 'gpt-4.1', endpoint: 'relay/gpt-4.1', keyId: 'team-a', promptTokens: 20, completionTokens: 2, costNano: 7 }));
      await store.insert(
        makeRow({ model: 'claude-sonnet-4.5', endpoint: 'anthropic/claude', keyId: null, promptTokens: 40, completionTokens: 4, costNano: 11 }),
      );
      await store.insert(makeRow({ model: null, endpoint: null, keyId: 'team-a', promptTokens: 80, completionTokens: 8, costNano: 0, status: 429 }));
      const t = (group: string, requests: number, promptTokens: number, completionTokens: number, costNano: number) => ({
        group,
        requests,
        clientRequests: requests,
        promptTokens,
        completionTokens,
        costNano,
      });
      expect(await store.spendBy('model')).toEqual([t(NO_GROUP, 1, 80, 8, 0), t('claude-sonnet-4.5', 1, 40, 4, 11), t('gpt-4.1', 2, 30, 3, 12)]);
      expect(await store.spendBy('endpoint')).toEqual([
        t(NO_GROUP, 1, 80, 8, 0),
        t('anthropic/claude', 1, 40, 4, 11),
        t('openai/gpt-4.1', 1, 10, 1, 5),
        t('relay/gpt-4.1', 1, 20, 2, 7),
      ]);
      expect(await store.spendBy('key')).toEqual([t(NO_GROUP, 1, 40, 4, 11), t('team-a', 2, 100, 10, 7), t('team-b', 1, 10, 1, 5)]);
      expect(await store.spendBy('model', T0 + DAY)).toEqual([]);
    });

    it("counts a cascade's steps as rows (requests) but its client request once (clientRequests, on its first step)", async () => {
      const store = await fresh();
      const step = (n: number, model: string) =>
        makeRow({
          requestId: `cas-x#${n}`,
          model,
          costNano: 1,
          cascade: { parentId: 'cas-x', step: n, quality: n === 1 ? 'empty' : 'pass', delivered: n === 2 },
        });
      await store.insert(step(1, 'deepseek-v3.2'));
      await store.insert(step(2, 'gpt-4.1'));
      await store.insert(makeRow({ model: 'gpt-4.1', costNano: 1 }));
      const by = (await store.spendBy('model')).map((r) => [r.group, r.requests, r.clientRequests]);
      expect(by).toEqual([
        ['deepseek-v3.2', 1, 1],
        ['gpt-4.1', 2, 1],
      ]);
      const days = await store.spendBy('day');
      expect(days.map((r) => [r.requests, r.clientRequests])).toEqual([[3, 2]]);
    });

    it('totals spend by UTC day, splitting at midnight UTC', async () => {
      const store = await fresh();
      await store.insert(makeRow({ at: T0 - 1, costNano: 1 })); // 2024-03-09T23:59:59.999Z
      await store.insert(makeRow({ at: T0, costNano: 10 })); // 2024-03-10T00:00:00.000Z
      await store.insert(makeRow({ at: T0 + DAY - 1, costNano: 100 }));
      await store.insert(makeRow({ at: T0 + DAY, costNano: 1000 }));
      await store.insert(makeRow({ at: Date.UTC(2024, 11, 31, 23, 30), costNano: 10000 }));
      const days = await store.spendBy('day');
      expect(days.map((d) => [d.group, d.requests, d.costNano])).toEqual([
        ['2024-03-09', 1, 1],
        ['2024-03-10', 2, 110],
        ['2024-03-11', 1, 1000],
        ['2024-12-31', 1, 10000],
      ]);
      const ranged = await store.spendBy('day', T0, T0 + DAY);
      expect(ranged.map((d) => [d.group, d.costNano])).toEqual([['2024-03-10', 110]]);
    });

    it('property: per-row costs sum exactly to every grouping and to spentSince', async () => {
      const store = await fresh();
      const usage = fc.record({
        promptTokens: fc.integer({ min: 0, max: 200_000 }),
        completionTokens: fc.integer({ min: 0, max: 50_000 }),
        cachedTokens: fc.integer({ min: 0, max: 200_000 }),
      });
      const priceMicro = fc.integer({ min: 0, max: 75_000_000 });
      const spec = fc.record({
        usage,
        inMicro: priceMicro,
        outMicro: priceMicro,
        model: fc.constantFrom('gpt-4.1', 'claude-sonnet-4.5', null),
        keyId: fc.constantFrom('team-a', 'team-b', null),
        offset: fc.integer({ min: 0, max: 3 * DAY - 1 }),
      });
      let window = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(spec, { minLength: 0, maxLength: 15 }), async (specs) => {
          window += 1;
          const from = T0 + window * 10 * DAY; // every run in its own stretch of time
          const rows = specs.map((s) => {
            const price = { inputPerMTok: s.inMicro / 1e6, outputPerMTok: s.outMicro / 1e6, cachedInputPerMTok: s.inMicro / 2e6 };
            const u = { ...s.usage, cachedTokens: Math.min(s.usage.cachedTokens, s.usage.promptTokens) };
            return makeRow({ ...u, at: from + s.offset, model: s.model, keyId: s.keyId, costNano: costOf(u, price).totalNano });
          });
          for (const row of rows) expect(await store.insert(row)).toBe('inserted');
          const expected = rows.reduce((sum, r) => sum + r.costNano, 0);
          expect(await store.spentSince({}, from, from + 3 * DAY)).toBe(expected);
          for (const group of ['model', 'endpoint', 'key', 'day'] as SpendGroup[]) {
            const totals = await store.spendBy(group, from, from + 3 * DAY);
            expect(totals.reduce((sum, t) => sum + t.costNano, 0)).toBe(expected);
            expect(totals.reduce((sum, t) => sum + t.requests, 0)).toBe(rows.length);
          }
          const teamA = rows.filter((r) => r.keyId === 'team-a').reduce((sum, r) => sum + r.costNano, 0);
          expect(await store.spentSince({ keyId: 'team-a' }, from, from + 3 * DAY)).toBe(teamA);
        }),
        { numRuns: 25 },
      );
    });
  });
}

/** A request held in a store's in-flight journal, as both stores' journal tests hold them. */
export const held = (requestId: string, amountNano: number) => ({ requestId, at: 1_000, keyId: 'team-a', model: 'm', endpoint: 'm@p', amountNano });

/**
 * What a process holds before it dies, for {@link expectRecovered}: `done` (500, then its row at
 * 400), `died` (700, then 900, no row) and `asked#2`, the second cascade step of request `asked`
 * (300, no row).
 */
export async function holdBeforeDying(first: LedgerStore): Promise<void> {
  await first.hold?.(held('done', 500));
  await first.hold?.(held('died', 700));
  await first.hold?.(held('died', 900)); // a second attempt: what it had cost plus the new reservation
  await first.hold?.(held('asked#2', 300));
  expect(await first.insert(makeRow({ requestId: 'done', costNano: 400 }))).toBe('inserted');
}

/**
 * After a process held what {@link holdBeforeDying} holds and died: a new store on the same
 * journal turns `died` into a row at 900 and `asked#2` into a row at 300 that is still step 2 of
 * `asked`, once; its own live request is never recovered, and the journal's files (`files`) end empty.
 */
export async function expectRecovered(second: LedgerStore, files: readonly [string, string]): Promise<void> {
  expect(await second.recoverInFlight?.()).toBe(2);
  const [row] = await second.rows({ requestId: 'died' });
  expect(row).toMatchObject({
    costNano: 900,
    estimated: true,
    status: 0,
    errorCode: 'reservation_reclaimed',
    keyId: 'team-a',
    model: 'm',
    endpoint: 'm@p',
    at: 1_000,
  });
  expect(row?.cascade).toBeUndefined();
  // A cascade step keeps its link: the request's steps, feedback and the escalation totals find it.
  const steps = await second.steps('asked');
  expect(steps.map((r) => [r.requestId, r.costNano, r.errorCode, r.cascade])).toEqual([
    ['asked#2', 300, 'reservation_reclaimed', { parentId: 'asked', step: 2, quality: 'reservation_reclaimed', delivered: false }],
  ]);
  expect(await second.recordFeedback('asked', true, 2_000)).toBe('stored');
  expect((await second.rows({ requestId: 'done' }))[0]?.costNano).toBe(400);
  expect(await second.spentSince({}, 0)).toBe(1_600);
  // Recovered once: a second start finds nothing left.
  expect(await second.recoverInFlight?.()).toBe(0);
  // Its own live requests are never recovered; a row drops its line.
  await second.hold?.(held('live', 50));
  expect(await second.recoverInFlight?.()).toBe(0);
  expect(await second.insert(makeRow({ requestId: 'live', costNano: 40 }))).toBe('inserted');
  expect(statSync(files[0]).size + statSync(files[1]).size).toBe(0);
}
