/**
 * The quality cascade's part of the PostgreSQL ledger: four nullable columns (added with
 * `ADD COLUMN IF NOT EXISTS`, so an existing table upgrades in place under the schema lock)
 * and a `<table>_feedback` table.
 */
import { pgUnavailable } from './pg-unavailable.js';
import type pg from 'pg';
import type { LedgerRow, ModelQuality } from './ledger.js';
import { COLUMNS, ESCALATION_GROUP, MAX_AT, MIN_AT, QUALITY_SQL, checkRange, decodeQuality, decodeRow, toInt, type DbRow } from './ledger-codec.js';

export const PG_ESCALATION_GROUP = ESCALATION_GROUP.replaceAll('{none}', '$3::text');

export async function addCascadeSchema(client: pg.PoolClient, table: string, name: string, feedbackTable: string): Promise<void> {
  await client.query(`ALTER TABLE ${table}
    ADD COLUMN IF NOT EXISTS parent_id TEXT,
    ADD COLUMN IF NOT EXISTS step      INTEGER,
    ADD COLUMN IF NOT EXISTS quality   TEXT,
    ADD COLUMN IF NOT EXISTS delivered BOOLEAN`);
  await client.query(`CREATE INDEX IF NOT EXISTS "${name}_parent" ON ${table} (parent_id) WHERE parent_id IS NOT NULL`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${feedbackTable} (
    request_id TEXT    NOT NULL PRIMARY KEY,
    good       BOOLEAN NOT NULL,
    at         BIGINT  NOT NULL
  )`);
}

export class PostgresCascade {
  private readonly qualitySql: string;

  constructor(
    private readonly pool: pg.Pool,
    private readonly table: string,
    private readonly feedbackTable: string,
  ) {
    this.qualitySql = QUALITY_SQL.replaceAll('{ledger}', table)
      .replaceAll('{feedback}', feedbackTable)
      .replaceAll('{from}', '$1')
      .replaceAll('{to}', '$2')
      .replaceAll('{true}', 'TRUE')
      .replaceAll('{false}', 'FALSE');
  }

  async steps(parentId: string): Promise<LedgerRow[]> {
    try {
      const r = await this.pool.query<DbRow>(`SELECT ${COLUMNS.join(', ')} FROM ${this.table} WHERE parent_id = $1 ORDER BY step`, [parentId]);
      return r.rows.map(decodeRow);
    } catch (err) {
      throw pgUnavailable(err);
    }
  }

  async recordFeedback(requestId: string, good: boolean, at: number): Promise<'stored' | 'unknown_request'> {
    try {
      // One statement: the verdict is stored only if the request is in the ledger.
      const r = await this.pool.query(
        `INSERT INTO ${this.feedbackTable} (request_id, good, at)
         SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM ${this.table} WHERE request_id = $1 OR parent_id = $1)
         ON CONFLICT (request_id) DO UPDATE SET good = EXCLUDED.good, at = EXCLUDED.at`,
        [requestId, good, at],
      );
      return toInt(r.rowCount) === 1 ? 'stored' : 'unknown_request';
    } catch (err) {
      throw pgUnavailable(err);
    }
  }

  async qualityStats(fromMs: number = MIN_AT, toMs: number = MAX_AT): Promise<ModelQuality[]> {
    try {
      checkRange(fromMs, toMs);
      const r = await this.pool.query<Record<string, unknown>>(this.qualitySql, [fromMs, toMs]);
      return r.rows.map(decodeQuality);
    } catch (err) {
      throw pgUnavailable(err);
    }
  }
}
