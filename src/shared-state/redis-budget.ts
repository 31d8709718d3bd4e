/**
 * The shared store (storage.shared: redis://…): budget reservations, endpoint RPM/TPM windows,
 * shared cooldowns, the half-open probe slot and client-key RPM, decided together in one
 * script per attempt (one round trip on the hot path). Settle and release run off the hot path
 * and are retried until Redis has them: settling never fails.
 *
 * Each reservation has its own token (a request reserves again on every attempt) and belongs
 * to this replica (lease.ts); a reply that comes back too late is answered by a release, and a
 * reserve that reaches Redis after that release finds the tombstone and does nothing.
 */
import type { Logger } from 'pino';
import { gcraUsed } from '../../machines/gcra.js';
import { applicableBudgets, budgetApplies, periodEnd, periodStart, type BudgetLimit, type BudgetLine } from '../../machines/budget.machine.js';
import type { LedgerStore } from '../accounting/ledger.js';
import { MAX_AT, rowSpent } from '../accounting/ledger-codec.js';
import { endpointId, type Config } from '../config/schema.js';
import { SwitchyardError } from '../errors.js';
import { availability } from '../runtime/endpoints.js';
import { budgetLimits, type BudgetScope, type BudgetStore, type ReserveGate, type ReserveResult } from '../runtime/budget.js';
import type { RedisReply, SharedConnection } from './connection.js';
import { CooldownPublisher } from './cooldowns.js';
import type { Keys } from './keys.js';
import { CHARGE, COOLDOWN, FINISH_ONE, LOOK, REOPEN, RESERVE, SEED, TOKENS, UNDO } from './scripts.js';

export interface SharedDeps {
  conn: SharedConnection;
  keys: Keys;
  /** Who owns this process's reservations: the replica id and a per-process suffix (index.ts). */
  owner: string;
  cfg: () => Config;
  ledger: LedgerStore;
  log: Logger;
  now: () => number;
}

interface Open {
  res: string;
  budgetKeys: string[];
  /** What it reserved and its row (JSON), to put it back if Redis restarts empty while it runs (`reopen`). */
  amount: number;
  row: string;
  /** When it reserved: the period of its budget keys (a line a reload added since is charged in that period). */
  at: number;
  /** The endpoint whose shared probe slot this reservation holds, if it does. */
  probe?: string;
}

interface Pending {
  /** The reservation; null: a request that reserved nothing (no budget applied then), charged on `added` only. */
  res: string | null;
  budgetKeys: string[];
  /** Keys of lines a reload added since the request reserved: charged the actual cost when seeded (scripts.ts CHARGE_ADDED). */
  added?: string[];
  op: 'settle' | 'release';
  actual: number;
}

/** Outcomes counted for `/switchyard/state` and `/metrics`. */
export interface SharedCounters {
  decisions: number;
  unavailable: number;
  rebuilds: number;
  seeded: number;
  reclaimed: number;
}

const MAX_RETRIES = 4;
/**
 * Longest a replica refused the shared half-open probe slot waits before asking Redis again. The
 * probe key lives for `requestTimeoutMs` (a probe that dies with its replica frees it then), but
 * its owner deletes it as soon as the probe ends, and nothing tells the other replicas: they poll.
 */
export const PROBE_POLL_MS = 1_000;
const str = (r: RedisReply | undefined): string => (typeof r === 'string' ? r : String(r ?? ''));

export class SharedBudgetStore implements BudgetStore {
  readonly counters: SharedCounters = { decisions: 0, unavailable: 0, rebuilds: 0, seeded: 0, reclaimed: 0 };
  epoch: string | null = null;
  private readonly open = new Map<string, Open>();
  private readonly outbox: Pending[] = [];
  private readonly cache = new Map<string, { spent: number; reserved: number }>();
  private readonly seeding = new Map<string, Promise<void>>();
  /** Each limited endpoint's shared RPM/TPM window (every replica's requests): its tats as of the last refresh, in this process's clock. */
  private readonly windows = new Map<string, { rpmTat: number | null; tpmTat: number | null; rpm: number | null; tpm: number | null }>();
  /** Each endpoint's shared cooldown deadline (this process's clock), as read on the last lease tick. */
  private readonly sharedCooldowns = new Map<string, number>();
  private readonly cooldowns: CooldownPublisher;
  /**
   * Endpoints this replica was refused the shared probe slot for: their local circuit closed
   * (throttled), so their next request asks for the slot as a probe would, until one is granted.
   */
  private readonly probeWaits = new Set<string>();
  private seq = 0;
  private flushing: Promise<void> | null = null;

  constructor(private readonly d: SharedDeps) {
    this.cooldowns = new CooldownPublisher((ep, at) => this.d.conn.run(COOLDOWN, [this.d.keys.cooldown(ep)], [Math.ceil(at)]), d.log);
  }

  private limitsOf: { cfg: Config; limits: BudgetLimit[] } | null = null;

  /** Lines a reload added on this replica being seeded afresh (scripts.ts SEED, forced): reserves wait for it. */
  private reseeding: Promise<void> | null = null;

  limits(): BudgetLimit[] {
    const cfg = this.d.cfg();
    if (this.limitsOf?.cfg !== cfg) {
      const before = this.limitsOf?.limits;
      const limits = budgetLimits(cfg);
      this.limitsOf = { cfg, limits };
      if (before !== undefined) {
        const known = new Set(before.map((l) => l.id));
        const added = limits.filter((l) => !known.has(l.id));
        if (added.length > 0) this.seedAdded(added);
      }
    }
    return this.limitsOf.limits;
  }

  /**
   * A line a reload added (new, its period changed, or removed and added back) is seeded afresh from
   * the ledger, even when Redis has counters for it: they are another config's (this line before it
   * was removed: short of what was spent meanwhile, and never rebuilt). One another replica added
   * first and keeps live is raised to the ledger's sum when that is higher (what this replica served
   * before its reload, on its old lines, is in the ledger only: scripts.ts SEED). Reserves wait for
   * it; a failure leaves it to the next one.
   */
  private seedAdded(added: BudgetLimit[]): void {
    const at = this.d.now();
    const run = (async () => {
      for (const l of added) await this.seed(l, at, true);
    })()
      .catch((err: unknown) =>
        this.d.log.warn({ err: redisFailure(err) }, 'could not rebuild a budget line a reload added; its counters are rebuilt when Redis answers'),
      )
      .finally(() => {
        if (this.reseeding === run) this.reseeding = null;
      });
    this.reseeding = run;
  }

  lines(): BudgetLine[] {
    const now = this.d.now();
    return this.limits().map((l) => {
      const c = this.cache.get(this.d.keys.budget(l, now)) ?? { spent: 0, reserved: 0 };
      return { ...l, spent: c.spent, reserved: c.reserved, periodStart: periodStart(l.period, now), resetsAt: periodEnd(l.period, now) };
    });
  }

  async reserve(
    requestId: string,
    keyId: string | null,
    model: string,
    amountNano: number,
    at: number,
    gate?: ReserveGate,
    earlierNano = 0,
    earlierByModel?: ReadonlyMap<string, number>,
  ): Promise<ReserveResult> {
    if (!this.d.conn.health.up) throw this.unavailable('Redis is unreachable');
    if (this.wrongLedger !== null) throw this.unavailable(this.wrongLedger.client);
    const all = this.limits();
    if (this.reseeding !== null) await this.reseeding;
    const ids = applicableBudgets(all, keyId, model);
    const budgets = all.filter((l) => ids.includes(l.id));
    const budgetKeys = budgets.map((l) => this.d.keys.budget(l, at));
    if (gate) this.cooldowns.watch(gate.endpoint);
    const res = this.d.keys.reservation(`${this.d.owner}:${++this.seq}`);
    const probe = gate !== undefined && this.isProbe(gate);
    const keys = this.decisionKeys(res, requestId, keyId, gate, budgetKeys);
    // What the request settled before this attempt and has not written yet: a reclaimed row counts it too (lease.ts reclaimedRow).
    const row = {
      requestId,
      at,
      keyId,
      model,
      endpoint: gate?.endpoint.id ?? null,
      ...(earlierNano > 0 ? { earlier: earlierNano } : {}),
      // By model: a seed of a model line (scripts.ts SEED) counts that model's part, not all of it for the reservation's model.
      ...(earlierNano > 0 && earlierByModel !== undefined && earlierByModel.size > 0 ? { earlierBy: Object.fromEntries(earlierByModel) } : {}),
    };
    const rowJson = JSON.stringify(row);
    const args = this.decisionArgs(keyId, amountNano, gate, probe, rowJson, budgets);
    for (let i = 0; i < MAX_RETRIES; i++) {
      let reply: RedisReply[];
      try {
        reply = (await this.d.conn.run(RESERVE, keys, args)) as RedisReply[];
      } catch (err) {
        // The script may still run after we gave up: release it (a tombstone if it has not).
        this.enqueue({ res, budgetKeys: [], op: 'release', actual: 0 });
        throw this.unavailable(redisFailure(err));
      }
      this.counters.decisions++;
      const kind = str(reply[0]);
      try {
        if (kind === 'empty') await this.restoreEpoch();
        else if (kind === 'seed') await this.seed(budgets[Number(str(reply[1])) - 1]!, at);
      } catch (err) {
        this.seedFailing = `rebuilding spend from the ledger failed: ${(err as Error).message}`;
        throw this.unavailable(this.seedFailing);
      }
      if (kind === 'wait') return this.wait(reply, gate);
      if (kind !== 'empty' && kind !== 'seed')
        return this.answer(kind, reply, { requestId, res, budgets, budgetKeys, gate, keyId, probe, amount: amountNano, row: rowJson, at });
    }
    throw this.unavailable('the shared budgets are being rebuilt from the ledger');
  }

  private answer(
    kind: string,
    reply: RedisReply[],
    r: {
      requestId: string;
      res: string;
      budgets: BudgetLimit[];
      budgetKeys: string[];
      gate: ReserveGate | undefined;
      keyId: string | null;
      probe: boolean;
      amount: number;
      row: string;
      at: number;
    },
  ): ReserveResult {
    const num = (i: number): number => Number(str(reply[i]));
    switch (kind) {
      case 'ok':
        r.budgets.forEach((_, i) => this.cache.set(r.budgetKeys[i]!, { spent: num(2 + 2 * i), reserved: num(3 + 2 * i) }));
        if (r.gate) {
          const actor = r.gate.endpoint.actor;
          // A throttle this replica learned from an earlier reply is over: the shared window admitted this one.
          if (actor.getSnapshot().context.reason?.startsWith('shared ')) actor.send({ type: 'window.admitted', at: this.d.now() });
          if (!availability(r.gate.endpoint, this.d.now(), r.gate.estTokens).ok) {
            // Unavailable locally (circuit, maxConcurrent, own window): the caller will not use
            // this grant, so its window slots go back at once instead of being lost to every replica.
            this.undo(r.res, r.gate);
            return { ok: true, budgets: [], closed: true };
          }
          // Granted the probe slot (this request's until it finishes): no longer waiting for it.
          if (r.probe) this.probeWaits.delete(r.gate.endpoint.id);
        }
        // With budget lines configured, one reserved on none is kept too (RESERVE's track flag): a line a reload adds counts it.
        if (r.budgets.length > 0 || r.probe || this.limits().length > 0) {
          this.open.set(r.requestId, {
            res: r.res,
            budgetKeys: r.budgetKeys,
            amount: r.amount,
            row: r.row,
            at: r.at,
            ...(r.probe && r.gate ? { probe: r.gate.endpoint.id } : {}),
          });
        }
        return { ok: true, budgets: r.budgets.map((b) => b.id) };
      case 'keyrpm': {
        const wait = Math.max(1, Math.ceil((num(1) - this.d.now()) / 1000));
        const rpm = this.d.cfg().auth?.keys.find((k) => k.id === r.keyId)?.rpm;
        throw new SwitchyardError('rate_limited', `client key "${r.keyId}" is over its limit of ${rpm} requests per minute (shared by every replica)`, {
          headers: { 'retry-after': String(wait) },
        });
      }
      case 'refused': {
        const b = r.budgets[num(1) - 1]!;
        this.cache.set(r.budgetKeys[num(1) - 1]!, { spent: num(3), reserved: num(4) });
        return { ok: false, budget: b.id, limit: num(2), spent: num(3), reserved: num(4) };
      }
      default:
        throw this.unavailable(`unexpected shared-state reply "${kind}"`);
    }
  }

  /**
   * The endpoint's shared window, cooldown or probe slot is closed until `at`: the local actor
   * learns it, and the grant is `closed`, so the caller picks again (or queues until then). Not
   * left to the caller's availability re-check alone: a `retryAt` already past on this
   * process's clock made the endpoint look open, and the attempt went out with nothing
   * reserved in the shared budgets and no window slot. Applied a macrotask later, so that grants answered in the same batch of replies are
   * re-checked and dispatched first instead of being turned away by this throttle.
   */
  private async wait(reply: RedisReply[], gate: ReserveGate | undefined): Promise<ReserveResult> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    // `at` is on Redis's clock: the wait it means, from Redis's `now`, is put on this process's
    // clock (a clock ahead of Redis's saw the window open already, and picked again at once).
    const at = Number(str(reply[1]));
    const redisNow = Number(str(reply[3]));
    const now = this.d.now();
    let retryAt = Number.isFinite(redisNow) && reply[3] !== undefined ? now + Math.max(1, at - redisNow) : at;
    if (str(reply[2]) === 'probe' && gate && str(reply[4]) === this.d.owner && this.holdsProbe(gate.endpoint.id)) {
      // This process's own probe holds the slot (two of its requests asked for it at once): the
      // local half-open state already admits no second probe, and it must stay half-open so that
      // probe's verdict decides the circuit. Throttling it here closed the circuit without one.
      return { ok: true, budgets: [], closed: true };
    }
    if (str(reply[2]) === 'probe' && gate) {
      // Another replica holds the probe slot: ask again soon (it is freed when that probe ends),
      // not when the slot's TTL (requestTimeoutMs) would free it.
      this.probeWaits.add(gate.endpoint.id);
      retryAt = Math.min(retryAt, now + PROBE_POLL_MS);
    }
    gate?.endpoint.actor.send({ type: 'window.exhausted', at: now, retryAt, reason: `shared ${str(reply[2])}` });
    return { ok: true, budgets: [], closed: true };
  }

  /** Whether an open reservation of this process holds the endpoint's shared probe slot (read on the rare refused-probe path). */
  private holdsProbe(endpoint: string): boolean {
    for (const o of this.open.values()) if (o.probe === endpoint) return true;
    return false;
  }

  private undo(res: string, gate: ReserveGate): void {
    const s = gate.endpoint.actor.getSnapshot().context.settings;
    const k = this.d.keys;
    const ep = gate.endpoint.id;
    this.d.conn
      .run(
        UNDO,
        [res, k.owned(this.d.owner), k.window(ep, 'rpm'), k.window(ep, 'tpm')],
        [s.rpm ?? 0, s.tpm ?? 0, Math.max(1, Math.ceil(gate.estTokens)), 60_000],
      )
      .catch(() => {
        this.enqueue({ res, budgetKeys: [], op: 'release', actual: 0 });
      });
  }

  /** A half-open probe, or the first request after this replica was refused the shared probe slot (its local circuit closed meanwhile). */
  private isProbe(gate: ReserveGate): boolean {
    const a = availability(gate.endpoint, this.d.now(), gate.estTokens);
    return a.ok && (a.probe || this.probeWaits.has(gate.endpoint.id));
  }

  private decisionKeys(res: string, requestId: string, keyId: string | null, gate: ReserveGate | undefined, budgetKeys: string[]): string[] {
    const k = this.d.keys;
    const ep = gate?.endpoint.id ?? '-';
    return [
      k.epoch,
      res,
      k.owned(this.d.owner),
      k.window(ep, 'rpm'),
      k.window(ep, 'tpm'),
      k.cooldown(ep),
      k.probe(ep),
      k.keyRpm(keyId ?? '-'),
      k.keyOnce(requestId),
      ...budgetKeys,
    ];
  }

  private decisionArgs(
    keyId: string | null,
    amount: number,
    gate: ReserveGate | undefined,
    probe: boolean,
    row: string,
    budgets: BudgetLimit[],
  ): Array<string | number> {
    const cfg = this.d.cfg();
    const s = gate?.endpoint.actor.getSnapshot().context.settings;
    const keyRpm = keyId === null ? 0 : (cfg.auth?.keys.find((k) => k.id === keyId)?.rpm ?? 0);
    const probeMs = probe ? cfg.resilience.requestTimeoutMs : 0;
    return [
      this.d.owner,
      amount,
      s?.rpm ?? 0,
      s?.tpm ?? 0,
      gate ? Math.max(1, Math.ceil(gate.estTokens)) : 0,
      probeMs,
      keyRpm,
      60_000,
      row,
      ...budgets.map((b) => b.limit),
      this.limits().length > 0 ? 1 : 0,
    ];
  }

  /**
   * A budget line a reload added while the request was in flight (a new line, or one whose period
   * changed) was seeded from the ledger without this request's row, which comes after: the settle
   * charges it too when it is seeded (not yet seeded, its seed will read the row). A line seeded
   * while the reservation was open has it attached already (scripts.ts SEED) and is not charged twice.
   */
  settle(requestId: string, budgets: string[], _reservedNano: number, actualNano: number, at: number, scope?: BudgetScope): Promise<void> {
    const o = this.open.get(requestId);
    const added = scope !== undefined && actualNano > 0 ? this.addedSince(budgets, scope, o?.at ?? scope.dated ?? at) : null;
    if (o) this.finish(requestId, 'settle', actualNano, added);
    else if (added) this.enqueue({ res: null, budgetKeys: [], added, op: 'settle', actual: actualNano });
    return Promise.resolve();
  }

  /** Keys (in the period of `at`) of the lines that apply to `scope` now but were not reserved on; null when none (no reload since). */
  private addedSince(budgets: readonly string[], scope: BudgetScope, at: number): string[] | null {
    let added: string[] | null = null;
    for (const l of this.limits()) if (budgetApplies(l, scope.keyId, scope.model) && !budgets.includes(l.id)) (added ??= []).push(this.d.keys.budget(l, at));
    return added;
  }

  release(requestId: string): Promise<void> {
    this.finish(requestId, 'release', 0);
    return Promise.resolve();
  }

  private finish(requestId: string, op: 'settle' | 'release', actual: number, added: string[] | null = null): void {
    const o = this.open.get(requestId);
    if (!o) return;
    this.open.delete(requestId);
    this.enqueue({ res: o.res, budgetKeys: o.budgetKeys, ...(added ? { added } : {}), op, actual });
  }

  private enqueue(p: Pending): void {
    this.outbox.push(p);
    void this.flush();
  }

  /** Sends pending settles/releases in order (one sender at a time); what fails stays for the next flush (lease tick, reconnect). */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.outbox.length > 0 && this.d.conn.health.up) {
      const p = this.outbox[0]!;
      try {
        const added = p.added ?? [];
        const said =
          p.res === null
            ? await this.d.conn.run(CHARGE, added, [p.actual])
            : await this.d.conn.run(FINISH_ONE, [p.res, this.d.keys.owned(this.d.owner), ...p.budgetKeys, ...added], [p.op, p.actual, p.budgetKeys.length]);
        if (said === 'corrected')
          this.d.log.warn(
            { reservation: p.res, op: p.op, actualNano: p.actual },
            "a replica reclaimed this reservation while its request was still served (this replica's lease lapsed: Redis paused or the process stalled): the shared spend is corrected to the request's actual cost",
          );
      } catch (err) {
        this.d.log.warn({ err: redisFailure(err), pending: this.outbox.length }, 'shared settle/release not sent yet: retried when Redis answers');
        return;
      }
      this.outbox.shift();
    }
  }

  get pendingFinishes(): number {
    return this.outbox.length;
  }

  /**
   * Why a budget's spend could not be rebuilt from the ledger (Redis lost it and the ledger does not
   * answer), or null: every request it covers answers 503 meanwhile, so the replica is not ready.
   */
  seedFailing: string | null = null;

  /**
   * This replica's ledger is not the one the others of its key prefix write (LeaseKeeper.checkLedger
   * found it after start-up: Redis was down then, or restarted empty), or cannot be compared yet; or null. Until it is, the
   * replica admits nothing and is not ready: it would rebuild (seed) the shared budgets from its own
   * ledger — a replicas round saw one reset a deployment's spend from $0.49 to $0.001 and the
   * limit overrun by a quarter — and its rows would go where no one counts them.
   */
  wrongLedger: { detail: string; client: string } | null = null;

  /**
   * Whether this replica's ledger is known to be the one the others write (LeaseKeeper.checkLedger
   * found the mark agree, or made it at start-up). Until then nothing is rebuilt from it: a replica
   * started while Redis was down, waiting for the others to name the ledger, rebuilt the shared
   * budgets from its own (empty) one the moment Redis came back, before its first check (a re-test
   * round). True without a lease keeper (a store on its own).
   */
  ledgerVerified = true;

  /** Redis has no epoch: it is new or restarted empty. A new epoch; budgets are seeded lazily from the ledger. */
  async restoreEpoch(): Promise<void> {
    const id = `${this.d.now().toString(36)}-${this.d.owner}`;
    const set = await this.d.conn.redis.set(this.d.keys.epoch, id, 'NX');
    const epoch = await this.d.conn.redis.get(this.d.keys.epoch);
    if (set === 'OK') {
      this.counters.rebuilds++;
      this.d.log.warn(
        { epoch, store: this.d.conn.url },
        'shared state has no epoch (new, or Redis restarted empty): spend of the current periods is rebuilt from the ledger before budgets admit',
      );
    }
    const lost = epoch !== this.epoch && this.epoch !== null;
    // The last known figures stay in the views until the rebuilt ones replace them (never "nothing spent").
    this.epoch = epoch;
    if (lost) await this.reopen();
  }

  /**
   * Redis restarted empty while this process held reservations: they are put back (reserved again,
   * owned by this process, without a limit check: they were granted), or requests admitted meanwhile
   * could take the whole limit and these requests' settles then add their cost on top (a replicas
   * round measured 22 % over the limit). A reservation Redis still knows is left as it is.
   */
  private async reopen(): Promise<void> {
    let n = 0;
    for (const o of this.open.values()) {
      const put = await this.d.conn.run(REOPEN, [o.res, this.d.keys.owned(this.d.owner), ...o.budgetKeys], [this.d.owner, o.amount, o.row]);
      if (put === 1) n++;
    }
    if (n > 0)
      this.d.log.warn(
        { reservations: n },
        'shared state restarted empty (or its earlier state was dropped): this replica put back its reservations still in flight',
      );
    await this.reopenKept();
  }

  /**
   * Rows this replica keeps in memory because PostgreSQL could not take them: their settles were
   * in the Redis that was lost, and a rebuild from the ledger does not see them (another replica
   * rebuilt budgets below the ledger by them). Their cost is put back on every line they count on
   * (rowSpent: a model line its share); the rebuild adds the written rows to it.
   */
  private async reopenKept(): Promise<void> {
    const kept = this.d.ledger.keptRows?.() ?? [];
    if (kept.length === 0) return;
    const limits = this.limits();
    let n = 0;
    for (const row of kept) {
      for (const l of limits) {
        const amount = rowSpent(row, { ...(l.key ? { keyId: l.key } : {}), ...(l.model ? { model: l.model } : {}) }, periodStart(l.period, row.at), MAX_AT);
        if (amount <= 0) continue;
        const key = this.d.keys.budget(l, row.at);
        const expireAt = this.d.keys.budgetExpireAt(l, row.at);
        const m = this.d.conn.redis.multi().hincrby(key, 'spent', amount);
        if (expireAt > 0) m.pexpireat(key, expireAt);
        await m.exec();
        n++;
      }
    }
    if (n > 0)
      this.d.log.warn({ rows: kept.length }, 'shared state restarted empty: this replica put back the spend of its ledger rows still waiting for PostgreSQL');
  }

  /** A budget period Redis has no counters for: its spend so far, from the ledger (once per process at a time). */
  private seed(l: BudgetLimit, at: number, force = false): Promise<void> {
    if (!this.ledgerVerified)
      return Promise.reject(new Error("this replica's ledger is not yet known to be the other replicas' (see the log): nothing is rebuilt from it"));
    const key = this.d.keys.budget(l, at);
    let p = this.seeding.get(key);
    if (!p || force) {
      p = (async () => {
        // The rows written. Rows a replica keeps in memory (PostgreSQL could not take them) are in Redis
        // by their settles, or, after Redis lost them, put back by each replica (reopenKept): counted
        // here too, they were twice. A line a reload adds (force) had none of their settles: this
        // replica's own are counted (another's are not: README "Not built yet").
        const spent = await this.d.ledger.spentSince(
          { ...(l.key ? { keyId: l.key } : {}), ...(l.model ? { model: l.model } : {}) },
          periodStart(l.period, at),
          MAX_AT,
          { stored: !force },
        );
        const k = this.d.keys;
        const said = (await this.d.conn.run(
          SEED,
          [key, k.replicas],
          [
            spent,
            k.budgetExpireAt(l, at),
            k.tag,
            l.scope,
            l.key ?? '',
            l.model ?? '',
            periodStart(l.period, at),
            force ? '1' : '0',
            2 * this.d.cfg().storage.leaseMs,
          ],
        )) as RedisReply[];
        if (Number(str(said[0])) === 2) {
          const [sp, rs] = await this.d.conn.redis.hmget(key, 'spent', 'reserved');
          this.cache.set(key, { spent: Number(sp ?? 0), reserved: Number(rs ?? 0) });
          this.d.log.info(
            { budget: l.id, spentNano: spent },
            'shared budget counters raised to the ledger: replicas that had not reloaded yet spent outside this line meanwhile',
          );
        } else if (Number(str(said[0])) === 1) {
          // Shown at once (the state view and metrics showed a new line at 0 until the next lease tick).
          const [sp, rs] = await this.d.conn.redis.hmget(key, 'spent', 'reserved');
          this.cache.set(key, { spent: Number(sp ?? 0), reserved: Number(rs ?? 0) });
          this.counters.seeded++;
          const attached = Number(str(said[1]));
          this.d.log.info(
            { budget: l.id, spentNano: spent, inFlight: attached },
            attached > 0
              ? 'shared budget counters rebuilt from the ledger, with the reservations of requests still in flight (their rows are not written yet)'
              : 'shared budget counters rebuilt from the ledger',
          );
        }
      })().finally(() => this.seeding.delete(key));
      this.seeding.set(key, p);
    }
    return p;
  }

  /**
   * Current counters of every budget (the lease tick keeps `lines()` fresh). A period Redis has
   * no seeded counters for (it restarted empty, or the period is new) is rebuilt from the ledger
   * here, as a reserve would: the state view and `switchyard_budget_remaining_usd` must not show
   * "nothing spent" until the next request. When the ledger cannot answer, the last known figures stay.
   */
  async refresh(): Promise<void> {
    // Nothing is rebuilt from a ledger not known to be the others' (ledgerVerified): the last known figures stay.
    if (!this.ledgerVerified) return;
    const now = this.d.now();
    let unseeded: string | null = null;
    const all = this.limits();
    if (this.reseeding !== null) await this.reseeding;
    for (const l of all) {
      const key = this.d.keys.budget(l, now);
      const first = (await this.d.conn.run(LOOK, [key], [])) as Array<string | null>;
      let [spent, reserved] = first;
      if (first[2] !== '1') {
        try {
          await this.seed(l, now);
        } catch (err) {
          unseeded ??= `rebuilding spend of budget ${l.id} from the ledger failed: ${(err as Error).message}`;
          continue; // the next reserve answers 503 and says why
        }
        [spent, reserved] = await this.d.conn.redis.hmget(key, 'spent', 'reserved');
      }
      this.cache.set(key, { spent: Number(spent ?? 0), reserved: Number(reserved ?? 0) });
    }
    this.seedFailing = unseeded;
    await this.refreshWindows();
  }

  /**
   * A finished attempt on an endpoint with a TPM limit: its real token count replaces the estimate
   * the reserve charged the shared window (`estTokens` as the reserve rounded it). Fire and forget:
   * a correction lost to a Redis outage leaves the window fuller for at most its minute.
   */
  correctTokens(endpoint: string, tpm: number, estTokens: number, tokens: number): void {
    const delta = Math.max(0, Math.ceil(tokens)) - Math.max(1, Math.ceil(estTokens));
    if (delta === 0 || !(tpm > 0)) return;
    this.d.conn
      .run(TOKENS, [this.d.keys.window(endpoint, 'tpm')], [delta, tpm, 60_000])
      .catch((err: unknown) => this.d.log.debug({ err: (err as Error).message, endpoint }, 'could not correct the shared tpm window to the real token count'));
  }

  /**
   * The shared window fill of an endpoint at `now` (what `/switchyard/state` shows as rpm/tpm used):
   * the tats read on the last lease tick, drained to `now`. Undefined before the first read.
   */
  windowUse(endpoint: string, now: number): { rpm: number; tpm: number } | undefined {
    const w = this.windows.get(endpoint);
    if (!w) return undefined;
    const used = (tat: number | null, limit: number | null): number => (limit === null || tat === null ? 0 : gcraUsed(tat, now, limit));
    return { rpm: used(w.rpmTat, w.rpm), tpm: used(w.tpmTat, w.tpm) };
  }

  /**
   * The deadline of a provider-announced cooldown another replica (or this one) shared for an
   * endpoint, read on the last lease tick, while it is ahead of `now`; null otherwise. Every
   * replica's reservation script refuses the endpoint until then, so the state view shows it.
   */
  sharedCooldown(endpoint: string, now: number): number | null {
    const at = this.sharedCooldowns.get(endpoint);
    return at !== undefined && at > now ? at : null;
  }

  /**
   * Reads every limited endpoint's GCRA tat, every endpoint's shared cooldown and Redis's clock
   * (the scripts' clock), so the view counts all replicas, not only this one's requests.
   */
  private async refreshWindows(): Promise<void> {
    const cfg = this.d.cfg();
    const eps = Object.entries(cfg.models).flatMap(([m, mc]) =>
      mc.endpoints.map((ep) => ({ id: endpointId(m, ep), rpm: ep.rpm ?? null, tpm: ep.tpm ?? null })),
    );
    const limited = eps.filter((e) => e.rpm !== null || e.tpm !== null);
    if (eps.length === 0) {
      this.windows.clear();
      this.sharedCooldowns.clear();
      return;
    }
    const redis = this.d.conn.redis;
    const [[sec, usec], values] = await Promise.all([
      redis.time(),
      redis.mget([
        ...limited.flatMap((e) => [this.d.keys.window(e.id, 'rpm'), this.d.keys.window(e.id, 'tpm')]),
        ...eps.map((e) => this.d.keys.cooldown(e.id)),
      ]),
    ]);
    // Redis's clock to this process's: the tats and deadlines are kept in Redis time.
    const skew = Number(sec) * 1000 + Math.floor(Number(usec) / 1000) - this.d.now();
    const local = (tat: string | null | undefined): number | null => (tat === null || tat === undefined ? null : Number(tat) - skew);
    this.windows.clear();
    limited.forEach((e, i) => this.windows.set(e.id, { rpmTat: local(values[2 * i]), tpmTat: local(values[2 * i + 1]), rpm: e.rpm, tpm: e.tpm }));
    this.sharedCooldowns.clear();
    const base = 2 * limited.length;
    eps.forEach((e, i) => {
      const at = local(values[base + i]);
      if (at !== null && Number.isFinite(at)) this.sharedCooldowns.set(e.id, at);
    });
  }

  private unavailable(why: string): SwitchyardError {
    this.counters.unavailable++;
    return new SwitchyardError('shared_state_unavailable', `shared state (Redis) unavailable: ${why}`, { headers: { 'retry-after': '1' } });
  }
}

/**
 * A failed Redis command as an operator reads it: ioredis's own wording names its options (a
 * connection lost with the command pending says "Reached the max retries per request limit (which
 * is 0). Refer to maxRetriesPerRequest…").
 */
export function redisFailure(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/max retries per request/i.test(message)) return 'the connection to Redis was lost before it answered';
  if (/command timed out/i.test(message)) return 'Redis did not answer in time (a stalled server or network)';
  // ioredis's words for a connection closing or reconnecting ("Stream isn't writeable and enableOfflineQueue options is false", "Connection is closed.").
  if (/stream isn't writeable|enableOfflineQueue|connection is closed/i.test(message)) return 'Redis is unreachable (the connection is closed or reconnecting)';
  return message;
}
