/**
 * Issue 11: the ledger keeps the `auto` scorer's score per request (`route_score`, no prompt
 * text), both stores, with an additive migration of ledgers made before the column existed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLedger } from '../../src/accounting/ledger.js';
import { SQLITE_SCHEMA_VERSION } from '../../src/accounting/sqlite-ledger.js';
import { makeRow } from './ledger-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'switchyard-score-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The version-1 schema as it shipped before issue 11. */
const V1 = `CREATE TABLE ledger (request_id TEXT NOT NULL PRIMARY KEY, at INTEGER NOT NULL, key_id TEXT, model TEXT, endpoint TEXT,
  attempts INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
  cost_nano INTEGER NOT NULL, estimated INTEGER NOT NULL, status INTEGER NOT NULL, latency_ms INTEGER NOT NULL, ttft_ms INTEGER,
  stream INTEGER NOT NULL, error_code TEXT) STRICT;`;

describe('route_score in the ledger', () => {
  it('sqlite: round-trips a score, leaves unscored rows without one, refuses a score outside [0, 1]', async () => {
    const ledger = await openLedger('memory');
    const scored = makeRow({ routeScore: 0.4375 });
    const plain = makeRow();
    await ledger.insert(scored);
    await ledger.insert(plain);
    expect(await ledger.rows({ requestId: scored.requestId })).toEqual([scored]);
    const [back] = await ledger.rows({ requestId: plain.requestId });
    expect(back).toEqual(plain);
    expect(back!.routeScore).toBeUndefined();
    await expect(ledger.insert(makeRow({ routeScore: 1.5 }))).rejects.toThrow(/routeScore/);
    await expect(ledger.insert(makeRow({ routeScore: Number.NaN }))).rejects.toThrow(/routeScore/);
    await ledger.close();
  });

  it('sqlite: a ledger made before the column gains it and keeps its rows', async () => {
    const path = join(dir, 'v1.db');
    const db = new Database(path);
    db.exec(V1);
    db.prepare(`INSERT INTO ledger VALUES ('old', 1000, NULL, 'm', 'e', 1, 10, 5, 0, 42, 0, 200, 9, NULL, 0, NULL)`).run();
    db.pragma('user_version = 1');
    db.close();
    const ledger = await openLedger(`sqlite:${path}`);
    await ledger.insert(makeRow({ requestId: 'new', routeScore: 0.25 }));
    const rows = await ledger.rows({ limit: 10 });
    expect(rows.map((r) => [r.requestId, r.routeScore ?? null])).toEqual(
      expect.arrayContaining([
        ['old', null],
        ['new', 0.25],
      ]),
    );
    await ledger.close();
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
    expect((check.pragma('table_info(ledger)') as Array<{ name: string }>).map((c) => c.name)).toContain('route_score');
    check.close();
  });

  describe.skipIf(process.env.SWITCHYARD_TEST_PG === 'off')('postgres', () => {
    const URL_ = process.env.SWITCHYARD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
    const SCHEMA = `sy_score_${Date.now()}_${randomBytes(3).toString('hex')}`;
    afterAll(async () => {
      const c = new pg.Client({ connectionString: URL_ });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
      await c.end();
    });

    it('a table made before the column gains it (ADD COLUMN IF NOT EXISTS) and round-trips scores', async () => {
      const c = new pg.Client({ connectionString: URL_ });
      await c.connect();
      await c.query(`CREATE SCHEMA "${SCHEMA}"`);
      await c.query(`CREATE TABLE "${SCHEMA}".old_ledger (seq BIGSERIAL, request_id TEXT NOT NULL PRIMARY KEY, at BIGINT NOT NULL, key_id TEXT, model TEXT,
        endpoint TEXT, attempts INTEGER NOT NULL, prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL, cached_tokens BIGINT NOT NULL,
        cost_nano BIGINT NOT NULL, estimated BOOLEAN NOT NULL, status INTEGER NOT NULL, latency_ms BIGINT NOT NULL, ttft_ms BIGINT,
        stream BOOLEAN NOT NULL, error_code TEXT)`);
      await c.end();
      const ledger = await openLedger(URL_, { schema: SCHEMA, table: 'old_ledger' });
      const row = makeRow({ routeScore: 0.8125 });
      await ledger.insert(row);
      await ledger.insert(makeRow());
      expect(await ledger.rows({ requestId: row.requestId })).toEqual([row]);
      await ledger.close();
    });
  });
});
