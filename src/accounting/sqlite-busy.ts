/**
 * A write to the SQLite file that another process holds locked (an operator's `sqlite3`
 * session, a backup): the serving process waits for the lock off the event loop. better-sqlite3
 * waits on the event loop itself (`busy_timeout`), so the serving connections keep that short and
 * a write refused for the lock is tried again after a pause, growing to 1 s, for up to `maxMs`;
 * then the caller gets a 503 (`storage_unavailable`, `retry-after`) instead of a 500.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SwitchyardError } from '../errors.js';

/** The first pause before a write refused for a lock is tried again, doubled each time up to the second (ms). */
export const RETRY_FIRST_MS = 25;
export const RETRY_MAX_MS = 1000;

/** SQLITE_BUSY or SQLITE_LOCKED, with their extended codes (SQLITE_BUSY_SNAPSHOT…). */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code);
}

export async function whenFree<T>(what: string, write: () => T, maxMs = 5000): Promise<T> {
  const until = Date.now() + maxMs;
  let pause = RETRY_FIRST_MS;
  for (;;) {
    try {
      return write();
    } catch (err) {
      if (!isBusy(err)) throw err;
      if (Date.now() + pause > until)
        throw new SwitchyardError(
          'storage_unavailable',
          `${what}: the database file is locked by another process (${String((err as { code?: unknown }).code)}) and stayed locked for ${maxMs} ms; try again`,
          { headers: { 'retry-after': '1' } },
        );
      await sleep(pause);
      pause = Math.min(pause * 2, RETRY_MAX_MS);
    }
  }
}
