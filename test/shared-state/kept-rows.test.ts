/**
 * Redis restarted empty while replicas keep ledger rows in memory (PostgreSQL could not take them):
 * those rows' settles were in the Redis that was lost, and a rebuild reads only the rows written.
 * Each replica puts back the spend of the rows it keeps, as it puts back its reservations, so the
 * rebuilt budgets equal the ledger — the written rows and every replica's waiting ones — whichever
 * replica rebuilds (a helper measured budgets below the ledger by the other replica's rows). Against
 * the real Redis on 127.0.0.1:6379, under a key prefix of its own (deleted to stand for Redis
 * restarted empty).
 */
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, expect, it } from 'vitest';
import { openLedger, type LedgerRow, type LedgerStore } from '../../src/accounting/ledger.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { openRedisShared, type SharedState } from '../../src/shared-state/index.js';
import { ledgerRow, USD } from './ledger-row.js';

const opened: SharedState[] = [];
const prefix = `sy-kept-${process.pid}-${Date.now()}`;
const redis = new Redis('redis://127.0.0.1:6379/0');
const wipe = async (): Promise<void> => {
  const keys = await redis.keys(`*${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
};
afterAll(async () => {
  for (const s of opened) await s.close();
  await wipe();
  await redis.quit();
});

/** The one ledger both replicas write, seen through a replica that keeps `kept` in memory (not written yet). */
function replicaLedger(ledger: LedgerStore, kept: LedgerRow[]): LedgerStore {
  const view = Object.create(ledger) as LedgerStore;
  view.keptRows = () => kept;
  // As PostgresLedger counts them: the written rows, and (unless `stored`) this replica's kept ones.
  view.spentSince = async (scope, from, to, opts) => {
    const written = await ledger.spentSince(scope, from, to);
    if (opts?.stored === true) return written;
    return written + kept.filter((r) => r.at >= from && (scope.model === undefined || r.model === scope.model)).reduce((n, r) => n + r.costNano, 0);
  };
  return view;
}

it("a rebuild after Redis restarted empty counts every replica's rows still waiting for PostgreSQL, once", async () => {
  const base = configSchema.parse({
    providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    models: { m: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000, endpoints: [{ provider: 'p', upstreamModel: 'm' }] } },
    budget: {
      limits: [
        { scope: 'global', period: 'day', usd: 100 },
        { scope: 'model', model: 'm', period: 'day', usd: 100 },
      ],
    },
  });
  const cfg: Config = { ...base, storage: { ...base.storage, shared: 'redis://127.0.0.1:6379/0', keyPrefix: prefix, leaseMs: 60_000 } };
  const ledger = await openLedger('memory');
  const now = Date.now();
  await ledger.insert(ledgerRow('written', 2, now));
  const keptA = [ledgerRow('kept-a', 0.5, now)];
  const keptB = [ledgerRow('kept-b', 0.25, now), ledgerRow('kept-b-other-model', 0.125, now, null, 'other')];
  const start = async (id: string, kept: LedgerRow[]): Promise<SharedState> => {
    const s = await openRedisShared({
      cfg: () => cfg,
      ledger: replicaLedger(ledger, kept),
      log: pino({ level: 'silent' }),
      env: { SWITCHYARD_REPLICA_ID: id },
    });
    opened.push(s);
    await s.start();
    await s.store.refresh();
    return s;
  };
  const a = await start('kept-a', keptA);
  const b = await start('kept-b', keptB);
  // Redis loses everything; both replicas see the new epoch (their lease tick), then A rebuilds first.
  await wipe();
  await a.store.restoreEpoch();
  await b.store.restoreEpoch();
  await a.store.refresh();
  await b.store.refresh();
  const spent = (s: SharedState) => Object.fromEntries(s.store.lines().map((l) => [l.id, l.spent / USD]));
  // Written 2, A's 0.5, B's 0.25 and 0.125 (another model: global only). It was 2.5 on A: B's rows were lost.
  for (const s of [a, b]) expect(spent(s)).toEqual({ 'global:day': 2.875, 'model:m:day': 2.75 });
});
