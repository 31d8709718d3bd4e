/**
 * Redis restarted empty while the ledger cannot answer (PostgreSQL down): a budget's spend cannot be
 * rebuilt, so every request it covers answers 503. The replica says so — not ready, the reason in
 * its shared view — and its views keep the last known figures instead of "nothing spent"; once the
 * ledger answers again it is ready. Against the real Redis on 127.0.0.1:6379, under a key prefix of
 * its own (deleted to stand for Redis restarted empty).
 */
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, expect, it } from 'vitest';
import { openLedger } from '../../src/accounting/ledger.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { openRedisShared, type SharedState } from '../../src/shared-state/index.js';
import { ledgerRow } from './ledger-row.js';

let shared: SharedState | null = null;
const prefix = `sy-rebuild-${process.pid}-${Date.now()}`;
const redis = new Redis('redis://127.0.0.1:6379/0');
const wipe = async (): Promise<void> => {
  const keys = await redis.keys(`*${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
};
afterAll(async () => {
  await shared?.close();
  await wipe();
  await redis.quit();
});

it('a budget whose spend cannot be rebuilt makes the replica not ready, says why, and keeps the last known figures', async () => {
  const base = configSchema.parse({
    providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    models: { m: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000, endpoints: [{ provider: 'p', upstreamModel: 'm' }] } },
    budget: { limits: [{ scope: 'global', period: 'day', usd: 10 }] },
  });
  const cfg: Config = { ...base, storage: { ...base.storage, shared: 'redis://127.0.0.1:6379/0', keyPrefix: prefix } };
  const ledger = await openLedger('memory');
  const now = Date.now();
  await ledger.insert(ledgerRow('spent-before', 2, now));
  shared = await openRedisShared({ cfg: () => cfg, ledger, log: pino({ level: 'silent' }), env: { SWITCHYARD_REPLICA_ID: 'rebuild-test' } });
  await shared.start();
  await shared.store.refresh();
  expect(shared.ready()).toBe(true);
  expect(shared.store.lines()[0]!.spent).toBe(2_000_000_000);

  // The ledger stops answering, and Redis loses everything.
  const real = ledger.spentSince.bind(ledger);
  ledger.spentSince = () => Promise.reject(new Error('read ECONNRESET'));
  await wipe();
  await shared.store.restoreEpoch();
  await shared.store.refresh();
  expect(shared.ready()).toBe(false);
  expect(shared.view().lastError).toMatch(/rebuilding spend of budget global:day from the ledger failed: read ECONNRESET/);
  expect(shared.store.lines()[0]!.spent).toBe(2_000_000_000);

  // The ledger is back: rebuilt, ready.
  ledger.spentSince = real;
  await shared.store.refresh();
  expect(shared.ready()).toBe(true);
  expect(shared.view().lastError).toBeNull();
  expect(shared.store.lines()[0]!.spent).toBe(2_000_000_000);
});
