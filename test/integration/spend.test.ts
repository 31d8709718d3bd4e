/**
 * `GET /switchyard/spend` on a real sidecar process over a ledger with known rows: totals per
 * model, endpoint, key and UTC day, half-open `from`/`to` windows, the display currency, and
 * OpenAI-shaped 400s. The rows are written beforehand with the ledger store, so every figure
 * is exact; no upstream is needed. The sidecar runs in a zone west of UTC so that reading a
 * boundary in local time would show.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { LedgerRow } from '../../src/accounting/ledger.js';
import { SqliteLedger } from '../../src/accounting/sqlite-ledger.js';
import { startSidecar, testConfig, type SidecarHandle } from './harness.js';

const PER_USD = 7.1;
const at = (iso: string): number => Date.parse(iso);

function row(requestId: string, over: Partial<LedgerRow>): LedgerRow {
  return {
    requestId,
    at: 0,
    keyId: null,
    model: null,
    endpoint: null,
    attempts: 1,
    promptTokens: 0,
    completionTokens: 0,
    cachedTokens: 0,
    costNano: 0,
    estimated: false,
    status: 200,
    latencyMs: 10,
    ttftMs: null,
    stream: false,
    errorCode: null,
    ...over,
  };
}

const ROWS: LedgerRow[] = [
  row('r1', {
    at: at('2025-03-01T10:00:00Z'),
    keyId: 'team-a',
    model: 'gpt-4.1',
    endpoint: 'gpt-4.1@openai',
    promptTokens: 100,
    completionTokens: 50,
    costNano: 1_000_000_000,
  }),
  row('r2', {
    at: at('2025-03-01T23:59:59.999Z'),
    model: 'deepseek-v3.2',
    endpoint: 'deepseek-v3.2@deepseek',
    promptTokens: 10,
    completionTokens: 5,
    costNano: 123_456_789,
  }),
  row('r3', {
    at: at('2025-03-02T00:00:00.000Z'),
    keyId: 'team-b',
    model: 'gpt-4.1',
    endpoint: 'gpt-4.1@relay',
    promptTokens: 200,
    completionTokens: 70,
    costNano: 2_500_000_001,
  }),
  row('r4', {
    at: at('2025-03-03T12:00:00Z'),
    keyId: 'team-a',
    model: 'claude-sonnet-4.5',
    endpoint: 'claude-sonnet-4.5@anthropic',
    promptTokens: 1,
    completionTokens: 1,
    costNano: 7,
  }),
  // A refused request: a row of its own, nothing spent.
  row('r5', { at: at('2025-03-03T13:00:00Z'), keyId: 'team-b', status: 429, errorCode: 'budget_exceeded', attempts: 0 }),
];

interface Group {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  usd: number;
  cny: number;
  [group: string]: unknown;
}
interface Spend {
  group_by: string;
  from: string | null;
  to: string | null;
  currency: { code: string; perUsd: number } | null;
  total: { requests: number; usd: number; cny: number };
  groups: Group[];
}

let sc: SidecarHandle;

beforeAll(async () => {
  const cfg = testConfig('http://127.0.0.1:9', { budget: { limits: [], currency: { code: 'CNY', perUsd: PER_USD } } });
  const file = join(mkdtempSync(join(tmpdir(), 'sy-spend-')), 'ledger.db');
  cfg.storage = { ledger: `sqlite:${file}` };
  const ledger = SqliteLedger.open(file);
  for (const r of ROWS) await ledger.insert(r);
  await ledger.close();
  sc = await startSidecar(cfg, { TZ: 'America/New_York' });
});

afterAll(async () => {
  await sc?.stop();
});

async function spend(query: string): Promise<Spend> {
  const r = await fetch(`${sc.url}/switchyard/spend?${query}`);
  expect(r.status).toBe(200);
  return (await r.json()) as Spend;
}

/** The expected group: exact nano sums, USD as a float, CNY rounded to 6 decimals. */
function expectedGroup(key: string, name: string, rows: LedgerRow[]): Record<string, unknown> {
  const nano = rows.reduce((s, r) => s + r.costNano, 0);
  return {
    [key]: name,
    requests: rows.length,
    promptTokens: rows.reduce((s, r) => s + r.promptTokens, 0),
    completionTokens: rows.reduce((s, r) => s + r.completionTokens, 0),
    usd: nano / 1e9,
    cny: Math.round((nano / 1e9) * PER_USD * 1e6) / 1e6,
  };
}
const only = (...ids: string[]): LedgerRow[] => ROWS.filter((r) => ids.includes(r.requestId));

describe('/switchyard/spend', () => {
  it('groups by model with exact USD and the configured display currency', async () => {
    const j = await spend('group_by=model');
    expect(j.currency).toEqual({ code: 'CNY', perUsd: PER_USD });
    expect(j.groups).toEqual([
      expectedGroup('model', '(none)', only('r5')),
      expectedGroup('model', 'claude-sonnet-4.5', only('r4')),
      expectedGroup('model', 'deepseek-v3.2', only('r2')),
      expectedGroup('model', 'gpt-4.1', only('r1', 'r3')),
    ]);
    // 3.623456797 USD × 7.1 = 25.7265432587 CNY.
    expect(j.total).toEqual({ requests: 5, usd: 3.623456797, cny: 25.726543 });
  });

  it('groups by endpoint, by key and by UTC day', async () => {
    expect((await spend('group_by=endpoint')).groups.map((g) => [g.endpoint, g.requests])).toEqual([
      ['(none)', 1],
      ['claude-sonnet-4.5@anthropic', 1],
      ['deepseek-v3.2@deepseek', 1],
      ['gpt-4.1@openai', 1],
      ['gpt-4.1@relay', 1],
    ]);
    expect((await spend('group_by=key')).groups).toEqual([
      expectedGroup('key', '(none)', only('r2')),
      expectedGroup('key', 'team-a', only('r1', 'r4')),
      expectedGroup('key', 'team-b', only('r3', 'r5')),
    ]);
    // The last millisecond of March 1 belongs to March 1 (UTC, whatever the sidecar's zone).
    expect((await spend('group_by=day')).groups).toEqual([
      expectedGroup('day', '2025-03-01', only('r1', 'r2')),
      expectedGroup('day', '2025-03-02', only('r3')),
      expectedGroup('day', '2025-03-03', only('r4', 'r5')),
    ]);
  });

  it('filters on a half-open from/to window, in UTC unless an offset is given', async () => {
    const day2 = await spend('group_by=day&from=2025-03-02&to=2025-03-03');
    expect([day2.from, day2.to]).toEqual(['2025-03-02T00:00:00.000Z', '2025-03-03T00:00:00.000Z']);
    expect(day2.total).toEqual({ requests: 1, usd: 2.500000001, cny: 17.75 });
    // A date-time without an offset is UTC, like the day groups (not the sidecar's local zone).
    const noOffset = await spend('group_by=model&from=2025-03-01T23:59:59.999&to=2025-03-02T00:00:00.001');
    expect(noOffset.groups.map((g) => g.model)).toEqual(['deepseek-v3.2', 'gpt-4.1']);
    expect(noOffset.from).toBe('2025-03-01T23:59:59.999Z');
    const withOffset = await spend(`group_by=model&from=${encodeURIComponent('2025-03-03T13:00:00+01:00')}`);
    expect(withOffset.total.requests).toBe(2);
    // The same offset typed unencoded (curl '...&from=2025-03-03T13:00:00+01:00'): the + arrives as a space.
    const typed = await spend('group_by=model&from=2025-03-03T13:00:00+01:00');
    expect([typed.from, typed.total.requests]).toEqual(['2025-03-03T12:00:00.000Z', 2]);
    // As psql and sqlite3 print a time (a space for the T, an offset without its colon or minutes), and lower-case t/z: RFC 3339 allows them (they were 400s).
    for (const from of [
      '2025-03-03 12:00:00',
      '2025-03-03 12:00:00+00',
      '2025-03-03t12:00:00z',
      '2025-03-03T13:00:00+0100',
      '2025-03-03 13:00:00+01',
      '2025-03-03T11:30-00:30',
    ]) {
      const r = await spend(`group_by=model&from=${encodeURIComponent(from)}`);
      expect([from, r.from, r.total.requests]).toEqual([from, '2025-03-03T12:00:00.000Z', 2]);
    }
    expect((await spend('from=2025-03-04')).total).toEqual({ requests: 0, usd: 0, cny: 0 });
    expect((await spend('to=2025-03-01T10:00:00.001Z')).groups.map((g) => g.model)).toEqual(['gpt-4.1']);
  });

  it.each([
    ['group_by=week', 'group_by'],
    ['group_by=model&from=yesterday', 'from'],
    ['from=03%2F02%2F2025', 'from'],
    ['from=2025-02-30', 'from'],
    ['from=2025-03-03%2012', 'from'],
    ['from=2025-03-03T12:00%2B1', 'from'],
    ['to=1', 'to'],
    // A window that ends before it starts is a mistake (swapped bounds), not an empty report.
    ['from=2025-03-03&to=2025-03-02', 'to'],
    // Given twice, the later one was ignored; a misspelt parameter was passed over.
    ['group_by=model&group_by=day', 'group_by'],
    ['group_by=model&form=2025-03-01', 'form'],
  ])('answers an OpenAI-shaped 400 for %s', async (query, param) => {
    const r = await fetch(`${sc.url}/switchyard/spend?${query}`);
    expect(r.status).toBe(400);
    const j = (await r.json()) as { error: Record<string, unknown> };
    expect(j.error).toEqual({ message: expect.stringContaining(param) as unknown, type: 'invalid_request_error', param, code: 'invalid_request' });
  });
});

describe('a display currency of USD', () => {
  it('keeps the exact usd figures (its converted column, rounded to 6 decimals, had replaced them: 7 nano-USD showed as 0)', async () => {
    const cfg = testConfig('http://127.0.0.1:9', { budget: { limits: [], currency: { code: 'USD', perUsd: 1 } } });
    cfg.storage = (parse(readFileSync(sc.configFile, 'utf8')) as { storage: unknown }).storage;
    writeFileSync(sc.configFile, stringify(cfg));
    expect((await fetch(`${sc.url}/switchyard/reload`, { method: 'POST' })).status).toBe(200);
    const j = await spend('group_by=model');
    expect(j.currency).toEqual({ code: 'USD', perUsd: 1 });
    expect(j.total).toEqual({ requests: 5, usd: 3.623456797 });
    expect(j.groups.find((g) => g.model === 'claude-sonnet-4.5')).toEqual({
      model: 'claude-sonnet-4.5',
      requests: 1,
      promptTokens: 1,
      completionTokens: 1,
      usd: 7e-9,
    });
  });
});
