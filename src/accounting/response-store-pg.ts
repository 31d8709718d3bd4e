/**
 * The response store in the PostgreSQL ledger database (shared by replicas, like the ledger).
 * Replicas share the table, so its bytes and its rows are counted in the database: one row that
 * triggers keep on every insert, update and delete (whoever makes it), and that every write here
 * locks first, so that replicas evict in turn and never deadlock on it. With both counts a put
 * evicts through the `(created_at, seq)` index only what is over a bound, never walking the rows kept.
 *
 * The row count has a trigger and function of its own (`…_count_entries`): a sidecar of an older
 * version, which replaces the bytes function with its own when it starts, leaves it alone.
 */
import { pgUnavailable } from './pg-unavailable.js';
import pg from 'pg';
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
import { PG_POOL_TIMEOUTS, underSchemaLock } from './postgres-ledger.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS switchyard_responses (
  id         TEXT   NOT NULL PRIMARY KEY,
  key_id     TEXT,
  created_at BIGINT NOT NULL,
  messages   TEXT   NOT NULL
);
ALTER TABLE switchyard_responses ADD COLUMN IF NOT EXISTS response TEXT;
ALTER TABLE switchyard_responses ADD COLUMN IF NOT EXISTS input_items TEXT;
-- The order rows were stored in, for ties of created_at (a burst in one millisecond): the first stored is evicted first (the id is random).
ALTER TABLE switchyard_responses ADD COLUMN IF NOT EXISTS seq BIGSERIAL;
CREATE INDEX IF NOT EXISTS switchyard_responses_age ON switchyard_responses (created_at, seq);
DROP INDEX IF EXISTS switchyard_responses_created;
CREATE TABLE IF NOT EXISTS switchyard_responses_bytes (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), total BIGINT NOT NULL);
CREATE OR REPLACE FUNCTION switchyard_responses_count_bytes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    UPDATE switchyard_responses_bytes SET total = total - (${storedBytesSql('OLD.')});
  END IF;
  IF TG_OP <> 'DELETE' THEN
    UPDATE switchyard_responses_bytes SET total = total + (${storedBytesSql('NEW.')});
  END IF;
  RETURN NULL;
END $$;
ALTER TABLE switchyard_responses_bytes ADD COLUMN IF NOT EXISTS entries BIGINT;
CREATE OR REPLACE FUNCTION switchyard_responses_count_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE switchyard_responses_bytes SET entries = entries + (CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END);
  RETURN NULL;
END $$;
`;

/**
 * The first time a store of this version opens the table (no row count yet): the row count's
 * trigger, and the count of the rows already there, the table locked against writes meanwhile.
 */
const START_ENTRIES = `
LOCK TABLE switchyard_responses IN SHARE ROW EXCLUSIVE MODE;
CREATE OR REPLACE TRIGGER switchyard_responses_entries AFTER INSERT OR DELETE ON switchyard_responses
  FOR EACH ROW EXECUTE FUNCTION switchyard_responses_count_entries();
UPDATE switchyard_responses_bytes SET entries = (SELECT COUNT(*) FROM switchyard_responses);
`;

/**
 * The first time (no count yet): the trigger, and the count of the rows already there. The table
 * is locked against writes meanwhile, so none is counted twice or missed.
 */
const START_COUNT = `
LOCK TABLE switchyard_responses IN SHARE ROW EXCLUSIVE MODE;
CREATE OR REPLACE TRIGGER switchyard_responses_bytes AFTER INSERT OR UPDATE OR DELETE ON switchyard_responses
  FOR EACH ROW EXECUTE FUNCTION switchyard_responses_count_bytes();
INSERT INTO switchyard_responses_bytes (total) SELECT COALESCE(SUM(${storedBytesSql()}), 0) FROM switchyard_responses;
`;

export class PostgresResponseStore implements ResponseStore {
  private constructor(
    private readonly pool: pg.Pool,
    private readonly limits: () => ResponseStoreLimits,
  ) {}

  static async open(url: string, limits: () => ResponseStoreLimits): Promise<PostgresResponseStore> {
    const pool = new pg.Pool({ connectionString: url, max: 4, ...PG_POOL_TIMEOUTS });
    pool.on('error', () => undefined); // an idle connection's error; the next query reports it
    // Under the ledger's schema lock: replicas booting together must not race on CREATE TABLE.
    await underSchemaLock(pool, async (client) => {
      await client.query(SCHEMA);
      const counted = await client.query('SELECT 1 FROM switchyard_responses_bytes');
      if (counted.rowCount === 0) await client.query(START_COUNT);
      const entries = await client.query('SELECT 1 FROM switchyard_responses_bytes WHERE entries IS NULL');
      if (entries.rowCount !== 0) await client.query(START_ENTRIES);
    });
    return new PostgresResponseStore(pool, limits);
  }

  async put(r: StoredResponse): Promise<boolean> {
    try {
      const { ttlMs, maxEntries, maxBytes } = this.limits();
      const values = storedValues(r);
      const size = storedBytes(values);
      if (size > maxBytes) return false;
      await this.counted(async (client) => {
        await client.query('DELETE FROM switchyard_responses WHERE created_at < $1 OR id = $2', [r.createdAt - ttlMs, r.id]);
        const res = await client.query<{ total: string; entries: string }>('SELECT total, entries FROM switchyard_responses_bytes');
        let bytes = Number(res.rows[0]?.total ?? 0);
        let entries = Number(res.rows[0]?.entries ?? 0);
        while (bytes + size > maxBytes) {
          // One row through the created_at index: eviction costs what it removes, not the table's size.
          const oldest = await client.query<{ bytes: string }>(
            `DELETE FROM switchyard_responses WHERE id = (SELECT id FROM switchyard_responses ORDER BY created_at, seq LIMIT 1) RETURNING ${storedBytesSql()} AS bytes`,
          );
          if (!oldest.rows[0]) break;
          bytes -= Number(oldest.rows[0].bytes);
          entries -= 1;
        }
        await client.query(
          'INSERT INTO switchyard_responses (id, key_id, created_at, messages, response, input_items) VALUES ($1, $2, $3, $4, $5, $6)',
          values,
        );
        // The oldest rows over maxEntries, through the created_at index too: what goes, never what stays.
        if (entries + 1 > maxEntries) {
          await client.query('DELETE FROM switchyard_responses WHERE id IN (SELECT id FROM switchyard_responses ORDER BY created_at, seq LIMIT $1)', [
            entries + 1 - maxEntries,
          ]);
        }
      });
      return true;
    } catch (err) {
      throw pgUnavailable(err);
    }
  }

  /** Runs writes in one transaction that first locks the byte count (see the file's comment). */
  private async counted<T>(write: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT total FROM switchyard_responses_bytes FOR UPDATE');
      const out = await write(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async get(id: string, keyId: string | null, now: number, maxBytes?: number): Promise<ChatMessage[] | number | null> {
    try {
      const res = await this.pool.query<{ key_id: string | null; created_at: string; messages: string }>(
        'SELECT key_id, created_at, messages FROM switchyard_responses WHERE id = $1',
        [id],
      );
      const row = res.rows[0];
      if (!row || row.key_id !== keyId || Number(row.created_at) < now - this.limits().ttlMs) return null;
      return conversationOf(row.messages, maxBytes);
    } catch (err) {
      throw pgUnavailable(err);
    }
  }

  async getResponse(id: string, keyId: string | null, now: number): Promise<Record<string, unknown> | null> {
    try {
      const res = await this.pool.query<{ key_id: string | null; created_at: string; response: string | null }>(
        'SELECT key_id, created_at, response FROM switchyard_responses WHERE id = $1',
        [id],
      );
      const row = res.rows[0];
      if (!row || row.key_id !== keyId || Number(row.created_at) < now - this.limits().ttlMs) return null;
      return decodeObject(row.response);
    } catch (err) {
      throw pgUnavailable(err);
    }
  }

  async find(id: string, keyId: string | null, now: number): Promise<StoredResponse | null> {
    try {
      const res = await this.pool.query<{ key_id: string | null; created_at: string; messages: string; response: string | null; input_items: string | null }>(
        'SELECT key_id, created_at, messages, response, input_items FROM switchyard_responses WHERE id = $1',
        [id],
      );
      const row = res.rows[0];
      if (!row || row.key_id !== keyId || Number(row.created_at) < now - this.limits().ttlMs) return null;
      return storedOf(id, row);
    } catch (err) {
      throw pgUnavailable(err);
    }
  }

  async findItems(id: string, keyId: string | null, now: number): Promise<StoredItems | null> {
    try {
      const res = await this.pool.query<{ key_id: string | null; created_at: string; messages: string; input_items: string | null }>(
        "SELECT key_id, created_at, CASE WHEN input_items IS NULL THEN messages ELSE '' END AS messages, input_items FROM switchyard_responses WHERE id = $1",
        [id],
      );
      const row = res.rows[0];
      if (!row || row.key_id !== keyId || Number(row.created_at) < now - this.limits().ttlMs) return null;
      return storedItemsOf(row);
    } catch (err) {
      throw pgUnavailable(err);
    }
  }

  async delete(id: string, keyId: string | null, now: number): Promise<boolean> {
    try {
      const res = await this.counted((client) =>
        client.query('DELETE FROM switchyard_responses WHERE id = $1 AND key_id IS NOT DISTINCT FROM $2 AND created_at >= $3', [
          id,
          keyId,
          now - this.limits().ttlMs,
        ]),
      );
      return (res.rowCount ?? 0) > 0;
    } catch (err) {
      throw pgUnavailable(err);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
