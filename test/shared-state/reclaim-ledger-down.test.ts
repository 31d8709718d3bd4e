/**
 * A replica dies while PostgreSQL cannot be reached: the survivors reclaim its reservations in
 * Redis at once, and their rows wait in Redis (`reclaimed`) until the ledger can take them. Each
 * reclaim round used to hand the first pending row to the ledger's in-memory backlog again (a
 * copy every quarter lease, logged each time: 20 copies of one row in 5 s with leaseMs 2000,
 * filling the 50,000-row backlog in hours, after which request rows were refused), and the copy
 * the backlog wrote when PostgreSQL came back was no longer counted or logged as a reclaim.
 * Real Redis (127.0.0.1:6379, a key prefix of its own) and PostgreSQL through a relay cut and
 * restored.
 */
import pino from 'pino';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { openLedger } from '../../src/accounting/ledger.js';
import { PostgresLedger } from '../../src/accounting/postgres-ledger.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { openRedisShared, type SharedState } from '../../src/shared-state/index.js';
import { startPgRelay } from '../accounting/pg-relay.js';
import { dropPrefix, SHARED_REDIS, uniq } from '../integration/replicas.js';
import { USD } from './ledger-row.js';

const PG_URL = process.env.SWITCHYARD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `sy_reclaim_${Date.now()}_${randomBytes(3).toString('hex')}`;
const prefix = uniq('sy-reclaim-down');
const open: SharedState[] = [];

afterAll(async () => {
  for (const s of open) await s.close();
  await dropPrefix(SHARED_REDIS, prefix);
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
  await client.end();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

it('a dead replica reclaimed while PostgreSQL is down: each row waits once, is written once it is back, and is counted once', async () => {
  const c = configSchema.parse({
    providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    models: { m: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000, endpoints: [{ provider: 'p', upstreamModel: 'm' }] } },
    budget: { limits: [{ scope: 'global', period: 'day', usd: 100 }] },
  });
  const cfg: Config = { ...c, storage: { ...c.storage, shared: SHARED_REDIS, keyPrefix: prefix, leaseMs: 400 } };
  const relay = await startPgRelay(PG_URL);
  const ledger = await PostgresLedger.open(relay.url, { schema: SCHEMA, table: 'ledger' });
  const log = pino({ level: 'silent' });
  try {
    const survivor = await openRedisShared({ cfg: () => cfg, ledger, log, env: { SWITCHYARD_REPLICA_ID: 'survivor' } });
    open.push(survivor);
    const dying = await openRedisShared({ cfg: () => cfg, ledger: await openLedger('memory'), log, env: { SWITCHYARD_REPLICA_ID: 'dying' } });
    await survivor.start();
    await dying.start();
    for (const id of ['a', 'b', 'c']) expect((await dying.store.reserve(`req-${id}`, null, 'm', 1 * USD, Date.now())).ok).toBe(true);

    relay.cut();
    // Its lease ends with its reservations still open (as after a kill, sooner).
    await dying.close();
    // Ten lease periods, forty reclaim rounds.
    await sleep(4_000);
    await survivor.store.refresh();
    expect(survivor.store.lines()[0]!.spent).toBe(3 * USD);
    expect(ledger.waitingRows).toBeLessThanOrEqual(3);

    relay.restore();
    const t0 = Date.now();
    while ((survivor.view().counters?.reclaimed ?? 0) < 3 && Date.now() - t0 < 10_000) await sleep(50);
    await sleep(500);
    expect(ledger.waitingRows).toBe(0);
    const rows = await ledger.rows({});
    expect(rows.map((r) => [r.requestId, r.costNano, r.errorCode]).sort()).toEqual([
      ['req-a', USD, 'reservation_reclaimed'],
      ['req-b', USD, 'reservation_reclaimed'],
      ['req-c', USD, 'reservation_reclaimed'],
    ]);
    expect(survivor.view().counters?.reclaimed).toBe(3);
  } finally {
    await ledger.close();
    relay.close();
  }
});
