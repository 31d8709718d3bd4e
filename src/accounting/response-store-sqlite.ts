/** The response store in the SQLite ledger file (its own connection; WAL lets both write). */
import Database from 'better-sqlite3';
import { conversationOf, decodeObject, storedOf, storedValues, type ResponseStore, type ResponseStoreLimits, type StoredResponse } from './response-store.js';
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
  private readonly expire: Database.Statement<[number]>;
  private readonly trim: Database.Statement<[number]>;
  private readonly remove: Database.Statement<[string, string | null, number]>;

  private constructor(
    private readonly db: Database.Database,
    private readonly limits: () => ResponseStoreLimits,
  ) {
    this.insert = db.prepare('INSERT OR REPLACE INTO responses (id, key_id, created_at, messages, response, input_items) VALUES (?, ?, ?, ?, ?, ?)');
    this.select = db.prepare('SELECT key_id, created_at, messages, response, input_items FROM responses WHERE id = ?');
    this.expire = db.prepare('DELETE FROM responses WHERE created_at < ?');
    this.remove = db.prepare('DELETE FROM responses WHERE id = ? AND key_id IS ? AND created_at >= ?');
    this.trim = db.prepare('DELETE FROM responses WHERE id IN (SELECT id FROM responses ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?)');
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
    return new SqliteResponseStore(db, limits);
  }

  put(r: StoredResponse): Promise<void> {
    const { ttlMs, maxEntries } = this.limits();
    this.db.transaction(() => {
      this.insert.run(...storedValues(r));
      this.expire.run(r.createdAt - ttlMs);
      this.trim.run(maxEntries);
    })();
    return Promise.resolve();
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

  delete(id: string, keyId: string | null, now: number): Promise<boolean> {
    return Promise.resolve(this.remove.run(id, keyId, now - this.limits().ttlMs).changes > 0);
  }

  close(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }
}
