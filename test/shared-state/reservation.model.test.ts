/**
 * Model-based test of the reservation protocol against the real Lua scripts on the real Redis
 * (127.0.0.1:6379, a key prefix per path): every shortest path of the reservation model
 * (reserve / settle / release / lease expiry / reclaim / late reserve after a give-up) is
 * replayed on the model's actor (coverage printed) and on Redis, comparing the budget counters
 * and the reservation's state after every step.
 */
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { SnapshotFrom } from 'xstate';
import { SharedConnection } from '../../src/shared-state/connection.js';
import { Keys } from '../../src/shared-state/keys.js';
import { reclaimedRow } from '../../src/shared-state/lease.js';
import { FINISH_ONE, RECLAIM, RENEW, RESERVE, SEED } from '../../src/shared-state/scripts.js';
import { dropPrefix, SHARED_REDIS, uniq } from '../integration/replicas.js';
import { reportCoverage } from '../machines/coverage.js';
import { buildModel, runShortestPaths, type ModelEvent, type ModelSpec } from '../machines/model-harness.js';
import { reservationModel, type ResEvent } from './reservation.model.js';

type Snap = SnapshotFrom<typeof reservationModel>;
const LIMIT = 100;
const SEEDED = 20;

const spec: ModelSpec<typeof reservationModel> = {
  machine: reservationModel,
  input: { limit: LIMIT, spent: SEEDED },
  abstract: (s: Snap) => ({ state: s.value, spent: s.context.spent, reserved: s.context.reserved }),
  events: (_s, own) =>
    own.flatMap((type): Array<ModelEvent<typeof reservationModel>> => {
      switch (type) {
        case 'reserve':
          return [
            { type, amount: 60 },
            { type, amount: 90 },
          ];
        case 'lateReserve':
          return [{ type, amount: 60 }];
        case 'settle':
          return [
            { type, actual: 40 },
            { type, actual: 90 },
          ];
        case 'giveUp':
        case 'release':
        case 'leaseExpired':
        case 'reclaim':
          return [{ type }];
        default:
          return [];
      }
    }),
  materialize: (e) => e,
};

/** Redis's view, in the model's terms: idle/refused have no reservation hash; orphaned is reserved without a lease. */
const RES_STATE: Record<string, string | null> = {
  idle: null,
  refused: null,
  tombstoned: 'released',
  reserved: 'reserved',
  orphaned: 'reserved',
  settled: 'settled',
  released: 'released',
  reclaimed: 'reclaimed',
};

const log = pino({ level: 'silent' });
const conn = new SharedConnection(SHARED_REDIS, log);
const prefixes: string[] = [];

afterAll(async () => {
  for (const p of prefixes) await dropPrefix(SHARED_REDIS, p);
  await conn.close();
});

class RedisReplay {
  readonly keys: Keys;
  readonly res: string;
  readonly budget: string;
  reclaimedRows: number[] = [];

  constructor(prefix: string) {
    this.keys = new Keys(prefix);
    this.res = this.keys.reservation('A:1');
    this.budget = `${this.keys.tag}b:global:day:0`;
  }

  async setup(): Promise<void> {
    await conn.redis.set(this.keys.epoch, 'test');
    await conn.run(SEED, [this.budget], [SEEDED, 0]);
    for (const r of ['A', 'B']) await conn.run(RENEW, [this.keys.lease(r), this.keys.replicas, this.keys.epoch], [r, 60_000]);
  }

  private reserve(amount: number) {
    const k = this.keys;
    const row = JSON.stringify({ requestId: 'req-1', at: 0, keyId: null, model: 'm', endpoint: null });
    return conn.run(
      RESERVE,
      [
        k.epoch,
        this.res,
        k.owned('A'),
        k.window('-', 'rpm'),
        k.window('-', 'tpm'),
        k.cooldown('-'),
        k.probe('-'),
        k.keyRpm('-'),
        k.keyOnce('req-1'),
        this.budget,
      ],
      ['A', amount, 0, 0, 0, 0, 0, 60_000, row, LIMIT],
    );
  }

  async apply(e: ResEvent): Promise<void> {
    const k = this.keys;
    switch (e.type) {
      case 'reserve':
      case 'lateReserve':
        await this.reserve(e.amount);
        return;
      case 'giveUp':
        // What the store sends when a reserve timed out: a release with no budget keys.
        await conn.run(FINISH_ONE, [this.res, k.owned('A')], ['release', 0]);
        return;
      case 'settle':
        await conn.run(FINISH_ONE, [this.res, k.owned('A'), this.budget], ['settle', e.actual]);
        return;
      case 'release':
        await conn.run(FINISH_ONE, [this.res, k.owned('A'), this.budget], ['release', 0]);
        return;
      case 'leaseExpired':
        await conn.redis.del(k.lease('A'));
        return;
      case 'reclaim': {
        const pending = (await conn.run(RECLAIM, [k.replicas, k.reclaimed], [k.tag, 'B'])) as string[];
        for (let i = 0; i + 1 < pending.length; i += 2) {
          this.reclaimedRows.push(reclaimedRow(pending[i + 1]!).costNano);
          await conn.redis.hdel(k.reclaimed, pending[i]!);
        }
        return;
      }
    }
  }

  async observe(): Promise<{ spent: number; reserved: number; res: string | null }> {
    const [spent, reserved] = await conn.redis.hmget(this.budget, 'spent', 'reserved');
    return { spent: Number(spent ?? 0), reserved: Number(reserved ?? 0), res: await conn.redis.hget(this.res, 'state') };
  }
}

describe('reservation protocol: model vs the real scripts', () => {
  it('every shortest path of the model gives the same counters and states on Redis, with full model coverage', async () => {
    const { recorder } = runShortestPaths(spec);
    const cov = reportCoverage('reservation', reservationModel, recorder.edges.values(), recorder.states);
    expect(cov.states.missing).toEqual([]);
    expect(cov.transitions.missing).toEqual([]);

    await conn.connect();
    const paths = buildModel(spec).getShortestPaths({ allowDuplicatePaths: true });
    let steps = 0;
    for (const [i, path] of paths.entries()) {
      const prefix = uniq(`sy-model-${i}`);
      prefixes.push(prefix);
      const redis = new RedisReplay(prefix);
      await redis.setup();
      for (const [j, step] of path.steps.entries()) {
        const where = `path ${i} step ${j}: ${path.steps
          .slice(1, j + 1)
          .map((s) => JSON.stringify(s.event))
          .join(' → ')}`;
        if (j > 0) await redis.apply(step.event as ResEvent);
        const s = step.state as Snap;
        expect(await redis.observe(), where).toEqual({ spent: s.context.spent, reserved: s.context.reserved, res: RES_STATE[String(s.value)] });
        steps++;
      }
      // A reclaimed reservation's ledger row carries the reserved amount.
      const final = path.steps.at(-1)!.state as Snap;
      if (final.value === 'reclaimed') expect(redis.reclaimedRows).toEqual([final.context.amount]);
    }
    console.log(`[reservation-protocol] ${paths.length} paths, ${steps} steps replayed against the Redis scripts`);
  });
});
