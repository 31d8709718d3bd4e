/**
 * The budget actor: serialises reservations against every budget that applies (global, per
 * client key, per model) and keeps running totals in integer nano-USD. No per-request maps:
 * a request carries its own reserved amount and budget ids back on settle/release.
 *
 * States: `restoring` (spent totals of the current periods are being rebuilt from the
 * ledger; reservations are refused) → `running`. Periods roll on UTC boundaries through a
 * named delay on the actor's clock, so tests drive them with a simulated clock.
 */
import { assign, emit, setup, assertEvent } from 'xstate';
import type { BudgetEmitted, BudgetEvent } from './events.js';

export type BudgetScope = 'global' | 'key' | 'model';
export type BudgetPeriod = 'day' | 'month' | 'total';

export interface BudgetLimit {
  id: string;
  scope: BudgetScope;
  key: string | null;
  model: string | null;
  period: BudgetPeriod;
  /** Limit in nano-USD. */
  limit: number;
}

export interface BudgetLine extends BudgetLimit {
  spent: number;
  reserved: number;
  periodStart: number;
  /** null for `total`. */
  resetsAt: number | null;
}

export interface BudgetContext {
  now: number;
  /** When the roll timer armed on entering `running` fires. */
  rollAt: number;
  lines: BudgetLine[];
  granted: number;
  refused: number;
}

export interface BudgetInput {
  limits: BudgetLimit[];
  now: number;
}

/** setTimeout cannot wait longer than 2^31-1 ms; the roll timer re-arms at least daily. */
export const MAX_ROLL_DELAY_MS = 86_400_000;

export function periodStart(period: BudgetPeriod, now: number): number {
  const d = new Date(now);
  if (period === 'day') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  if (period === 'month') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  return 0;
}

export function periodEnd(period: BudgetPeriod, now: number): number | null {
  const d = new Date(now);
  if (period === 'day') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
  if (period === 'month') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return null;
}

/** Whether a budget applies to a request of this client key and model. */
export function budgetApplies(l: BudgetLimit, keyId: string | null, model: string | null): boolean {
  return l.scope === 'global' || (l.scope === 'key' && l.key === keyId) || (l.scope === 'model' && l.model === model);
}

/** The ids of the budgets that apply to a request (each attempt's: a continuation's are the continuing model's). */
export function applicableBudgets(lines: readonly BudgetLimit[], keyId: string | null, model: string | null): string[] {
  return lines.filter((l) => budgetApplies(l, keyId, model)).map((l) => l.id);
}

/** The first budget that `amount` would overflow, if any. */
export function overflowing(lines: readonly BudgetLine[], ids: readonly string[], amount: number): BudgetLine | undefined {
  return lines.find((l) => ids.includes(l.id) && l.spent + l.reserved + amount > l.limit);
}

function roll(lines: BudgetLine[], now: number): BudgetLine[] {
  return lines.map((l) =>
    l.resetsAt !== null && now >= l.resetsAt ? { ...l, spent: 0, periodStart: periodStart(l.period, now), resetsAt: periodEnd(l.period, now) } : l,
  );
}

function adjust(lines: BudgetLine[], ids: readonly string[], dSpent: number, dReserved: number): BudgetLine[] {
  // Object.assign, not a spread followed by properties (slow on Node 20, see request.machine.ts).
  return lines.map((l) => (ids.includes(l.id) ? Object.assign({}, l, { spent: l.spent + dSpent, reserved: Math.max(0, l.reserved + dReserved) }) : l));
}

/** Lines as of `at`: periods that ended before a late timer fired are rolled here too. */
function linesAt(ctx: BudgetContext, at: number): BudgetLine[] {
  return roll(ctx.lines, Math.max(ctx.now, at));
}

function rollDelay(ctx: BudgetContext): number {
  const next = Math.min(...ctx.lines.map((l) => l.resetsAt ?? Infinity));
  return Math.max(0, Math.min(MAX_ROLL_DELAY_MS, next - ctx.now));
}

type ReserveEvent = Extract<BudgetEvent, { type: 'budget.reserve' }>;
type SettleEvent = Extract<BudgetEvent, { type: 'budget.settle' | 'budget.release' }>;

/** A granted reservation: the amount is reserved on every budget that applies. */
function reserved(ctx: BudgetContext, ev: ReserveEvent): Partial<BudgetContext> {
  return { now: Math.max(ctx.now, ev.at), lines: adjust(linesAt(ctx, ev.at), ev.budgets, 0, ev.amount), granted: ctx.granted + 1 };
}

/** Settled (the actual cost spent, the reservation dropped) or released (only dropped). */
function settled(ctx: BudgetContext, ev: SettleEvent): Partial<BudgetContext> {
  const actual = ev.type === 'budget.settle' ? ev.actual : 0;
  const dated = ev.type === 'budget.settle' ? ev.dated : undefined;
  const lines = linesAt(ctx, ev.at);
  const now = Math.max(ctx.now, ev.at);
  // A request that began before a period's end and settles after it: its cost is the ended period's
  // (its ledger row is dated there, /switchyard/spend and a rebuild count it there), not the new one's.
  if (actual === 0 || dated === undefined || !lines.some((l) => l.periodStart > dated && ev.budgets.includes(l.id)))
    return { now, lines: adjust(lines, ev.budgets, actual, -ev.reserved) };
  return {
    now,
    lines: lines.map((l) =>
      ev.budgets.includes(l.id)
        ? Object.assign({}, l, { spent: l.spent + (l.periodStart > dated ? 0 : actual), reserved: Math.max(0, l.reserved - ev.reserved) })
        : l,
    ),
  };
}

/**
 * A reservation decided in one step by the machine's own rule (the `fits` guard), for the
 * runtime to apply to the live context in place instead of sending the event: in `running`,
 * a reservation that fits gets exactly the update the `reserve` action makes; a settle or a
 * release gets the `settle`/`release` update (targetless transitions: no timer changes).
 * `null`: send the event (restoring, or a refusal, which the actor emits and counts).
 * Check and update happen in one synchronous step, so nothing can reserve in between: what is
 * granted never exceeds a limit, as through the actor.
 */
export function inPlace(state: string, ctx: BudgetContext, ev: BudgetEvent): Partial<BudgetContext> | null {
  if (state !== 'running') return null;
  if (ev.type === 'budget.settle' || ev.type === 'budget.release') return settled(ctx, ev);
  if (ev.type !== 'budget.reserve') return null;
  return overflowing(linesAt(ctx, ev.at), ev.budgets, ev.amount) === undefined ? reserved(ctx, ev) : null;
}

export const budgetMachine = setup({
  types: {
    context: {} as BudgetContext,
    events: {} as BudgetEvent,
    input: {} as BudgetInput,
    emitted: {} as BudgetEmitted,
  },
  guards: {
    fits: ({ context, event }) => {
      assertEvent(event, 'budget.reserve');
      const ev = event;
      return overflowing(linesAt(context, ev.at), ev.budgets, ev.amount) === undefined;
    },
  },
  delays: {
    /** Until the earliest period end, capped so the timer stays valid. */
    periodEnd: ({ context }) => rollDelay(context),
  },
  actions: {
    restore: assign(({ context, event }) => {
      assertEvent(event, 'budget.restored');
      const ev = event;
      return { now: Math.max(context.now, ev.at), lines: linesAt(context, ev.at).map((l) => ({ ...l, spent: ev.spent[l.id] ?? 0 })) };
    }),
    reserve: assign(({ context, event }) => {
      assertEvent(event, 'budget.reserve');
      return reserved(context, event);
    }),
    emitGranted: emit(({ event }) => {
      assertEvent(event, 'budget.reserve');
      const ev = event;
      return { type: 'budget.granted' as const, requestId: ev.requestId, amount: ev.amount };
    }),
    refuse: assign(({ context }) => ({ refused: context.refused + 1 })),
    emitRefused: emit(({ context, event }) => {
      assertEvent(event, 'budget.reserve');
      const ev = event;
      const line = overflowing(linesAt(context, ev.at), ev.budgets, ev.amount) ?? context.lines[0];
      return {
        type: 'budget.refused' as const,
        requestId: ev.requestId,
        amount: ev.amount,
        budget: line?.id ?? 'unknown',
        limit: line?.limit ?? 0,
        spent: line?.spent ?? 0,
        reserved: line?.reserved ?? 0,
      };
    }),
    emitRestoring: emit(({ event }) => {
      assertEvent(event, 'budget.reserve');
      const ev = event;
      return { type: 'budget.refused' as const, requestId: ev.requestId, amount: ev.amount, budget: 'restoring', limit: 0, spent: 0, reserved: 0 };
    }),
    settle: assign(({ context, event }) => {
      assertEvent(event, 'budget.settle');
      return settled(context, event);
    }),
    release: assign(({ context, event }) => {
      assertEvent(event, 'budget.release');
      return settled(context, event);
    }),
    reconfigure: assign(({ context, event }) => {
      assertEvent(event, 'budget.reconfigured');
      const ev = event;
      const now = Math.max(context.now, ev.at);
      const old = new Map(linesAt(context, now).map((l) => [l.id, l]));
      const lines = ev.limits.map((l): BudgetLine => {
        const prev = old.get(l.id);
        if (prev && prev.period === l.period) return { ...prev, ...l };
        return {
          ...l,
          spent: ev.spent[l.id] ?? 0,
          reserved: ev.reserved?.[l.id] ?? 0,
          periodStart: periodStart(l.period, now),
          resetsAt: periodEnd(l.period, now),
        };
      });
      return { now, lines };
    }),
    armRoll: assign(({ context }) => ({ rollAt: context.now + rollDelay(context) })),
    rollPeriods: assign(({ context }) => {
      const now = Math.max(context.now, context.rollAt);
      return { now, lines: roll(context.lines, now) };
    }),
  },
}).createMachine({
  id: 'budget',
  context: ({ input }) => ({
    now: input.now,
    rollAt: input.now,
    lines: input.limits.map((l) => ({ ...l, spent: 0, reserved: 0, periodStart: periodStart(l.period, input.now), resetsAt: periodEnd(l.period, input.now) })),
    granted: 0,
    refused: 0,
  }),
  initial: 'restoring',
  states: {
    restoring: {
      on: {
        'budget.restored': { target: 'running', actions: 'restore' },
        'budget.reserve': { actions: 'emitRestoring' },
      },
    },
    running: {
      entry: 'armRoll',
      after: { periodEnd: { target: 'running', reenter: true, actions: 'rollPeriods' } },
      on: {
        'budget.reserve': [{ guard: 'fits', actions: ['reserve', 'emitGranted'] }, { actions: ['refuse', 'emitRefused'] }],
        'budget.settle': { actions: 'settle' },
        'budget.release': { actions: 'release' },
        // Re-entered so the roll timer is armed for the new set of periods.
        'budget.reconfigured': { target: 'running', reenter: true, actions: 'reconfigure' },
      },
    },
  },
});
