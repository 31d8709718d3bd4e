/**
 * The Responses store on both ledger databases: a stored conversation (and its response object
 * and input items) comes back for its own key only, expires after ttl, the oldest go beyond
 * maxEntries, the oldest go beyond maxBytes (counted across reopening) and a row over it alone is not stored,
 * only its own key deletes it, and tables made by older versions gain their columns. PostgreSQL runs in a
 * database of its own (SWITCHYARD_TEST_PG=off skips it, as for the ledger tests).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openResponseStore, type ResponseStore, type StoredResponse } from '../../src/accounting/response-store.js';
import { SwitchyardError } from '../../src/errors.js';
import { startPgRelay } from './pg-relay.js';

const limits = { ttlMs: 60_000, maxEntries: 3, maxBytes: 1_000_000 };
const conv = (n: number) => [
  { role: 'user', content: `q${n}` },
  { role: 'assistant', content: `a${n}` },
];

/** Rows of one size (multi-byte text: bytes, not characters, count), all three JSON columns filled. */
const sized = (n: number, createdAt: number, pad = 40): StoredResponse => {
  const tag = String(n).padStart(4, '0');
  return {
    id: `resp_b${tag}`,
    keyId: null,
    createdAt,
    messages: [
      { role: 'user', content: `q${tag} ${'€'.repeat(pad)}` },
      { role: 'assistant', content: `a${tag}` },
    ],
    response: { id: `resp_b${tag}`, object: 'response' },
    inputItems: [{ type: 'message', role: 'user', content: `q${tag}` }],
  };
};
const bytesOf = (r: StoredResponse) =>
  Buffer.byteLength(JSON.stringify(r.messages)) + Buffer.byteLength(JSON.stringify(r.response)) + Buffer.byteLength(JSON.stringify(r.inputItems));
const rowBytes = bytesOf(sized(1, 0));
// Room for ten rows and half of another.
const byteLimits = { ttlMs: 1e12, maxEntries: 1000, maxBytes: 10 * rowBytes + Math.floor(rowBytes / 2) };

/** Which of rows 1..n are stored. */
async function present(store: ResponseStore, n: number): Promise<number[]> {
  const kept: number[] = [];
  for (let i = 1; i <= n; i++) if (await store.find(sized(i, 0).id, null, 2_000_000)) kept.push(i);
  return kept;
}
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

/** maxBytes: the oldest rows go to make room, the count survives reopening and deletes, a row over the bound alone is not stored. */
async function byteBound(open: () => Promise<ResponseStore>): Promise<void> {
  const t0 = 1_000_000;
  let store = await open();
  try {
    for (let i = 1; i <= 25; i++) {
      expect(await store.put(sized(i, t0 + i))).toBe(true);
      const kept = await present(store, i);
      // The newest ten, never more bytes than the bound: the oldest went first.
      expect(kept).toEqual(range(Math.max(1, i - 9), i));
      expect(kept.length * rowBytes).toBeLessThanOrEqual(byteLimits.maxBytes);
    }
  } finally {
    await store.close();
  }
  // Reopened, the rows already there count: each new one still pushes out the oldest.
  store = await open();
  try {
    for (let i = 26; i <= 30; i++) await store.put(sized(i, t0 + i));
    expect(await present(store, 30)).toEqual(range(21, 30));
    // A deleted row's bytes are free again: the next one fits without pushing out another.
    expect(await store.delete(sized(25, 0).id, null, t0 + 100)).toBe(true);
    await store.put(sized(31, t0 + 31));
    expect(await present(store, 31)).toEqual([...range(21, 24), ...range(26, 31)]);
    // A row larger than the whole bound is not stored, and nothing is pushed out for it.
    const huge = sized(32, t0 + 32, Math.ceil(byteLimits.maxBytes / 3));
    expect(bytesOf(huge)).toBeGreaterThan(byteLimits.maxBytes);
    expect(await store.put(huge)).toBe(false);
    expect(await store.find(huge.id, null, t0 + 100)).toBeNull();
    expect(await store.get(huge.id, null, t0 + 100)).toBeNull();
    expect(await present(store, 32)).toEqual([...range(21, 24), ...range(26, 31)]);
  } finally {
    await store.close();
  }
}

async function contract(store: ResponseStore): Promise<void> {
  const t0 = 1_000_000;
  await store.put({ id: 'resp_1', keyId: 'team-a', createdAt: t0, messages: conv(1) });
  expect(await store.get('resp_1', 'team-a', t0 + 1)).toEqual(conv(1));
  expect(await store.get('resp_1', 'team-b', t0 + 1)).toBeNull();
  // Over maxBytes the conversation is not decoded: its size comes back (previous_response_id's bound).
  const size = Buffer.byteLength(JSON.stringify(conv(1)));
  expect(await store.get('resp_1', 'team-a', t0 + 1, size - 1)).toBe(size);
  expect(await store.get('resp_1', 'team-a', t0 + 1, size)).toEqual(conv(1));
  expect(await store.get('resp_1', null, t0 + 1)).toBeNull();
  expect(await store.get('resp_nope', 'team-a', t0 + 1)).toBeNull();
  expect(await store.get('resp_1', 'team-a', t0 + limits.ttlMs + 1)).toBeNull();
  for (let i = 2; i <= 5; i++) await store.put({ id: `resp_${i}`, keyId: null, createdAt: t0 + i, messages: conv(i) });
  // maxEntries 3: resp_1 and resp_2 went, the newest three stay.
  expect(await store.get('resp_2', null, t0 + 10)).toBeNull();
  for (const i of [3, 4, 5]) expect(await store.get(`resp_${i}`, null, t0 + 10)).toEqual(conv(i));
  // A put far later removes what expired meanwhile.
  await store.put({ id: 'resp_6', keyId: null, createdAt: t0 + 10 * limits.ttlMs, messages: conv(6) });
  expect(await store.get('resp_5', null, t0 + 10)).toBeNull();
  // The response object as answered (GET /v1/responses/{id}): same key and ttl rules; none when not kept.
  const t1 = t0 + 20 * limits.ttlMs;
  const object = { id: 'resp_7', object: 'response', status: 'completed', output: [{ type: 'message', content: [{ type: 'output_text', text: 'a7' }] }] };
  await store.put({ id: 'resp_7', keyId: 'team-a', createdAt: t1, messages: conv(7), response: object });
  expect(await store.getResponse('resp_7', 'team-a', t1 + 1)).toEqual(object);
  expect(await store.getResponse('resp_7', 'team-b', t1 + 1)).toBeNull();
  expect(await store.getResponse('resp_7', 'team-a', t1 + limits.ttlMs + 1)).toBeNull();
  await store.put({ id: 'resp_8', keyId: null, createdAt: t1, messages: conv(8) });
  expect(await store.getResponse('resp_8', null, t1 + 1)).toBeNull();
  expect(await store.get('resp_8', null, t1 + 1)).toEqual(conv(8));
  // Delete (DELETE /v1/responses/{id}): only the creating key, only while kept; then unknown.
  expect(await store.delete('resp_7', 'team-b', t1 + 1)).toBe(false);
  expect(await store.delete('resp_7', null, t1 + 1)).toBe(false);
  expect(await store.delete('resp_7', 'team-a', t1 + limits.ttlMs + 1)).toBe(false);
  expect(await store.getResponse('resp_7', 'team-a', t1 + 1)).toEqual(object);
  expect(await store.delete('resp_7', 'team-a', t1 + 1)).toBe(true);
  expect(await store.getResponse('resp_7', 'team-a', t1 + 1)).toBeNull();
  expect(await store.get('resp_7', 'team-a', t1 + 1)).toBeNull();
  expect(await store.delete('resp_7', 'team-a', t1 + 1)).toBe(false);
  expect(await store.delete('resp_8', null, t1 + 1)).toBe(true);
  expect(await store.get('resp_8', null, t1 + 1)).toBeNull();
  // The whole record with the input items (GET /v1/responses/{id}/input_items): same key and ttl rules.
  const items = [{ id: 'msg_1', type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_text', text: 'q9' }] }];
  await store.put({ id: 'resp_9', keyId: 'team-a', createdAt: t1, messages: conv(9), response: object, inputItems: items });
  expect(await store.find('resp_9', 'team-a', t1 + 1)).toEqual({
    id: 'resp_9',
    keyId: 'team-a',
    createdAt: t1,
    messages: conv(9),
    response: object,
    inputItems: items,
  });
  // What input_items lists, alone: the items (or, below, the conversation), same rules.
  expect(await store.findItems('resp_9', 'team-a', t1 + 1)).toEqual({ inputItems: items });
  expect(await store.findItems('resp_9', 'team-b', t1 + 1)).toBeNull();
  expect(await store.findItems('resp_9', 'team-a', t1 + limits.ttlMs + 1)).toBeNull();
  expect(await store.find('resp_9', 'team-b', t1 + 1)).toBeNull();
  expect(await store.find('resp_9', null, t1 + 1)).toBeNull();
  expect(await store.find('resp_9', 'team-a', t1 + limits.ttlMs + 1)).toBeNull();
  expect(await store.find('resp_nope', 'team-a', t1 + 1)).toBeNull();
  // Without items or object (stored before they were kept): the record without those fields.
  await store.put({ id: 'resp_10', keyId: null, createdAt: t1, messages: conv(10) });
  expect(await store.find('resp_10', null, t1 + 1)).toEqual({ id: 'resp_10', keyId: null, createdAt: t1, messages: conv(10) });
  expect(await store.findItems('resp_10', null, t1 + 1)).toEqual({ messages: conv(10) });
  expect(await store.delete('resp_9', 'team-a', t1 + 1)).toBe(true);
  expect(await store.find('resp_9', 'team-a', t1 + 1)).toBeNull();
}

describe('SQLite response store', () => {
  it('keeps, isolates, expires and trims', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sy-resp-')), 'ledger.db');
    const store = await openResponseStore(`sqlite:${file}`, () => limits);
    try {
      await contract(store);
    } finally {
      await store.close();
    }
  });
});

describe('SQLite response store bounded in bytes', () => {
  it('drops the oldest to stay within maxBytes, counts what is there at open, stores no row over the bound', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sy-resp-bytes-')), 'ledger.db');
    await byteBound(() => openResponseStore(`sqlite:${file}`, () => byteLimits));
  });
});

/** maxEntries: the newest stay; what is there at open counts, a delete or a replaced id frees a place, a lowered bound applies at the next put. */
async function entryBound(open: (bound: { ttlMs: number; maxEntries: number; maxBytes: number }) => Promise<ResponseStore>): Promise<void> {
  const bound = { ttlMs: 1e12, maxEntries: 5, maxBytes: 1e9 };
  const t0 = 1_000_000;
  let store = await open(bound);
  try {
    for (let i = 1; i <= 7; i++) await store.put(sized(i, t0 + i));
    expect(await present(store, 9)).toEqual(range(3, 7));
  } finally {
    await store.close();
  }
  store = await open(bound);
  try {
    await store.put(sized(8, t0 + 8));
    expect(await present(store, 9)).toEqual(range(4, 8));
    expect(await store.delete(sized(5, 0).id, null, t0 + 100)).toBe(true);
    await store.put(sized(9, t0 + 9));
    expect(await present(store, 9)).toEqual([4, 6, 7, 8, 9]);
    await store.put(sized(9, t0 + 9)); // the same id again replaces its row
    expect(await present(store, 9)).toEqual([4, 6, 7, 8, 9]);
    bound.maxEntries = 2;
    await store.put(sized(10, t0 + 10));
    expect(await present(store, 10)).toEqual([9, 10]);
    // Made in the same millisecond (a burst; ids whose order is not the order they came in): the first stored goes first.
    bound.maxEntries = 3;
    for (const i of [20, 19, 18, 17, 16]) await store.put(sized(i, t0 + 30));
    expect(await present(store, 20)).toEqual([16, 17, 18]);
  } finally {
    await store.close();
  }
}

describe('SQLite response store bounded in entries', () => {
  it('keeps the newest maxEntries: what is there at open counts, a delete or a replaced id frees a place, a lowered bound applies at the next put', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sy-resp-entries-')), 'ledger.db');
    await entryBound((bound) => openResponseStore(`sqlite:${file}`, () => bound));
  });
});

describe('SQLite response store made before response objects were kept', () => {
  it('gets the response column in place and keeps the old rows', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sy-resp-old-')), 'ledger.db');
    const old = new Database(file);
    old.exec('CREATE TABLE responses (id TEXT NOT NULL PRIMARY KEY, key_id TEXT, created_at INTEGER NOT NULL, messages TEXT NOT NULL) STRICT');
    old.prepare('INSERT INTO responses VALUES (?, ?, ?, ?)').run('resp_old', null, 1_000_000, JSON.stringify(conv(1)));
    old.close();
    const store = await openResponseStore(`sqlite:${file}`, () => limits);
    try {
      expect(await store.get('resp_old', null, 1_000_001)).toEqual(conv(1));
      expect(await store.getResponse('resp_old', null, 1_000_001)).toBeNull();
      await contract(store);
    } finally {
      await store.close();
    }
  });
});

describe('SQLite response store made before input items were kept', () => {
  it('gets the input_items column in place; an old row has none (the route rebuilds them from its conversation)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sy-resp-old2-')), 'ledger.db');
    const old = new Database(file);
    old.exec('CREATE TABLE responses (id TEXT NOT NULL PRIMARY KEY, key_id TEXT, created_at INTEGER NOT NULL, messages TEXT NOT NULL, response TEXT) STRICT');
    old.prepare('INSERT INTO responses VALUES (?, ?, ?, ?, ?)').run('resp_old', 'team-a', 1_000_000, JSON.stringify(conv(1)), '{"id":"resp_old"}');
    old.close();
    const store = await openResponseStore(`sqlite:${file}`, () => limits);
    try {
      expect(await store.find('resp_old', 'team-a', 1_000_001)).toEqual({
        id: 'resp_old',
        keyId: 'team-a',
        createdAt: 1_000_000,
        messages: conv(1),
        response: { id: 'resp_old' },
      });
      await contract(store);
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(process.env.SWITCHYARD_TEST_PG === 'off')('PostgreSQL response store', () => {
  const admin = process.env.SWITCHYARD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const db = `sy_responses_${randomBytes(4).toString('hex')}`;
  const url = admin.replace(/\/[^/]*$/, `/${db}`);

  afterAll(async () => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${db}`);
    await c.end();
  });

  /** Runs `test` on a fresh database of its own (`<db>_<suffix>`), dropped afterwards. */
  async function withDatabase(suffix: string, test: (url: string) => Promise<void>): Promise<void> {
    const name = `${db}_${suffix}`;
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    await c.query(`CREATE DATABASE ${name}`);
    try {
      await test(admin.replace(/\/[^/]*$/, `/${name}`));
    } finally {
      await c.query(`DROP DATABASE IF EXISTS ${name}`);
      await c.end();
    }
  }

  it('keeps, isolates, expires and trims', async () => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    await c.query(`CREATE DATABASE ${db}`);
    await c.end();
    const store = await openResponseStore(url, () => limits);
    try {
      await contract(store);
    } finally {
      await store.close();
    }
  });

  it('drops the oldest to stay within maxBytes, counts what is there at open, stores no row over the bound', async () => {
    await withDatabase('bytes', async (boundedUrl) => {
      await byteBound(() => openResponseStore(boundedUrl, () => byteLimits));
    });
  });

  it('keeps the newest maxEntries: what is there at open counts, a delete or a replaced id frees a place, a lowered bound applies at the next put', async () => {
    await withDatabase('entries', async (boundedUrl) => {
      await entryBound((bound) => openResponseStore(boundedUrl, () => bound));
    });
  });

  it('counts the rows of a table whose count was kept by an older version (bytes only) when it opens it, and evicts by that count', async () => {
    await withDatabase('entries_old', async (olderUrl) => {
      const bound = { ttlMs: 1e12, maxEntries: 1000, maxBytes: 1e9 };
      const t0 = 1_000_000;
      let store = await openResponseStore(olderUrl, () => bound);
      for (let i = 1; i <= 4; i++) await store.put(sized(i, t0 + i));
      await store.close();
      // What an older version left: the byte count's table and trigger, no row count.
      const o = new pg.Client({ connectionString: olderUrl });
      await o.connect();
      await o.query('DROP TRIGGER switchyard_responses_entries ON switchyard_responses');
      await o.query('ALTER TABLE switchyard_responses_bytes DROP COLUMN entries');
      await o.query('INSERT INTO switchyard_responses (id, key_id, created_at, messages) VALUES ($1, NULL, $2, $3)', [sized(5, 0).id, t0 + 5, '[]']);
      bound.maxEntries = 5;
      store = await openResponseStore(olderUrl, () => bound);
      try {
        const entries = await o.query<{ entries: string }>('SELECT entries FROM switchyard_responses_bytes');
        expect(Number(entries.rows[0]?.entries)).toBe(5);
        await store.put(sized(6, t0 + 6));
        await store.put(sized(7, t0 + 7));
        expect(await present(store, 8)).toEqual(range(3, 7));
        const after = await o.query<{ entries: string; n: string }>(
          'SELECT entries, (SELECT COUNT(*) FROM switchyard_responses) AS n FROM switchyard_responses_bytes',
        );
        expect(Number(after.rows[0]?.entries)).toBe(5);
        expect(Number(after.rows[0]?.n)).toBe(5);
      } finally {
        await store.close();
        await o.end();
      }
    });
  });

  it('adds the input_items column to a table made before it (old rows keep working)', async () => {
    await withDatabase('old', async (olderUrl) => {
      const o = new pg.Client({ connectionString: olderUrl });
      await o.connect();
      await o.query(
        'CREATE TABLE switchyard_responses (id TEXT NOT NULL PRIMARY KEY, key_id TEXT, created_at BIGINT NOT NULL, messages TEXT NOT NULL, response TEXT)',
      );
      await o.query('INSERT INTO switchyard_responses VALUES ($1, $2, $3, $4, $5)', ['resp_old', null, 1_000_000, JSON.stringify(conv(1)), null]);
      await o.end();
      const store = await openResponseStore(olderUrl, () => limits);
      try {
        expect(await store.find('resp_old', null, 1_000_001)).toEqual({ id: 'resp_old', keyId: null, createdAt: 1_000_000, messages: conv(1) });
        // The rows already there are counted for maxBytes when the count starts.
        const counted = new pg.Client({ connectionString: olderUrl });
        await counted.connect();
        const total = await counted.query<{ total: string }>('SELECT total FROM switchyard_responses_bytes');
        await counted.end();
        expect(Number(total.rows[0]?.total)).toBe(Buffer.byteLength(JSON.stringify(conv(1))));
        await contract(store);
      } finally {
        await store.close();
      }
    });
  });

  it('a database that cannot be reached any more is 503 storage_unavailable with retry-after on every call, not a 500; served again once it is back', async () => {
    await withDatabase('down', async (freshUrl) => {
      const relay = await startPgRelay(freshUrl);
      const store = await openResponseStore(relay.url, () => limits);
      try {
        await store.put({ id: 'resp_up', keyId: null, createdAt: Date.now(), messages: conv(1), response: { id: 'resp_up' } });
        relay.cut();
        for (const call of [
          () => store.get('resp_up', null, Date.now()),
          () => store.getResponse('resp_up', null, Date.now()),
          () => store.delete('resp_up', null, Date.now()),
        ]) {
          const e = (await call().catch((x: unknown) => x)) as SwitchyardError;
          expect(e).toBeInstanceOf(SwitchyardError);
          expect([e.status, e.code, e.headers['retry-after']]).toEqual([503, 'storage_unavailable', '1']);
        }
        relay.restore();
        expect(await store.getResponse('resp_up', null, Date.now())).toMatchObject({ id: 'resp_up' });
      } finally {
        await store.close();
        relay.close();
      }
    });
  });

  it('a database that refuses service (ALLOW_CONNECTIONS false: 55000) is 503 storage_unavailable too, not a 500 "switchyard bug" (a replicas round)', async () => {
    await withDatabase('refusing', async (freshUrl) => {
      const store = await openResponseStore(freshUrl, () => limits);
      const name = new URL(freshUrl).pathname.slice(1);
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      try {
        await store.put({ id: 'resp_up', keyId: null, createdAt: Date.now(), messages: conv(1), response: { id: 'resp_up' } });
        await c.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
        await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
        // A pooled connection the termination reached first answers 57P01 (cannot be reached); a fresh one is refused (55000). Each a 503.
        const messages: string[] = [];
        for (let i = 0; i < 4 && !messages.some((m) => m.includes('(55000)')); i++) {
          const e = (await store.getResponse('resp_up', null, Date.now()).catch((x: unknown) => x)) as SwitchyardError;
          expect(e).toBeInstanceOf(SwitchyardError);
          expect([e.status, e.code, e.headers['retry-after']]).toEqual([503, 'storage_unavailable', '1']);
          messages.push(e.message);
        }
        expect(messages.at(-1)).toMatch(/^the PostgreSQL database \(storage\.ledger\) refuses service \(55000\)/);
        await c.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
        expect(await store.getResponse('resp_up', null, Date.now())).toMatchObject({ id: 'resp_up' });
      } finally {
        await c.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => undefined);
        await c.end();
        await store.close();
      }
    });
  });

  it('replicas booting together on a fresh database all open it (the schema is created under a lock)', async () => {
    await withDatabase('boot', async (freshUrl) => {
      // Unlocked, concurrent CREATE TABLE IF NOT EXISTS fails here with pg_type_typname_nsp_index.
      const stores = await Promise.all(Array.from({ length: 8 }, () => openResponseStore(freshUrl, () => limits)));
      await Promise.all(stores.map((s) => s.close()));
    });
  });
});
