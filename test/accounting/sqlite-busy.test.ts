/**
 * A write refused for another process's lock on the SQLite file waits for it off the event loop
 * and then answers 503 storage_unavailable, never a 500; a real lock on a real file through the
 * response store and the ledger's feedback.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteLedger } from '../../src/accounting/sqlite-ledger.js';
import { SqliteResponseStore } from '../../src/accounting/response-store-sqlite.js';
import { isBusy, whenFree } from '../../src/accounting/sqlite-busy.js';
import { SwitchyardError } from '../../src/errors.js';
import { held, makeRow } from './ledger-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'switchyard-busy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const busy = (code = 'SQLITE_BUSY') => Object.assign(new Error('database is locked'), { code });

describe('whenFree', () => {
  it('tries again while the file is locked, and gives the write once it is free', async () => {
    let calls = 0;
    const got = await whenFree('write', () => {
      calls++;
      if (calls < 3) throw busy(calls === 1 ? 'SQLITE_BUSY' : 'SQLITE_LOCKED_SHAREDCACHE');
      return 'done';
    });
    expect([got, calls]).toEqual(['done', 3]);
  });

  it('answers 503 storage_unavailable with retry-after when the lock outlasts the wait; other errors as they are', async () => {
    const err = await whenFree(
      'could not store the response',
      () => {
        throw busy();
      },
      60,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchyardError);
    expect(err).toMatchObject({ status: 503, code: 'storage_unavailable', headers: { 'retry-after': '1' } });
    expect((err as Error).message).toMatch(/^could not store the response: the database file is locked by another process \(SQLITE_BUSY\)/);
    const other = new Error('disk I/O error');
    await expect(
      whenFree('w', () => {
        throw other;
      }),
    ).rejects.toBe(other);
    expect(isBusy(busy('SQLITE_BUSY_SNAPSHOT'))).toBe(true);
    expect(isBusy(busy('SQLITE_FULL'))).toBe(false);
  });

  it("the response store and the ledger's feedback wait for a real lock and write once it is gone (they answered 500, after holding the event loop 5 s)", async () => {
    const path = join(dir, 'ledger.db');
    const ledger = SqliteLedger.open(path);
    const store = SqliteResponseStore.open(path, () => ({ ttlMs: 60_000, maxEntries: 10, maxBytes: 1_000_000 }));
    await ledger.insert(makeRow({ requestId: 'r1', costNano: 5 }));
    const other = new Database(path);
    try {
      other.exec('BEGIN EXCLUSIVE');
      const stored = store.put({ id: 'resp_1', keyId: null, createdAt: Date.now(), messages: [{ role: 'user', content: 'x' }], response: {}, inputItems: [] });
      const feedback = ledger.recordFeedback('r1', true, Date.now());
      let ticks = 0;
      const t = setInterval(() => ticks++, 10);
      await new Promise((r) => setTimeout(r, 300));
      clearInterval(t);
      expect(ticks).toBeGreaterThan(5); // the loop turned while both waited
      other.exec('COMMIT');
      expect(await stored).toBe(true);
      expect(await feedback).toBe('stored');
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await store.close();
      await ledger.close();
    }
  });

  it('at shutdown, rows still queued behind a lock are refused after the wait (their requests answer) and the journal keeps them for the next start', async () => {
    const path = join(dir, 'drain.db');
    const ledger = SqliteLedger.open(path);
    await ledger.hold(held('held', 777));
    const other = new Database(path);
    try {
      other.exec('BEGIN EXCLUSIVE');
      const row = ledger.insert(makeRow({ requestId: 'held', costNano: 5 })).catch((e: unknown) => e);
      await ledger.drainQueued(100);
      expect(String(await row)).toMatch(/not committed before shutdown \(SQLITE_BUSY/);
    } finally {
      other.exec('ROLLBACK');
      other.close();
      await ledger.close();
    }
    const next = SqliteLedger.open(path);
    try {
      expect(await next.recoverInFlight()).toBe(1);
      expect((await next.rows({ requestId: 'held' }))[0]).toMatchObject({ errorCode: 'reservation_reclaimed' });
    } finally {
      await next.close();
    }
  });
});
