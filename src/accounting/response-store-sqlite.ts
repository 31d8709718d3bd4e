/**
 * The response store in the SQLite ledger file (its own connection; WAL lets both write). One
 * sidecar owns a ledger file, so the stored bytes are counted here: summed once at open, then
 * kept by every insert and delete (each returns the sizes it removed).
 */
import { whenFree } from './sqlite-busy.js';
import Database from 'better-sqlite3';
import {
  conversationOf,
  decodeObject,
  storedBytes,
  storedBytesSql,
  storedItemsOf,
  storedOf,
  type StoredItems,
  storedValues,
  type ResponseStore,
  type ResponseStoreLimits,
  type StoredResponse,
} from './response-store.js';
import type { ChatMessage } from '../upstream/types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS responses (
  id         TEXT    NOT NULL PRIMARY KEY,
  key_id     TEXT,
  created_at INTEGER NOT NULL,
  messages   TEXT    NOT NULL,
  response   TEXT,
  input_items TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS responses_created ON responses (created_at);
`;

export class SqliteResponseStore implements ResponseStore {
  private readonly insert: Database.Statement<[string, string | null, number, string, string | null, string | null]>;
  private readonly select: Database.Statement<
    [string],
    { key_id: string | null; created_at: number; messages: string; response: string | null; input_items: string | null }
  >;
  // Every delete returns the sizes of the rows it removed, to keep `bytes`.
  private readonly expire: Database.Statement<[number], Sized>;
  private readonly replaced: Database.Statement<[string], Sized>;
  private readonly evictOldest: Database.Statement<[], Sized>;
  private readonly remove: Database.Statement<[string, string | null, number], Sized>;
  /** The stored rows' bytes (storedBytes), for `maxBytes`. */
  private bytes: number;
  /**
   * The stored rows, for `maxEntries`: kept like `bytes`, so an insert evicts what is over the
   * bound through the created_at index instead of walking `maxEntries` index entries to find it
   * (~10,000 a request at the default once the store is full).
   */
  private count: number;

  private constructor(
    private readonly db: Database.Database,
    private readonly limits: () => ResponseStoreLimits,
  ) {
    const sized = `RETURNING ${storedBytesSql()} AS bytes`;
    this.insert = db.prepare('INSERT INTO responses (id, key_id, created_at, messages, response, input_items) VALUES (?, ?, ?, ?, ?, ?)');
    this.select = db.prepare('SELECT key_id, created_at, messages, response, input_items FROM responses WHERE id = ?');
    this.expire = db.prepare(`DELETE FROM responses WHERE created_at < ? ${sized}`);
    this.remove = db.prepare(`DELETE FROM responses WHERE id = ? AND key_id IS ? AND created_at >= ? ${sized}`);
    this.replaced = db.prepare(`DELETE FROM responses WHERE id = ? ${sized}`);
    // One row through the created_at index: eviction costs what it removes, not the table's size.
    this.evictOldest = db.prepare(`DELETE FROM responses WHERE rowid = (SELECT rowid FROM responses ORDER BY created_at, rowid LIMIT 1) ${sized}`);
    const totals = db.prepare(`SELECT COALESCE(SUM(${storedBytesSql()}), 0) AS bytes, COUNT(*) AS n FROM responses`).get() as Sized & { n: number };
    this.bytes = totals.bytes;
    this.count = totals.n;
  }

  static open(path: string, limits: () => ResponseStoreLimits): SqliteResponseStore {
    const db = new Database(path);
    if (path !== ':memory:') {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
    }
    db.exec(SCHEMA);
    // A table made before response objects (then input items) were kept gets the columns in place; old rows keep NULL there.
    const cols = db.prepare('PRAGMA table_info(responses)').all() as Array<{ name: string }>;
    if (!cols.some((c) => c.name === 'response')) db.exec('ALTER TABLE responses ADD COLUMN response TEXT');
    if (!cols.some((c) => c.name === 'input_items')) db.exec('ALTER TABLE responses ADD COLUMN input_items TEXT');
    // Serving, a write waits for another process's lock off the event loop (whenFree), not in SQLite's busy handler.
    if (path !== ':memory:') db.pragma('busy_timeout = 20');
    return new SqliteResponseStore(db, limits);
  }

  put(r: StoredResponse): Promise<boolean> {
    const { maxBytes } = this.limits();
    const values = storedValues(r);
    const size = storedBytes(values);
    if (size > maxBytes) return Promise.resolve(false);
    return whenFree('could not store the response', () => this.putNow(r, values, size));
  }

  private putNow(r: StoredResponse, values: ReturnType<typeof storedValues>, size: number): boolean {
    const { ttlMs, maxEntries, maxBytes } = this.limits();
    // The totals are set only once the transaction has committed (a throw rolls both back).
    const [bytes, count] = this.db.transaction((): [number, number] => {
      const gone = [...this.expire.all(r.createdAt - ttlMs), ...this.replaced.all(r.id)];
      let bytes = this.bytes - sum(gone);
      let count = this.count - gone.length;
      // The oldest rows go, one through the index each, while the new row would not fit.
      const evict = (): boolean => {
        const oldest = this.evictOldest.get();
        if (!oldest) return false;
        bytes -= oldest.bytes;
        count -= 1;
        return true;
      };
      while (bytes + size > maxBytes && evict());
      this.insert.run(...values);
      bytes += size;
      count += 1;
      while (count > maxEntries && evict());
      return [bytes, count];
    })();
    this.bytes = bytes;
    this.count = count;
    return true;
  }

  get(id: string, keyId: string | null, now: number, maxBytes?: number): Promise<ChatMessage[] | number | null> {
    const row = this.select.get(id);
    if (!row || row.key_id !== keyId || row.created_at < now - this.limits().ttlMs) return Promise.resolve(null);
    return Promise.resolve(conversationOf(row.messages, maxBytes));
  }

  getResponse(id: string, keyId: string | null, now: number): Promise<Record<string, unknown> | null> {
    const row = this.select.get(id);
    if (!row || row.key_id !== keyId || row.created_at < now - this.limits().ttlMs) return Promise.resolve(null);
    return Promise.resolve(decodeObject(row.response));
  }

  find(id: string, keyId: string | null, now: number): Promise<StoredResponse | null> {
    const row = this.select.get(id);
    if (!row || row.key_id !== keyId || row.created_at < now - this.limits().ttlMs) return Promise.resolve(null);
    return Promise.resolve(storedOf(id, row));
  }

  findItems(id: string, keyId: string | null, now: number): Promise<StoredItems | null> {
    const row = this.select.get(id);
    if (!row || row.key_id !== keyId || row.created_at < now - this.limits().ttlMs) return Promise.resolve(null);
    return Promise.resolve(storedItemsOf(row));
  }

  delete(id: string, keyId: string | null, now: number): Promise<boolean> {
    return whenFree('could not delete the stored response', () => {
      const removed = this.remove.all(id, keyId, now - this.limits().ttlMs);
      this.bytes -= sum(removed);
      this.count -= removed.length;
      return removed.length > 0;
    });
  }

  close(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }
}

/** A deleted row's size, as its delete returns it. */
interface Sized {
  bytes: number;
}

function sum(rows: Sized[]): number {
  return rows.reduce((n, row) => n + row.bytes, 0);
}
