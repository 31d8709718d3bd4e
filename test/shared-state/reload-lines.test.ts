/**
 * With Redis, a budget line a reload adds (or whose period it changes) while requests are in
 * flight: its seed from the ledger has none of their rows yet. Two replicas on one key prefix of
 * the real Redis (127.0.0.1:6379) and one ledger; one replica reloads while both hold
 * reservations. The seed attaches every replica's open reservation the line applies to (its
 * amount reserved there at once, what the request settled before it spent there), a request of
 * a replica that reloads later is charged as it settles, and one that reserved on no line at all
 * too: once everything settled, every line equals the ledger's sum for it.
 */
import pino from 'pino';
import { afterAll, expect, it } from 'vitest';
import { openLedger, type LedgerRow } from '../../src/accounting/ledger.js';
import { ledgerRow, USD } from './ledger-row.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { openRedisShared, type SharedState } from '../../src/shared-state/index.js';
import { dropPrefix, SHARED_REDIS, uniq } from '../integration/replicas.js';
import { Keys } from '../../src/shared-state/keys.js';
import { Redis } from 'ioredis';

const prefix = uniq('sy-reload-lines');
const readdPrefix = uniq('sy-readd-line');
const rollingPrefix = uniq('sy-rolling-reload');
const open: SharedState[] = [];

const redis = new Redis(SHARED_REDIS);

afterAll(async () => {
  await redis.quit();
  for (const s of open) await s.close();
  await dropPrefix(SHARED_REDIS, prefix);
  await dropPrefix(SHARED_REDIS, readdPrefix);
  await dropPrefix(SHARED_REDIS, rollingPrefix);
});

function config(limits: unknown[], keyPrefix = prefix): Config {
  const c = configSchema.parse({
    providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    models: Object.fromEntries(
      ['m', 'n'].map((id) => [
        id,
        { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000, endpoints: [{ provider: 'p', upstreamModel: id }] },
      ]),
    ),
    auth: { keys: ['k1', 'k2'].map((id) => ({ id, keyEnv: `SY_TEST_${id.toUpperCase()}` })) },
    budget: { limits },
  });
  return { ...c, storage: { ...c.storage, shared: SHARED_REDIS, keyPrefix } };
}

const row = (requestId: string, keyId: string, model: string, usd: number, at: number): LedgerRow => ledgerRow(requestId, usd, at, keyId, model);

/**
 * Two replicas (`<name>-a`, `<name>-b`) on one memory ledger that holds $3 spent before, both on
 * `before` until a test reloads one (`reload(a, cfg)`: its config is read as a reload reads it).
 */
async function twoReplicas(name: string, before: Config) {
  const ledger = await openLedger('memory');
  const now = Date.now();
  await ledger.insert(row('spent-before', 'k1', 'm', 3, now));
  const cfgs = new Map<string, Config>();
  const log = pino({ level: 'silent' });
  const replica = async (id: string): Promise<SharedState> => {
    cfgs.set(id, before);
    const s = await openRedisShared({ cfg: () => cfgs.get(id)!, ledger, log, env: { SWITCHYARD_REPLICA_ID: id } });
    open.push(s);
    return s;
  };
  const a = await replica(`${name}-a`);
  const b = await replica(`${name}-b`);
  await a.start();
  await b.start();
  const reload = (s: SharedState, cfg: Config): void => void cfgs.set(s === a ? `${name}-a` : `${name}-b`, cfg);
  return { ledger, now, a, b, reload };
}

it('a line a reload adds counts the requests in flight then: their reservations at once, their cost as they settle, on every replica', async () => {
  const before = config([{ scope: 'model', model: 'm', period: 'day', usd: 100 }]);
  // The period of model m changes (a new line id), a global and a client-key line are added.
  const after = config([
    { scope: 'global', period: 'month', usd: 200 },
    { scope: 'key', key: 'k1', period: 'day', usd: 50 },
    { scope: 'model', model: 'm', period: 'month', usd: 51 },
  ]);
  const { ledger, now, a, b, reload } = await twoReplicas('reload', before);
  await a.store.refresh();

  // In flight at the reload: r1 on A, r2 on B (after a cut attempt that cost $0.50), r3 on A with no line applying to it.
  const r1 = await a.store.reserve('r1', 'k1', 'm', 1 * USD, Date.now());
  const r2 = await b.store.reserve('r2', 'k2', 'm', 2 * USD, Date.now(), undefined, 0.5 * USD);
  const r3 = await a.store.reserve('r3', 'k2', 'n', 4 * USD, Date.now());
  expect([r1, r2, r3].map((r) => r.ok && r.budgets)).toEqual([['model:m:day'], ['model:m:day'], []]);

  // A reloads; its lease tick seeds the new lines from the ledger (one row: $3 of k1 on m).
  reload(a, after);
  await a.store.refresh();
  const line = (s: SharedState, id: string) => {
    const l = s.store.lines().find((x) => x.id === id)!;
    return { spent: l.spent / USD, reserved: l.reserved / USD };
  };
  // r3 too, which reserved on no line: $4.
  expect(line(a, 'global:month')).toEqual({ spent: 3.5, reserved: 7 });
  expect(line(a, 'key:k1:day')).toEqual({ spent: 3, reserved: 1 });
  expect(line(a, 'model:m:month')).toEqual({ spent: 3.5, reserved: 3 });
  // The in-flight reservations hold the new $51 line: $46 more would pass it.
  const over = await a.store.reserve('r-over', 'k2', 'm', 46 * USD, Date.now());
  expect(over).toMatchObject({ ok: false, budget: 'model:m:month' });

  // B has not reloaded: its next request reserves on the old line only.
  const r4 = await b.store.reserve('r4', 'k1', 'm', 1 * USD, Date.now());
  expect(r4.ok && r4.budgets).toEqual(['model:m:day']);

  const settle = async (s: SharedState, id: string, budgets: string[], reserved: number, keyId: string, model: string, usd: number) => {
    await s.store.settle(id, budgets, reserved * USD, Math.round(usd * USD), Date.now(), { keyId, model, dated: now });
    await s.store.flush();
    await ledger.insert(row(id, keyId, model, id === 'r2' ? usd + 0.5 : usd, now));
  };
  await settle(a, 'r1', ['model:m:day'], 1, 'k1', 'm', 0.8);
  await settle(b, 'r2', ['model:m:day'], 2, 'k2', 'm', 1.5);
  await settle(a, 'r3', [], 4, 'k2', 'n', 3);
  reload(b, after); // B reloads while r4 is in flight
  await settle(b, 'r4', ['model:m:day'], 1, 'k1', 'm', 0.7);

  const fromLedger = async (scope: { keyId?: string; model?: string }, period: 'day' | 'month') => {
    const d = new Date(now);
    const from = period === 'day' ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    return (await ledger.spentSince(scope, from)) / USD;
  };
  for (const s of [a, b]) {
    await s.store.refresh();
    expect(line(s, 'global:month')).toEqual({ spent: await fromLedger({}, 'month'), reserved: 0 });
    expect(line(s, 'key:k1:day')).toEqual({ spent: await fromLedger({ keyId: 'k1' }, 'day'), reserved: 0 });
    expect(line(s, 'model:m:month')).toEqual({ spent: await fromLedger({ model: 'm' }, 'month'), reserved: 0 });
  }
  expect(line(a, 'global:month').spent).toBe(9.5);
  expect(line(a, 'key:k1:day').spent).toBe(4.5);
  expect(line(a, 'model:m:month').spent).toBe(6.5);
});

it('a line removed by a reload and added back by another is rebuilt from the ledger, not left at its old counters', async () => {
  const withGlobal = config(
    [
      { scope: 'global', period: 'month', usd: 100 },
      { scope: 'model', model: 'm', period: 'day', usd: 100 },
    ],
    readdPrefix,
  );
  const without = config([{ scope: 'model', model: 'm', period: 'day', usd: 100 }], readdPrefix);
  const ledger = await openLedger('memory');
  const now = Date.now();
  await ledger.insert(row('before', 'k1', 'm', 3, now));
  let cfg = withGlobal;
  const s = await openRedisShared({ cfg: () => cfg, ledger, log: pino({ level: 'silent' }), env: { SWITCHYARD_REPLICA_ID: 'readd' } });
  open.push(s);
  await s.start();
  await s.store.refresh();
  const global = () => {
    const l = s.store.lines().find((x) => x.id === 'global:month')!;
    return { spent: l.spent / USD, reserved: l.reserved / USD };
  };
  const settle = async (id: string, budgets: string[], reserved: number, usd: number) => {
    await s.store.settle(id, budgets, reserved * USD, Math.round(usd * USD), Date.now(), { keyId: 'k1', model: 'm', dated: now });
    await s.store.flush();
    await ledger.insert(row(id, 'k1', 'm', usd, now));
  };
  const r1 = await s.store.reserve('a1', 'k1', 'm', 1 * USD, Date.now());
  await settle('a1', r1.ok ? r1.budgets : [], 1, 0.5);
  const r2 = await s.store.reserve('a2', 'k1', 'm', 2 * USD, Date.now()); // in flight across both reloads
  expect(r2.ok && r2.budgets).toEqual(['global:month', 'model:m:day']);
  await s.store.refresh();
  expect(global()).toEqual({ spent: 3.5, reserved: 2 });

  // The global line is removed; $0.70 is spent without it.
  cfg = without;
  await s.store.refresh();
  const r3 = await s.store.reserve('a3', 'k1', 'm', 1 * USD, Date.now());
  expect(r3.ok && r3.budgets).toEqual(['model:m:day']);
  await settle('a3', ['model:m:day'], 1, 0.7);
  // Away for longer than two lease periods: no replica has looked at the line meanwhile (Redis's clock, set back here).
  const key = new Keys(readdPrefix).budget({ id: 'global:month', scope: 'global', key: null, model: null, period: 'month', limit: 0 }, Date.now());
  await redis.hset(key, 'seen', 0);

  // Added back: the ledger's $4.20 and a2's $2 in flight (its old counters said $3.50).
  cfg = withGlobal;
  await s.store.refresh();
  expect(global()).toEqual({ spent: 4.2, reserved: 2 });
  await settle('a2', ['global:month', 'model:m:day'], 2, 1.5);
  await s.store.refresh();
  expect(global()).toEqual({ spent: 5.7, reserved: 0 });
});

it('a rolling reload: what a replica not yet reloaded served meanwhile counts on the new line once it reloads (it was left out for the whole period)', async () => {
  const before = config([{ scope: 'model', model: 'm', period: 'day', usd: 100 }], rollingPrefix);
  const after = config(
    [
      { scope: 'global', period: 'month', usd: 200 },
      { scope: 'model', model: 'm', period: 'day', usd: 100 },
    ],
    rollingPrefix,
  );
  const { ledger, now, a, b, reload } = await twoReplicas('rolling', before);
  const global = async (s: SharedState) => {
    await s.store.refresh();
    const l = s.store.lines().find((x) => x.id === 'global:month')!;
    return { spent: l.spent / USD, reserved: l.reserved / USD };
  };
  const serve = async (s: SharedState, id: string, usd: number) => {
    const r = await s.store.reserve(id, 'k1', 'm', 1 * USD, Date.now());
    expect(r.ok).toBe(true);
    await s.store.settle(id, r.ok ? r.budgets : [], 1 * USD, Math.round(usd * USD), Date.now(), { keyId: 'k1', model: 'm', dated: now });
    await s.store.flush();
    await ledger.insert(row(id, 'k1', 'm', usd, now));
  };

  // A reloads first: the new line is seeded from the ledger ($3).
  reload(a, after);
  expect(await global(a)).toEqual({ spent: 3, reserved: 0 });
  // B, not reloaded yet, serves a request from start to end: $0.70, on its old line only.
  await serve(b, 'on-b', 0.7);
  // A serves one on the new line: $0.25.
  await serve(a, 'on-a', 0.25);
  // B reloads: the line A keeps live is not reset, but what B spent meanwhile is on it now.
  reload(b, after);
  expect(await global(b)).toEqual({ spent: 3.95, reserved: 0 });
  expect(await global(a)).toEqual({ spent: 3.95, reserved: 0 });
  await serve(b, 'on-b-after', 0.05);
  expect(await global(a)).toEqual({ spent: 4, reserved: 0 });
});
