import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { JournalLockedError, lockJournal } from '../../src/accounting/journal-lock.js';
import { probeWrite, realFile, SqliteLedger } from '../../src/accounting/sqlite-ledger.js';
import { InFlightJournal } from '../../src/accounting/inflight-journal.js';

const dir = mkdtempSync(join(tmpdir(), 'switchyard-lock-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
let n = 0;
const nextPath = (): string => join(dir, `j-${++n}`);
const child = fileURLToPath(new URL('./fixtures/journal-lock-child.ts', import.meta.url));
const repo = fileURLToPath(new URL('../../', import.meta.url));

/** What another process gets when it asks for the lock at `path`: held or busy. */
function otherProcessAsks(path: string): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', child, 'try', path], { cwd: repo, encoding: 'utf8', timeout: 20_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

/** Another process that takes the lock at `path` and keeps it until killed. */
async function otherProcessHolds(path: string): Promise<ChildProcess> {
  const c = spawn(process.execPath, ['--import', 'tsx', child, 'hold', path], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(c);
  const [chunk] = (await once(c.stdout!, 'data')) as [Buffer];
  expect(chunk.toString()).toBe('held\n');
  return c;
}

describe('the in-flight journal lock', () => {
  it('refuses a second process while one holds it, and is free again the moment the holder is killed (SIGKILL: no stale lock)', async () => {
    const path = `${nextPath()}.lock`;
    const holder = await otherProcessHolds(path);
    expect(() => lockJournal(path)).toThrow(JournalLockedError);
    expect(() => lockJournal(path)).toThrow(`another switchyard process holds ${path}`);
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    const mine = lockJournal(path);
    expect(otherProcessAsks(path)).toBe('busy');
    mine.release();
    expect(otherProcessAsks(path)).toBe('held');
  });

  it('is shared within one process: held until its last holder releases it', () => {
    const path = `${nextPath()}.lock`;
    const a = lockJournal(path);
    const b = lockJournal(path);
    a.release();
    a.release(); // idempotent: does not drop b's hold
    expect(otherProcessAsks(path)).toBe('busy');
    b.release();
    expect(otherProcessAsks(path)).toBe('held');
  });

  it("a sidecar's SQLite ledger takes it before touching the file; a reader (calibrate) does not ask for it", async () => {
    const db = join(dir, 'ledger.db');
    // A ledger a sidecar wrote before (a reader opens only an existing one).
    await SqliteLedger.open(db).close();
    const fresh = join(dir, 'fresh.db');
    const freshHolder = await otherProcessHolds(`${fresh}-inflight.lock`);
    expect(() => SqliteLedger.open(fresh)).toThrow(JournalLockedError);
    expect(existsSync(fresh), 'the refused open created no database').toBe(false);
    freshHolder.kill('SIGKILL');
    await once(freshHolder, 'exit');
    const holder = await otherProcessHolds(`${db}-inflight.lock`);
    expect(() => SqliteLedger.open(db)).toThrow(JournalLockedError);
    const reader = SqliteLedger.open(db, { reader: true });
    expect(await reader.rows({ limit: 10 })).toEqual([]);
    await reader.close();
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    const ledger = SqliteLedger.open(db);
    expect(otherProcessAsks(`${db}-inflight.lock`)).toBe('busy');
    await ledger.close();
    expect(otherProcessAsks(`${db}-inflight.lock`)).toBe('held');
  });

  it('a ledger reached through a symlink takes the lock of the file it leads to (two sidecars kept a budget each over one file)', async () => {
    const real = join(dir, 'target.db');
    const link = join(dir, 'alias.db');
    const holder = await otherProcessHolds(`${real}-inflight.lock`);
    new Database(real).close();
    symlinkSync(real, link);
    expect(() => SqliteLedger.open(link)).toThrow(JournalLockedError);
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    const ledger = SqliteLedger.open(link);
    expect(otherProcessAsks(`${real}-inflight.lock`)).toBe('busy');
    await ledger.close();
    expect(realFile(join(dir, 'plain.db')), 'a path with no symlink is named as given').toBe(join(dir, 'plain.db'));
  });

  it('a ledger file this process cannot write is refused at open with what to fix (it served requests with no row)', () => {
    const path = join(dir, 'ro.db');
    new Database(path).close();
    // Root writes any file whatever its mode, so the file is opened read-only here, as a mode of 444 opens it for another user.
    const db = new Database(path, { readonly: true });
    expect(() => probeWrite(db, path)).toThrow(`the ledger ${path} cannot be written by this process (attempt to write a readonly database)`);
    db.close();
    const rw = new Database(path);
    expect(() => probeWrite(rw, path)).not.toThrow();
    rw.close();
  });

  it('a lock that cannot be created is an error naming it (not a lock held by another process)', () => {
    const path = `${nextPath()}.lock`;
    mkdirSync(path);
    expect(() => lockJournal(path)).toThrow(`cannot create the in-flight journal's lock ${path}`);
  });

  it("a lock whose folder cannot be used says which folder and what to do (SQLite's 'unable to open database file' said neither)", () => {
    const dir = join(nextPath(), 'gone');
    expect(() => lockJournal(join(dir, 'x.lock'))).toThrow(
      `the folder ${dir} does not exist: run switchyard from a folder it can write (without a config file the ledger is ./switchyard.db of the working folder), or point storage.ledger at a writable path`,
    );
  });

  it('InFlightJournal.open holds PREFIX.lock for the files PREFIX-0 and -1 until closed', () => {
    const prefix = nextPath();
    const j = InFlightJournal.open(prefix);
    expect(existsSync(`${prefix}-0`) && existsSync(`${prefix}-1`)).toBe(true);
    expect(otherProcessAsks(`${prefix}.lock`)).toBe('busy');
    j.close();
    expect(otherProcessAsks(`${prefix}.lock`)).toBe('held');
  });

  it('a ledger path that is a directory is refused, saying so, before the journal makes files beside it (its lock and files were left behind)', () => {
    const path = nextPath();
    mkdirSync(path);
    expect(() => SqliteLedger.open(path)).toThrow(`${path} is a directory: name a file, such as sqlite:${join(path, 'switchyard.db')}`);
    expect(['-inflight.lock', '-inflight-0', '-inflight-1'].filter((s) => existsSync(`${path}${s}`))).toEqual([]);
  });
});
