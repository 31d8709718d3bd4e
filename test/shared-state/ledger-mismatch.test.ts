/**
 * Replicas on one key prefix must write one ledger: a replica pointed at another PostgreSQL
 * database (a typo, a staging URL) started silently, shared the budgets while its rows went
 * elsewhere (its /switchyard/spend said $0 beside a budget that had spent $0.03; the dead replicas'
 * reservations it reclaimed were written there, and a rebuild it made read its own ledger). Now
 * its start-up is refused, naming both ledgers; the same ledger reached by another URL is not.
 * Real Redis (127.0.0.1:6379, a key prefix of its own) and PostgreSQL.
 */
import { Redis } from 'ioredis';
import pino from 'pino';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { PostgresLedger } from '../../src/accounting/postgres-ledger.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { StartupError } from '../../src/runtime/sidecar.js';
import { openRedisShared, type SharedState } from '../../src/shared-state/index.js';
import { dropPrefix, privateRedis, SHARED_REDIS, uniq } from '../integration/replicas.js';

const PG_URL = process.env.SWITCHYARD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `sy_ledger_mark_${Date.now()}_${randomBytes(3).toString('hex')}`;
const prefix = uniq('sy-ledger-mark');
const open: SharedState[] = [];
const ledgers: PostgresLedger[] = [];

afterAll(async () => {
  for (const s of open) await s.close();
  for (const l of ledgers) await l.close();
  await dropPrefix(SHARED_REDIS, prefix);
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
  await client.end();
});

const c = configSchema.parse({
  providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
  models: { m: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000, endpoints: [{ provider: 'p', upstreamModel: 'm' }] } },
  budget: { limits: [{ scope: 'global', period: 'day', usd: 100 }] },
});
const cfg: Config = { ...c, storage: { ...c.storage, shared: SHARED_REDIS, keyPrefix: prefix, leaseMs: 1000 } };
const log = pino({ level: 'silent' });

async function replica(id: string, url: string, table: string): Promise<SharedState> {
  const ledger = await PostgresLedger.open(url, { schema: SCHEMA, table });
  ledgers.push(ledger);
  const s = await openRedisShared({ cfg: () => cfg, ledger, log, env: { SWITCHYARD_REPLICA_ID: id } });
  open.push(s);
  return s;
}

it('a replica on another ledger than the others of its key prefix is refused at start-up, naming both; one on the same ledger by another URL starts', async () => {
  const first = await replica('first', PG_URL, 'ledger');
  await first.start();
  expect(first.ready()).toBe(true);

  // The same database and table, reached by another host name.
  const same = await replica('same', PG_URL.replace('127.0.0.1', 'localhost'), 'ledger');
  await same.start();
  expect(same.ready()).toBe(true);

  const other = await replica('other', PG_URL, 'elsewhere');
  const refused = await other.start().then(
    () => null,
    (err: unknown) => err,
  );
  expect(refused).toBeInstanceOf(StartupError);
  expect((refused as Error).message).toMatch(
    new RegExp(
      `storage.ledger is not the ledger the other replicas on keyPrefix ${prefix} write: this replica's is database test, table ${SCHEMA}.elsewhere on the PostgreSQL server with system identifier \\d+; theirs is database test, table ${SCHEMA}.ledger .*Point every replica at the same PostgreSQL database`,
    ),
  );
});

it("a replica whose search_path finds the ledger's table name in another schema is refused, naming the schemas; one whose search_path finds the same table starts", async () => {
  const p = uniq('sy-ledger-path');
  const on: Config = { ...cfg, storage: { ...cfg.storage, keyPrefix: p } };
  const [a, b] = [`${SCHEMA}_a`, `${SCHEMA}_b`];
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${a}"; CREATE SCHEMA "${b}"`);
  // The table named without a schema: each connection's search_path says which one it is.
  const start = async (id: string, schema: string): Promise<SharedState> => {
    const ledger = await PostgresLedger.open(`${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`, { table: 'lg' });
    ledgers.push(ledger);
    const s = await openRedisShared({ cfg: () => on, ledger, log, env: { SWITCHYARD_REPLICA_ID: id } });
    open.push(s);
    await s.start();
    return s;
  };
  try {
    expect((await start('a1', a)).ready()).toBe(true);
    expect((await start('a2', a)).ready()).toBe(true);
    // Both said "database test, table lg": the same ledger, so it was admitted and kept budgets over another table's rows.
    await expect(start('b1', b)).rejects.toThrow(
      new RegExp(
        `this replica's is database test, table lg \\(schema ${b}, by search_path\\).*theirs is database test, table lg \\(schema ${a}, by search_path\\)`,
      ),
    );
  } finally {
    await dropPrefix(SHARED_REDIS, p);
    await admin.query(`DROP SCHEMA IF EXISTS "${a}" CASCADE; DROP SCHEMA IF EXISTS "${b}" CASCADE`);
    await admin.end();
  }
});

it('the last replica to stop removes the mark: the deployment starts again on another ledger at once', async () => {
  const p = uniq('sy-ledger-leave');
  const on = (keyPrefix: string): Config => ({ ...cfg, storage: { ...cfg.storage, keyPrefix } });
  const start = async (id: string, table: string): Promise<SharedState> => {
    const ledger = await PostgresLedger.open(PG_URL, { schema: SCHEMA, table });
    ledgers.push(ledger);
    const s = await openRedisShared({ cfg: () => on(p), ledger, log, env: { SWITCHYARD_REPLICA_ID: id } });
    await s.start();
    return s;
  };
  try {
    const a = await start('a', 'old_ledger');
    const b = await start('b', 'old_ledger');
    await a.close();
    // b still runs on the old ledger: a replica on the new one is refused.
    await expect(start('c', 'new_ledger')).rejects.toThrow(/the mark goes when the last of them stops/);
    await b.close();
    const c = await start('c', 'new_ledger');
    expect(c.ready()).toBe(true);
    await c.close();
  } finally {
    await dropPrefix(SHARED_REDIS, p);
  }
});

it('a replica on another keyPrefix than the replicas writing its ledger is refused at start-up; once they have all stopped it starts', async () => {
  // Two key prefixes on one ledger keep two sets of budget counters in Redis: each limit could be
  // spent once through each (a replica started with a typo in keyPrefix started silently, its
  // budgets rebuilt from the ledger and then blind to the others' spend, and theirs to its).
  const table = 'prefix_ledger';
  const pa = uniq('sy-prefix-a');
  const pb = uniq('sy-prefix-b');
  const on = (keyPrefix: string): Config => ({ ...cfg, storage: { ...cfg.storage, keyPrefix } });
  const start = async (id: string, keyPrefix: string): Promise<SharedState> => {
    const ledger = await PostgresLedger.open(PG_URL, { schema: SCHEMA, table });
    ledgers.push(ledger);
    const s = await openRedisShared({ cfg: () => on(keyPrefix), ledger, log, env: { SWITCHYARD_REPLICA_ID: id } });
    await s.start();
    return s;
  };
  try {
    const a = await start('a', pa);
    const refused = await start('b', pb).then(
      () => null,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(StartupError);
    expect((refused as Error).message).toMatch(
      new RegExp(`is written by replicas on keyPrefix ${pa} \\(last seen \\d+ s ago\\), and this replica's keyPrefix is ${pb}: .*spend each limit twice`),
    );
    // Another replica of the same deployment starts beside it.
    const a2 = await start('a2', pa);
    await a.close();
    await a2.close();
    // The last of them stopped: a deployment moved to a new keyPrefix on the same ledger starts at once.
    const b = await start('b', pb);
    expect(b.ready()).toBe(true);
    await b.close();
  } finally {
    await dropPrefix(SHARED_REDIS, pa);
    await dropPrefix(SHARED_REDIS, pb);
  }
});

it('a replica found on another ledger after start-up (Redis was down, or came back empty, when it started) admits nothing, rebuilds nothing and is not ready until it is on the right one', async () => {
  // A replicas round: such a replica, first to reconnect to an empty Redis, rebuilt the shared budget
  // from its own ledger ($0.49 spent became $0.001) and the limit was overrun by a quarter.
  const p = uniq('sy-ledger-late');
  const on: Config = { ...cfg, storage: { ...cfg.storage, keyPrefix: p } };
  const start = async (id: string, table: string): Promise<SharedState> => {
    const ledger = await PostgresLedger.open(PG_URL, { schema: SCHEMA, table });
    ledgers.push(ledger);
    const s = await openRedisShared({ cfg: () => on, ledger, log, env: { SWITCHYARD_REPLICA_ID: id } });
    open.push(s);
    await s.start();
    return s;
  };
  const redis = new Redis(SHARED_REDIS);
  try {
    const stray = await start('stray', 'stray_ledger');
    expect(stray.ready()).toBe(true);
    // The deployment's ledger is the mark now (its replicas marked an empty Redis first): written over at once, no race.
    const mainLedger = await PostgresLedger.open(PG_URL, { schema: SCHEMA, table: 'main_ledger' });
    ledgers.push(mainLedger);
    await redis.set(`{${p}}:ledger`, JSON.stringify(await mainLedger.identity()), 'PX', 10_000);
    const main = await start('main', 'main_ledger');
    expect(main.ready()).toBe(true);
    const t0 = Date.now();
    while (stray.ready() && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
    expect(stray.ready()).toBe(false);
    expect(stray.view().lastError).toMatch(/storage\.ledger is not the ledger the other replicas/);
    const refused = await stray.store.reserve('r-stray', null, 'm', 1000, Date.now()).catch((err: unknown) => err);
    expect(refused).toMatchObject({ status: 503, code: 'shared_state_unavailable' });
    expect((refused as Error).message).toMatch(/this replica's storage\.ledger is not the ledger the other replicas of its keyPrefix write/);
    // The deployment's replica goes on admitting.
    expect(await main.store.reserve('r-main', null, 'm', 1000, Date.now())).toMatchObject({ ok: true });
  } finally {
    redis.disconnect();
    await dropPrefix(SHARED_REDIS, p);
  }
});

it('a replica started while Redis was down leaves an empty Redis to be marked by the replicas that checked their ledger (on the wrong ledger, it came back first and its ledger became the mark)', async () => {
  const redis = await privateRedis();
  const p = uniq('sy-ledger-first');
  const on: Config = { ...cfg, storage: { ...cfg.storage, shared: redis.url, keyPrefix: p } };
  const replicaOn = async (id: string, table: string): Promise<SharedState> => {
    const ledger = await PostgresLedger.open(PG_URL, { schema: SCHEMA, table });
    ledgers.push(ledger);
    const s = await openRedisShared({ cfg: () => on, ledger, log, env: { SWITCHYARD_REPLICA_ID: id } });
    open.push(s);
    return s;
  };
  const until = async (what: string, ok: () => boolean, ms = 8000): Promise<void> => {
    const t0 = Date.now();
    while (!ok()) {
      if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    // Redis is down: the stray replica starts (not ready) without comparing its ledger with anyone's.
    const stray = await replicaOn('stray', 'first_stray');
    await stray.start();
    expect(stray.ready()).toBe(false);
    // Redis comes back empty, and the stray one reaches it first.
    await redis.start();
    await until('the stray replica reconnected', () => stray.view().health === 'up');
    await new Promise((r) => setTimeout(r, 600)); // two of its renewals and reclaim rounds (leaseMs 1000)
    expect(stray.ready()).toBe(false);
    expect(stray.view().lastError).toMatch(/could not compare its storage\.ledger .* waits up to 2 s/);
    // Nothing rebuilt from its ledger meanwhile: no budget counter in Redis (it seeded the global budget from its empty ledger).
    const look = new Redis(redis.url);
    try {
      expect(await look.keys(`{${p}}:b:*`)).toEqual([]);
    } finally {
      look.disconnect();
    }
    // A replica of the deployment (it checks at start-up) marks its ledger and serves.
    const right = await replicaOn('right', 'first_right');
    await right.start();
    expect(right.ready()).toBe(true);
    // The stray one finds the mark is not its ledger: refused for good, not ready.
    await until('the stray replica refused', () => /is not the ledger the other replicas/.test(String(stray.view().lastError)));
    expect(stray.ready()).toBe(false);
    // Reachable, but not admitting: switchyard_shared_state_up reads both (it said 1 while the replica answered 503).
    expect([stray.view().health, stray.view().admitting, right.view().admitting]).toEqual(['up', false, true]);
    await expect(stray.store.reserve('r-stray', null, 'm', 1000, Date.now())).rejects.toMatchObject({ status: 503, code: 'shared_state_unavailable' });
  } finally {
    await redis.dispose();
  }
});
