/**
 * Each replica's lease, and reclaiming the reservations of dead ones. Every tick renews this
 * replica's lease (`storage.leaseMs`), notices an empty Redis (no epoch), runs the reclaim
 * script (reservations of replicas whose lease is gone are counted as spent at the reserved
 * amount) and writes the reclaimed rows into the ledger, insert-once by request id, so a row
 * written twice by two replicas counts once. A tick runs four times per lease period, so a dead
 * replica's reservations are reclaimed within one lease period after its lease ran out.
 */
import type { Logger } from 'pino';
import type { LedgerRow, LedgerStore } from '../accounting/ledger.js';
import type { RedisReply, SharedConnection } from './connection.js';
import type { Keys } from './keys.js';
import type { SharedBudgetStore } from './redis-budget.js';
import { RECLAIM, RENEW } from './scripts.js';

export const RECLAIMED_ERROR_CODE = 'reservation_reclaimed';

interface ReservedRow {
  requestId: string;
  at: number;
  keyId: string | null;
  model: string | null;
  endpoint: string | null;
}

/** A reclaimed reservation as a ledger row: spent at the reserved amount, nothing known of its answer. */
export function reclaimedRow(json: string): LedgerRow {
  const v = JSON.parse(json) as { row: string; amount: number };
  const r = JSON.parse(v.row) as ReservedRow;
  return {
    requestId: r.requestId, at: r.at, keyId: r.keyId, model: r.model, endpoint: r.endpoint, attempts: 1,
    promptTokens: 0, completionTokens: 0, cachedTokens: 0, costNano: v.amount, estimated: true,
    status: 0, latencyMs: 0, ttftMs: null, stream: false, errorCode: RECLAIMED_ERROR_CODE,
  };
}

export class LeaseKeeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  lastRenewed: number | null = null;

  constructor(
    private readonly d: { conn: SharedConnection; keys: Keys; replica: string; leaseMs: number; ledger: LedgerStore; log: Logger; now: () => number; store: SharedBudgetStore },
  ) {}

  start(): void {
    const every = Math.max(25, Math.floor(this.d.leaseMs / 4));
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
  }

  /** One round: renew, epoch, reclaim, pending settles, fresh counters. Errors wait for the next tick. */
  tick(): Promise<void> {
    if (this.running) return this.running;
    if (!this.d.conn.health.up) return Promise.resolve();
    this.running = this.round().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async round(): Promise<void> {
    try {
      const { conn, keys, replica } = this.d;
      const renewed = (await conn.run(RENEW, [keys.lease(replica), keys.replicas, keys.epoch], [replica, this.d.leaseMs])) as RedisReply[];
      this.lastRenewed = this.d.now();
      if (renewed[0] === '' || renewed[0] !== this.d.store.epoch) await this.d.store.restoreEpoch();
      await this.reclaim();
      // Not awaited: a long backlog of settles must not hold up the next renewal.
      void this.d.store.flush();
      await this.d.store.refresh();
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'shared-state lease tick failed; retried on the next tick');
    }
  }

  private async reclaim(): Promise<void> {
    const { conn, keys } = this.d;
    const pending = (await conn.run(RECLAIM, [keys.replicas, keys.reclaimed], [keys.tag, this.d.replica])) as string[];
    for (let i = 0; i + 1 < pending.length; i += 2) {
      const row = reclaimedRow(pending[i + 1]!);
      await this.d.ledger.insert(row);
      await conn.redis.hdel(keys.reclaimed, pending[i]!);
      this.d.store.counters.reclaimed++;
      this.d.log.warn({ requestId: row.requestId, costNano: row.costNano, endpoint: row.endpoint }, 'reclaimed the reservation of a replica whose lease ran out: counted as spent at the reserved amount');
    }
  }

  /** Ends the lease at once on a clean shutdown (nothing of ours is open any more). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    if (!this.d.conn.health.up) return;
    try {
      await this.d.store.flush();
      await this.d.conn.redis.del(this.d.keys.lease(this.d.replica));
    } catch {
      // the lease runs out by itself
    }
  }
}
