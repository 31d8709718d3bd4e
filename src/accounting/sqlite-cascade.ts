/**
 * The quality cascade's part of the SQLite ledger: four nullable columns on `ledger` (a
 * cascaded request's steps), the `feedback` table, and their statements. Added in place on
 * every open (idempotent `ALTER TABLE … ADD COLUMN`), so a ledger file of any earlier
 * switchyard upgrades in place; schema versions 2 and 3 (sqlite-ledger.ts) have them from the start.
 */
import type Database from 'better-sqlite3';
import type { LedgerRow, ModelQuality } from './ledger.js';
import { spanParams, spanSql, type SpanParams } from './ledger-span.js';
import { COLUMNS, ESCALATION_GROUP, MAX_AT, MIN_AT, QUALITY_SQL, checkRange, decodeQuality, decodeRow, type DbRow } from './ledger-codec.js';

const CASCADE_COLUMNS: Array<[string, string]> = [
  ['parent_id', 'TEXT'],
  ['step', 'INTEGER'],
  ['quality', 'TEXT'],
  ['delivered', 'INTEGER'],
];

export const SQLITE_ESCALATION_GROUP = ESCALATION_GROUP.replaceAll('{none}', '@none');

export function ensureCascadeSchema(db: Database.Database): void {
  const have = new Set((db.pragma('table_info(ledger)') as Array<{ name: string }>).map((c) => c.name));
  db.transaction(() => {
    for (const [name, type] of CASCADE_COLUMNS) if (!have.has(name)) db.exec(`ALTER TABLE ledger ADD COLUMN ${name} ${type}`);
    db.exec(`
      CREATE INDEX IF NOT EXISTS ledger_parent ON ledger (parent_id) WHERE parent_id IS NOT NULL;
      CREATE TABLE IF NOT EXISTS feedback (
        request_id TEXT    NOT NULL PRIMARY KEY,
        good       INTEGER NOT NULL,
        at         INTEGER NOT NULL
      ) STRICT;`);
  })();
}

export class SqliteCascade {
  private readonly stepsStmt: Database.Statement<[string], DbRow>;
  private readonly knownStmt: Database.Statement<[string, string], { n: unknown }>;
  private readonly feedbackStmt: Database.Statement<[string, number, number], unknown>;
  private readonly qualityStmt: Database.Statement<[SpanParams], Record<string, unknown>>;

  constructor(db: Database.Database) {
    this.stepsStmt = db.prepare<[string], DbRow>(`SELECT ${COLUMNS.join(', ')} FROM ledger WHERE parent_id = ? ORDER BY step`).safeIntegers(true);
    this.knownStmt = db.prepare<[string, string], { n: unknown }>('SELECT COUNT(*) AS n FROM ledger WHERE request_id = ? OR parent_id = ?');
    this.feedbackStmt = db.prepare<[string, number, number], unknown>(
      'INSERT INTO feedback (request_id, good, at) VALUES (?, ?, ?) ON CONFLICT (request_id) DO UPDATE SET good = excluded.good, at = excluded.at',
    );
    const sql = QUALITY_SQL.replaceAll('{ledger}', `(${spanSql('*')})`)
      .replaceAll('{feedback}', 'feedback')
      .replaceAll('{from}', '@from')
      .replaceAll('{to}', '@to')
      .replaceAll('{true}', '1')
      .replaceAll('{false}', '0');
    this.qualityStmt = db.prepare<[SpanParams], Record<string, unknown>>(sql).safeIntegers(true);
  }

  steps(parentId: string): LedgerRow[] {
    return this.stepsStmt.all(parentId).map(decodeRow);
  }

  recordFeedback(requestId: string, good: boolean, at: number): 'stored' | 'unknown_request' {
    const known = Number(this.knownStmt.get(requestId, requestId)?.n ?? 0);
    if (known === 0) return 'unknown_request';
    this.feedbackStmt.run(requestId, good ? 1 : 0, at);
    return 'stored';
  }

  qualityStats(fromMs: number = MIN_AT, toMs: number = MAX_AT): ModelQuality[] {
    checkRange(fromMs, toMs);
    return this.qualityStmt.all(spanParams(fromMs, toMs)).map(decodeQuality);
  }
}
