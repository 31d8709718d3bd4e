/**
 * How the SQLite ledger finds the rows of a span of time with one B-tree per row.
 *
 * The table is keyed by the request id (`WITHOUT ROWID`), and the ids switchyard makes begin
 * with the time they were made (UUIDv7, src/http/request-id.ts: `tttttttt-tttt-7…`, 48 bits of
 * epoch ms in lowercase hex), which is, within a millisecond or two, the row's `at` (when the
 * request started). So for such a row a span of `at` is a span of the primary key, and the row
 * needs no index of its own: a commit writes one B-tree page instead of three (table, id index,
 * `at` index), the largest part of the ledger's cost per request (measured in the commit).
 *
 * A row is "found by id" (`at_in_id = 1`) when its id has that head and its `at` is within
 * {@link ID_TIME_SLACK_MS} of the head's time. Every other row (an id of another shape, a clock
 * that was not the id's, a ledger written before schema version 3) has `at_in_id = 0` and an entry
 * in the partial index `ledger_at`, as every row had before. A query for `[from, to)` reads both:
 * the id range that can hold the first kind, filtered on `at`, and the index for the second.
 * Each row is counted once, by the kind its `at_in_id` says.
 */

/** How far a row's `at` may be from the time at the head of its id for the row to be found by id. */
export const ID_TIME_SLACK_MS = 2_000;

/** The largest time a 12-hex-digit head can hold. */
const MAX_HEAD_MS = 0xffff_ffff_ffff;
const HEAD = /^[0-9a-f]{8}-[0-9a-f]{4}/;

/** The epoch ms at the head of a time-ordered id (`tttttttt-tttt…`, lowercase hex), or null for an id of another shape. */
export function idTime(id: string): number | null {
  if (!HEAD.test(id)) return null;
  return parseInt(id.slice(0, 8), 16) * 0x1_0000 + parseInt(id.slice(9, 13), 16);
}

/** 1 when the row is found by its id (see above), else 0. */
export function atInId(id: string, at: number): 0 | 1 {
  const t = idTime(id);
  return t !== null && Math.abs(at - t) <= ID_TIME_SLACK_MS ? 1 : 0;
}

/**
 * A bound on ids by time: every id whose head's time is `t` or later is `>=` it, every one
 * whose time is earlier is `<` it (the heads are fixed-width lowercase hex, so text order is
 * time order). `''` below every id; `'~'` above every id with a hex head.
 */
export function idFloor(t: number): string {
  if (!(t > 0)) return '';
  if (t > MAX_HEAD_MS) return '~';
  const h = Math.floor(t).toString(16).padStart(12, '0');
  return `${h.slice(0, 8)}-${h.slice(8)}`;
}

/** The parameters of {@link SPAN_SQL} for `[from, to)`. */
export interface SpanParams {
  from: number;
  to: number;
  lo: string;
  hi: string;
}

/** `[from, to)` and the id range that holds every row found by id whose `at` is in it. */
export function spanParams(from: number, to: number): SpanParams {
  return { from, to, lo: idFloor(Math.floor(from) - ID_TIME_SLACK_MS), hi: idFloor(Math.ceil(to) + ID_TIME_SLACK_MS) };
}

/**
 * Every ledger row with `@from <= at < @to`, as a subquery (SQLite): the rows found by id through
 * the primary key's range `[@lo, @hi)`, and the others through `ledger_at`. `extra` adds terms to
 * both parts (`key_id = @keyId AND `).
 */
export function spanSql(columns: string, extra = ''): string {
  return (
    `SELECT ${columns} FROM ledger WHERE request_id >= @lo AND request_id < @hi AND at_in_id = 1 AND ${extra}at >= @from AND at < @to` +
    ` UNION ALL SELECT ${columns} FROM ledger WHERE at_in_id = 0 AND ${extra}at >= @from AND at < @to`
  );
}
