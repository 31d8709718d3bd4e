/**
 * A PostgreSQL store that cannot be reached (refused, reset, timed out, shutting down, out of
 * connections) is not a switchyard bug: a route reading or writing it answers 503
 * `storage_unavailable` with `retry-after`, as the SQLite ledger does when it stays locked, not
 * 500 `internal_error`; a ledger row it cannot take is kept and written again (postgres-ledger.ts).
 */
import { SwitchyardError } from '../errors.js';

/** SQLSTATEs of a server ending the session (admin shutdown, crash shutdown, cannot connect now). */
const CONNECTION_SQLSTATES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006']);
const CONNECTION_ERRNOS = new Set(['ECONNRESET', 'EPIPE']);

/** The connection was lost (terminated backend, reset socket): the statement may be resent on a fresh one. Not a statement's own error. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e === null || typeof e !== 'object') return false;
  if (typeof e.code === 'string' && (CONNECTION_SQLSTATES.has(e.code) || CONNECTION_ERRNOS.has(e.code))) return true;
  if (typeof e.message !== 'string') return false;
  // Not a connect that timed out (PG_POOL_TIMEOUTS): resending would only make the answer wait longer.
  if (/connection timeout/i.test(e.message)) return false;
  return /Connection terminated|Client has encountered a connection error|Client was closed/i.test(e.message);
}

const NET_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'EAI_AGAIN']);
/** SQLSTATE: connection exceptions (class 08), shutdown and start-up (57P01–57P03), too many connections. */
const PG_STATES = /^(08...|57P0[1-3]|53300)$/;

/**
 * PostgreSQL cannot be reached: a connection lost (isConnectionError: a statement may be resent),
 * or none to be had (refused, no route, a connect that timed out, too many connections), or a
 * statement that got no answer within `query_timeout`.
 */
export function isUnreachable(err: unknown): boolean {
  if (isConnectionError(err)) return true;
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (NET_CODES.has(code) || PG_STATES.test(code))) return true;
  const message = (err as { message?: unknown }).message;
  // pg's own `query_timeout` ("Query read timeout"): a server that stopped answering without closing
  // the connection. The statement may still run there later; a row written again is insert-once.
  return typeof message === 'string' && /timeout exceeded when trying to connect|connection timeout|Query read timeout/i.test(message);
}

/** SQLSTATE classes of a statement refused for the row's own content (data exception, integrity constraint): no retry changes that. */
const ROW_OWN_CLASSES = new Set(['22', '23']);

/**
 * A ledger row PostgreSQL did not take may be written later: the server cannot be reached
 * (isUnreachable), or it answered with a refusal that is not about the row — a database not
 * accepting connections (55000), a password rotated (28P01), a read-only standby after a fail-over
 * (25006), the table renamed or dropped (42P01), a disk full (53100), a cancelled statement. Such a
 * row was dropped while the client had its answer; it is kept and written again, as when the
 * server is down. A refusal of the row's own data (SQLSTATE classes 22 and 23) is final.
 */
export function writableLater(err: unknown): boolean {
  if (isUnreachable(err)) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !ROW_OWN_CLASSES.has(code.slice(0, 2));
}

/**
 * SQLSTATEs of a server that answers but refuses service, whatever the statement: authorization
 * (class 28: a password rotated), no such database (3D000), a database not accepting connections
 * (55000: `ALLOW_CONNECTIONS false`), out of resources (class 53: disk full, out of memory), a
 * statement cancelled (57014: `statement_timeout`, an operator's cancel), a read-only standby
 * (25006), a privilege revoked (42501), the table dropped or renamed (42P01). The operator's to fix,
 * not switchyard's: 503, not a 500 that calls it a switchyard bug.
 */
const REFUSED_STATES = /^(28...|3D000|55000|53...|57014|25006|42501|42P01)$/;

/** PostgreSQL answers but refuses service (REFUSED_STATES). */
export function refusesService(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && REFUSED_STATES.test(code);
}

/** A route's error as the client should get it: PostgreSQL unreachable or refusing service is 503 `storage_unavailable`; anything else as it is. */
export function pgUnavailable(err: unknown): unknown {
  if (err instanceof SwitchyardError) return err;
  const unreachable = isUnreachable(err);
  if (!unreachable && !refusesService(err)) return err;
  const code = (err as { code?: unknown }).code;
  const c = typeof code === 'string' ? ` (${code})` : '';
  return new SwitchyardError(
    'storage_unavailable',
    unreachable
      ? `the PostgreSQL database (storage.ledger) cannot be reached${c}: try again shortly`
      : `the PostgreSQL database (storage.ledger) refuses service${c}: see the database's log for why, and try again once it is fixed`,
    { headers: { 'retry-after': '1' } },
  );
}
