/**
 * A replica dies after its request's ledger row was written and before the request's settle
 * reached Redis (killed between the two, or stopped while Redis did not answer): the survivors
 * reclaim the reservation at its reserved amount, the row stays (a reclaimed row never replaces a
 * real one), and the shared spend counted the reservation instead of the cost for the rest of the
 * period. Now the reclaiming replica corrects it to the row's cost, less what the request had
 * settled before that reservation, once. Real Redis (127.0.0.1:6379, a key prefix of its own).
 */
import pino from 'pino';
import { afterAll, expect, it } from 'vitest';
import { openLedger } from '../../src/accounting/ledger.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { openRedisShared, type SharedState } from '../../src/shared-state/index.js';
import { dropPrefix, SHARED_REDIS, uniq } from '../integration/replicas.js';
import { ledgerRow, USD } from './ledger-row.js';

const prefix = uniq('sy-reclaim-row');
const open: SharedState[] = [];

afterAll(async () => {
  for (const s of open) await s.close();
  await dropPrefix(SHARED_REDIS, prefix);
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

it("a reservation reclaimed after its request's row was written counts what the row says, not the reservation", async () => {
  const c = configSchema.parse({
    providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    models: { m: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000, endpoints: [{ provider: 'p', upstreamModel: 'm' }] } },
    budget: { limits: [{ scope: 'global', period: 'day', usd: 100 }] },
  });
  const cfg: Config = { ...c, storage: { ...c.storage, shared: SHARED_REDIS, keyPrefix: prefix, leaseMs: 400 } };
  const ledger = await openLedger('memory');
  const log = pino({ level: 'silent' });
  const survivor = await openRedisShared({ cfg: () => cfg, ledger, log, env: { SWITCHYARD_REPLICA_ID: 'survivor' } });
  open.push(survivor);
  const dying = await openRedisShared({ cfg: () => cfg, ledger, log, env: { SWITCHYARD_REPLICA_ID: 'dying' } });
  await survivor.start();
  await dying.start();
  const now = Date.now();

  // req-y: a first attempt cut after it cost $0.50 (settled), then a second one reserved with that cost as earlier.
  const y1 = await dying.store.reserve('req-y', null, 'm', 1 * USD, now);
  expect(y1.ok).toBe(true);
  await dying.store.settle('req-y', y1.ok ? y1.budgets : [], 1 * USD, 0.5 * USD, now);
  expect((await dying.store.reserve('req-y', null, 'm', 1 * USD, now, undefined, 0.5 * USD)).ok).toBe(true);
  // req-x: one attempt. req-z: one attempt whose replica dies before writing its row (reclaimed as it was).
  expect((await dying.store.reserve('req-x', null, 'm', 1 * USD, now)).ok).toBe(true);
  expect((await dying.store.reserve('req-z', null, 'm', 1 * USD, now)).ok).toBe(true);
  await dying.store.flush();
  // Both rows are written; the replica dies before their settles reach Redis.
  await ledger.insert({ ...ledgerRow('req-x', 0.25, now), costNano: 250_000_000 });
  await ledger.insert({ ...ledgerRow('req-y', 0.8, now), costNano: 800_000_000 });
  await dying.close();

  const t0 = Date.now();
  while ((await ledger.rows({ requestId: 'req-z' })).length === 0 && Date.now() - t0 < 5_000) await sleep(50);
  await sleep(300);
  await survivor.store.refresh();
  // $0.50 + $0.30 (req-y's second attempt) + $0.25 (req-x) + $1 (req-z, reclaimed): the ledger's sum.
  expect(await ledger.spentSince({}, 0)).toBe(2_050_000_000);
  expect(survivor.store.lines()[0]).toMatchObject({ spent: 2_050_000_000, reserved: 0 });
  expect((await ledger.rows({ requestId: 'req-x' }))[0]!.costNano).toBe(250_000_000);
  await ledger.close();
});
