/**
 * Each replica's lease, and reclaiming the reservations of dead ones. Every tick renews this
 * replica's lease (`storage.leaseMs`), notices an empty Redis (no epoch), runs the reclaim
 * script (reservations of replicas whose lease is gone are counted as spent at the reserved
 * amount) and writes the reclaimed rows into the ledger, insert-once by request id, so a row
 * written twice by two replicas counts once. A tick runs four times per lease period, so a dead
 * replica's reservations are reclaimed within one lease period after its lease ran out.
 */
import type { Logger } from 'pino';
import type { LedgerIdentity, LedgerRow, LedgerStore } from '../accounting/ledger.js';
import { interruptedRow, RECLAIMED_ERROR_CODE } from '../accounting/ledger-codec.js';
import { isUnreachable } from '../accounting/pg-unavailable.js';
import type { RedisReply, SharedConnection } from './connection.js';
import type { Keys } from './keys.js';
import { redisFailure, type SharedBudgetStore } from './redis-budget.js';
import { FINISH_ONE, LEAVE, LEDGER_MARK, RECLAIM, RENEW, RESTARTED } from './scripts.js';

/** The same ledger: one database and table, in one schema and on one server when both say which. */
export function sameLedger(a: LedgerIdentity, b: LedgerIdentity): boolean {
  const known = (x: string | null | undefined, y: string | null | undefined): boolean => x == null || y == null || x === y;
  return a.database === b.database && a.table === b.table && known(a.system, b.system) && known(a.schema, b.schema);
}

/** `table` as configured; the schema the server found it in when the config named none (`search_path`). */
const describeLedger = (l: LedgerIdentity): string =>
  `database ${l.database}, table ${l.table}${l.schema != null && !l.table.includes('.') ? ` (schema ${l.schema}, by search_path)` : ''}${l.system === null ? '' : ` on the PostgreSQL server with system identifier ${l.system}`}`;

interface ReservedRow {
  requestId: string;
  at: number;
  keyId: string | null;
  model: string | null;
  endpoint: string | null;
  /** What the request had settled before this reservation and not yet written (BudgetStore.reserve's `earlierNano`). */
  earlier?: number;
}

/**
 * A reclaimed reservation as a ledger row: spent at the reserved amount plus what the request had
 * settled before it and not written (a stream's cut attempts, a cascade's earlier steps: in the
 * shared budget's spent already, in no row), nothing known of its answer (as a lone sidecar's
 * journal, interruptedRow).
 */
export function reclaimedRow(json: string): LedgerRow {
  const v = JSON.parse(json) as { row: string; amount: number };
  const r = JSON.parse(v.row) as ReservedRow;
  const earlier = typeof r.earlier === 'number' && Number.isSafeInteger(r.earlier) && r.earlier > 0 ? r.earlier : 0;
  return interruptedRow({ requestId: r.requestId, at: r.at, keyId: r.keyId, model: r.model, endpoint: r.endpoint, amountNano: v.amount + earlier });
}

/** Lease periods a replica that could not check its ledger at start-up leaves the marking of an empty Redis to those that did. */
export const UNVERIFIED_WAIT_LEASES = 2;

/** What a client of a replica on the wrong ledger is told (the ledgers' names are in the log and /switchyard/state). */
export const WRONG_LEDGER_CLIENT = "this replica's storage.ledger is not the ledger the other replicas of its keyPrefix write (see the log)";

export class LeaseKeeper {
  private timers: NodeJS.Timeout[] = [];
  private renewing: Promise<void> | null = null;
  private working: Promise<void> | null = null;
  lastRenewed: number | null = null;
  /** Reclaimed rows wait in Redis for the ledger (ledgerWaits said so). */
  private waiting = false;

  constructor(
    private readonly d: {
      conn: SharedConnection;
      keys: Keys;
      /** The lease holder: the replica id and a per-process suffix (index.ts). */
      owner: string;
      leaseMs: number;
      ledger: LedgerStore;
      log: Logger;
      now: () => number;
      store: SharedBudgetStore;
      /** This replica's ledger (LedgerStore.identity); null: not checked. */
      ledgerId?: LedgerIdentity | null;
    },
  ) {
    // A ledger to compare: nothing is rebuilt from it until it is (checkLedger, at start-up or after a wait).
    if (this.d.ledgerId) this.d.store.ledgerVerified = false;
  }

  /**
   * Whether this replica compared its ledger with the mark at start-up (Redis answered then), or has
   * since found the mark agree. One that has not does not mark its own ledger at once when Redis has
   * none (new, or back empty): for UNVERIFIED_WAIT_LEASES lease periods it leaves that to the replicas
   * that have checked theirs (they mark it at their next renewal), admitting nothing meanwhile. A
   * replica on the wrong ledger started while Redis was down was the first to reach it when it came
   * back empty: its ledger became the mark, and the right replicas were the ones refused.
   */
  private verified = false;
  private unverifiedSince: number | null = null;

  /** The start-up check ran (Redis answered): this replica may mark its ledger at once. */
  checkedAtStart(): void {
    this.verified = true;
  }

  /**
   * Whether this replica writes the ledger the others of its key prefix write (the first one marks
   * it in Redis): a replica on another database would keep the shared budgets while its rows, and
   * the dead replicas' reservations it reclaims, went where /switchyard/spend and a rebuild of the
   * others never look. Null when it does (or is not checked), else what is wrong and what to do.
   */
  async checkLedger(): Promise<{ detail: string; client: string } | null> {
    const r = await this.compareLedger();
    this.d.store.ledgerVerified = r === null;
    return r;
  }

  private async compareLedger(): Promise<{ detail: string; client: string } | null> {
    const mine = this.d.ledgerId;
    if (!mine) return null;
    const mark = JSON.stringify(mine);
    if (!this.verified) {
      this.unverifiedSince ??= this.d.now();
      const waitMs = UNVERIFIED_WAIT_LEASES * this.d.leaseMs;
      if (this.d.now() - this.unverifiedSince < waitMs && (await this.d.conn.redis.get(this.d.keys.ledger)) === null)
        return {
          detail:
            `this replica could not compare its storage.ledger with the other replicas' when it started (Redis was unreachable), and Redis names no ledger now: ` +
            `it waits up to ${Math.ceil(waitMs / 1000)} s for the replicas that checked theirs to name it before it admits requests`,
          client: 'this replica waits for the other replicas of its keyPrefix to say which ledger they write (Redis came back empty); try again shortly',
        };
    }
    const cur = (await this.d.conn.run(LEDGER_MARK, [this.d.keys.ledger], [mark, 3 * this.d.leaseMs])) as string;
    let theirs: LedgerIdentity;
    try {
      theirs = JSON.parse(cur) as LedgerIdentity;
    } catch {
      return null;
    }
    if (cur === mark || sameLedger(mine, theirs)) {
      this.verified = true;
      return null;
    }
    return { detail: this.wrongLedgerText(mine, theirs), client: WRONG_LEDGER_CLIENT };
  }

  private wrongLedgerText(mine: LedgerIdentity, theirs: LedgerIdentity): string {
    return (
      `storage.ledger is not the ledger the other replicas on keyPrefix ${this.d.keys.tag.slice(1, -2)} write: ` +
      `this replica's is ${describeLedger(mine)}; theirs is ${describeLedger(theirs)}. ` +
      `Point every replica at the same PostgreSQL database (the shared budgets are rebuilt from it, and a dead replica's reservations are written there), or give this one a storage.keyPrefix of its own ` +
      '(the mark goes when the last of them stops, or three lease periods after the last one was killed)'
    );
  }

  /**
   * Two loops, each four times a lease period: renewing (one short script) never waits behind
   * the other one's ledger writes, so a busy ledger cannot cost this replica its lease.
   */
  start(): void {
    const every = Math.max(25, Math.floor(this.d.leaseMs / 4));
    this.timers = [setInterval(() => void this.renew(), every), setInterval(() => void this.work(), every)];
    for (const t of this.timers) t.unref();
  }

  /** Renew (and notice an empty Redis, or one restarted with an older state), then reclaim: what start-up and a reconnect run at once. */
  async tick(): Promise<void> {
    await this.restarted().catch((err: unknown) =>
      this.d.log.warn({ err: redisFailure(err) }, 'could not check whether Redis restarted with an older state; checked again on the next reconnect'),
    );
    await this.renew();
    await this.work();
  }

  /**
   * A Redis server restarted with its keys (an RDB snapshot or AOF it loaded), or another server
   * after a fail-over, holds a state that may be older than what was spent since: its budgets would
   * admit that again. Told apart by the server's run_id (new on every start); the state is dropped
   * (scripts.ts RESTARTED) and rebuilt as after an empty restart.
   */
  private async restarted(): Promise<void> {
    const { conn, keys } = this.d;
    const runId = /^run_id:(\w+)/m.exec(await conn.redis.info('server'))?.[1];
    if (runId === undefined) return;
    // The rebuild that follows is counted where the new epoch is set (restoreEpoch).
    if ((await conn.run(RESTARTED, [keys.runId], [runId, keys.all])) === 1) {
      this.d.log.warn(
        { store: conn.url },
        'Redis restarted with an earlier state (it loaded a snapshot or AOF, or another server took over): that state may be older than what was spent since, so it is dropped and rebuilt from the ledger, as after an empty restart',
      );
    }
  }

  private renew(): Promise<void> {
    if (this.renewing || !this.d.conn.health.up) return this.renewing ?? Promise.resolve();
    this.renewing = (async () => {
      const { conn, keys, owner } = this.d;
      const renewed = (await conn.run(RENEW, [keys.lease(owner), keys.replicas, keys.epoch], [owner, this.d.leaseMs])) as RedisReply[];
      this.lastRenewed = this.d.now();
      // Checked before anything is rebuilt: a replica on another ledger admits nothing and rebuilds nothing (store.wrongLedger).
      const wrong = await this.checkLedger();
      if (wrong !== null && wrong.detail !== this.d.store.wrongLedger?.detail) {
        if (wrong.client === WRONG_LEDGER_CLIENT)
          this.d.log.error(
            `${wrong.detail}. This replica admits no request and is not ready until it writes the others' ledger (restart it with the right storage.ledger)`,
          );
        else this.d.log.warn(wrong.detail);
      } else if (wrong === null && this.d.store.wrongLedger !== null)
        this.d.log.warn("this replica's storage.ledger is the others' ledger: it admits requests");
      this.d.store.wrongLedger = wrong;
      if (wrong !== null) return;
      if (renewed[0] === '' || renewed[0] !== this.d.store.epoch) await this.d.store.restoreEpoch();
    })()
      .catch((err: unknown) => this.d.log.warn({ err: redisFailure(err) }, 'shared-state lease renewal failed; retried shortly'))
      .finally(() => {
        this.renewing = null;
      });
    return this.renewing;
  }

  /** Reclaim, pending settles, fresh counters. */
  private work(): Promise<void> {
    if (this.working || !this.d.conn.health.up) return this.working ?? Promise.resolve();
    this.working = (async () => {
      await this.reclaim();
      // Not awaited: a long backlog of settles must not hold up the next round.
      void this.d.store.flush();
      await this.d.store.refresh();
    })()
      .catch((err: unknown) => this.d.log.warn({ err: redisFailure(err) }, 'shared-state reclaim round failed; retried shortly'))
      .finally(() => {
        this.working = null;
      });
    return this.working;
  }

  private async reclaim(): Promise<void> {
    // Reclaimed rows go to this replica's ledger: not to one the others do not read.
    if (this.d.store.wrongLedger !== null) return;
    const { conn, keys } = this.d;
    const pending = (await conn.run(RECLAIM, [keys.replicas, keys.reclaimed], [keys.tag, this.d.owner])) as string[];
    if (pending.length === 0) this.waiting = false;
    for (let i = 0; i + 1 < pending.length; i += 2) {
      // A ledger that cannot write now (PostgreSQL unreachable): the rows wait in Redis, where
      // another replica finds them if this one dies too, and are written once it can. Handed to its
      // in-memory backlog, the first one was kept again on every round (a copy a quarter lease),
      // and the copy the backlog wrote later was not counted as a reclaim.
      if (this.d.ledger.writeBlocked) return this.ledgerWaits(pending.length / 2);
      const row = reclaimedRow(pending[i + 1]!);
      let written: 'inserted' | 'duplicate';
      try {
        written = await this.d.ledger.insert(row, { keep: false });
      } catch (err) {
        if (!isUnreachable(err)) throw err;
        return this.ledgerWaits(pending.length / 2 - i / 2);
      }
      this.waiting = false;
      await conn.redis.hdel(keys.reclaimed, pending[i]!);
      // Every replica's round may take the same pending row; the one whose insert wrote it says so,
      // once. A duplicate: another replica wrote it, or the request's own row was there already.
      if (written !== 'inserted') {
        this.d.log.debug({ requestId: row.requestId }, 'a reclaimed reservation already had its ledger row');
        await this.toRowCost(pending[i]!, row, (JSON.parse(pending[i + 1]!) as { amount: number }).amount);
        continue;
      }
      this.d.store.counters.reclaimed++;
      this.d.log.warn(
        { requestId: row.requestId, costNano: row.costNano, endpoint: row.endpoint },
        'reclaimed the reservation of a replica whose lease ran out: counted as spent at the reserved amount',
      );
    }
  }

  /**
   * A reservation reclaimed after its request's own row was written (its replica died between the
   * row and the settle, or its settle could not reach Redis before it stopped) was counted at the
   * reserved amount while the ledger has what the request cost: the shared spend is corrected to
   * the row's cost (less what the request had settled before this reservation), as the owner's
   * settle would have, once (FINISH_ONE's reclaimed → settled; a settle or another replica's
   * correction first leaves nothing to do).
   */
  private async toRowCost(res: string, reclaimed: LedgerRow, amount: number): Promise<void> {
    const [had] = await this.d.ledger.rows({ requestId: reclaimed.requestId });
    if (!had || had.errorCode === RECLAIMED_ERROR_CODE) return;
    const earlier = Math.max(0, reclaimed.costNano - amount);
    const actual = Math.max(0, had.costNano - earlier);
    const said = await this.d.conn.run(FINISH_ONE, [res, this.d.keys.owned(this.d.owner)], ['settle', actual, 0]);
    if (said === 'corrected')
      this.d.log.info(
        { requestId: reclaimed.requestId, reservedNano: amount, costNano: actual },
        "a reclaimed reservation's request had its ledger row: the shared spend is corrected to the request's actual cost",
      );
  }

  /** Said once while the ledger cannot take reclaimed rows (they wait in Redis meanwhile). */
  private ledgerWaits(rows: number): void {
    if (this.waiting) return;
    this.waiting = true;
    this.d.log.warn(
      { rows },
      'reclaimed reservations wait in Redis until the ledger can be written (PostgreSQL unreachable); they are counted in the shared budgets already',
    );
  }

  /** Ends the lease at once on a clean shutdown (nothing of ours is open any more). */
  /** Gives up the lease; true when no other replica of the key prefix holds one (this was the last). */
  async stop(): Promise<boolean> {
    for (const t of this.timers) clearInterval(t);
    if (!this.d.conn.health.up) return false;
    try {
      await this.d.store.flush();
      const { keys, owner } = this.d;
      return (await this.d.conn.run(LEAVE, [keys.lease(owner), keys.replicas, keys.ledger], [keys.tag, owner])) === 1;
    } catch {
      // the lease runs out by itself
      return false;
    }
  }
}
