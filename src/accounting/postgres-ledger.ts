/**
 * The shared ledger for replicas: the same interface on PostgreSQL through a `pg` Pool.
 *
 * Insert-once by request id, so a write resent after a reconnect, or a reservation reclaimed by
 * two replicas, can never count twice; a request's own row replaces a row reclaimed for it while
 * it was still being served (`replaceReclaimedSql`, ledger-codec.ts). Every insert is an
 * autocommitted statement: committed when the promise resolves. The table and indexes are
 * created if absent under a transaction-scoped advisory lock, so replicas booting together do
 * not race on `CREATE TABLE IF NOT EXISTS` (which is not concurrency-safe in PostgreSQL).
 *
 * BIGINT and SUM results arrive from pg as decimal strings and are converted with an exact
 * safe-integer check (ledger-codec.ts).
 */
import { isConnectionError, isUnreachable, pgUnavailable, writableLater } from './pg-unavailable.js';
import pg from 'pg';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InFlightJournal } from './inflight-journal.js';
import { JournalLockedError } from './journal-lock.js';
import type { InFlight, LedgerIdentity, LedgerOptions, LedgerRow, LedgerStore, ModelQuality, SpendGroup, SpendScope, SpendTotal } from './ledger.js';
import {
  COLUMNS,
  RECLAIMED_ERROR_CODE,
  replaceReclaimedSql,
  DEFAULT_ROWS_LIMIT,
  MAX_AT,
  MIN_AT,
  NO_GROUP,
  checkLimit,
  checkRange,
  decodeRow,
  CLIENT_REQUESTS_SQL,
  decodeTotal,
  interruptedRow,
  rowSpent,
  rowValues,
  toInt,
  validateRow,
  withShares,
  type DbRow,
  type ShareTotal,
} from './ledger-codec.js';
import { addCascadeSchema, PG_ESCALATION_GROUP, PostgresCascade } from './postgres-cascade.js';

export const DEFAULT_PG_TABLE = 'switchyard_ledger';

/**
 * Every pool's limits on waiting for PostgreSQL. Without them a server that stops answering
 * without closing the socket (paused, a partition without a reset) held every answer forever:
 * a response waits for its ledger row. With them the row fails (logged) and the answer goes out.
 */
export const PG_POOL_TIMEOUTS = { connectionTimeoutMillis: 5_000, query_timeout: 15_000, keepAlive: true } as const;
/** The advisory lock every PostgreSQL schema change of switchyard takes (ledger, response store). */
export const SCHEMA_LOCK_KEY = 0x5717_c4a1;
/** Times an insert is sent again after its connection was lost (it is insert-once by request id: safe to resend). */
const INSERT_RETRIES = 2;
/** Ledger rows kept in memory while PostgreSQL cannot be reached (a few hundred bytes each). */
const MAX_BACKLOG = 50_000;
const BACKLOG_RETRY_MS = 1000;
/** How long an answer waits for its row before the row is kept in memory and written later (a server slow or not answering). */
export const ROW_WAIT_MS = 1000;
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
/** Epoch ms → UTC date by integer arithmetic: independent of the session's TimeZone. */
const DAY_SQL = "to_char((DATE '1970-01-01' + (at / 86400000)::int)::timestamp, 'YYYY-MM-DD')";

/** COLLATE "C" sorts by bytes, as SQLite does, whatever the database locale. */
const GROUP_SQL: Record<SpendGroup, string> = {
  model: 'COALESCE(model, $3::text) COLLATE "C"',
  endpoint: 'COALESCE(endpoint, $3::text) COLLATE "C"',
  key: 'COALESCE(key_id, $3::text) COLLATE "C"',
  day: `${DAY_SQL} COLLATE "C"`,
  escalation: `${PG_ESCALATION_GROUP} COLLATE "C"`,
};

const INSERT_COLUMNS = COLUMNS.join(', ');
const INSERT_PLACEHOLDERS = COLUMNS.map((_, i) => `$${i + 1}`).join(', ');

/** Replicas on Redis that write a ledger (markShared): `"<table>_replicas"`, in the ledger's schema. */
const replicasTableOf = (table: string): string => table.replace(/"$/, '_replicas"');
/** The parts of rows' costs billed on other models than the row's (LedgerRow.shares): `"<table>_share"`, in the ledger's schema. */
const shareTableOf = (table: string): string => table.replace(/"$/, '_share"');

/**
 * A row and its shares in one statement (so both are committed or neither): `insert` (or the
 * replace of a reclaimed row) returns the row written, and the shares are inserted from it. Its
 * parameters: the statement's own, then the shares' models and amounts as two arrays.
 */
function withSharesSql(write: string, shareTable: string, first: number): string {
  return `WITH r AS (${write} RETURNING request_id, at, key_id, model),
  s AS (INSERT INTO ${shareTable} (request_id, model, at, key_id, row_model, cost_nano)
        SELECT r.request_id, x.model, r.at, r.key_id, r.model, x.cost FROM r CROSS JOIN unnest($${first}::text[], $${first + 1}::bigint[]) AS x(model, cost)
        ON CONFLICT (request_id, model) DO NOTHING)
  SELECT COUNT(*)::int AS n FROM r`;
}

export class PostgresLedger implements LedgerStore {
  private closed = false;
  /**
   * Rows PostgreSQL could not take because it could not be reached: kept in memory (at most
   * {@link MAX_BACKLOG}) and written again every second, in order, until it takes them (insert-once
   * by request id: a row that did land is not counted twice). While any wait, a new row joins them
   * without trying (its answer does not wait out a connect timeout) and the sidecar is not ready
   * (`writeBlocked`: a load balancer sends traffic to a replica whose ledger works).
   */
  private readonly backlog: LedgerRow[] = [];
  private backlogSince: number | null = null;
  /** Why the kept rows wait (the last failure's kind and SQLSTATE), for the log and `/readyz`. */
  private notTaking = 'PostgreSQL cannot be reached';
  private drainTimer: NodeJS.Timeout | null = null;
  private readonly cascade: PostgresCascade;
  /** Insert-once by request id: a row already there is kept. */
  private readonly insertSql: string;
  /** A request's own row over a row reclaimed for it (replaceReclaimedSql). */
  private readonly replaceSql: string;
  /** Which replicas on Redis write this ledger (markShared). */
  private readonly replicasTable: string;
  /** LedgerRow.shares; null: a reader of a database whose ledger has no such table yet. */
  private readonly shareTable: string | null;
  private readonly insertSharedSql: string;
  private readonly replaceSharedSql: string;

  private constructor(
    private readonly pool: pg.Pool,
    /** Quoted, schema-qualified table name (validated identifiers only). */
    private readonly table: string,
    feedbackTable: string,
    /** A lone sidecar's in-flight journal (`LedgerOptions.journal`); none for replicas on Redis. */
    private readonly journal: InFlightJournal | null,
    /** Told of what cannot be written at all (logged by the caller). */
    private readonly onError: ((err: Error) => void) | undefined = undefined,
    hasShares = true,
  ) {
    this.cascade = new PostgresCascade(pool, table, feedbackTable);
    this.insertSql = `INSERT INTO ${table} (${INSERT_COLUMNS}) VALUES (${INSERT_PLACEHOLDERS}) ON CONFLICT (request_id) DO NOTHING`;
    this.replaceSql = replaceReclaimedSql(table, (i) => `$${i + 1}`);
    this.replicasTable = replicasTableOf(table);
    this.shareTable = hasShares ? shareTableOf(table) : null;
    this.insertSharedSql = withSharesSql(this.insertSql, shareTableOf(table), COLUMNS.length + 1);
    this.replaceSharedSql = withSharesSql(this.replaceSql, shareTableOf(table), COLUMNS.length + 1);
  }

  static async open(url: string, options: LedgerOptions = {}): Promise<PostgresLedger> {
    const tableName = identifier(options.table ?? DEFAULT_PG_TABLE, 'table');
    const schema = options.schema === undefined ? undefined : identifier(options.schema, 'schema');
    const table = schema === undefined ? `"${tableName}"` : `"${schema}"."${tableName}"`;
    const feedbackTable = schema === undefined ? `"${tableName}_feedback"` : `"${schema}"."${tableName}_feedback"`;
    let journal: InFlightJournal | null = null;
    if (options.journal !== undefined) {
      try {
        mkdirSync(dirname(resolve(options.journal)), { recursive: true });
        journal = InFlightJournal.open(options.journal);
      } catch (err) {
        if (err instanceof JournalLockedError) throw err;
        throw new Error(`cannot open the in-flight journal ${options.journal}-0 / -1: ${(err as Error).message}`);
      }
    }
    const pool = new pg.Pool({ connectionString: url, ...PG_POOL_TIMEOUTS });
    // Without a listener an idle connection's error would crash the process; the next query
    // reports the same failure to its caller.
    // An idle connection the server ended (a restart, pg_terminate_backend): the pool opens another; said, without a stack.
    pool.on('error', (err) =>
      options.onError?.(Object.assign(new Error(`an idle PostgreSQL connection ended (the pool opens another): ${err.message}`), { idle: true })),
    );
    let hasShares = true;
    try {
      // A reader (`switchyard calibrate`) creates nothing: a database without the table is not a switchyard ledger.
      if (options.reader === true) {
        const found = await pool.query<{ t: string | null; s: string | null }>('SELECT to_regclass($1) AS t, to_regclass($2) AS s', [
          table,
          shareTableOf(table),
        ]);
        if (found.rows[0]?.t == null)
          throw new Error(`the database has no switchyard ledger table ${table} (storage.ledger): point it at the database switchyard serve writes`);
        hasShares = found.rows[0]?.s != null;
      } else await createSchema(pool, schema, table, tableName, feedbackTable);
    } catch (err) {
      await pool.end();
      journal?.close();
      throw err;
    }
    return new PostgresLedger(pool, table, feedbackTable, journal, options.onError, hasShares);
  }

  async insert(row: LedgerRow, opts: { keep?: boolean } = {}): Promise<'inserted' | 'duplicate'> {
    validateRow(row);
    const keep = opts.keep !== false;
    if (keep && this.backlog.length > 0 && this.backlog.length < MAX_BACKLOG && !this.closed) return this.keep(row, null);
    const writing = this.write(row);
    try {
      if (!keep) return await writing;
      // A server that stops answering holds a write until the query timeout (15 s), and each
      // answer waited for its row that long, past its client's deadline (an SDK then sent it again,
      // billed three times). A row not written within ROW_WAIT_MS is kept: the write goes on, and
      // whichever lands first is the one row (insert-once by request id).
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), ROW_WAIT_MS);
      });
      const first = await Promise.race([writing, late]).finally(() => clearTimeout(timer));
      if (first !== 'late') return first;
      if (this.closed || this.backlog.length >= MAX_BACKLOG) return await writing;
      writing.then(
        () => this.forget(row),
        () => undefined,
      );
      return await this.keep(row, new SlowWrite());
    } catch (err) {
      if (!keep || this.closed || !writableLater(err) || this.backlog.length >= MAX_BACKLOG) throw err;
      return this.keep(row, err);
    }
  }

  /** A kept row whose slow first write landed after all: no longer waiting (the drain would find it written). */
  private forget(row: LedgerRow): void {
    const i = this.backlog.indexOf(row);
    if (i > 0) this.backlog.splice(i, 1);
    // The first is the one the drain may be writing now: it finds it written (insert-once) and moves on.
  }

  get writeBlocked(): { since: number; reason: string; shown: string } | null {
    if (this.backlogSince === null) return null;
    return { since: this.backlogSince, reason: `${this.notTaking}: ${this.backlog.length} ledger rows wait to be written`, shown: this.notTaking };
  }

  /** Keeps a row PostgreSQL could not take (see `backlog`); rejects so the request's log says so. */
  private keep(row: LedgerRow, err: unknown): Promise<never> {
    this.backlog.push(row);
    this.backlogSince ??= Date.now();
    if (err !== null) this.notTaking = notTaking(err);
    this.scheduleDrain();
    return Promise.reject(new RowKept(`${this.notTaking}: the row is kept in memory and written once it is back (${this.backlog.length} waiting)`));
  }

  private scheduleDrain(): void {
    if (this.drainTimer !== null || this.closed) return;
    this.drainTimer = setTimeout(() => void this.drain(), BACKLOG_RETRY_MS);
    this.drainTimer.unref();
  }

  /** Writes the kept rows in order; stops at the first that still cannot reach PostgreSQL (tried again later). */
  private async drain(): Promise<void> {
    this.drainTimer = null;
    while (this.backlog.length > 0) {
      try {
        await this.write(this.backlog[0]!);
      } catch (err) {
        if (writableLater(err) && !this.closed) {
          this.notTaking = notTaking(err);
          return this.scheduleDrain();
        }
        if (this.closed) return;
        // PostgreSQL took the statement and refused it: no retry will change that.
        this.onError?.(err instanceof Error ? err : new Error(String(err)));
      }
      this.backlog.shift();
    }
    this.backlogSince = null;
  }

  /** Rows still kept in memory (PostgreSQL unreachable). */
  get waitingRows(): number {
    return this.backlog.length;
  }

  private async write(row: LedgerRow): Promise<'inserted' | 'duplicate'> {
    const values = rowValues(row, (b) => b);
    const shares = row.shares !== undefined && row.shares.length > 0 ? row.shares : null;
    let written: boolean;
    if (shares === null) {
      written = (await this.resending(this.insertSql, values)).rowCount === 1;
      if (!written && row.errorCode !== RECLAIMED_ERROR_CODE) written = (await this.resending(this.replaceSql, [...values.slice(1), values[0]])).rowCount === 1;
    } else {
      const parts = [shares.map((sh) => sh.model), shares.map((sh) => sh.costNano)];
      const n = async (sql: string, v: unknown[]) => toInt((await this.resending(sql, [...v, ...parts])).rows[0]?.n);
      written = (await n(this.insertSharedSql, values)) === 1;
      if (!written && row.errorCode !== RECLAIMED_ERROR_CODE) written = (await n(this.replaceSharedSql, [...values.slice(1), values[0]])) === 1;
    }
    // Committed (autocommit): the request's journal line is no longer needed.
    this.journal?.settled(row.requestId);
    return written ? 'inserted' : 'duplicate';
  }

  /**
   * An insert, sent again on a fresh pooled connection when its connection was lost (a backend
   * terminated while idle in the pool, a reset socket): the pool drops the broken client, and the
   * statement is insert-once by request id, so a resend never counts twice. Other errors are thrown.
   */
  private async resending(sql: string, values: unknown[]): Promise<pg.QueryResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.pool.query(sql, values);
      } catch (err) {
        if (attempt >= INSERT_RETRIES || this.closed || !isConnectionError(err)) throw err;
      }
    }
  }

  /** A lone sidecar's journal line (written with the other holds of this turn); none without a journal. */
  hold(h: InFlight): Promise<void> | void {
    return this.journal?.hold(h);
  }

  get invalidJournalLines(): number {
    return this.journal?.invalidLines ?? 0;
  }

  /**
   * Journal lines of a process that died mid-request become rows spent at their held amount,
   * once: a request that has a row already keeps it (insert-once by id).
   */
  async recoverInFlight(): Promise<number> {
    const journal = this.journal;
    if (journal === null) return 0;
    journal.flush();
    let recovered = 0;
    for (const h of journal.pending()) {
      if (journal.has(h.requestId)) continue;
      const result = await this.pool.query(
        this.insertSql,
        rowValues(interruptedRow(h), (b) => b),
      );
      recovered += result.rowCount ?? 0;
    }
    journal.clear();
    return recovered;
  }

  keptRows(): readonly LedgerRow[] {
    return this.backlog;
  }

  async spentSince(scope: SpendScope, fromMs: number, toMs: number = MAX_AT, opts: { stored?: boolean } = {}): Promise<number> {
    checkRange(fromMs, toMs);
    if (opts.stored === true) return this.storedSpentSince(scope, fromMs, toMs);
    // Rows kept in memory while PostgreSQL could not take them are spent too: a budget rebuilt from
    // the ledger meanwhile (Redis back empty, a reload's new line) counted less than was spent, and
    // admitted past its limit. Those waiting when the query starts or when it ends, once each: one
    // written between the two may be counted twice, the safe way.
    const before = this.backlog.length > 0 ? this.backlog.slice() : null;
    const stored = await this.storedSpentSince(scope, fromMs, toMs);
    if (before === null && this.backlog.length === 0) return stored;
    const waiting = new Map<string, LedgerRow>();
    for (const r of [...(before ?? []), ...this.backlog]) waiting.set(r.requestId, r);
    let kept = 0;
    for (const r of waiting.values()) kept += rowSpent(r, scope, fromMs, toMs);
    return stored + kept;
  }

  private async storedSpentSince(scope: SpendScope, fromMs: number, toMs: number): Promise<number> {
    const params: Array<string | number> = [fromMs, toMs];
    let where = 'at >= $1 AND at < $2';
    if (scope.keyId !== undefined) {
      params.push(scope.keyId);
      where += ` AND key_id = $${params.length}`;
    }
    let shares = '';
    if (scope.model !== undefined) {
      params.push(scope.model);
      const m = `$${params.length}`;
      // A model's shares of other rows count for it; its own rows' shares of other models do not.
      if (this.shareTable !== null)
        shares = ` + (SELECT COALESCE(SUM(CASE WHEN model = ${m} THEN cost_nano ELSE -cost_nano END), 0) FROM ${this.shareTable}
          WHERE ${where} AND (model = ${m} OR row_model = ${m}))`;
      where += ` AND model = ${m}`;
    }
    const result = await this.pool.query<{ total: string }>(
      `SELECT ((SELECT COALESCE(SUM(cost_nano), 0) FROM ${this.table} WHERE ${where})${shares})::text AS total`,
      params,
    );
    return toInt(result.rows[0]?.total);
  }

  async spendBy(group: SpendGroup, fromMs: number = MIN_AT, toMs: number = MAX_AT): Promise<SpendTotal[]> {
    try {
      checkRange(fromMs, toMs);
      const params: Array<string | number> = [fromMs, toMs];
      if (group !== 'day') params.push(NO_GROUP);
      const result = await this.pool.query<Record<string, unknown>>(
        `SELECT ${GROUP_SQL[group]} AS grp, COUNT(*)::text AS requests, ${CLIENT_REQUESTS_SQL}::text AS client_requests,
                SUM(prompt_tokens)::text AS prompt_tokens,
                SUM(completion_tokens)::text AS completion_tokens, SUM(cost_nano)::text AS cost_nano
         FROM ${this.table} WHERE at >= $1 AND at < $2
         GROUP BY grp ORDER BY grp`,
        params,
      );
      const totals = result.rows.map(decodeTotal);
      if (group !== 'model' || this.shareTable === null) return totals;
      const shares = await this.pool.query<ShareTotal>(
        `SELECT model, row_model, SUM(cost_nano)::text AS cost_nano FROM ${this.shareTable} WHERE at >= $1 AND at < $2 GROUP BY model, row_model`,
        [fromMs, toMs],
      );
      return withShares(totals, shares.rows);
    } catch (err) {
      throw pgUnavailable(err);
    }
  }

  async rows(opts: { limit?: number; requestId?: string } = {}): Promise<LedgerRow[]> {
    try {
      const select = `SELECT ${COLUMNS.join(', ')} FROM ${this.table}`;
      if (opts.requestId !== undefined) {
        const result = await this.pool.query<DbRow>(`${select} WHERE request_id = $1`, [opts.requestId]);
        return result.rows.map(decodeRow);
      }
      const limit = opts.limit ?? DEFAULT_ROWS_LIMIT;
      checkLimit(limit);
      const result = await this.pool.query<DbRow>(`${select} ORDER BY at DESC, seq DESC LIMIT $1`, [limit]);
      return result.rows.map(decodeRow);
    } catch (err) {
      throw pgUnavailable(err);
    }
  }

  steps(parentId: string): Promise<LedgerRow[]> {
    return this.cascade.steps(parentId);
  }

  recordFeedback(requestId: string, good: boolean, at: number): Promise<'stored' | 'unknown_request'> {
    return this.cascade.recordFeedback(requestId, good, at);
  }

  qualityStats(fromMs?: number, toMs?: number): Promise<ModelQuality[]> {
    return this.cascade.qualityStats(fromMs, toMs);
  }

  async identity(): Promise<LedgerIdentity | null> {
    try {
      // The schema the server finds the table in (by search_path when the config names none).
      const db = await this.pool.query<{ db: string; schema: string | null }>(
        'SELECT current_database() AS db, (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)) AS schema',
        [this.table],
      );
      // pg_control_system() may be refused to a managed server's user: the database and table still tell.
      const sys = await this.pool.query<{ sys: string }>('SELECT system_identifier::text AS sys FROM pg_control_system()').catch(() => null);
      return { system: sys?.rows[0]?.sys ?? null, database: db.rows[0]!.db, table: this.table.replaceAll('"', ''), schema: db.rows[0]!.schema };
    } catch {
      return null;
    }
  }

  /**
   * Which replicas on Redis write this ledger and when they last said so: one row per key prefix in
   * `<table>_replicas` (an upsert: no lock beyond its row, nothing held on the ledger table).
   */
  async markShared(keyPrefix: string, at: number): Promise<void> {
    const t = this.replicasTable;
    await this.pool.query(
      `INSERT INTO ${t} (key_prefix, seen_at) VALUES ($1, $2) ON CONFLICT (key_prefix) DO UPDATE SET seen_at = GREATEST(${t}.seen_at, EXCLUDED.seen_at)`,
      [keyPrefix, Math.floor(at)],
    );
  }

  async sharedMark(except?: string): Promise<{ keyPrefix: string; at: number } | null> {
    const r =
      except === undefined
        ? await this.pool.query<{ key_prefix: string; seen_at: string }>(`SELECT key_prefix, seen_at FROM ${this.replicasTable} ORDER BY seen_at DESC LIMIT 1`)
        : await this.pool.query<{ key_prefix: string; seen_at: string }>(
            `SELECT key_prefix, seen_at FROM ${this.replicasTable} WHERE key_prefix <> $1 ORDER BY seen_at DESC LIMIT 1`,
            [except],
          );
    const row = r.rows[0];
    return row ? { keyPrefix: row.key_prefix, at: Number(row.seen_at) } : null;
  }

  async unmarkShared(keyPrefix: string): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.replicasTable} WHERE key_prefix = $1`, [keyPrefix]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // One last try for the rows PostgreSQL could not take; what is left is lost and said so.
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
    if (this.backlog.length > 0) await this.drain();
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
    if (this.backlog.length > 0)
      this.onError?.(
        new Error(
          `${this.backlog.length} ledger rows could not be written: PostgreSQL did not take them until shutdown (${this.notTaking}; ${this.backlog
            .map((r) => r.requestId)
            .join(', ')
            .slice(0, 2000)})`,
        ),
      );
    this.closed = true;
    this.journal?.close();
    await this.pool.end();
  }
}

/**
 * Runs schema changes in one transaction under {@link SCHEMA_LOCK_KEY}: replicas booting together
 * would otherwise race on `CREATE TABLE IF NOT EXISTS`, which PostgreSQL does not make
 * concurrency-safe ("duplicate key value violates unique constraint pg_type_typname_nsp_index").
 */
export async function underSchemaLock(pool: pg.Pool, change: (client: pg.PoolClient) => Promise<void>): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
    await change(client);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

function createSchema(pool: pg.Pool, schema: string | undefined, table: string, name: string, feedbackTable: string): Promise<void> {
  return underSchemaLock(pool, async (client) => {
    if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`
      CREATE TABLE IF NOT EXISTS ${table} (
        seq               BIGSERIAL,
        request_id        TEXT     NOT NULL PRIMARY KEY,
        at                BIGINT   NOT NULL,
        key_id            TEXT,
        model             TEXT,
        endpoint          TEXT,
        attempts          INTEGER  NOT NULL,
        prompt_tokens     BIGINT   NOT NULL,
        completion_tokens BIGINT   NOT NULL,
        cached_tokens     BIGINT   NOT NULL,
        cost_nano         BIGINT   NOT NULL,
        estimated         BOOLEAN  NOT NULL,
        status            INTEGER  NOT NULL,
        latency_ms        BIGINT   NOT NULL,
        ttft_ms           BIGINT,
        stream            BOOLEAN  NOT NULL,
        error_code        TEXT
      )`);
    // Additive migration of tables made before issue 11 (the `auto` scorer's score).
    await client.query(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS route_score DOUBLE PRECISION`);
    await client.query(`CREATE INDEX IF NOT EXISTS "${name}_at" ON ${table} (at)`);
    await client.query(`CREATE INDEX IF NOT EXISTS "${name}_key_at" ON ${table} (key_id, at)`);
    await client.query(`CREATE INDEX IF NOT EXISTS "${name}_model_at" ON ${table} (model, at)`);
    await addCascadeSchema(client, table, name, feedbackTable);
    await client.query(`CREATE TABLE IF NOT EXISTS ${replicasTableOf(table)} (key_prefix TEXT NOT NULL PRIMARY KEY, seen_at BIGINT NOT NULL)`);
    // LedgerRow.shares: created empty beside a ledger of an earlier switchyard (its rows have none).
    await client.query(`CREATE TABLE IF NOT EXISTS ${shareTableOf(table)} (
        request_id TEXT   NOT NULL,
        model      TEXT   NOT NULL,
        at         BIGINT NOT NULL,
        key_id     TEXT,
        row_model  TEXT,
        cost_nano  BIGINT NOT NULL,
        PRIMARY KEY (request_id, model)
      )`);
    await client.query(`CREATE INDEX IF NOT EXISTS "${name}_share_at" ON ${shareTableOf(table)} (at)`);
  });
}

function identifier(name: string, what: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`invalid PostgreSQL ${what} name "${name}"`);
  return name;
}

/**
 * A row PostgreSQL could not take now, kept in memory and written once it can (`keep`): not lost,
 * so the request's log line is a warning without a stack (`kept`), as the ledger's own warnings
 * (watchLedgerWrites) say the outage; an error line with a stack for each request flooded the log.
 */
class RowKept extends Error {
  readonly kept = true;
}

/** A write PostgreSQL had not answered within ROW_WAIT_MS. */
class SlowWrite extends Error {
  constructor() {
    super(`PostgreSQL does not answer within ${ROW_WAIT_MS} ms`);
  }
}

/** What a failed write says of PostgreSQL: unreachable, slow, or refusing the ledger's writes for a reason not the row's (its SQLSTATE). */
function notTaking(err: unknown): string {
  if (err instanceof SlowWrite) return err.message;
  const code = (err as { code?: unknown } | null)?.code;
  const c = typeof code === 'string' ? ` (${code})` : '';
  return isUnreachable(err) ? `PostgreSQL cannot be reached${c}` : `PostgreSQL refuses the ledger's writes${c}`;
}
