/**
 * A PostgreSQL store that cannot be reached (refused, reset, timed out, shutting down, out of
 * connections) is not a switchyard bug: a route reading or writing it answers 503
 * `storage_unavailable` with `retry-after`, as the SQLite ledger does when it stays locked, not
 * 500 `internal_error`.
 */
import { SwitchyardError } from '../errors.js';

const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'EAI_AGAIN']);
/** SQLSTATE: connection exceptions (class 08), shutdown and start-up (57P01–57P03), too many connections. */
const PG_STATES = /^(08...|57P0[1-3]|53300)$/;

export function isConnectionError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (NET_CODES.has(code) || PG_STATES.test(code))) return true;
  const message = (err as { message?: unknown }).message;
  // node-postgres's own: a connection that ended mid-query, a pool that could not connect in time.
  return (
    typeof message === 'string' && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message)
  );
}

export function pgUnavailable(err: unknown): unknown {
  if (err instanceof SwitchyardError || !isConnectionError(err)) return err;
  const code = (err as { code?: unknown }).code;
  return new SwitchyardError(
    'storage_unavailable',
    `the PostgreSQL database (storage.ledger) cannot be reached${typeof code === 'string' ? ` (${code})` : ''}: try again shortly`,
    { headers: { 'retry-after': '1' } },
  );
}
