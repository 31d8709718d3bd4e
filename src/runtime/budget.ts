/**
 * Budget reservations behind an interface whose calls are asynchronous and carry the request
 * id, so a shared (Redis) store can replace the in-process one without touching the request
 * flow (shared/design/distributed.md). The in-process store is the budget actor: the actor
 * serialises decisions and emits `budget.granted` / `budget.refused`.
 */
import type { ActorRefFrom } from 'xstate';
import {
  applicableBudgets,
  budgetApplies,
  inPlace,
  periodStart,
  type budgetMachine,
  type BudgetContext,
  type BudgetLimit,
  type BudgetLine,
} from '../../machines/budget.machine.js';
import type { BudgetEmitted, BudgetEvent } from '../../machines/events.js';
import type { Config } from '../config/schema.js';
import { usdToNano } from '../accounting/money.js';
import { stepOfRequestId } from '../accounting/ledger.js';
import type { EndpointHandle } from './endpoints.js';

/**
 * A reservation's answer. `closed`: a shared store found the endpoint's gate (window, cooldown,
 * probe slot, or its local availability) closed, reserved nothing and took no window slot: the
 * caller must pick again, whatever its own availability check says by then.
 */
export type ReserveResult = { ok: true; budgets: string[]; closed?: true } | { ok: false; budget: string; limit: number; spent: number; reserved: number };

/**
 * The endpoint an attempt is about to use. A shared store decides its windows, cooldown and
 * probe slot in the same step as the budgets; when they are closed it tells the endpoint actor
 * (`window.exhausted`) and grants nothing (`budgets: []`, `closed`), and the caller picks
 * again. The in-process store ignores it (the actor decides).
 */
export interface ReserveGate {
  endpoint: EndpointHandle;
  estTokens: number;
}

/**
 * A store that decides in process may answer at once (a plain value); a shared store answers
 * with a promise. Callers take a plain value as it is and wait only on a promise.
 */
export interface BudgetStore {
  /**
   * `earlierNano`: what this request already settled whose ledger row is not written yet (a
   * stream's cut attempts before a continuation, a cascade's earlier steps): a shared store's
   * reclaimed row for a dead replica counts it beside the reserved amount (the lone process's
   * in-flight journal line says it itself). `earlierByModel`: the same by the model each part was
   * charged to (a shared store's seed of a model line a reload adds counts that model's part only).
   */
  reserve(
    requestId: string,
    keyId: string | null,
    model: string,
    amountNano: number,
    at: number,
    gate?: ReserveGate,
    earlierNano?: number,
    earlierByModel?: ReadonlyMap<string, number>,
  ): ReserveResult | Promise<ReserveResult>;
  /** `scope`: whom the reservation was for; budget lines added since (a reload) are charged the actual cost too. */
  settle(requestId: string, budgets: string[], reservedNano: number, actualNano: number, at: number, scope?: BudgetScope): void | Promise<void>;
  release(requestId: string, budgets: string[], reservedNano: number, at: number): void | Promise<void>;
  lines(): BudgetLine[];
  /**
   * What requests in flight have settled whose ledger rows are not written yet (a cascade's earlier
   * steps, a request's attempts before its answer), on `line` since `from`: a line a reload adds is
   * rebuilt from the ledger, which does not hold it yet. The in-process store keeps it (by the
   * settled request id, scope and date) until `rowWritten` says the row is in the ledger (or failed).
   */
  unwrittenSpend?(line: BudgetLimit, from: number): number;
  /**
   * What requests in flight hold reserved that `line` applies to (by the key and model each
   * reserved for): a line a reload adds starts holding it, as the lines they reserved on do.
   */
  inFlightReserved?(line: BudgetLimit): number;
  rowWritten?(requestId: string): void;
  /** A client request ended: whatever it and its cascade steps (`<id>#<n>`) still kept is dropped. */
  requestEnded?(requestId: string): void;
}

/** The client request a row id is of: a cascade step's (`<id>#<n>`) its parent's, any other its own (no regex for those). */
const clientRequestOf = (requestId: string): string => (requestId.includes('#') ? (stepOfRequestId(requestId)?.parentId ?? requestId) : requestId);

/** A settled amount whose ledger row is not written yet (BudgetStore.unwrittenSpend). */
interface Unwritten {
  /** The request id of the row that will carry it (a cascade step's `<id>#<n>`). */
  rowId: string;
  keyId: string | null;
  model: string;
  /** The row's date (the request's arrival): it counts for a period that started by then. */
  dated: number;
  amountNano: number;
}

/** The client key and model a reservation was made for. */
export interface BudgetScope {
  keyId: string | null;
  model: string;
  /** When the request's ledger row is dated (its arrival): its cost counts in the period of that time, as the ledger and a rebuild count it. */
  dated?: number;
}

export function budgetLimits(cfg: Config): BudgetLimit[] {
  return cfg.budget.limits.map((l) => ({
    id: l.scope === 'global' ? `global:${l.period}` : l.scope === 'key' ? `key:${l.key}:${l.period}` : `model:${l.model}:${l.period}`,
    scope: l.scope,
    key: l.key ?? null,
    model: l.model ?? null,
    period: l.period,
    limit: usdToNano(l.usd),
  }));
}

/**
 * A refusal by this budget line holds for every model (a global or key budget, or the store
 * still restoring): a dearer worst case would be refused too. A model's own budget refuses only
 * that model: the others may still be tried.
 */
export function refusesEveryModel(budgetId: string): boolean {
  return !budgetId.startsWith('model:');
}

/** Where each budget's current period starts (for rebuilding spent totals from the ledger). */
export function periodStarts(limits: readonly BudgetLimit[], now: number): Array<BudgetLimit & { from: number }> {
  return limits.map((l) => ({ ...l, from: periodStart(l.period, now) }));
}

/** How the in-process store decides: in one step in place while nobody inspects every event. */
export interface InPlaceOptions {
  /** True while nobody inspects every event (then decisions are applied in place). */
  quiet: () => boolean;
  /** A reservation granted in place: what the inspection hub records for a grant (actor id, event, context after). */
  onGranted?: (actorId: string, ev: BudgetEvent, ctx: BudgetContext) => void;
}

export class ActorBudgetStore implements BudgetStore {
  private readonly pending = new Map<string, (r: ReserveResult) => void>();
  /** By client request id (a cascade step's is its parent's: stepOfRequestId). */
  private readonly unwritten = new Map<string, Unwritten[]>();
  /**
   * The reservations held now, by request id: whom each is for and how much, so that a line a
   * reload adds can hold them too (`inFlightReserved`) and have them settled or released there.
   * Without it, a limit added while requests were in flight admitted new ones beside them, past it.
   */
  private readonly held = new Map<string, { keyId: string | null; model: string; amount: number }>();

  constructor(
    private readonly actor: ActorRefFrom<typeof budgetMachine>,
    private readonly opts: InPlaceOptions = { quiet: () => false },
  ) {
    const onDecision = (e: BudgetEmitted): void => {
      const resolve = this.pending.get(e.requestId);
      if (!resolve) return;
      this.pending.delete(e.requestId);
      resolve(e.type === 'budget.granted' ? { ok: true, budgets: [] } : { ok: false, budget: e.budget, limit: e.limit, spent: e.spent, reserved: e.reserved });
    };
    actor.on('budget.granted', onDecision);
    actor.on('budget.refused', onDecision);
  }

  lines(): BudgetLine[] {
    return this.actor.getSnapshot().context.lines;
  }

  /**
   * The budget actor's own rule (`inPlace`, machines/budget.machine.ts) applied to its live
   * context in one synchronous step; false when the event has to go to the actor.
   */
  private applied(ev: BudgetEvent): boolean {
    if (!this.opts.quiet()) return false;
    const snap = this.actor.getSnapshot();
    const u = snap.status === 'active' ? inPlace(snap.value, snap.context, ev) : null;
    if (u === null) return false;
    Object.assign(snap.context, u);
    if (ev.type === 'budget.reserve') this.opts.onGranted?.(this.actor.id, ev, snap.context);
    return true;
  }

  /** A grant decided in place (or with no budget to ask) is answered at once; one the actor decides, when it emits. */
  reserve(requestId: string, keyId: string | null, model: string, amountNano: number, at: number): ReserveResult | Promise<ReserveResult> {
    const budgets = applicableBudgets(this.lines(), keyId, model);
    if (budgets.length === 0 && this.actor.getSnapshot().value === 'running') return this.granted(requestId, keyId, model, amountNano, budgets);
    const ev: BudgetEvent = { type: 'budget.reserve', at, requestId, budgets, amount: amountNano };
    if (this.applied(ev)) return this.granted(requestId, keyId, model, amountNano, budgets);
    return new Promise<ReserveResult>((resolve) => {
      this.pending.set(requestId, (r) => resolve(r.ok ? this.granted(requestId, keyId, model, amountNano, budgets) : r));
      this.actor.send(ev);
    });
  }

  private granted(requestId: string, keyId: string | null, model: string, amount: number, budgets: string[]): ReserveResult {
    if (amount > 0) this.held.set(requestId, { keyId, model, amount });
    return { ok: true, budgets };
  }

  inFlightReserved(line: BudgetLimit): number {
    let sum = 0;
    for (const h of this.held.values()) if (budgetApplies(line, h.keyId, h.model)) sum += h.amount;
    return sum;
  }

  /**
   * Applied (or sent to the actor, which serialises it before any later event) before it returns.
   * A budget line a reload added while the request was in flight (a new line, or one whose
   * period changed) was rebuilt from the ledger without this request's row, which comes after:
   * it is charged the actual cost here, or it would stay below the ledger for the period. The cost
   * is also kept until the row is written (`unwrittenSpend`), for a line a later reload adds.
   */
  settle(requestId: string, budgets: string[], reservedNano: number, actualNano: number, at: number, scope?: BudgetScope): void {
    const held = this.held.get(requestId);
    if (held !== undefined) this.held.delete(requestId);
    if (scope !== undefined && actualNano > 0) {
      const client = clientRequestOf(requestId);
      const kept = this.unwritten.get(client);
      const u: Unwritten = { rowId: requestId, keyId: scope.keyId, model: scope.model, dated: scope.dated ?? at, amountNano: actualNano };
      if (kept) kept.push(u);
      else this.unwritten.set(client, [u]);
    }
    // Lines a reload added while it was in flight: they hold its reservation (inFlightReserved) and are charged its cost.
    const of = held ?? scope;
    if (of !== undefined && (actualNano > 0 || held !== undefined)) {
      const added = this.addedSince(budgets, of.keyId, of.model);
      if (added.length > 0) {
        const late: BudgetEvent = {
          type: 'budget.settle',
          at,
          requestId,
          budgets: added,
          reserved: held?.amount ?? 0,
          actual: actualNano,
          dated: scope?.dated,
        };
        if (!this.applied(late)) this.actor.send(late);
      }
    }
    if (budgets.length === 0) return;
    const ev: BudgetEvent = { type: 'budget.settle', at, requestId, budgets, reserved: reservedNano, actual: actualNano, dated: scope?.dated };
    if (!this.applied(ev)) this.actor.send(ev);
  }

  unwrittenSpend(line: BudgetLimit, from: number): number {
    let sum = 0;
    for (const kept of this.unwritten.values()) for (const u of kept) if (u.dated >= from && budgetApplies(line, u.keyId, u.model)) sum += u.amountNano;
    return sum;
  }

  rowWritten(requestId: string): void {
    const client = clientRequestOf(requestId);
    const kept = this.unwritten.get(client);
    if (kept === undefined) return;
    // The common case (one settle, its row written): no copy.
    if (kept.length === 1 && kept[0]!.rowId === requestId) return void this.unwritten.delete(client);
    const left = kept.filter((u) => u.rowId !== requestId);
    if (left.length === 0) this.unwritten.delete(client);
    else this.unwritten.set(client, left);
  }

  requestEnded(requestId: string): void {
    this.unwritten.delete(requestId);
    this.held.delete(requestId);
  }

  /** Lines that apply to this key and model now but were not reserved on (none, without a reload since the reservation). */
  private addedSince(budgets: readonly string[], keyId: string | null, model: string): string[] {
    const lines = this.lines();
    let added: string[] | null = null;
    for (const l of lines) if (budgetApplies(l, keyId, model) && !budgets.includes(l.id)) (added ??= []).push(l.id);
    return added ?? [];
  }

  release(requestId: string, budgets: string[], reservedNano: number, at: number): void {
    const held = this.held.get(requestId);
    if (held !== undefined) {
      this.held.delete(requestId);
      const added = this.addedSince(budgets, held.keyId, held.model);
      if (added.length > 0) {
        const late: BudgetEvent = { type: 'budget.release', at, requestId, budgets: added, reserved: held.amount };
        if (!this.applied(late)) this.actor.send(late);
      }
    }
    if (budgets.length === 0) return;
    const ev: BudgetEvent = { type: 'budget.release', at, requestId, budgets, reserved: reservedNano };
    if (!this.applied(ev)) this.actor.send(ev);
  }
}
