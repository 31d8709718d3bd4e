/**
 * One process per in-flight journal. Two sidecars on one journal (two `npm start` in one
 * directory, or two configs naming the same `storage.ledger` file) would each, at its start,
 * take the other's requests in flight for a dead process's and book them at their reserved
 * amount, and would empty the files under the other's feet; on one SQLite file each would also
 * keep its own budget over the same spend. So the journal's owner holds a lock on `PREFIX.lock`
 * for as long as it runs, and a second process is refused at start-up.
 *
 * The lock is an operating-system record lock (`fcntl`), not a pid file: the kernel drops it
 * when its process ends however it ends (SIGKILL included), so there is no stale lock to judge
 * and no pid to reuse. Node has no `fcntl` of its own; SQLite does, so the lock is a tiny SQLite
 * database held in `locking_mode = EXCLUSIVE` after one write (SQLite then never releases its
 * exclusive lock until the connection closes). Another process asking for it gets `SQLITE_BUSY`
 * at once (no busy timeout). The file stays after a clean stop: removing a lock file invites two
 * owners (one locking the removed file, one a new file), and an unlocked file means nothing.
 *
 * Within one process the lock is shared by path: SQLite would refuse a second connection of the
 * same process too, and a test (or an in-process restart) may open a ledger again while an
 * abandoned instance still holds it. Like every `fcntl` lock it is not reliable on a network
 * file system.
 */
import Database from 'better-sqlite3';
import { accessSync, constants } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { JOURNAL_LOCKED } from './ledger.js';

/** A second process asked for a journal another process holds. */
export class JournalLockedError extends Error {
  readonly code = JOURNAL_LOCKED;
  constructor(readonly lockPath: string) {
    super(`another switchyard process holds ${lockPath}, the lock of this in-flight journal`);
  }
}

export interface JournalLock {
  /** Drops this holder; the lock itself goes when the process's last holder of the path drops it. */
  release(): void;
}

const held = new Map<string, { db: Database.Database; holders: number }>();

/** Takes the lock at `lockPath` (created if absent) or throws {@link JournalLockedError} if another process holds it. */
export function lockJournal(lockPath: string): JournalLock {
  const key = resolve(lockPath);
  let entry = held.get(key);
  if (entry === undefined) {
    let db: Database.Database;
    try {
      db = new Database(lockPath, { timeout: 0 });
    } catch (err) {
      throw new Error(`cannot create the in-flight journal's lock ${lockPath}: ${(err as Error).message}${unwritableFolder(key)}`);
    }
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      // The first write takes the exclusive lock, and in this mode it is kept.
      db.exec(`CREATE TABLE IF NOT EXISTS owner (pid INTEGER NOT NULL); DELETE FROM owner; INSERT INTO owner VALUES (${process.pid});`);
    } catch (err) {
      db.close();
      if ((err as { code?: unknown }).code === 'SQLITE_BUSY') throw new JournalLockedError(lockPath);
      throw new Error(`cannot take the in-flight journal's lock ${lockPath}: ${(err as Error).message}`);
    }
    entry = { db, holders: 0 };
    held.set(key, entry);
  }
  entry.holders++;
  const e = entry;
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      if (--e.holders > 0) return;
      held.delete(key);
      e.db.close();
    },
  };
}

/**
 * Why a file could not be made beside the ledger, when it is its folder: SQLite says only "unable
 * to open database file" (a fresh user in a read-only working folder got that, with no folder
 * and no fix). Empty when the folder can be written.
 */
function unwritableFolder(file: string): string {
  const dir = dirname(file);
  try {
    accessSync(dir, constants.W_OK);
    return '';
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const what = code === 'ENOENT' ? 'does not exist' : `cannot be written by this process (${typeof code === 'string' ? code : 'not writable'})`;
    return ` — the folder ${dir} ${what}: run switchyard from a folder it can write (without a config file the ledger is ./switchyard.db of the working folder), or point storage.ledger at a writable path (sqlite:/var/lib/switchyard/switchyard.db), or storage.ledger: memory for a ledger that is not kept`;
  }
}
