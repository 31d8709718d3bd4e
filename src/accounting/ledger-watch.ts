/**
 * Says in the log when the ledger stops taking its rows and when it takes them again. A SQLite
 * file on a full disk, or locked by another process, made requests wait for their rows (their
 * answers held, as a row is committed before its answer ends) with nothing in the log for minutes:
 * only `/readyz` said so. PostgreSQL's kept rows log each one; this says it once, then every
 * `repeatMs` while it lasts, and once when it ends.
 */
import type { Logger } from 'pino';
import type { LedgerStore } from './ledger.js';

export const LEDGER_WATCH_MS = 1_000;
export const LEDGER_WATCH_REPEAT_MS = 60_000;

/** Starts watching; returns the stop. `now` and the timer are injectable for tests. */
export function watchLedgerWrites(
  ledger: Pick<LedgerStore, 'writeBlocked'>,
  log: Pick<Logger, 'warn' | 'info'>,
  opts: { everyMs?: number; repeatMs?: number; now?: () => number } = {},
): () => void {
  const now = opts.now ?? Date.now;
  const repeatMs = opts.repeatMs ?? LEDGER_WATCH_REPEAT_MS;
  let told: { since: number; at: number } | null = null;
  const check = (): void => {
    const b = ledger.writeBlocked ?? null;
    const t = now();
    if (b !== null && told === null) {
      told = { since: b.since, at: t };
      log.warn(
        { since: new Date(b.since).toISOString(), reason: b.reason },
        `the ledger cannot write its rows (${b.reason}): requests wait for their rows before their answers end, and /readyz says not ready until it can`,
      );
    } else if (b !== null && told !== null && t - told.at >= repeatMs) {
      told.at = t;
      log.warn(
        { since: new Date(b.since).toISOString(), reason: b.reason },
        `the ledger still cannot write its rows, for ${Math.round((t - b.since) / 1000)} s (${b.reason})`,
      );
    } else if (b === null && told !== null) {
      log.info({ blockedMs: t - told.since }, `the ledger writes its rows again, after ${Math.round((t - told.since) / 1000)} s`);
      told = null;
    }
  };
  const timer = setInterval(check, opts.everyMs ?? LEDGER_WATCH_MS);
  timer.unref();
  return () => clearInterval(timer);
}
