/**
 * Redis restarted with its keys (it loaded an RDB snapshot or AOF older than the last settles, or
 * another server took over): the state it holds was written by another server process (run_id)
 * and may count less than was spent since. It is dropped and rebuilt from the ledger as after an
 * empty restart: the replica's reservation still in flight is put back, the budget equals the
 * ledger. Against the real Redis on 127.0.0.1:6379: the "restart" is the deployment's keys put back
 * as a DUMP took them earlier, with the run-id key of the server that wrote them.
 */
import pino from 'pino';
import { afterAll, expect, it } from 'vitest';
import { openLedger, type LedgerRow } from '../../src/accounting/ledger.js';
import { ledgerRow, USD } from './ledger-row.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { SharedConnection } from '../../src/shared-state/connection.js';
import { Keys } from '../../src/shared-state/keys.js';
import { LeaseKeeper } from '../../src/shared-state/lease.js';
import { SharedBudgetStore } from '../../src/shared-state/redis-budget.js';
import { dropPrefix, SHARED_REDIS, uniq } from '../integration/replicas.js';

const prefix = uniq('sy-restart-snapshot');
const log = pino({ level: 'silent' });
const conn = new SharedConnection(SHARED_REDIS, log);

afterAll(async () => {
  await dropPrefix(SHARED_REDIS, prefix);
  await conn.close();
});

const row = (requestId: string, usd: number, at: number): LedgerRow => ledgerRow(requestId, usd, at);

it('a Redis that comes back with an older state (another run_id) is rebuilt from the ledger, the reservation in flight put back', async () => {
  const parsed = configSchema.parse({
    providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    models: { m: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000, endpoints: [{ provider: 'p', upstreamModel: 'm' }] } },
    budget: { limits: [{ scope: 'global', period: 'month', usd: 100 }] },
  });
  const cfg: Config = { ...parsed, storage: { ...parsed.storage, shared: SHARED_REDIS, keyPrefix: prefix } };
  const ledger = await openLedger('memory');
  const now = Date.now();
  await ledger.insert(row('before', 3, now));
  await conn.connect();
  const keys = new Keys(prefix);
  const owner = 'snap-a~1';
  const store = new SharedBudgetStore({ conn, keys, owner, cfg: () => cfg, ledger, log, now: Date.now });
  const lease = new LeaseKeeper({ conn, keys, owner, leaseMs: 60_000, ledger, log, now: Date.now, store });
  await lease.tick();
  const line = () => {
    const l = store.lines()[0]!;
    return { spent: l.spent / USD, reserved: l.reserved / USD };
  };
  expect(line()).toEqual({ spent: 3, reserved: 0 });

  // The snapshot Redis will come back with.
  const names = await conn.redis.keys(keys.all);
  const dumped = await Promise.all(names.map(async (k) => ({ k, v: (await conn.redis.dumpBuffer(k))!, ttl: await conn.redis.pttl(k) })));

  // Spent after the snapshot: r1 settled ($0.80, its row written); r2 still in flight ($2 reserved).
  const r1 = await store.reserve('r1', null, 'm', 1 * USD, Date.now());
  expect(r1.ok).toBe(true);
  await store.settle('r1', ['global:month'], 1 * USD, 0.8 * USD, Date.now(), { keyId: null, model: 'm', dated: now });
  await store.flush();
  await ledger.insert(row('r1', 0.8, now));
  expect((await store.reserve('r2', null, 'm', 2 * USD, Date.now())).ok).toBe(true);

  // Redis restarts and loads the snapshot (written by the server process before it).
  await conn.redis.del(...(await conn.redis.keys(keys.all)));
  for (const d of dumped) await conn.redis.restore(d.k, d.ttl > 0 ? d.ttl : 0, d.v, 'REPLACE');
  await conn.redis.set(keys.runId, 'the-server-before-the-restart');
  await store.refresh();
  expect(line().spent).toBe(3); // what the snapshot says: $0.80 short, r2's $2 not held

  // The reconnect's tick notices, drops the old state, and rebuilds.
  await lease.tick();
  expect(line()).toEqual({ spent: 3.8, reserved: 2 });
  expect(await conn.redis.get(keys.runId)).toMatch(/^\w+$/);
  expect(await conn.redis.get(keys.runId)).not.toBe('the-server-before-the-restart');

  // r2 settles: the budget is the ledger's sum.
  await store.settle('r2', ['global:month'], 2 * USD, 1.5 * USD, Date.now(), { keyId: null, model: 'm', dated: now });
  await store.flush();
  await ledger.insert(row('r2', 1.5, now));
  await store.refresh();
  const d = new Date(now);
  expect(line()).toEqual({ spent: (await ledger.spentSince({}, Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1))) / USD, reserved: 0 });
  expect(line().spent).toBe(5.3);

  // Another tick on the same server drops nothing.
  await lease.tick();
  expect(line()).toEqual({ spent: 5.3, reserved: 0 });
  await lease.stop();
});
