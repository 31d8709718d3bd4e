import { afterEach, describe, expect, it, vi } from 'vitest';
import { watchLedgerWrites } from '../../src/accounting/ledger-watch.js';

afterEach(() => vi.useRealTimers());

describe('watchLedgerWrites', () => {
  it('warns once when the ledger stops taking rows, again every repeat while it lasts, and says when it takes them again', () => {
    vi.useFakeTimers({ now: 0 });
    const ledger: { writeBlocked: { since: number; reason: string } | null } = { writeBlocked: null };
    const lines: Array<[string, string]> = [];
    const log = { warn: (_o: unknown, m: string) => lines.push(['warn', m]), info: (_o: unknown, m: string) => lines.push(['info', m]) };
    const stop = watchLedgerWrites(ledger, log as never, { everyMs: 1_000, repeatMs: 60_000 });
    vi.advanceTimersByTime(5_000);
    expect(lines).toEqual([]);
    ledger.writeBlocked = { since: 5_500, reason: 'SQLITE_FULL: database or disk is full' };
    vi.advanceTimersByTime(1_000);
    expect(lines).toEqual([
      [
        'warn',
        'the ledger cannot write its rows (SQLITE_FULL: database or disk is full): requests wait for their rows before their answers end, and /readyz says not ready until it can',
      ],
    ]);
    vi.advanceTimersByTime(59_000);
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(1_000);
    expect(lines[1]).toEqual(['warn', 'the ledger still cannot write its rows, for 61 s (SQLITE_FULL: database or disk is full)']);
    ledger.writeBlocked = null;
    vi.advanceTimersByTime(1_000);
    expect(lines[2]).toEqual(['info', 'the ledger writes its rows again, after 62 s']);
    stop();
    ledger.writeBlocked = { since: 70_000, reason: 'x' };
    vi.advanceTimersByTime(5_000);
    expect(lines).toHaveLength(3);
  });
});
