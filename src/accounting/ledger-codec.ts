/**
 * What both ledger stores share: row validation on the way in, decoding on the way out, and
 * the defaults of ranges and limits. Database integers arrive as `number`, `bigint`
 * (better-sqlite3 safe-integer mode) or decimal strings (pg BIGINT / NUMERIC); every one is
 * checked to be an exact safe integer so sums are never silently rounded.
 */
import { stepOfRequestId, type InFlight, type LedgerRow, type ModelQuality, type SpendScope, type SpendTotal } from './ledger.js';

/** The `error_code` of a row written for a request whose process died mid-flight (or, with Redis, whose replica did). */
export const RECLAIMED_ERROR_CODE = 'reservation_reclaimed';

/** The group name of rows whose model, endpoint or key is null. */
export const NO_GROUP = '(none)';
export const DEFAULT_ROWS_LIMIT = 100;
/** Bounds used when a range end is absent; they cover every representable epoch ms. */
export const MIN_AT = Number.MIN_SAFE_INTEGER;
export const MAX_AT = Number.MAX_SAFE_INTEGER;

/** A row as both stores select it (snake_case, driver-typed values). */
export interface DbRow {
  request_id: unknown;
  at: unknown;
  key_id: unknown;
  model: unknown;
  endpoint: unknown;
  attempts: unknown;
  prompt_tokens: unknown;
  completion_tokens: unknown;
  cached_tokens: unknown;
  cost_nano: unknown;
  estimated: unknown;
  status: unknown;
  latency_ms: unknown;
  ttft_ms: unknown;
  stream: unknown;
  error_code: unknown;
  parent_id?: unknown;
  step?: unknown;
  quality?: unknown;
  delivered?: unknown;
  route_score?: unknown;
}

/** The column list, in one order for INSERT and SELECT. */
export const COLUMNS = [
  'request_id',
  'at',
  'key_id',
  'model',
  'endpoint',
  'attempts',
  'prompt_tokens',
  'completion_tokens',
  'cached_tokens',
  'cost_nano',
  'estimated',
  'status',
  'latency_ms',
  'ttft_ms',
  'stream',
  'error_code',
  'parent_id',
  'step',
  'quality',
  'delivered',
  'route_score',
] as const;

/**
 * The ledger's one exception to insert-once by request id: a request's own row replaces a row
 * reclaimed for it. With Redis, a replica whose lease ran out while it was alive (Redis paused or
 * cut off for longer than `storage.leaseMs`) has its reservations reclaimed by another replica
 * while it still serves them; the row it then writes with what the request cost is the truth,
 * and replaces the guess. Run only after an insert found the id taken (the hot path stays a plain
 * insert; an upsert clause on every insert cost ~0.5 µs a row), and only for a row that is not
 * itself a reclaim. Its parameters: every column but `request_id` in {@link COLUMNS} order, then
 * `extra`'s, then the request id. `param(i)` is the statement's i-th (0-based) placeholder.
 */
export function replaceReclaimedSql(table: string, param: (i: number) => string, extra: readonly string[] = []): string {
  const cols = [...COLUMNS.filter((c) => c !== 'request_id'), ...extra];
  const set = cols.map((c, i) => `${c} = ${param(i)}`).join(', ');
  return `UPDATE ${table} SET ${set} WHERE request_id = ${param(cols.length)} AND error_code = '${RECLAIMED_ERROR_CODE}'`;
}

/**
 * Rejects a row that would corrupt sums: a fractional or negative count or amount would be
 * stored as REAL by SQLite and break exactness. Throws a TypeError naming the field.
 */
export function validateRow(row: LedgerRow): void {
  if (typeof row.requestId !== 'string' || row.requestId.length === 0) {
    throw new TypeError('ledger row: requestId must be a non-empty string');
  }
  // One call per field, no arrays of pairs: this runs for every request (~0.9 KB of garbage each before).
  checkCount(row, 'attempts', row.attempts);
  checkCount(row, 'promptTokens', row.promptTokens);
  checkCount(row, 'completionTokens', row.completionTokens);
  checkCount(row, 'cachedTokens', row.cachedTokens);
  checkCount(row, 'costNano', row.costNano);
  checkCount(row, 'status', row.status);
  checkCount(row, 'latencyMs', row.latencyMs);
  if (row.ttftMs !== null) checkCount(row, 'ttftMs', row.ttftMs);
  if (!Number.isSafeInteger(row.at) || row.at < 0) {
    // ≥ 0 keeps SQL integer division a floor, which the UTC day grouping relies on
    throw new TypeError(`ledger row ${row.requestId}: at must be a non-negative integer epoch ms, got ${row.at}`);
  }
  if (
    row.cascade !== undefined &&
    (!Number.isSafeInteger(row.cascade.step) || row.cascade.step < 1 || typeof row.cascade.parentId !== 'string' || typeof row.cascade.quality !== 'string')
  ) {
    throw new TypeError(`ledger row ${row.requestId}: cascade needs a parentId, a quality and a step >= 1`);
  }
  const score = row.routeScore ?? null;
  if (score !== null && !(typeof score === 'number' && score >= 0 && score <= 1)) {
    throw new TypeError(`ledger row ${row.requestId}: routeScore must be a number in [0, 1] or null, got ${String(score)}`);
  }
  if (row.shares !== undefined) checkShares(row);
  checkText(row, 'keyId', row.keyId);
  checkText(row, 'model', row.model);
  checkText(row, 'endpoint', row.endpoint);
  checkText(row, 'errorCode', row.errorCode);
}

/** Each share of another model (one per model, never the row's own), positive, and all of them within the row's cost. */
function checkShares(row: LedgerRow): void {
  if (!Array.isArray(row.shares)) throw new TypeError(`ledger row ${row.requestId}: shares must be an array`);
  const seen = new Set<string>();
  let sum = 0;
  for (const sh of row.shares) {
    if (typeof sh?.model !== 'string' || sh.model.length === 0 || sh.model === row.model || seen.has(sh.model))
      throw new TypeError(`ledger row ${row.requestId}: each share names another model than the row's, once`);
    seen.add(sh.model);
    if (!Number.isSafeInteger(sh.costNano) || sh.costNano <= 0)
      throw new TypeError(`ledger row ${row.requestId}: a share's costNano must be a positive integer, got ${sh.costNano}`);
    sum += sh.costNano;
  }
  if (sum > row.costNano) throw new TypeError(`ledger row ${row.requestId}: its shares (${sum}) are more than its costNano (${row.costNano})`);
}

/** One `GROUP BY model, row_model` total of the shares table: `model`, `row_model`, `cost_nano`. */
export interface ShareTotal {
  model: unknown;
  row_model: unknown;
  cost_nano: unknown;
}

/**
 * Spend per model with each share moved from its row's model to its own (LedgerRow.shares): the
 * row's model keeps its requests and tokens; a model that only has shares is a group of no request.
 */
export function withShares(totals: SpendTotal[], shares: ShareTotal[]): SpendTotal[] {
  if (shares.length === 0) return totals;
  const by = new Map(totals.map((t) => [t.group, { ...t }]));
  const group = (g: string): SpendTotal => {
    let t = by.get(g);
    if (t === undefined) by.set(g, (t = { group: g, requests: 0, clientRequests: 0, promptTokens: 0, completionTokens: 0, costNano: 0 }));
    return t;
  };
  for (const sh of shares) {
    const cost = toInt(sh.cost_nano);
    group(sh.row_model === null ? NO_GROUP : toStr(sh.row_model)).costNano -= cost;
    group(toStr(sh.model)).costNano += cost;
  }
  return [...by.values()].sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
}

function checkCount(row: LedgerRow, name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`ledger row ${row.requestId}: ${name} must be a non-negative integer, got ${value}`);
  }
}

function checkText(row: LedgerRow, name: string, value: unknown): void {
  if (value !== null && typeof value !== 'string') {
    throw new TypeError(`ledger row ${row.requestId}: ${name} must be a string or null`);
  }
}

/**
 * What the ledger knows of a request whose process died mid-flight: spent at the amount it held,
 * nothing of its answer (`status` 0: what the client got, if anything, is not known). A cascade
 * step's row keeps its link to the request it was a step of (its id names both), so feedback, a
 * request's steps and the escalation totals still find it; it was not delivered (a cascade writes
 * its steps' rows before it answers, so a step without a row never reached the client).
 */
export function interruptedRow(h: InFlight): LedgerRow {
  const step = stepOfRequestId(h.requestId);
  const row: LedgerRow = {
    requestId: h.requestId,
    at: h.at,
    keyId: h.keyId,
    model: h.model,
    endpoint: h.endpoint,
    attempts: 1,
    promptTokens: 0,
    completionTokens: 0,
    cachedTokens: 0,
    costNano: h.amountNano,
    estimated: true,
    status: 0,
    latencyMs: 0,
    ttftMs: null,
    stream: false,
    errorCode: RECLAIMED_ERROR_CODE,
  };
  if (step !== null) row.cascade = { parentId: step.parentId, step: step.step, quality: RECLAIMED_ERROR_CODE, delivered: false };
  return row;
}

/** Values in {@link COLUMNS} order, booleans as 0/1 (SQLite) or kept (PostgreSQL). */
export function rowValues(row: LedgerRow, bool: (b: boolean) => number | boolean): Array<string | number | boolean | null> {
  return [
    row.requestId,
    row.at,
    row.keyId,
    row.model,
    row.endpoint,
    row.attempts,
    row.promptTokens,
    row.completionTokens,
    row.cachedTokens,
    row.costNano,
    bool(row.estimated),
    row.status,
    row.latencyMs,
    row.ttftMs,
    bool(row.stream),
    row.errorCode,
    row.cascade?.parentId ?? null,
    row.cascade?.step ?? null,
    row.cascade?.quality ?? null,
    row.cascade ? bool(row.cascade.delivered) : null,
    row.routeScore ?? null,
  ];
}

export function decodeRow(r: DbRow): LedgerRow {
  return {
    requestId: toStr(r.request_id),
    at: toInt(r.at),
    keyId: toNullableStr(r.key_id),
    model: toNullableStr(r.model),
    endpoint: toNullableStr(r.endpoint),
    attempts: toInt(r.attempts),
    promptTokens: toInt(r.prompt_tokens),
    completionTokens: toInt(r.completion_tokens),
    cachedTokens: toInt(r.cached_tokens),
    costNano: toInt(r.cost_nano),
    estimated: toBool(r.estimated),
    status: toInt(r.status),
    latencyMs: toInt(r.latency_ms),
    ttftMs: r.ttft_ms === null ? null : toInt(r.ttft_ms),
    stream: toBool(r.stream),
    errorCode: toNullableStr(r.error_code),
    ...(r.parent_id === null || r.parent_id === undefined
      ? {}
      : { cascade: { parentId: toStr(r.parent_id), step: toInt(r.step), quality: toStr(r.quality), delivered: toBool(r.delivered) } }),
    // Only present when a score was stored, so rows of requests that were not scored read back as written.
    ...(r.route_score === null || r.route_score === undefined ? {} : { routeScore: Number(r.route_score) }),
  };
}

/** A quality row: `model`, `requests`, `checked`, `failed`, `good`, `bad`. */
export function decodeQuality(r: Record<string, unknown>): ModelQuality {
  return { model: toStr(r.model), requests: toInt(r.requests), checked: toInt(r.checked), failed: toInt(r.failed), good: toInt(r.good), bad: toInt(r.bad) };
}

/**
 * Per model: answered rows, checked and failed cascade steps, and the feedback on the answers
 * it delivered (a plain request's own row, or the delivered step of a cascade). `{from}`,
 * `{to}` and `{none}` are the dialect's placeholders; `{ledger}` and `{feedback}` the tables.
 */
export const QUALITY_SQL = `
WITH r AS (
  SELECT * FROM {ledger} WHERE at >= {from} AND at < {to} AND model IS NOT NULL
),
fb AS (
  SELECT r.model, f.good FROM {feedback} f
  JOIN r ON (r.request_id = f.request_id AND r.parent_id IS NULL)
         OR (r.parent_id = f.request_id AND r.delivered = {true})
)
SELECT m.model,
  (SELECT COUNT(*) FROM r WHERE r.model = m.model AND r.status = 200 AND (r.quality IS NULL OR r.quality NOT LIKE 'judge:%')) AS requests,
  (SELECT COUNT(*) FROM r WHERE r.model = m.model AND r.status = 200 AND r.quality IS NOT NULL AND r.quality NOT LIKE 'judge:%') AS checked,
  (SELECT COUNT(*) FROM r WHERE r.model = m.model AND r.status = 200 AND r.quality IS NOT NULL AND r.quality NOT LIKE 'judge:%' AND r.quality <> 'pass') AS failed,
  (SELECT COUNT(*) FROM fb WHERE fb.model = m.model AND fb.good = {true}) AS good,
  (SELECT COUNT(*) FROM fb WHERE fb.model = m.model AND fb.good = {false}) AS bad
FROM (SELECT DISTINCT model FROM r) m
ORDER BY m.model`;

/** Spend per escalation outcome: `<model>:<quality>` for cascade steps, {@link NO_GROUP} for the rest. */
export const ESCALATION_GROUP = "CASE WHEN quality IS NULL THEN {none} ELSE COALESCE(model, {none}) || ':' || quality END";

/** An aggregate row: `grp`, `requests`, `prompt_tokens`, `completion_tokens`, `cost_nano`. */
/** The client requests among a group's rows: plain rows and the first step of each cascade (one per client request). */
export const CLIENT_REQUESTS_SQL = 'SUM(CASE WHEN parent_id IS NULL OR step = 1 THEN 1 ELSE 0 END)';

export function decodeTotal(r: Record<string, unknown>): SpendTotal {
  return {
    group: toStr(r.grp),
    requests: toInt(r.requests),
    clientRequests: toInt(r.client_requests),
    promptTokens: toInt(r.prompt_tokens),
    completionTokens: toInt(r.completion_tokens),
    costNano: toInt(r.cost_nano),
  };
}

/** An exact safe integer from a driver value; SQL `SUM` of no rows (null) is 0. */
export function toInt(v: unknown): number {
  if (v === null || v === undefined) return 0;
  const n = typeof v === 'bigint' || typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    throw new RangeError(`ledger value ${String(v)} is not an exact safe integer`);
  }
  if (typeof v === 'string' && String(n) !== v.trim()) {
    throw new RangeError(`ledger value "${v}" is not an integer`); // e.g. NUMERIC "1.5"
  }
  return n;
}

export function checkRange(fromMs: number, toMs: number): void {
  if (!Number.isSafeInteger(fromMs) || !Number.isSafeInteger(toMs)) {
    throw new RangeError(`ledger range must be integer epoch ms, got [${fromMs}, ${toMs})`);
  }
}

export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`rows limit must be a positive integer, got ${limit}`);
  }
}

function toBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  return toInt(v) !== 0;
}

function toStr(v: unknown): string {
  if (typeof v !== 'string') throw new TypeError(`ledger value ${String(v)} is not a string`);
  return v;
}

function toNullableStr(v: unknown): string | null {
  return v === null ? null : toStr(v);
}

/**
 * What one row counts in `spentSince(scope, from, to)`, as the query counts stored rows: its cost
 * when it matches the key and period; for a model, its own rows less their shares of other models,
 * and the shares of this model in other models' rows.
 */
export function rowSpent(r: LedgerRow, scope: SpendScope, fromMs: number, toMs: number): number {
  if (r.at < fromMs || r.at >= toMs) return 0;
  if (scope.keyId !== undefined && r.keyId !== scope.keyId) return 0;
  if (scope.model === undefined) return r.costNano;
  let n = r.model === scope.model ? r.costNano : 0;
  for (const sh of r.shares ?? []) {
    if (sh.model === scope.model && r.model !== scope.model) n += sh.costNano;
    else if (r.model === scope.model && sh.model !== scope.model) n -= sh.costNano;
  }
  return n;
}
