import { afterAll, describe, expect, it, vi } from 'vitest';
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openLedger } from '../../src/accounting/ledger.js';
import { FILE_CHECK_MS, SQLITE_SCHEMA_VERSION, SqliteLedger } from '../../src/accounting/sqlite-ledger.js';
import { holdLine } from '../../src/accounting/inflight-journal.js';
import { spanParams, spanSql } from '../../src/accounting/ledger-span.js';
import { timeOrderedId } from '../../src/http/request-id.js';
import { expectRecovered, held, holdBeforeDying, ledgerContract, makeRow } from './ledger-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'switchyard-ledger-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const nextPath = (): string => join(dir, `ledger-${++files}.db`);

/** The ledger table's columns as schema version 1 made them, and as version 2 did (the cascade's and route_score added). */
const V1_COLUMNS = `request_id TEXT NOT NULL PRIMARY KEY, at INTEGER NOT NULL, key_id TEXT, model TEXT, endpoint TEXT,
  attempts INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
  cost_nano INTEGER NOT NULL, estimated INTEGER NOT NULL, status INTEGER NOT NULL, latency_ms INTEGER NOT NULL, ttft_ms INTEGER,
  stream INTEGER NOT NULL, error_code TEXT`;
const V2_COLUMNS = `${V1_COLUMNS}, parent_id TEXT, step INTEGER, quality TEXT, delivered INTEGER, route_score REAL`;

ledgerContract('sqlite (memory)', () => openLedger('memory'));
ledgerContract('sqlite (file)', () => openLedger(`sqlite:${nextPath()}`));

describe('SqliteLedger', () => {
  it("opens WAL with synchronous NORMAL, versioned schema, a table keyed by request id and two partial indexes: at (rows not found by id) and the cascade steps' parent", async () => {
    const path = nextPath();
    const ledger = await openLedger(`sqlite:${path}`);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
      const indexes = db
        .prepare<[], { name: string; sql: string }>(
          "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger' AND sql IS NOT NULL ORDER BY name",
        )
        .all();
      expect(indexes.map((i) => [i.name, i.sql.replace(/^.*? ON ledger /, '')])).toEqual([
        ['ledger_at', '(at, key_id, model, cost_nano) WHERE at_in_id = 0'],
        ['ledger_parent', '(parent_id) WHERE parent_id IS NOT NULL'],
      ]);
      // One B-tree per row: the table is its primary key (no rowid, so no second tree for the id).
      const table = db.prepare<[], { sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ledger'").get();
      expect(table?.sql).toMatch(/STRICT, WITHOUT ROWID$/);
      // A spend query reads a range of the primary key and the partial index, no whole table; a
      // cascade's steps are found through their partial index.
      const plan = (sql: string) =>
        db
          .prepare<[Record<string, unknown>], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
          .all(sql.includes('@') ? { ...spanParams(0, 9), keyId: 'k', model: 'm' } : {})
          .map((r) => r.detail)
          .join('; ');
      for (const extra of ['', 'key_id = @keyId AND ', 'key_id = @keyId AND model = @model AND ']) {
        const sum = plan(`SELECT SUM(cost_nano) FROM (${spanSql('cost_nano', extra)})`);
        expect(sum).toMatch(/SEARCH ledger USING PRIMARY KEY \(request_id>\? AND request_id<\?\)/);
        expect(sum).toMatch(/SEARCH ledger USING COVERING INDEX ledger_at \(at>\? AND at<\?\)/);
        expect(sum).not.toMatch(/SCAN ledger/);
      }
      expect(plan("SELECT * FROM ledger WHERE parent_id = 'p' ORDER BY step")).toMatch(/USING INDEX ledger_parent/);
    } finally {
      db.close();
    }
    // synchronous is per connection: read it from the store's own connection
    const own = (ledger as unknown as { db: Database.Database }).db;
    expect(own.pragma('synchronous', { simple: true })).toBe(1); // 1 = NORMAL
    await ledger.close();
  });

  it('creates a missing parent directory and keeps rows across close and reopen', async () => {
    const path = join(dir, 'deep', 'er', 'switchyard.db');
    const first = await openLedger(`sqlite:${path}`);
    const row = makeRow();
    await first.insert(row);
    await first.close();
    await first.close(); // idempotent
    const second = await openLedger(`sqlite:${path}`);
    expect(await second.rows()).toEqual([row]);
    expect(await second.insert(row)).toBe('duplicate');
    await second.close();
  });

  it('upgrades a version 1 ledger file written before the cascade: its rows kept, its four indexes replaced by two', async () => {
    const path = nextPath();
    const old = new Database(path);
    old.exec(`CREATE TABLE ledger (${V1_COLUMNS}) STRICT`);
    old.exec('CREATE INDEX ledger_at ON ledger (at); CREATE INDEX ledger_key_at ON ledger (key_id, at); CREATE INDEX ledger_model_at ON ledger (model, at);');
    old.prepare("INSERT INTO ledger VALUES ('old-1', 5, NULL, 'gpt-4.1', NULL, 1, 1, 1, 0, 42, 0, 200, 1, NULL, 0, NULL)").run();
    old.pragma('user_version = 1');
    old.close();
    const told: string[] = [];
    const ledger = await openLedger(`sqlite:${path}`, { onUpgrade: (m) => told.push(m) });
    expect(told).toEqual(['upgrading the ledger from schema version 1 to 3: copying 1 rows']);
    expect((await ledger.rows({ requestId: 'old-1' }))[0]?.costNano).toBe(42);
    expect(await ledger.spentSince({ model: 'gpt-4.1' }, 0)).toBe(42);
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(3);
      const names = check
        .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger' AND sql IS NOT NULL ORDER BY name")
        .all();
      expect(names.map((n) => n.name)).toEqual(['ledger_at', 'ledger_parent']);
    } finally {
      check.close();
    }
    await ledger.insert(makeRow({ requestId: 'new#1', cascade: { parentId: 'new', step: 1, quality: 'pass', delivered: true } }));
    expect(await ledger.recordFeedback('new', true, 1)).toBe('stored');
    expect((await ledger.steps('new')).map((r) => r.cascade?.step)).toEqual([1]);
    await ledger.close();
  });

  it('upgrades a version 2 file to one keyed by request id: rows, amounts and the steps of a cascade kept, each row marked found by id or indexed', async () => {
    const path = nextPath();
    const old = new Database(path);
    old.exec(`CREATE TABLE ledger (${V2_COLUMNS}) STRICT;
      CREATE INDEX ledger_at ON ledger (at, key_id, model, cost_nano);
      CREATE INDEX ledger_parent ON ledger (parent_id) WHERE parent_id IS NOT NULL;
      CREATE TABLE feedback (request_id TEXT NOT NULL PRIMARY KEY, good INTEGER NOT NULL, at INTEGER NOT NULL) STRICT;`);
    const at = Date.UTC(2026, 10, 30, 9);
    const served = timeOrderedId(at);
    const insert = old.prepare('INSERT INTO ledger VALUES (?, ?, ?, ?, NULL, 1, 1, 1, 0, ?, 0, 200, 1, NULL, 0, NULL, ?, ?, ?, ?, NULL)');
    insert.run(served, at, 'k', 'gpt-4.1', 40, null, null, null, null);
    insert.run(`${served}#1`, at, 'k', 'gpt-4.1-mini', 2, served, 1, 'pass', 1);
    insert.run('8d0c3a34-8a8e-4c6c-9a43-5d7a7f1bb1e2', at + 10, null, 'gpt-4.1', 100, null, null, null, null);
    old.pragma('user_version = 2');
    old.close();
    const ledger = await openLedger(`sqlite:${path}`);
    expect(await ledger.spentSince({}, at, at + 11)).toBe(142);
    expect(await ledger.spentSince({ keyId: 'k' }, at, at + 1)).toBe(42);
    expect((await ledger.rows()).map((r) => r.costNano)).toEqual([100, 2, 40]); // ties: the larger id first
    expect((await ledger.steps(served)).map((r) => r.model)).toEqual(['gpt-4.1-mini']);
    await ledger.close();
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(3);
      expect(check.prepare<[], { sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'ledger'").get()?.sql).toMatch(/WITHOUT ROWID$/);
      const marks = check.prepare<[], { request_id: string; at_in_id: number }>('SELECT request_id, at_in_id FROM ledger ORDER BY cost_nano').all();
      expect(marks.map((m) => m.at_in_id)).toEqual([1, 1, 0]);
      expect(check.prepare("SELECT name FROM sqlite_master WHERE name = 'ledger_before_v3'").get()).toBeUndefined();
    } finally {
      check.close();
    }
  });

  it('a version 3 file written before the shares table: read as it is (no shares), given the table at the next start, its rows kept', async () => {
    const path = nextPath();
    const first = await openLedger(`sqlite:${path}`);
    await first.insert(makeRow({ requestId: 'before', model: 'gpt-4.1', costNano: 900 }));
    await first.close();
    const raw = new Database(path);
    raw.exec('DROP TABLE ledger_share');
    raw.close();
    const reader = await openLedger(`sqlite:${path}`, { reader: true });
    expect(await reader.spentSince({ model: 'gpt-4.1' }, 0)).toBe(900);
    expect((await reader.spendBy('model')).map((t) => [t.group, t.costNano])).toEqual([['gpt-4.1', 900]]);
    await reader.close();
    const ledger = await openLedger(`sqlite:${path}`);
    await ledger.insert(makeRow({ requestId: 'after', model: 'gpt-4.1', costNano: 1_000, shares: [{ model: 'claude-sonnet-4.5', costNano: 400 }] }));
    expect(await ledger.spentSince({ model: 'gpt-4.1' }, 0)).toBe(1_500);
    expect(await ledger.spentSince({ model: 'claude-sonnet-4.5' }, 0)).toBe(400);
    await ledger.close();
  });

  it('opened only to read (calibrate beside a running sidecar), an older file is refused, not rebuilt under its writer', async () => {
    const path = nextPath();
    const old = new Database(path);
    old.exec(`CREATE TABLE ledger (${V2_COLUMNS}) STRICT;`);
    old.pragma('user_version = 2');
    old.close();
    await expect(openLedger(`sqlite:${path}`, { reader: true })).rejects.toThrow(
      /schema version 2, written by an older switchyard; start this version's sidecar/,
    );
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(2);
    } finally {
      check.close();
    }
  });

  it("opened only to read, another program's database (or an empty file) is refused as no ledger, and nothing is written to it (calibrate added switchyard's tables)", async () => {
    for (const make of [
      (db: Database.Database) => db.exec('CREATE TABLE foo (x)'),
      () => undefined,
      // Another program's table named ledger, at this version's user_version or at 0: refused, the file unchanged (it was switched to WAL and given switchyard's tables).
      (db: Database.Database) =>
        db.exec(
          `CREATE TABLE ledger (id INTEGER PRIMARY KEY, amount REAL); INSERT INTO ledger VALUES (1, 2.5); PRAGMA user_version = ${SQLITE_SCHEMA_VERSION}`,
        ),
      (db: Database.Database) => db.exec('CREATE TABLE ledger (id INTEGER PRIMARY KEY, amount REAL); INSERT INTO ledger VALUES (1, 2.5)'),
    ]) {
      const path = nextPath();
      const other = new Database(path);
      make(other);
      other.close();
      const before = readFileSync(path);
      await expect(openLedger(`sqlite:${path}`, { reader: true })).rejects.toThrow(
        /is not a switchyard ledger \((it has no ledger table|its ledger table is not switchyard's)\)/,
      );
      expect(readFileSync(path).equals(before)).toBe(true);
    }
  });

  it('refuses a database written by a newer schema', async () => {
    const path = nextPath();
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    expect(() => SqliteLedger.open(path)).toThrow(/schema version 99/);
  });

  it('keeps every committed row when the process is killed (SIGKILL, no close)', async () => {
    const path = nextPath();
    const child = fileURLToPath(new URL('./fixtures/kill-after-insert.ts', import.meta.url));
    const repo = fileURLToPath(new URL('../../', import.meta.url));
    const result = spawnSync(process.execPath, ['--import', 'tsx', child, path, '40'], { cwd: repo, encoding: 'utf8', timeout: 20_000 });
    expect(result.stdout, result.stderr).toBe('inserted 40\n');
    expect(result.signal).toBe('SIGKILL');
    // The rows are still in the write-ahead log: nothing checkpointed or closed the database.
    expect(existsSync(`${path}-wal`)).toBe(true);
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
    const ledger = SqliteLedger.open(path);
    try {
      expect(await ledger.rows({ limit: 1000 })).toHaveLength(40);
      const expected = Array.from({ length: 40 }, (_, i) => 6_000_000 + i).reduce((a, b) => a + b, 0);
      expect(await ledger.spentSince({ keyId: 'team-a' }, 0)).toBe(expected);
      expect((await ledger.rows({ requestId: 'killed-39' }))[0]?.promptTokens).toBe(1039);
    } finally {
      await ledger.close();
    }
  });
});

describe('SqliteLedger in-flight journal', () => {
  it('drops an entry when its row is written, keeps the latest amount of a request, and turns leftovers into rows at start-up', async () => {
    const path = nextPath();
    const first = SqliteLedger.open(path);
    await holdBeforeDying(first);
    // A process that died: no close, no row for `died`; its journal says so.
    expect(readFileSync(`${path}-inflight-0`, 'utf8')).toContain('"id":"died"');
    (first as unknown as { db: Database.Database }).db.close();

    const second = SqliteLedger.open(path);
    try {
      await expectRecovered(second, [`${path}-inflight-0`, `${path}-inflight-1`]);
    } finally {
      await second.close();
    }
  });

  it("waits for another process's write lock off the event loop, keeps the row queued until it commits, and is not ready meanwhile", async () => {
    const path = nextPath();
    const ledger = SqliteLedger.open(path);
    const other = new Database(path);
    try {
      other.exec('BEGIN EXCLUSIVE'); // an operator's sqlite3 session, a backup
      let settled: string | null = null;
      const inserted = ledger.insert(makeRow({ requestId: 'locked', costNano: 13_440 })).then((r) => (settled = r));
      // The event loop keeps turning while the lock is held (it was held 5 s a commit before).
      const turns: number[] = [];
      const t0 = Date.now();
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 20));
        turns.push(Date.now() - t0);
      }
      expect(settled).toBeNull(); // the row is not dropped and not reported written
      expect(ledger.writeBlocked?.reason).toMatch(/^SQLITE_BUSY/);
      // A generous bound: ten 20 ms timers in well under the 5 s one blocked commit took.
      expect(turns.at(-1)!).toBeLessThan(2000);
      other.exec('COMMIT');
      expect(await inserted).toBe('inserted');
      expect(ledger.writeBlocked).toBeNull();
      expect((await ledger.rows({ requestId: 'locked' }))[0]).toMatchObject({ costNano: 13_440 });
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await ledger.close();
    }
  });

  it('writes the holds of one turn together before they resolve, and the ones still queued when it closes', async () => {
    const path = nextPath();
    const first = SqliteLedger.open(path);
    const a = first.hold(held('a', 1));
    const b = first.hold(held('b', 2));
    expect(a).toBe(b); // one batch
    expect(readFileSync(`${path}-inflight-0`, 'utf8')).toBe('');
    await a;
    expect(readFileSync(`${path}-inflight-0`, 'utf8')).toBe(`${holdLine(1, held('a', 1))}\n${holdLine(2, held('b', 2))}\n`);
    expect(await first.insert(makeRow({ requestId: 'a', costNano: 1 }))).toBe('inserted');
    expect(await first.insert(makeRow({ requestId: 'b', costNano: 2 }))).toBe('inserted');
    const queued = first.hold(held('queued', 3));
    await first.close(); // a shutdown: the queued hold is written, and its request will be counted
    await queued;
    const second = SqliteLedger.open(path);
    try {
      expect(await second.recoverInFlight()).toBe(1);
      expect((await second.rows({ requestId: 'queued' }))[0]).toMatchObject({ costNano: 3, errorCode: 'reservation_reclaimed' });
    } finally {
      await second.close();
    }
  });
});

describe('openLedger', () => {
  it('opens SQLite for sqlite: URLs and memory, rejects others', async () => {
    const memory = await openLedger('sqlite::memory:');
    expect(memory).toBeInstanceOf(SqliteLedger);
    await memory.close();
    await expect(openLedger('sqlite:')).rejects.toThrow(/names no file/);
    await expect(openLedger('mysql://localhost/db')).rejects.toThrow(/unsupported ledger URL/);
  });
});

describe('a ledger file removed or replaced while serving (an rm -rf of its directory)', () => {
  it('is found within FILE_CHECK_MS: the ledger is lost, its rows are restored at its path, and copied again at close with the rows since', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const sub = join(dir, `gone-${++files}`);
      const path = join(sub, 'ledger.db');
      const told: string[] = [];
      const ledger = await openLedger(`sqlite:${path}`, { onLost: (m) => told.push(m) });
      await ledger.insert(makeRow({ costNano: 1_000, at: Date.now() }));
      rmSync(sub, { recursive: true, force: true });
      expect(ledger.lost).toBeNull();
      vi.advanceTimersByTime(FILE_CHECK_MS);
      expect(ledger.lost).toContain(`the ledger file ${path} was removed while switchyard was serving from it: its rows are restored there`);
      expect(told).toEqual([ledger.lost]);
      expect(existsSync(path)).toBe(true);
      // A row committed after (a request in flight then) is in the copy made at close.
      await ledger.insert(makeRow({ costNano: 2_000, at: Date.now() }));
      await ledger.close();
      const again = await openLedger(`sqlite:${path}`);
      try {
        expect(await again.spentSince({}, 0)).toBe(3_000);
        expect(again.lost).toBeNull();
      } finally {
        await again.close();
      }
    } finally {
      vi.useRealTimers();
    }
  });

  it('replaced by another file: the rows are copied beside it (PATH.recovered-<ms>), the other file left as it is', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const path = nextPath();
      const ledger = await openLedger(`sqlite:${path}`);
      await ledger.insert(makeRow({ costNano: 7_000, at: Date.now() }));
      rmSync(path);
      new Database(path).close();
      vi.advanceTimersByTime(FILE_CHECK_MS);
      expect(ledger.lost).toContain('was replaced by another file');
      const copy = /its rows are copied to (\S+);/.exec(ledger.lost ?? '')?.[1];
      expect(copy).toMatch(/\.recovered-\d+$/);
      await ledger.close();
      const db = new Database(copy!, { readonly: true });
      try {
        expect(db.prepare('SELECT SUM(cost_nano) AS s FROM ledger').get()).toEqual({ s: 7_000 });
      } finally {
        db.close();
      }
      expect(statSync(path).size).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("another sidecar started on the restored file keeps it: at close the lost one copies its rows beside it, never over it (it renamed over the other one's ledger)", async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const sub = join(dir, `gone-${++files}`);
      const path = join(sub, 'ledger.db');
      const told: string[] = [];
      const first = await openLedger(`sqlite:${path}`, { onLost: (m) => told.push(m) });
      await first.insert(makeRow({ costNano: 1_000, at: Date.now() }));
      rmSync(sub, { recursive: true, force: true });
      vi.advanceTimersByTime(FILE_CHECK_MS);
      expect(first.lost).toContain('its rows are restored there');
      // The operator starts another sidecar on it (the lock went with the directory): it takes the restored file.
      const second = await openLedger(`sqlite:${path}`);
      // Its journal lock, as another process makes it (in this process the lock is shared by path, so none is made).
      writeFileSync(`${path}-inflight.lock`, '');
      const ino = statSync(path).ino;
      await second.insert(makeRow({ costNano: 5_000, at: Date.now() }));
      await first.insert(makeRow({ costNano: 2_000, at: Date.now() }));
      await first.close();
      expect(statSync(path).ino).toBe(ino);
      const beside = /are in (\S+\.recovered-\d+):/.exec(told.at(-1) ?? '')?.[1];
      expect(beside).toBeDefined();
      vi.advanceTimersByTime(FILE_CHECK_MS);
      expect(second.lost).toBeNull();
      expect(await second.spentSince({}, 0)).toBe(6_000);
      await second.close();
      const db = new Database(beside!, { readonly: true });
      try {
        expect(db.prepare('SELECT SUM(cost_nano) AS s FROM ledger').get()).toEqual({ s: 3_000 });
      } finally {
        db.close();
      }
    } finally {
      vi.useRealTimers();
    }
  });

  it('a file still in place is never lost', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const ledger = await openLedger(`sqlite:${nextPath()}`);
      vi.advanceTimersByTime(FILE_CHECK_MS * 5);
      expect(ledger.lost).toBeNull();
      await ledger.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
