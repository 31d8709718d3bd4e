/**
 * Runs against the PostgreSQL named by SWITCHYARD_TEST_PG_URL (default: the local test
 * database). An unreachable server fails the suite; set SWITCHYARD_TEST_PG=off to skip it
 * deliberately. Each run works in its own schema and drops it afterwards.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLedger } from '../../src/accounting/ledger.js';
import { PG_POOL_TIMEOUTS, PostgresLedger, ROW_WAIT_MS } from '../../src/accounting/postgres-ledger.js';
import { startPgRelay } from './pg-relay.js';
import { T0, expectRecovered, held, holdBeforeDying, ledgerContract, makeRow } from './ledger-contract.js';

const URL_ = process.env.SWITCHYARD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `sy_test_${Date.now()}_${randomBytes(3).toString('hex')}`;
let tables = 0;
const nextTable = (): string => `ledger_${++tables}`;
/** The same server, with the session clock in a zone 14 h (or 10 h) away from UTC. */
const withTimeZone = (zone: string): string => `${URL_}${URL_.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c TimeZone=${zone}`)}`;

describe.skipIf(process.env.SWITCHYARD_TEST_PG === 'off')('PostgresLedger', () => {
  beforeAll(async () => {
    const client = new pg.Client({ connectionString: URL_ });
    await client.connect(); // fails the suite loudly when the server is not there
    await client.end();
  });

  afterAll(async () => {
    const client = new pg.Client({ connectionString: URL_ });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
    await client.query(`DROP SCHEMA IF EXISTS "${SCHEMA}_boot" CASCADE`);
    await client.end();
  });

  ledgerContract('postgres', () => openLedger(URL_, { schema: SCHEMA, table: nextTable() }));

  it('rows PostgreSQL cannot take while it is unreachable are kept, the sidecar not ready, and written in order once it is back (each once)', async () => {
    const relay = await startPgRelay(URL_);
    const ledger = await PostgresLedger.open(relay.url, { schema: SCHEMA, table: nextTable() });
    try {
      await ledger.insert(makeRow({ requestId: 'before', costNano: 1 }));
      relay.cut();
      await expect(ledger.insert(makeRow({ requestId: 'down-1', costNano: 10 }))).rejects.toThrow(/kept in memory and written once it is back \(1 waiting\)/);
      expect(ledger.writeBlocked?.reason).toMatch(/1 ledger rows wait/);
      // Marked kept: the request logs a warning, not an error with a stack for every request of an outage.
      await expect(ledger.insert(makeRow({ requestId: 'down-1b', costNano: 0 }))).rejects.toMatchObject({ kept: true });
      // A row while others wait joins them at once (no connect attempt to wait out).
      await expect(ledger.insert(makeRow({ requestId: 'down-2', costNano: 100 }))).rejects.toThrow(/\(3 waiting\)/);
      relay.restore();
      const t0 = Date.now();
      while (ledger.waitingRows > 0 && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 50));
      expect(ledger.writeBlocked).toBeNull();
      const rows = await ledger.rows({});
      expect(rows.map((r) => r.requestId).sort()).toEqual(['before', 'down-1', 'down-1b', 'down-2']);
      expect(await ledger.spentSince({}, 0)).toBe(111);
    } finally {
      await ledger.close();
      relay.close();
    }
  });

  it('spentSince counts the rows kept in memory, as the query counts stored ones (a budget rebuilt while they waited — Redis back empty — counted less than was spent), and each once when they are written', async () => {
    const table = nextTable();
    const ledger = await PostgresLedger.open(URL_, { schema: SCHEMA, table });
    const admin = new pg.Client({ connectionString: URL_ });
    await admin.connect();
    const fn = `"${SCHEMA}"."refuse_${table}"`;
    try {
      await ledger.insert(makeRow({ requestId: 'stored', costNano: 1, model: 'a', keyId: 'k1' }));
      // Writes refused as a read-only standby refuses them (25006), reads served: the rows wait in memory.
      await admin.query(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'read only' USING ERRCODE = '25006'; END $$`);
      await admin.query(`CREATE TRIGGER refuse BEFORE INSERT ON "${SCHEMA}"."${table}" FOR EACH ROW EXECUTE FUNCTION ${fn}()`);
      await expect(ledger.insert(makeRow({ requestId: 'kept-1', costNano: 10, model: 'a', keyId: 'k1' }))).rejects.toThrow(/kept in memory/);
      await expect(
        ledger.insert(makeRow({ requestId: 'kept-2', costNano: 100, model: 'b', keyId: 'k2', shares: [{ model: 'a', costNano: 30 }] })),
      ).rejects.toThrow(/kept in memory/);
      await expect(ledger.insert(makeRow({ requestId: 'kept-old', costNano: 1000, model: 'a', keyId: 'k1', at: T0 - 5000 }))).rejects.toThrow(/kept in memory/);
      expect(ledger.waitingRows).toBe(3);
      const figures = async () => [
        await ledger.spentSince({}, T0),
        await ledger.spentSince({ keyId: 'k1' }, T0),
        await ledger.spentSince({ model: 'a' }, T0),
        await ledger.spentSince({ model: 'b' }, T0),
        await ledger.spentSince({ keyId: 'k2', model: 'a' }, T0),
        await ledger.spentSince({}, 0),
      ];
      // a: its own rows (1 + 10) and its share of b's row (30); b: its row less that share.
      expect(await figures()).toEqual([111, 11, 41, 70, 30, 1111]);
      await admin.query(`DROP TRIGGER refuse ON "${SCHEMA}"."${table}"`);
      const t0 = Date.now();
      while (ledger.waitingRows > 0 && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 50));
      expect(ledger.waitingRows).toBe(0);
      expect(await figures()).toEqual([111, 11, 41, 70, 30, 1111]);
    } finally {
      await admin.query(`DROP TRIGGER IF EXISTS refuse ON "${SCHEMA}"."${table}"`).catch(() => undefined);
      await admin.end();
      await ledger.close();
    }
  });

  it("a row PostgreSQL refuses for a reason not the row's own (here its table renamed away: 42P01; as a password rotated, a read-only standby, a database not taking connections) is kept, the sidecar not ready, and written once it can be (it was dropped while the client had its 200)", async () => {
    const table = nextTable();
    const ledger = await PostgresLedger.open(URL_, { schema: SCHEMA, table });
    const admin = new pg.Client({ connectionString: URL_ });
    await admin.connect();
    try {
      await ledger.insert(makeRow({ requestId: 'before-refusal', costNano: 1 }));
      await admin.query(`ALTER TABLE "${SCHEMA}"."${table}" RENAME TO "${table}_away"`);
      await expect(ledger.insert(makeRow({ requestId: 'refused', costNano: 10 }))).rejects.toThrow(
        /^PostgreSQL refuses the ledger's writes \(42P01\): the row is kept in memory and written once it is back \(1 waiting\)/,
      );
      expect(ledger.writeBlocked?.reason).toBe("PostgreSQL refuses the ledger's writes (42P01): 1 ledger rows wait to be written");
      // What /readyz says of it: the words and the SQLSTATE, no error text.
      expect(ledger.writeBlocked?.shown).toBe("PostgreSQL refuses the ledger's writes (42P01)");
      await admin.query(`ALTER TABLE "${SCHEMA}"."${table}_away" RENAME TO "${table}"`);
      const t0 = Date.now();
      while (ledger.waitingRows > 0 && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 50));
      expect(ledger.writeBlocked).toBeNull();
      expect((await ledger.rows({})).map((r) => r.requestId).sort()).toEqual(['before-refusal', 'refused']);
    } finally {
      await admin.end();
      await ledger.close();
    }
  });

  it('a row whose statement timed out on a server that stopped answering (pg: "Query read timeout") is kept and written once it answers', async () => {
    const relay = await startPgRelay(URL_);
    // 15 s in production; 1 s here so the test does not wait it out.
    const timeouts = PG_POOL_TIMEOUTS as { query_timeout: number };
    const was = timeouts.query_timeout;
    timeouts.query_timeout = 1_000;
    const ledger = await PostgresLedger.open(relay.url, { schema: SCHEMA, table: nextTable() });
    timeouts.query_timeout = was;
    try {
      await ledger.insert(makeRow({ requestId: 'before-stall', costNano: 1 }));
      relay.stall();
      await expect(ledger.insert(makeRow({ requestId: 'stalled', costNano: 10 }))).rejects.toThrow(/kept in memory and written once it is back \(1 waiting\)/);
      relay.flow();
      const t0 = Date.now();
      while (ledger.waitingRows > 0 && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 50));
      expect((await ledger.rows({})).map((r) => r.requestId).sort()).toEqual(['before-stall', 'stalled']);
      expect(await ledger.spentSince({}, 0)).toBe(11);
    } finally {
      await ledger.close();
      relay.close();
    }
  });

  it(`a write PostgreSQL does not answer within ROW_WAIT_MS (${ROW_WAIT_MS} ms) is kept and the answer goes on (each answer waited out the 15 s query timeout, past its client's deadline); the row lands once`, async () => {
    const relay = await startPgRelay(URL_);
    const ledger = await PostgresLedger.open(relay.url, { schema: SCHEMA, table: nextTable() });
    try {
      // Every byte held, on open connections and new ones alike (a server that stops answering).
      relay.hold();
      const t0 = Date.now();
      // Several at once, as under load: none waits much beyond ROW_WAIT_MS (a generous bound; the query timeout is 15 s).
      const all = await Promise.allSettled(['slow-1', 'slow-2', 'slow-3'].map((requestId) => ledger.insert(makeRow({ requestId, costNano: 10 }))));
      expect(Date.now() - t0).toBeLessThan(ROW_WAIT_MS + 4_000);
      for (const r of all)
        expect(r.status === 'rejected' ? String(r.reason) : `fulfilled ${String(r.value)}`).toMatch(
          /does not answer within 1000 ms: the row is kept in memory/,
        );
      expect(ledger.writeBlocked?.reason).toMatch(/PostgreSQL does not answer within 1000 ms: 3 ledger rows wait/);
      expect(await ledger.spentSince({}, 0).catch(() => 'unreadable')).toBe('unreadable');
      relay.release();
      const t1 = Date.now();
      while (ledger.waitingRows > 0 && Date.now() - t1 < 20_000) await new Promise((r) => setTimeout(r, 50));
      expect(ledger.waitingRows).toBe(0);
      expect((await ledger.rows({})).map((r) => r.requestId).sort()).toEqual(['slow-1', 'slow-2', 'slow-3']);
      expect(await ledger.spentSince({}, 0)).toBe(30);
    } finally {
      await ledger.close();
      relay.close();
    }
  });

  describe('the in-flight journal of a lone sidecar (no Redis)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-pg-journal-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('drops a line when its row is committed and turns what a dead process left into rows at start-up, once', async () => {
      const table = nextTable();
      const journal = join(dir, `${table}/inflight`); // its directory is created
      const first = await PostgresLedger.open(URL_, { schema: SCHEMA, table, journal });
      await holdBeforeDying(first);
      expect(readFileSync(`${journal}-0`, 'utf8')).toContain('"id":"died"');
      // The process dies: no row for `died`, its journal line stays (close writes nothing more).
      await first.close();

      const second = await PostgresLedger.open(URL_, { schema: SCHEMA, table, journal });
      try {
        await expectRecovered(second, [`${journal}-0`, `${journal}-1`]);
      } finally {
        await second.close();
      }
    });

    it('keeps no journal without the option (replicas on Redis reclaim through it instead)', async () => {
      const ledger = await PostgresLedger.open(URL_, { schema: SCHEMA, table: nextTable() });
      try {
        expect(ledger.hold(held('x', 1))).toBeUndefined();
        expect(await ledger.recoverInFlight()).toBe(0);
      } finally {
        await ledger.close();
      }
    });
  });

  it('groups by UTC day whatever the session time zone', async () => {
    const table = nextTable();
    const writer = await PostgresLedger.open(withTimeZone('Pacific/Kiritimati'), { schema: SCHEMA, table });
    await writer.insert(makeRow({ at: T0 - 1, costNano: 1 }));
    await writer.insert(makeRow({ at: T0, costNano: 10 }));
    await writer.insert(makeRow({ at: T0 + 86_400_000 - 1, costNano: 100 }));
    for (const zone of ['Pacific/Kiritimati', 'America/Adak', 'UTC']) {
      const reader = await PostgresLedger.open(withTimeZone(zone), { schema: SCHEMA, table });
      const days = await reader.spendBy('day');
      expect(
        days.map((d) => [d.group, d.costNano]),
        zone,
      ).toEqual([
        ['2024-03-09', 1],
        ['2024-03-10', 110],
      ]);
      await reader.close();
    }
    await writer.close();
  });

  it('is one ledger for every replica: insert-once and sums across connections', async () => {
    const table = nextTable();
    const [a, b] = await Promise.all([PostgresLedger.open(URL_, { schema: SCHEMA, table }), PostgresLedger.open(URL_, { schema: SCHEMA, table })]);
    if (a === undefined || b === undefined) throw new Error('two stores expected');
    const row = makeRow({ costNano: 40 });
    const results = await Promise.all([a.insert(row), b.insert(row), a.insert(row), b.insert(row)]);
    expect(results.sort()).toEqual(['duplicate', 'duplicate', 'duplicate', 'inserted']);
    await b.insert(makeRow({ costNano: 2 }));
    expect(await a.spentSince({}, 0)).toBe(42);
    await Promise.all([a.close(), b.close()]);
  });

  describe('an insert whose pooled connection is terminated (pg_terminate_backend, a failover)', () => {
    /** The ledger's own backends, told apart by application_name. */
    const open = async (): Promise<{ ledger: PostgresLedger; app: string; table: string }> => {
      const app = `sy_term_${randomBytes(3).toString('hex')}`;
      const table = nextTable();
      const url = `${URL_}${URL_.includes('?') ? '&' : '?'}application_name=${app}`;
      return { ledger: await PostgresLedger.open(url, { schema: SCHEMA, table, onError: () => undefined }), app, table };
    };

    it('is sent again on a fresh connection when its backend is terminated mid-statement: the row is written once', async () => {
      const { ledger, app, table } = await open();
      const admin = new pg.Client({ connectionString: URL_ });
      await admin.connect();
      try {
        // The insert waits on a lock while its backend is terminated.
        await admin.query('BEGIN');
        await admin.query(`LOCK TABLE "${SCHEMA}"."${table}" IN ACCESS EXCLUSIVE MODE`);
        const row = makeRow({ costNano: 7 });
        const inserting = ledger.insert(row);
        let pid: number | undefined;
        for (let i = 0; i < 200 && pid === undefined; i++) {
          const r = await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [app]);
          pid = r.rows[0]?.pid;
          if (pid === undefined) await new Promise((res) => setTimeout(res, 25));
        }
        expect(pid).toBeDefined();
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        await admin.query('COMMIT');
        expect(await inserting).toBe('inserted');
        expect((await ledger.rows({ requestId: row.requestId })).map((r) => r.costNano)).toEqual([7]);
      } finally {
        await admin.query('ROLLBACK').catch(() => undefined);
        await admin.end();
        await ledger.close();
      }
    });

    it('is written when the idle pooled connection it gets was terminated', async () => {
      const { ledger, app } = await open();
      const admin = new pg.Client({ connectionString: URL_ });
      await admin.connect();
      try {
        await ledger.insert(makeRow()); // leaves one idle client in the pool
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [app]);
        const row = makeRow({ costNano: 9 });
        expect(await ledger.insert(row)).toBe('inserted');
        expect((await ledger.rows({ requestId: row.requestId })).map((r) => r.costNano)).toEqual([9]);
      } finally {
        await admin.end();
        await ledger.close();
      }
    });

    it('is not sent again after an error of the statement itself (here: its table is gone)', async () => {
      const { ledger, table } = await open();
      const admin = new pg.Client({ connectionString: URL_ });
      await admin.connect();
      const query = vi.spyOn(pg.Pool.prototype, 'query');
      try {
        await admin.query(`DROP TABLE "${SCHEMA}"."${table}" CASCADE`);
        // Not kept (keep: false), so the statement's own error is what comes back.
        await expect(ledger.insert(makeRow(), { keep: false })).rejects.toMatchObject({ code: '42P01' });
        expect(query).toHaveBeenCalledTimes(1);
      } finally {
        query.mockRestore();
        await admin.end();
        await ledger.close();
      }
    });
  });

  it('creates the table safely when many replicas boot at once', async () => {
    const table = nextTable();
    const stores = await Promise.all(Array.from({ length: 6 }, () => PostgresLedger.open(URL_, { schema: `${SCHEMA}_boot`, table })));
    await stores[0]?.insert(makeRow());
    expect(await stores[5]?.rows()).toHaveLength(1);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('rejects table and schema names that are not plain identifiers', async () => {
    await expect(PostgresLedger.open(URL_, { table: 'x"; DROP TABLE y; --' })).rejects.toThrow(/invalid PostgreSQL table/);
    await expect(PostgresLedger.open(URL_, { schema: 'Upper' })).rejects.toThrow(/invalid PostgreSQL schema/);
  });

  it('opened only to read (calibrate), a database without the table is refused and gets no table (it got switchyard_ledger and its feedback table)', async () => {
    const table = nextTable();
    await expect(openLedger(URL_, { schema: SCHEMA, table, reader: true })).rejects.toThrow(/has no switchyard ledger table/);
    const pool = new pg.Pool({ connectionString: URL_, ...PG_POOL_TIMEOUTS });
    try {
      const r = await pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`"${SCHEMA}"."${table}"`]);
      expect(r.rows[0]!.t).toBeNull();
    } finally {
      await pool.end();
    }
    // Once a sidecar made it, the reader opens it.
    await (await openLedger(URL_, { schema: SCHEMA, table })).close();
    await (await openLedger(URL_, { schema: SCHEMA, table, reader: true })).close();
  });

  it('is what openLedger returns for postgres:// and postgresql:// URLs', async () => {
    const table = nextTable();
    for (const url of [URL_, URL_.replace(/^postgres:/, 'postgresql:')]) {
      const store = await openLedger(url, { schema: SCHEMA, table });
      expect(store).toBeInstanceOf(PostgresLedger);
      await store.close();
    }
  });
});
