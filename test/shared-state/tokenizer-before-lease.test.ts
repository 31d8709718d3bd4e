/**
 * A replica on Redis loads the o200k tables before it takes its lease: their load holds the event
 * loop a second or more, during which no lease renews (live replicas were reclaimed as dead under a
 * cold-start burst). Against the real Redis on 127.0.0.1:6379, under a key prefix of its own.
 */
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, expect, it } from 'vitest';
import { openLedger } from '../../src/accounting/ledger.js';
import { tokenizerLoaded } from '../../src/accounting/tokens.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { openRedisShared, type SharedState } from '../../src/shared-state/index.js';

let shared: SharedState | null = null;
const prefix = `sy-tok-${process.pid}-${Date.now()}:`;
afterAll(async () => {
  await shared?.close();
  const redis = new Redis('redis://127.0.0.1:6379/0');
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

it('start() has the tokenizer loaded before the lease is first renewed', async () => {
  const base = configSchema.parse({
    providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    models: { m: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000, endpoints: [{ provider: 'p', upstreamModel: 'm' }] } },
  });
  // Only the shared-state part is read here (the config check wants a shared ledger beside Redis, which this does not write).
  const cfg: Config = { ...base, storage: { ...base.storage, shared: 'redis://127.0.0.1:6379/0', keyPrefix: prefix } };
  const ledger = await openLedger('memory');
  expect(tokenizerLoaded()).toBe(false);
  shared = await openRedisShared({ cfg: () => cfg, ledger, log: pino({ level: 'silent' }), env: { SWITCHYARD_REPLICA_ID: 'tok-test' } });
  await shared.start();
  expect(tokenizerLoaded()).toBe(true);
});
