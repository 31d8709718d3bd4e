/**
 * The embedded ledger: one SQLite file next to the sidecar (better-sqlite3, synchronous).
 *
 * Durability: `journal_mode = WAL` with `synchronous = NORMAL`. Each insert is its own
 * transaction, appended to the WAL before `insert` resolves, so a committed row survives the
 * process being killed at any instant (the OS holds the written pages) — which is what the
 * spec asks ("nothing is lost when the process is killed"). NORMAL skips the fsync per commit
 * that FULL would do, so an OS crash or power cut can lose the last commits (never corrupt the
 * file); FULL would cost a disk flush on every request for a guarantee the spec does not ask.
 *
 * Group commit: rows that arrive in the same turn of the event loop are written in one
 * transaction (at the next `setImmediate`), and each `insert` resolves only after that
 * transaction committed — so a row is still durable before its response ends, but a burst of
 * requests pays for one commit instead of one each.
 *
 * Reads use safe-integer mode so sums come back as bigint and are checked, never rounded.
 */
import { isBusy, RETRY_FIRST_MS, RETRY_MAX_MS, whenFree } from './sqlite-busy.js';
import Database from 'better-sqlite3';
import { mkdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { InFlight, LedgerRow, LedgerStore, ModelQuality, ModelShare, SpendGroup, SpendScope, SpendTotal } from './ledger.js';
import { InFlightJournal } from './inflight-journal.js';
import { ensureCascadeSchema, SqliteCascade, SQLITE_ESCALATION_GROUP } from './sqlite-cascade.js';
import { atInId, ID_TIME_SLACK_MS, idFloor, idTime, spanParams, spanSql, type SpanParams } from './ledger-span.js';
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
  rowValues,
  toInt,
  validateRow,
  withShares,
  type DbRow,
  type ShareTotal,
} from './ledger-codec.js';

/** How long the serving process lets a commit wait for another process's lock, on the event loop (ms). */
const WRITER_BUSY_MS = 20;
/** Opening, migrating and recovering, before serving: as long as a report or a backup may hold the file (ms). */
const START_BUSY_MS = 5000;
/** What `close` waits for rows still queued behind a lock (ms). */
const CLOSE_WAIT_MS = 5000;
/** How often a serving ledger checks that its file is still the one at its path (see `watchFile`). */
export const FILE_CHECK_MS = 1000;

/**
 * A failure that is not the rows' own: the file's lock (as a single write waits for, see
 * sqlite-busy.ts) or the disk, not the values (those fail alone, row by row). SQLite's extended codes keep their primary code as a prefix (SQLITE_BUSY_SNAPSHOT).
 */
function notTheRows(err: unknown): boolean {
  if (isBusy(err)) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(FULL|IOERR|CANTOPEN|PROTOCOL|READONLY)/.test(code);
}

/** `PRAGMA user_version` of the schema below; bump it with a migration when columns change. */
export const SQLITE_SCHEMA_VERSION = 3;

/**
 * Version 2 kept one index on `at` covering the budget sums (`key_id`, `model`, `cost_nano`) and
 * a partial one on the cascade steps' `parent_id`: three B-trees written per row (the rowid
 * table, its `request_id` key, `ledger_at`). Version 3 keys the table by `request_id` itself
 * (`WITHOUT ROWID`) and keeps `ledger_at` only for rows whose `at` is not told by their id
 * (`at_in_id = 0`, see ledger-span.ts): a row of a request switchyard served writes one B-tree.
 * Measured in the commit that made it.
 */
const COLUMN_DEFS = `
  request_id        TEXT    NOT NULL PRIMARY KEY,
  at                INTEGER NOT NULL,
  key_id            TEXT,
  model             TEXT,
  endpoint          TEXT,
  attempts          INTEGER NOT NULL,
  prompt_tokens     INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cached_tokens     INTEGER NOT NULL,
  cost_nano         INTEGER NOT NULL,
  estimated         INTEGER NOT NULL,
  status            INTEGER NOT NULL,
  latency_ms        INTEGER NOT NULL,
  ttft_ms           INTEGER,
  stream            INTEGER NOT NULL,
  error_code        TEXT,
  parent_id         TEXT,
  step              INTEGER,
  quality           TEXT,
  delivered         INTEGER,
  route_score       REAL,
  at_in_id          INTEGER NOT NULL`;

const INDEXES = `
CREATE INDEX IF NOT EXISTS ledger_at ON ledger (at, key_id, model, cost_nano) WHERE at_in_id = 0;
CREATE INDEX IF NOT EXISTS ledger_parent ON ledger (parent_id) WHERE parent_id IS NOT NULL;
`;

const TABLE = `CREATE TABLE IF NOT EXISTS ledger (${COLUMN_DEFS}
) STRICT, WITHOUT ROWID;`;

/**
 * The file a ledger path leads to when a symlink is on the way (the path itself otherwise, so a
 * message names what the config says). A hard link is not seen through.
 */
export function realFile(path: string): string {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    try {
      real = join(realpathSync(dirname(resolve(path))), basename(path));
    } catch {
      return path;
    }
  }
  return real === resolve(path) ? path : real;
}

/**
 * A ledger that cannot be written is refused at start: a read-only file opened without an
 * error, then every request was answered and billed with no row (the row is logged as an error)
 * and the next start stopped on the journal's recovery with a stack trace. Rewriting the
 * header's user_version with its own value is a real write that changes nothing.
 */
export function probeWrite(db: Database.Database, path: string): void {
  try {
    const v = Number(db.pragma('user_version', { simple: true }));
    db.pragma(`user_version = ${v}`);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_PERM')
      throw new Error(
        `the ledger ${path} cannot be written by this process (${(err as Error).message}): give its user write access to the file (and its -wal and -shm files) or point storage.ledger at a writable path`,
      );
    throw err;
  }
}

/** Group keys; `at` is never negative (validated), so `at / 1000` is a floor. */
const GROUP_SQL: Record<SpendGroup, string> = {
  model: 'COALESCE(model, @none)',
  endpoint: 'COALESCE(endpoint, @none)',
  key: 'COALESCE(key_id, @none)',
  day: "strftime('%Y-%m-%d', at / 1000, 'unixepoch')",
  escalation: SQLITE_ESCALATION_GROUP,
};

type Scoped = SpanParams & { keyId?: string; model?: string };

/**
 * The parts of a row's cost billed on models other than its own (LedgerRow.shares): a table of its
 * own, created on every open (a ledger file of an earlier switchyard gets it empty: its rows have
 * none), so every query but the per-model sums reads the ledger table as before.
 */
const SHARE_TABLE = `
CREATE TABLE IF NOT EXISTS ledger_share (
  request_id TEXT    NOT NULL,
  model      TEXT    NOT NULL,
  at         INTEGER NOT NULL,
  key_id     TEXT,
  row_model  TEXT,
  cost_nano  INTEGER NOT NULL,
  PRIMARY KEY (request_id, model)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ledger_share_at ON ledger_share (at);`;

type Pending = {
  values: unknown[];
  requestId: string;
  reclaim: boolean;
  shares: ModelShare[] | undefined;
};

export class SqliteLedger implements LedgerStore {
  private readonly insertStmt: Database.Statement<unknown[], unknown>;
  /** A request's own row over a row reclaimed for it (replaceReclaimedSql). */
  private readonly replaceStmt: Database.Statement<unknown[], unknown>;
  private readonly spentStmts: Record<'any' | 'key' | 'model' | 'both', Database.Statement<[Scoped], { total: unknown }>>;
  private readonly groupStmts: Record<SpendGroup, Database.Statement<[SpanParams & { none: string }], Record<string, unknown>>>;
  /** The id of the n-th newest row found by id, and the newest rows of each kind (see `rows`). */
  private readonly nthByIdStmt: Database.Statement<[number], { request_id: string }>;
  private readonly recentByIdStmt: Database.Statement<[{ lo: string; n: number }], DbRow>;
  private readonly recentByAtStmt: Database.Statement<[number], DbRow>;
  private readonly byIdStmt: Database.Statement<[string], DbRow>;
  private pending: Array<Pending & { resolve: (r: 'inserted' | 'duplicate') => void; reject: (e: unknown) => void }> = [];
  /** Per-model sums: a model's shares in, its rows' shares of other models out (null: a reader of a file without the table). */
  private readonly shareStmts: {
    insert: Database.Statement<unknown[], unknown>;
    model: Database.Statement<[Scoped], { total: unknown }>;
    both: Database.Statement<[Scoped], { total: unknown }>;
    group: Database.Statement<[{ from: number; to: number }], ShareTotal>;
  } | null;
  private flushScheduled = false;
  /** A commit failed for a reason not the rows' own: the next try (see flush). */
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs = 0;
  private blocked: { since: number; reason: string } | null = null;
  private readonly insertBatch: (batch: Pending[]) => number[];
  /** One row and its shares in one transaction (a row written alone, outside a batch). */
  private readonly writeOne: (p: Pending) => number;
  private readonly cascade: SqliteCascade;
  /** A file store's in-flight journal (inflight-journal.ts); none in memory. */
  private readonly journal: InFlightJournal | null;
  /** Why the ledger's file is no longer at its path (removed or replaced while serving), or null. */
  private lostReason: string | null = null;
  private fileTimer: NodeJS.Timeout | null = null;
  private onLost: ((message: string) => void) | null = null;
  /** The file this process wrote to, and the copy `watchFile` restored at its path (its inode), if any. */
  private file: { path: string; restoredIno: number | null; lockGone: boolean } | null = null;

  private constructor(
    private readonly db: Database.Database,
    journal: InFlightJournal | null,
  ) {
    const placeholders = COLUMNS.map(() => '?').join(', ');
    this.insertStmt = db.prepare(`INSERT INTO ledger (${COLUMNS.join(', ')}, at_in_id) VALUES (${placeholders}, ?) ON CONFLICT (request_id) DO NOTHING`);
    this.replaceStmt = db.prepare(replaceReclaimedSql('ledger', () => '?', ['at_in_id']));
    this.journal = journal;
    this.insertBatch = db.transaction((batch: Pending[]) => batch.map((p) => this.write(p)));
    this.writeOne = db.transaction((p: Pending) => this.write(p));
    const hasShares = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_share'").get() !== undefined;
    const shareSum = (where: string) =>
      db
        .prepare<[Scoped], { total: unknown }>(
          `SELECT COALESCE(SUM(CASE WHEN model = @model THEN cost_nano ELSE -cost_nano END), 0) AS total FROM ledger_share
           WHERE (model = @model OR row_model = @model) AND ${where}at >= @from AND at < @to`,
        )
        .safeIntegers(true);
    this.shareStmts = hasShares
      ? {
          insert: db.prepare(
            'INSERT INTO ledger_share (request_id, model, at, key_id, row_model, cost_nano) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (request_id, model) DO NOTHING',
          ),
          model: shareSum(''),
          both: shareSum('key_id = @keyId AND '),
          group: db
            .prepare<[{ from: number; to: number }], ShareTotal>(
              'SELECT model, row_model, SUM(cost_nano) AS cost_nano FROM ledger_share WHERE at >= @from AND at < @to GROUP BY model, row_model',
            )
            .safeIntegers(true),
        }
      : null;
    const spent = (where: string) =>
      db.prepare<[Scoped], { total: unknown }>(`SELECT COALESCE(SUM(cost_nano), 0) AS total FROM (${spanSql('cost_nano', where)})`).safeIntegers(true);
    this.spentStmts = {
      any: spent(''),
      key: spent('key_id = @keyId AND '),
      model: spent('model = @model AND '),
      both: spent('key_id = @keyId AND model = @model AND '),
    };
    const grouped = (expr: string) =>
      db
        .prepare<[SpanParams & { none: string }], Record<string, unknown>>(
          `SELECT ${expr} AS grp, COUNT(*) AS requests, ${CLIENT_REQUESTS_SQL} AS client_requests, SUM(prompt_tokens) AS prompt_tokens,
                SUM(completion_tokens) AS completion_tokens, SUM(cost_nano) AS cost_nano
         FROM (${spanSql('*')}) GROUP BY grp ORDER BY grp`,
        )
        .safeIntegers(true);
    this.groupStmts = {
      model: grouped(GROUP_SQL.model),
      endpoint: grouped(GROUP_SQL.endpoint),
      key: grouped(GROUP_SQL.key),
      day: grouped(GROUP_SQL.day),
      escalation: grouped(GROUP_SQL.escalation),
    };
    this.cascade = new SqliteCascade(db);
    const select = `SELECT ${COLUMNS.join(', ')} FROM ledger`;
    this.nthByIdStmt = db.prepare<[number], { request_id: string }>(
      'SELECT request_id FROM ledger WHERE at_in_id = 1 ORDER BY request_id DESC LIMIT 1 OFFSET ?',
    );
    this.recentByIdStmt = db
      .prepare<[{ lo: string; n: number }], DbRow>(`${select} WHERE request_id >= @lo AND at_in_id = 1 ORDER BY at DESC, request_id DESC LIMIT @n`)
      .safeIntegers(true);
    this.recentByAtStmt = db.prepare<[number], DbRow>(`${select} WHERE at_in_id = 0 ORDER BY at DESC, request_id DESC LIMIT ?`).safeIntegers(true);
    this.byIdStmt = db.prepare<[string], DbRow>(`${select} WHERE request_id = ?`).safeIntegers(true);
  }

  /**
   * Opens (creating if needed) the database at `path`, or `:memory:`. A file store keeps its
   * in-flight journal next to it (`PATH-inflight-0`, `-1`, and its lock `PATH-inflight.lock`,
   * taken first: a second sidecar on the file is refused before it touches it), unless opened
   * only to read (`reader`: `switchyard calibrate` beside a running sidecar).
   */
  static open(
    path: string,
    { reader = false, onUpgrade, onLost }: { reader?: boolean; onUpgrade?: (message: string) => void; onLost?: (message: string) => void } = {},
  ): SqliteLedger {
    if (path !== ':memory:') {
      // A directory is no ledger: said before the journal's files are made beside it (they were left behind).
      if (statSync(path, { throwIfNoEntry: false })?.isDirectory() === true)
        throw new Error(`${path} is a directory: name a file, such as sqlite:${join(path, 'switchyard.db')}`);
      mkdirSync(dirname(resolve(path)), { recursive: true });
    }
    // The lock is named after the file the path leads to: a symlink to a ledger another sidecar
    // holds is the same ledger (with the path's own name, the two kept a budget each over one spend).
    const journal = path === ':memory:' || reader ? null : InFlightJournal.open(`${path}-inflight`, `${realFile(path)}-inflight`);
    let db: Database.Database | undefined;
    try {
      if (reader && path !== ':memory:') {
        // A reader (`switchyard calibrate`) changes nothing in the file, not even its journal mode:
        // read-only, and only a file that is this version's switchyard ledger (another program's
        // database, even one with a table named ledger, or an empty file, is refused untouched).
        db = new Database(path, { readonly: true, fileMustExist: true });
        checkReadable(db, path);
        db.pragma(`busy_timeout = ${START_BUSY_MS}`);
        return new SqliteLedger(db, journal);
      }
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma(`busy_timeout = ${START_BUSY_MS}`); // a second process (a report, a backup) may hold a lock
      if (!reader && path !== ':memory:') probeWrite(db, path);
      migrate(db, reader, onUpgrade);
      ensureCascadeSchema(db);
      ensureRouteScore(db);
      db.exec(SHARE_TABLE);
      // Serving, a second process's write lock (an operator's sqlite3, a backup) would be waited
      // for on the event loop: the serving process waits briefly and tries its commit again later
      // (flush). A reader (`switchyard calibrate`) may wait long.
      if (!reader) db.pragma(`busy_timeout = ${WRITER_BUSY_MS}`);
      const ledger = new SqliteLedger(db, journal);
      if (!reader && path !== ':memory:') ledger.watchFile(path, onLost);
      return ledger;
    } catch (err) {
      db?.close();
      journal?.close();
      throw err;
    }
  }

  /**
   * Checks every FILE_CHECK_MS that the file at `path` is still the one this process writes to.
   * Removed (its directory deleted, an operator's `rm`) or replaced, the rows went on into a file
   * nothing could find again: a restart made a new, empty ledger, and every budget started from
   * nothing. Found so, the ledger is `lost` (new requests are refused, `/readyz` says why) and what
   * it holds is copied back to `path` (VACUUM INTO; beside it, `PATH.recovered-<ms>`, when another
   * file is there now), and copied again at close with the rows committed since.
   */
  private watchFile(path: string, onLost?: (message: string) => void): void {
    const st = statSync(path);
    this.onLost = onLost ?? null;
    const lockPath = `${realFile(path)}-inflight.lock`;
    const lockIno = statSync(lockPath, { throwIfNoEntry: false })?.ino ?? null;
    this.file = { path, restoredIno: null, lockGone: false };
    this.fileTimer = setInterval(() => {
      const now = statSync(path, { throwIfNoEntry: false });
      if (now !== undefined && now.dev === st.dev && now.ino === st.ino) return;
      clearInterval(this.fileTimer!);
      this.fileTimer = null;
      // Our journal's lock went too (the directory removed): a lock found there later is another sidecar's.
      this.file!.lockGone = statSync(lockPath, { throwIfNoEntry: false })?.ino !== lockIno;
      const copy = this.copyOut(now === undefined ? path : `${path}.recovered-${Date.now()}`, now === undefined);
      this.lostReason =
        `the ledger file ${path} was ${now === undefined ? 'removed' : 'replaced by another file'} while switchyard was serving from it: ` +
        `${copy}; new requests are refused until switchyard restarts on it`;
      onLost?.(this.lostReason);
    }, FILE_CHECK_MS);
    this.fileTimer.unref();
  }

  /** The open database copied to `to` (its directory made again); `restored`: the copy is the ledger's own path. What happened, in words. */
  private copyOut(to: string, restored: boolean): string {
    try {
      mkdirSync(dirname(resolve(to)), { recursive: true });
      this.flush();
      this.db.prepare('VACUUM INTO ?').run(to);
      if (restored) this.file!.restoredIno = statSync(to).ino;
      return restored ? `its rows are restored there from the open database` : `its rows are copied to ${to}`;
    } catch (err) {
      return `its rows could not be copied to ${to} (${(err as Error).message}): they are in this process only`;
    }
  }

  /** Why the ledger's file is gone from its path (see `watchFile`); null while it is there. */
  get lost(): string | null {
    return this.lostReason;
  }

  /** Since when (epoch ms) and why the ledger's commits have been failing; null while they succeed. */
  get writeBlocked(): { since: number; reason: string } | null {
    return this.blocked;
  }

  insert(row: LedgerRow): Promise<'inserted' | 'duplicate'> {
    try {
      validateRow(row);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.pending.push({
        values: sqliteValues(row),
        requestId: row.requestId,
        reclaim: row.errorCode === RECLAIMED_ERROR_CODE,
        shares: row.shares !== undefined && row.shares.length > 0 ? row.shares : undefined,
        resolve,
        reject,
      });
      if (!this.flushScheduled && this.retryTimer === null) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** One row: inserted once by id, or over a row reclaimed for it when it is the request's own; then its shares. 1 when written. */
  private write(p: Pending): number {
    let n = this.insertStmt.run(...p.values).changes;
    if (n !== 1 && !p.reclaim) n = this.replaceStmt.run(...p.values.slice(1), p.values[0]).changes;
    if (n === 1 && p.shares !== undefined) {
      const insert = this.shareStmts?.insert;
      if (insert === undefined) throw new Error('the ledger was opened only to read');
      // COLUMNS order: request_id, at, key_id, model.
      for (const sh of p.shares) insert.run(p.values[0], sh.model, p.values[1], p.values[2], p.values[3], sh.costNano);
    }
    return n;
  }

  /**
   * Commit every queued row in one transaction; if it fails, row by row so one bad row fails alone.
   * A failure that is not the row's (the file locked by another process, the disk full, an I/O
   * error) keeps the rows queued and tries again later, with a growing pause (at most
   * {@link RETRY_MAX_MS}): each request's answer ends only once its row is committed, as the
   * contract says, and the event loop is never held while it waits (it was held 5 s a commit,
   * then the row was dropped while its client had its answer).
   */
  private flush(): void {
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    const batch = this.pending;
    this.pending = [];
    this.flushScheduled = false;
    if (batch.length === 0) return;
    let changes: number[];
    try {
      changes = this.insertBatch(batch);
    } catch (err) {
      if (notTheRows(err)) return this.retryLater(batch, err);
      const again: typeof batch = [];
      let transient: unknown = null;
      for (const p of batch) {
        try {
          const inserted = this.writeOne(p) === 1;
          this.journal?.settled(p.requestId);
          p.resolve(inserted ? 'inserted' : 'duplicate');
        } catch (e) {
          if (notTheRows(e)) {
            again.push(p);
            transient = e;
          } else p.reject(e);
        }
      }
      if (again.length > 0) this.retryLater(again, transient);
      else this.blocked = null;
      return;
    }
    this.blocked = null;
    this.retryMs = 0;
    batch.forEach((p, i) => {
      this.journal?.settled(p.requestId);
      p.resolve(changes[i] === 1 ? 'inserted' : 'duplicate');
    });
  }

  /** The rows go back to the front of the queue; a timer commits them (and what came meanwhile) later. */
  private retryLater(batch: typeof this.pending, err: unknown): void {
    this.pending = batch.concat(this.pending);
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs === 0 ? RETRY_FIRST_MS : this.retryMs * 2);
    const code = (err as { code?: unknown }).code;
    this.blocked ??= { since: Date.now(), reason: `${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}` };
    if (!this.db.open) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.flush();
    }, this.retryMs);
  }

  /** Appended to the journal (with the other holds of this turn, in one write); send the attempt once it resolves. A memory store keeps none. */
  hold(h: InFlight): Promise<void> | void {
    return this.journal?.hold(h);
  }

  get invalidJournalLines(): number {
    return this.journal?.invalidLines ?? 0;
  }

  /** Journal lines of a process that died mid-request become rows spent at their held amount (once: insert-once by id). */
  async recoverInFlight(): Promise<number> {
    if (!this.journal) return 0;
    this.flush();
    const journal = this.journal;
    journal.flush();
    const left = journal.pending().filter((h) => !journal.has(h.requestId) && this.byIdStmt.get(h.requestId) === undefined);
    // At start, before serving: a lock may be waited for as long as opening the file did.
    this.db.pragma(`busy_timeout = ${START_BUSY_MS}`);
    try {
      this.db.transaction(() => {
        for (const h of left) this.insertStmt.run(...sqliteValues(interruptedRow(h)));
      })();
    } finally {
      this.db.pragma(`busy_timeout = ${WRITER_BUSY_MS}`);
    }
    journal.clear();
    return left.length;
  }

  async spentSince(scope: SpendScope, fromMs: number, toMs: number = MAX_AT): Promise<number> {
    checkRange(fromMs, toMs);
    const hasKey = scope.keyId !== undefined;
    const hasModel = scope.model !== undefined;
    const stmt = this.spentStmts[hasKey ? (hasModel ? 'both' : 'key') : hasModel ? 'model' : 'any'];
    const params: Scoped = spanParams(fromMs, toMs);
    if (hasKey) params.keyId = scope.keyId;
    if (hasModel) params.model = scope.model;
    const rows = toInt(stmt.get(params)?.total);
    if (!hasModel || this.shareStmts === null) return rows;
    return rows + toInt(this.shareStmts[hasKey ? 'both' : 'model'].get(params)?.total);
  }

  async spendBy(group: SpendGroup, fromMs: number = MIN_AT, toMs: number = MAX_AT): Promise<SpendTotal[]> {
    checkRange(fromMs, toMs);
    const totals = this.groupStmts[group].all({ ...spanParams(fromMs, toMs), none: NO_GROUP }).map(decodeTotal);
    if (group !== 'model' || this.shareStmts === null) return totals;
    return withShares(totals, this.shareStmts.group.all({ from: fromMs, to: toMs }));
  }

  async rows(opts: { limit?: number; requestId?: string } = {}): Promise<LedgerRow[]> {
    if (opts.requestId !== undefined) {
      const row = this.byIdStmt.get(opts.requestId);
      return row === undefined ? [] : [decodeRow(row)];
    }
    const limit = opts.limit ?? DEFAULT_ROWS_LIMIT;
    checkLimit(limit);
    return this.recent(limit);
  }

  /**
   * The `limit` newest rows by `at` (ties: the larger id first). Of the rows found by id, only ids
   * from twice the slack before the n-th newest id are read: the n rows from that id on all have
   * `at` at least its time minus the slack, so each of the n newest rows does too, and its id's
   * time is at most the slack before its `at`. The other rows come from `ledger_at`.
   */
  private recent(limit: number): LedgerRow[] {
    const nth = this.nthByIdStmt.get(limit - 1);
    const t = nth === undefined ? null : idTime(nth.request_id);
    const lo = t === null ? '' : idFloor(t - 2 * ID_TIME_SLACK_MS);
    const rows = [...this.recentByIdStmt.all({ lo, n: limit }), ...this.recentByAtStmt.all(limit)].map(decodeRow);
    rows.sort((a, b) => b.at - a.at || (a.requestId < b.requestId ? 1 : a.requestId > b.requestId ? -1 : 0));
    return rows.length > limit ? rows.slice(0, limit) : rows;
  }

  async steps(parentId: string): Promise<LedgerRow[]> {
    this.flush();
    return this.cascade.steps(parentId);
  }

  async recordFeedback(requestId: string, good: boolean, at: number): Promise<'stored' | 'unknown_request'> {
    this.flush();
    return whenFree('could not record the feedback', () => this.cascade.recordFeedback(requestId, good, at));
  }

  async qualityStats(fromMs?: number, toMs?: number): Promise<ModelQuality[]> {
    this.flush();
    return this.cascade.qualityStats(fromMs, toMs);
  }

  /**
   * Rows still waiting for a lock get a last few seconds; what cannot be committed then stays in
   * the in-flight journal, which the next start counts at the held amount.
   */
  async close(): Promise<void> {
    if (this.fileTimer !== null) clearInterval(this.fileTimer);
    await this.drainQueued(CLOSE_WAIT_MS);
    this.recopy();
    if (this.db.open) this.db.close();
    this.journal?.close();
  }

  /** A copy restored at the ledger's path (watchFile) is made again at close, with the rows committed since, if it is still there. */
  private recopy(): void {
    const f = this.file;
    if (f === null || f.restoredIno === null || !this.db.open) return;
    // Another sidecar started on the restored file (its journal lock is there again: ours went with
    // the directory): it is that one's ledger now. Renamed over it, the copy took its rows away and
    // made it see its file replaced. Our rows since the restore go beside it, said.
    const lockNow = statSync(`${realFile(f.path)}-inflight.lock`, { throwIfNoEntry: false }) !== undefined;
    const taken = (f.lockGone && lockNow) || statSync(f.path, { throwIfNoEntry: false })?.ino !== f.restoredIno;
    if (taken) {
      const beside = `${f.path}.recovered-${Date.now()}`;
      try {
        this.db.prepare('VACUUM INTO ?').run(beside);
        this.onLost?.(`at shutdown, the ledger's rows (those since its file was restored included) are in ${beside}: ${f.path} is another process's now`);
      } catch (err) {
        this.onLost?.(`at shutdown, the ledger's rows since its file was restored could not be copied to ${beside}: ${(err as Error).message}`);
      }
      return;
    }
    const tmp = `${f.path}.closing-${process.pid}`;
    try {
      rmSync(tmp, { force: true });
      this.db.prepare('VACUUM INTO ?').run(tmp);
      renameSync(tmp, f.path);
    } catch {
      rmSync(tmp, { force: true });
    }
  }

  /**
   * Rows still waiting for a lock get up to `maxMs` to commit; those that cannot are then refused
   * (their requests answer, the row's absence logged), and stay in the in-flight journal, which
   * the next start counts at the held amount. Shutdown calls it before the connections close, so
   * a client waiting on its row gets its answer rather than a bare close.
   */
  async drainQueued(maxMs: number): Promise<void> {
    const until = Date.now() + maxMs;
    while (this.db.open) {
      this.flush();
      if (this.pending.length === 0 || Date.now() >= until) break;
      await new Promise((r) => setTimeout(r, RETRY_FIRST_MS * 4));
    }
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const p of this.pending.splice(0)) p.reject(new Error(`the ledger row was not committed before shutdown (${this.blocked?.reason ?? 'closed'})`));
  }
}

const toBit = (b: boolean): number => (b ? 1 : 0);

/** The insert's values: {@link COLUMNS} in order (booleans as 0/1), then `at_in_id` (ledger-span.ts). */
function sqliteValues(row: LedgerRow): Array<string | number | boolean | null> {
  const values = rowValues(row, toBit);
  values.push(atInId(row.requestId, row.at));
  return values;
}

/** A file a reader may read: this version's switchyard ledger, else an error saying what it is. */
function checkReadable(db: Database.Database, path: string): void {
  const cols = (db.pragma('table_info(ledger)') as Array<{ name: string }>).map((c) => c.name);
  if (!cols.includes('request_id') || !cols.includes('cost_nano'))
    throw new Error(
      `${path} is not a switchyard ledger (${cols.length === 0 ? 'it has no ledger table' : "its ledger table is not switchyard's"}): point storage.ledger at the file switchyard serve writes`,
    );
  const version = toInt(db.pragma('user_version', { simple: true }));
  if (version > SQLITE_SCHEMA_VERSION) throw new Error(`ledger schema version ${version} is newer than this switchyard (${SQLITE_SCHEMA_VERSION})`);
  if (version < SQLITE_SCHEMA_VERSION)
    throw new Error(
      `the ledger is schema version ${version}, written by an older switchyard; start this version's sidecar on it once to upgrade it, then run this again`,
    );
}

function migrate(db: Database.Database, reader: boolean, onUpgrade?: (message: string) => void): void {
  const version = toInt(db.pragma('user_version', { simple: true }));
  if (version > SQLITE_SCHEMA_VERSION) {
    throw new Error(`ledger schema version ${version} is newer than this switchyard (${SQLITE_SCHEMA_VERSION})`);
  }
  if (version === SQLITE_SCHEMA_VERSION) return;
  db.transaction(() => {
    const existing = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger'").get() !== undefined;
    if (existing && reader) {
      // A reader (calibrate) may run beside an older sidecar still writing this file: rebuilding
      // the table under it would break its inserts. Only a sidecar, which holds the file alone, upgrades it.
      throw new Error(
        `the ledger is schema version ${version}, written by an older switchyard; start this version's sidecar on it once to upgrade it, then run this again`,
      );
    }
    if (existing) {
      // Versions 1 and 2: the columns brought up to date in place (the cascade's, route_score),
      // then the rows copied into version 3's table (keyed by request_id, each with its
      // at_in_id) and the indexes made anew. Rows, ids and amounts are kept as they were.
      ensureCascadeSchema(db);
      ensureRouteScore(db);
      const n = toInt(db.prepare('SELECT COUNT(*) AS n FROM ledger').pluck().get());
      onUpgrade?.(`upgrading the ledger from schema version ${version} to ${SQLITE_SCHEMA_VERSION}: copying ${n} rows`);
      db.exec(`DROP INDEX IF EXISTS ledger_at;
DROP INDEX IF EXISTS ledger_key_at;
DROP INDEX IF EXISTS ledger_model_at;
DROP INDEX IF EXISTS ledger_parent;
ALTER TABLE ledger RENAME TO ledger_before_v3;`);
      db.exec(TABLE);
      db.function('switchyard_at_in_id', { deterministic: true }, (id: unknown, at: unknown) => atInId(String(id), Number(at)));
      const cols = COLUMNS.join(', ');
      db.exec(`INSERT INTO ledger (${cols}, at_in_id) SELECT ${cols}, switchyard_at_in_id(request_id, at) FROM ledger_before_v3`);
      db.exec('DROP TABLE ledger_before_v3');
    } else {
      db.exec(TABLE);
    }
    db.exec(INDEXES);
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
  })();
}

/**
 * Issue 11: the `auto` scorer's score per request (`route_score`, for `switchyard calibrate`; no
 * prompt text). Added in place like the cascade columns (idempotent, no schema version bump).
 */
function ensureRouteScore(db: Database.Database): void {
  const have = (db.pragma('table_info(ledger)') as Array<{ name: string }>).some((c) => c.name === 'route_score');
  if (!have) db.exec('ALTER TABLE ledger ADD COLUMN route_score REAL');
}
