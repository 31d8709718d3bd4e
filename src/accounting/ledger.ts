/**
 * The spend ledger: one row per client request, the durable truth that budgets are rebuilt
 * from (spec §7, distributed.md "Ledger first"). Calls are asynchronous and rows are keyed by
 * request id, so the SQLite store of a lone sidecar and the PostgreSQL store shared by
 * replicas answer the same interface.
 */
import { setTimeout as delay } from 'node:timers/promises';

/** One request, written once when it ends (success or failure). */
export interface LedgerRow {
  /** The request id (insert-once key: a retried write of the same request is a no-op). */
  requestId: string;
  /** When the request started, epoch ms. Periods and `spentSince` are measured on it. */
  at: number;
  /** Client key id (`auth.keys[].id`), null without auth. */
  keyId: string | null;
  /** Catalogue model that answered (or was last tried), null if none was chosen. */
  model: string | null;
  /** Endpoint id that answered (or was last tried), null if none was reached. */
  endpoint: string | null;
  attempts: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  /** Integer nano-USD (money.ts). */
  costNano: number;
  /** True when tokens were counted locally because the upstream reported no usage. */
  estimated: boolean;
  /** HTTP status returned to the client. */
  status: number;
  latencyMs: number;
  ttftMs: number | null;
  stream: boolean;
  /** Error catalog code when the request failed, else null. */
  errorCode: string | null;
  /** The `auto` scorer's score in [0, 1] (for `switchyard calibrate`); null/absent when no score decided. No prompt text is stored. */
  routeScore?: number | null;
  /** One step of a quality cascade (absent for a request that was not cascaded). */
  cascade?: CascadeStep;
  /**
   * The parts of `costNano` billed on models other than `model` (a stream continued on another
   * model, an attempt billed before a fail-over), one per model; absent or empty when there are
   * none. Each model's budgets were charged its own part, so the per-model sums (`spentSince` with
   * a model, `spendBy('model')`) count each part for its model, not for the row's. Written with
   * the row, in the same transaction; not read back by `rows`.
   */
  shares?: ModelShare[];
}

/** What one model's attempts of a request cost (LedgerRow.shares). */
export interface ModelShare {
  model: string;
  costNano: number;
}

/** A cascade step's request id: `<parentId>#<step>` (the client's request id, then the 1-based step). */
export function stepRequestId(parentId: string, step: number): string {
  return `${parentId}#${step}`;
}

const STEP_ID = /^(.+)#([1-9][0-9]{0,8})$/;

/**
 * The parent and step a cascade step's request id names, or null for any other id (switchyard's
 * request ids hold no `#`; see {@link stepRequestId}). What a row reclaimed after a crash knows
 * of its cascade: only its id was journalled.
 */
export function stepOfRequestId(requestId: string): { parentId: string; step: number } | null {
  const m = STEP_ID.exec(requestId);
  return m === null ? null : { parentId: m[1]!, step: Number(m[2]) };
}

/** A cascade step's row: `requestId` is `<parentId>#<step>` ({@link stepRequestId}). */
export interface CascadeStep {
  /** The client's request id. */
  parentId: string;
  /** 1-based. */
  step: number;
  /** `pass`, the failed checks joined by `+`, `judge:pass|fail`, or the error code of a step without an answer. */
  quality: string;
  /** This step's answer is the one the client received. */
  delivered: boolean;
}

/** What the quality checks and the apps' feedback say about one model (`switchyard calibrate`). */
export interface ModelQuality {
  model: string;
  /** Rows that reached the model and were answered (cascade steps and plain requests). */
  requests: number;
  /** Cascade steps whose answer was checked. */
  checked: number;
  /** Of those, answers that failed a check. */
  failed: number;
  /** Feedback on answers this model delivered. */
  good: number;
  bad: number;
}

export type SpendGroup = 'model' | 'endpoint' | 'key' | 'day' | 'escalation';

export interface SpendTotal {
  /** The model, endpoint or key id ({@link NO_GROUP} for null), or the UTC day `YYYY-MM-DD`. */
  group: string;
  /** Rows: each cascade step (and judgement) is one, so a cascaded request counts once per step. */
  requests: number;
  /** Client requests: a plain row, or a cascade's first step (each client request is counted once over all groups). */
  clientRequests: number;
  promptTokens: number;
  completionTokens: number;
  costNano: number;
}

/** Which rows a budget counts; an absent field matches any value (null included). */
export interface SpendScope {
  keyId?: string;
  model?: string;
}

/** A PostgreSQL ledger's identity (LedgerStore.identity); `system` null when the server does not say. */
export interface LedgerIdentity {
  system: string | null;
  database: string;
  table: string;
  /**
   * The schema the table is in, as the server resolved its name (a table named without a schema is
   * found by the connection's `search_path`: two replicas with other search paths write two
   * ledgers under one name). Absent in marks of versions before it: then not compared.
   */
  schema?: string | null;
}

/** Every range below is half-open, `fromMs ≤ at < toMs`, so adjacent periods never overlap. */
export interface LedgerStore {
  /**
   * Insert-once on requestId; committed durably when the promise resolves. `keep: false`: a row a
   * PostgreSQL ledger cannot write now is refused (the promise rejects) instead of kept in memory to
   * be written later — its caller keeps it elsewhere (a reclaimed row waits in Redis).
   */
  insert(row: LedgerRow, opts?: { keep?: boolean }): Promise<'inserted' | 'duplicate'>;
  /**
   * Exact sum of costNano over the scope and range (`toMs` absent: no upper bound), the rows this
   * process keeps in memory to write later included (`stored: true`: only the rows written).
   */
  spentSince(scope: SpendScope, fromMs: number, toMs?: number, opts?: { stored?: boolean }): Promise<number>;
  /** The rows this process keeps in memory to write later (a PostgreSQL ledger that cannot take them now); none elsewhere. */
  keptRows?(): readonly LedgerRow[];
  /** Totals per group, sorted by group ascending (chronological for 'day', which is UTC). */
  spendBy(group: SpendGroup, fromMs?: number, toMs?: number): Promise<SpendTotal[]>;
  /**
   * Newest first (by `at`, then insertion order), at most `limit` rows (default
   * {@link DEFAULT_ROWS_LIMIT}); with `requestId`, that row alone if it exists.
   */
  rows(opts?: { limit?: number; requestId?: string }): Promise<LedgerRow[]>;
  /** The steps of a cascaded request, by step number. */
  steps(parentId: string): Promise<LedgerRow[]>;
  /** An app's verdict on a request's answer (the latest verdict wins); unknown request ids are refused. */
  recordFeedback(requestId: string, good: boolean, at: number): Promise<'stored' | 'unknown_request'>;
  /** Check and feedback rates per model over the range. */
  qualityStats(fromMs?: number, toMs?: number): Promise<ModelQuality[]>;
  /**
   * The in-flight journal of a lone process (SQLite only; replicas on Redis reclaim instead):
   * before an attempt is sent, `hold` records durably the most the request can have cost so
   * far — at once, or by the promise it returns (the attempt is sent only after it resolves; a
   * rejection fails the attempt as a throw would); writing the request's row drops it. What is
   * left at start-up belonged to a process that died mid-request: `recoverInFlight` turns each
   * into a row spent at the held amount (`errorCode` `reservation_reclaimed`, estimated).
   */
  hold?(h: InFlight): Promise<void> | void;
  recoverInFlight?(): Promise<number>;
  /** Journal lines the last `recoverInFlight` skipped because they are not what switchyard writes (edited or damaged). */
  readonly invalidJournalLines?: number;
  /** Why the ledger's file is no longer at its path (removed or replaced while serving: a SQLite ledger's), or null. */
  readonly lost?: string | null;
  /**
   * Since when and why commits have been failing for a reason not the rows' own (a lock, a full
   * disk); null while they succeed. `shown`: what `/readyz` (no token) may say of it, fixed words
   * and a code, no error text (PostgreSQL's: unreachable, refusing with its SQLSTATE, or slow).
   */
  readonly writeBlocked?: { since: number; reason: string; shown?: string } | null;
  /** Rows queued behind a lock: up to `maxMs` to commit, then refused (their requests answer; the journal keeps them). */
  drainQueued?(maxMs: number): Promise<void>;
  /**
   * Which ledger this is, for replicas to tell that they all write the same one (a PostgreSQL
   * ledger: its server's system identifier, database and table); null when it cannot be read.
   */
  identity?(): Promise<LedgerIdentity | null>;
  /**
   * A PostgreSQL ledger's record that replicas on Redis write it (their key prefix, when one last
   * said so), so a sidecar started on it without Redis, or a replica on another key prefix, can
   * tell: `markShared` (replicas, now and then), `sharedMark` (at start-up: the latest, of a key
   * prefix other than `except` when given; null: none) and `unmarkShared` (the last replica of a
   * key prefix to stop).
   */
  markShared?(keyPrefix: string, at: number): Promise<void>;
  sharedMark?(except?: string): Promise<{ keyPrefix: string; at: number } | null>;
  unmarkShared?(keyPrefix: string): Promise<void>;
  close(): Promise<void>;
}

/** A request in flight, as the journal keeps it. */
export interface InFlight {
  requestId: string;
  at: number;
  keyId: string | null;
  model: string | null;
  endpoint: string | null;
  /** What it has cost so far plus the reservation of the attempt about to be sent, nano-USD. */
  amountNano: number;
}

/** Options a URL cannot carry; the PostgreSQL ones let tests and tenants share a database. */
/**
 * The code of the error an open gives while another process holds the in-flight journal
 * (`JournalLockedError`, journal-lock.ts). Checked by code, not class, where importing that
 * module would load the SQLite driver for a PostgreSQL sidecar.
 */
export const JOURNAL_LOCKED = 'ERR_JOURNAL_LOCKED';

export interface LedgerOptions {
  /** PostgreSQL schema for the table (created if absent); default: the search path. */
  schema?: string;
  /** PostgreSQL table name; default `switchyard_ledger`. */
  table?: string;
  /** A SQLite ledger's file was removed or replaced while serving (see `LedgerStore.lost`): told once. */
  onLost?: (message: string) => void;
  /** Errors of idle PostgreSQL connections (the next query reports them too). */
  onError?: (err: Error) => void;
  /**
   * PostgreSQL: the in-flight journal of a lone sidecar (no Redis), as a path prefix: the files
   * `<journal>-0` and `<journal>-1` (see {@link LedgerStore.hold}); absent, none is kept. A SQLite
   * ledger keeps its journal next to its file.
   */
  journal?: string;
  /**
   * Opened only to read, beside a sidecar that may be serving from it (`switchyard calibrate`):
   * no in-flight journal is opened, so its lock is not asked for.
   */
  reader?: boolean;
  /**
   * How long to wait for another process's hold on the in-flight journal to end (a sidecar still
   * draining while its successor starts) before the open fails with {@link JOURNAL_LOCKED}; 0 by
   * default. `onLockWait` is told once, when the wait begins.
   */
  lockWaitMs?: number;
  onLockWait?: (lockPath: string, waitMs: number) => void;
  /** SQLite: told before a ledger file of an earlier schema version is upgraded (which copies its rows). */
  onUpgrade?: (message: string) => void;
}

export { NO_GROUP, DEFAULT_ROWS_LIMIT } from './ledger-codec.js';

/**
 * Opens the store named by `storage.ledger`:
 * - `sqlite:./path.db` (relative to the working directory; parent directory created),
 * - `sqlite::memory:` or `memory` (an in-memory SQLite database, gone on close: tests and
 *   demos; the same code as the file store),
 * - `postgres://…` or `postgresql://…` (table created if absent).
 * Drivers are imported on demand, so a sidecar on SQLite never loads `pg` and vice versa.
 */
export async function openLedger(url: string, options: LedgerOptions = {}): Promise<LedgerStore> {
  if (url === 'memory' || url === 'sqlite::memory:') {
    const { SqliteLedger } = await import('./sqlite-ledger.js');
    return SqliteLedger.open(':memory:');
  }
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path.length === 0) throw new Error(`ledger URL "${url}" names no file`);
    const { SqliteLedger } = await import('./sqlite-ledger.js');
    return waitingForJournal(
      () =>
        SqliteLedger.open(path, {
          reader: options.reader === true,
          ...(options.onUpgrade ? { onUpgrade: options.onUpgrade } : {}),
          ...(options.onLost ? { onLost: options.onLost } : {}),
        }),
      options,
    );
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { PostgresLedger } = await import('./postgres-ledger.js');
    return waitingForJournal(() => PostgresLedger.open(url, options), options);
  }
  throw new Error(`unsupported ledger URL "${url}": expected sqlite:PATH, memory or postgres://…`);
}

/**
 * Opens, retrying every 100 ms while another process holds the journal's lock (both stores take
 * it before they touch anything else), for up to `lockWaitMs`; then the lock error stands.
 */
async function waitingForJournal(open: () => LedgerStore | Promise<LedgerStore>, o: LedgerOptions): Promise<LedgerStore> {
  const deadline = Date.now() + (o.lockWaitMs ?? 0);
  let told = false;
  for (;;) {
    try {
      return await open();
    } catch (err) {
      const e = err as { code?: unknown; lockPath?: unknown };
      if (e.code !== JOURNAL_LOCKED || Date.now() >= deadline) throw err;
      if (!told) o.onLockWait?.(String(e.lockPath), deadline - Date.now());
      told = true;
      await delay(100);
    }
  }
}
