/** The response store in the PostgreSQL ledger database (shared by replicas, like the ledger). */
import pg from 'pg';
import { conversationOf, decodeObject, storedOf, storedValues, type ResponseStore, type ResponseStoreLimits, type StoredResponse } from './response-store.js';
import type { ChatMessage } from '../upstream/types.js';
import { PG_POOL_TIMEOUTS, underSchemaLock } from './postgres-ledger.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS switchyard_responses (
  id         TEXT   NOT NULL PRIMARY KEY,
  key_id     TEXT,
  created_at BIGINT NOT NULL,
  messages   TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS switchyard_responses_created ON switchyard_responses (created_at);
ALTER TABLE switchyard_responses ADD COLUMN IF NOT EXISTS response TEXT;
ALTER TABLE switchyard_responses ADD COLUMN IF NOT EXISTS input_items TEXT;
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
    });
    return new PostgresResponseStore(pool, limits);
  }

  async put(r: StoredResponse): Promise<void> {
    const { ttlMs, maxEntries } = this.limits();
    await this.pool.query(
      'INSERT INTO switchyard_responses (id, key_id, created_at, messages, response, input_items) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET messages = EXCLUDED.messages, response = EXCLUDED.response, input_items = EXCLUDED.input_items',
      storedValues(r),
    );
    await this.pool.query('DELETE FROM switchyard_responses WHERE created_at < $1', [r.createdAt - ttlMs]);
    await this.pool.query('DELETE FROM switchyard_responses WHERE id IN (SELECT id FROM switchyard_responses ORDER BY created_at DESC, id DESC OFFSET $1)', [
      maxEntries,
    ]);
  }

  async get(id: string, keyId: string | null, now: number, maxBytes?: number): Promise<ChatMessage[] | number | null> {
    const res = await this.pool.query<{ key_id: string | null; created_at: string; messages: string }>(
      'SELECT key_id, created_at, messages FROM switchyard_responses WHERE id = $1',
      [id],
    );
    const row = res.rows[0];
    if (!row || row.key_id !== keyId || Number(row.created_at) < now - this.limits().ttlMs) return null;
    return conversationOf(row.messages, maxBytes);
  }

  async getResponse(id: string, keyId: string | null, now: number): Promise<Record<string, unknown> | null> {
    const res = await this.pool.query<{ key_id: string | null; created_at: string; response: string | null }>(
      'SELECT key_id, created_at, response FROM switchyard_responses WHERE id = $1',
      [id],
    );
    const row = res.rows[0];
    if (!row || row.key_id !== keyId || Number(row.created_at) < now - this.limits().ttlMs) return null;
    return decodeObject(row.response);
  }

  async find(id: string, keyId: string | null, now: number): Promise<StoredResponse | null> {
    const res = await this.pool.query<{ key_id: string | null; created_at: string; messages: string; response: string | null; input_items: string | null }>(
      'SELECT key_id, created_at, messages, response, input_items FROM switchyard_responses WHERE id = $1',
      [id],
    );
    const row = res.rows[0];
    if (!row || row.key_id !== keyId || Number(row.created_at) < now - this.limits().ttlMs) return null;
    return storedOf(id, row);
  }

  async delete(id: string, keyId: string | null, now: number): Promise<boolean> {
    const res = await this.pool.query('DELETE FROM switchyard_responses WHERE id = $1 AND key_id IS NOT DISTINCT FROM $2 AND created_at >= $3', [
      id,
      keyId,
      now - this.limits().ttlMs,
    ]);
    return (res.rowCount ?? 0) > 0;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
