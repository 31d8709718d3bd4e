/**
 * One request's life as a statechart, written once as a table that two executors share:
 * the XState machine built from it (`request.machine.ts`: model-based tests, coverage, the
 * Stately view) and a plain reducer that the runtime runs per request (no actor, no scope,
 * well under a microsecond a step). The model-based tests replay every path through both and
 * require identical snapshots, so the table is the one definition.
 *
 *   queued ──routed──▶ routed ──picked──▶ reserving ──granted──▶ attempting ──committed──▶ streaming
 *             │          ▲  │ none(wait)     │ refused / slot gone   │ failed(decision)      │
 *             │          │  ▼                ▼                       ▼                       ▼
 *             │          │ waiting ──freed──▶ routed ◀──failover── (decision) ──retry──▶ backoff ──fired──▶ routed
 *             ▼          │                                          │ succeeded
 *          failed ◀──────┴── stop / propagate / exhausted            ▼
 *                                          continuing (a committed stream's next attempt)   settling ──settled──▶ done
 *
 * Each state names the one thing the driver does while in it (`commandOf`); transitions may
 * also leave fire-and-forget commands in `outbox` (release or settle a reservation). Pure:
 * no clock (events carry `at`), no randomness (the retry policy's jitter comes in the event).
 */

export type ReqState = 'queued' | 'routed' | 'waiting' | 'backoff' | 'reserving' | 'attempting' | 'streaming' | 'continuing' | 'settling' | 'done' | 'failed';

/** What the machine needs of an upstream fault (the driver passes the real one; it is kept as is). */
export interface FaultView {
  kind: string;
  status: number | null;
}

/** The retry policy's verdict on a failed attempt, computed by the driver from the context's counts. */
export type NextStep = 'retry_same' | 'failover' | 'larger_context' | 'propagate' | 'stop';

export type BudgetRefusal =
  | { kind: 'max_cost'; model: string; amount: number }
  | { kind: 'budget'; model: string; amount: number; budget: string; limit: number; spent: number; reserved: number };

export type Failure =
  { kind: 'refused' } | { kind: 'aborted'; reason: 'deadline' | 'client_gone' } | { kind: 'exhausted' } | { kind: 'propagate'; fault: FaultView };

export interface PerEndpoint {
  attempts: number;
  transientRetryUsed: boolean;
}

export interface Current {
  endpoint: string;
  model: string;
  amount: number;
  budgets: string[];
}

export type Command =
  | { type: 'route' }
  | { type: 'pick'; excluded: string[]; excludedModels: string[]; pinned: string | null; committed: boolean }
  | { type: 'wait'; until: number }
  | { type: 'sleep'; until: number }
  | { type: 'reserve'; endpoint: string; model: string; amount: number }
  | { type: 'send'; endpoint: string; continuation: boolean }
  | { type: 'settle'; budgets: string[]; reserved: number; actual: number }
  | { type: 'release'; budgets: string[]; reserved: number }
  | { type: 'finish' };

export interface ReqInput {
  receivedAt: number;
  deadlineAt: number;
  maxTotalAttempts: number;
  /** `x-switchyard-max-cost-usd` in nano-dollars. */
  maxCostNano: number | null;
}

export interface ReqContext extends ReqInput {
  candidates: string[];
  attempts: number;
  per: Readonly<Record<string, PerEndpoint>>;
  excluded: readonly string[];
  excludedModels: readonly string[];
  pinned: { endpoint: string; notBefore: number } | null;
  lastFault: FaultView | null;
  refusal: BudgetRefusal | null;
  /** Worst case of the last refused reservation: later candidates must be cheaper (spec §5). */
  ceiling: number | null;
  current: Current | null;
  committed: boolean;
  /** What the successful attempt cost (settled in `settling`). */
  settleNano: number;
  /** What earlier attempts of this request already cost (tokens billed before they failed): counted against `maxCostNano`. */
  spentNano: number;
  /** Until when to wait for capacity (the earliest a candidate frees, at most the deadline). */
  waitUntil: number;
  failure: Failure | null;
  /** Fire-and-forget commands of the last step. */
  outbox: readonly Command[];
}

export type ReqEvent =
  | { type: 'request.routed'; at: number; candidates: string[] }
  | { type: 'route.refused'; at: number }
  | { type: 'request.aborted'; at: number; reason: 'deadline' | 'client_gone' }
  | { type: 'endpoint.picked'; at: number; endpoint: string; model: string; amount: number }
  /** No candidate can take it now: `waitable` if some are only throttled or busy, `freeAt` the earliest known free time (null: unknown). */
  | { type: 'endpoint.none'; at: number; waitable: boolean; earliest: number | null; unknown: boolean }
  | { type: 'capacity.freed'; at: number }
  | { type: 'capacity.refused'; at: number }
  | { type: 'timer.fired'; at: number }
  | { type: 'budget.granted'; at: number; budgets: string[]; slotGone: boolean }
  /** `everyModel`: the refusing budget holds for every model (global, key), not only the one refused (its own budget). */
  | { type: 'budget.refused'; at: number; budget: string; limit: number; spent: number; reserved: number; everyModel: boolean }
  | { type: 'attempt.committed'; at: number }
  | { type: 'attempt.succeeded'; at: number; costNano: number }
  /**
   * `retryLater`: the endpoint only throttled this request (a 429, or a 503/529 overload with a
   * `retry-after`, longer than `maxRetryAfterMs`) and may
   * take it again once its throttle ends, within its attempt limit and the deadline: failing over
   * does not exclude it, so when every other candidate is gone the request waits for it, as a new
   * request would, instead of failing at once.
   */
  | {
      type: 'attempt.failed';
      at: number;
      fault: FaultView;
      next: NextStep;
      delayMs: number;
      partialCostNano: number;
      smallerModels: string[];
      retryLater?: boolean;
    }
  | { type: 'budget.settled'; at: number };

export type ReqEventType = ReqEvent['type'];
type Ev<T extends ReqEventType> = Extract<ReqEvent, { type: T }>;

export interface Branch<E extends ReqEvent = ReqEvent> {
  to: ReqState;
  when?: (c: ReqContext, e: E) => boolean;
  /** The context change (shallow) and the outbox of this step. */
  do?: (c: ReqContext, e: E) => Partial<ReqContext>;
}

export interface StateDef {
  on?: { [T in ReqEventType]?: Array<Branch<Ev<T>>> };
  /** Eventless, checked on entry (with the event that led here). */
  always?: Branch[];
  final?: true;
}

export function initialContext(input: ReqInput): ReqContext {
  return {
    receivedAt: input.receivedAt,
    deadlineAt: input.deadlineAt,
    maxTotalAttempts: input.maxTotalAttempts,
    maxCostNano: input.maxCostNano,
    candidates: [],
    attempts: 0,
    per: {},
    excluded: [],
    excludedModels: [],
    pinned: null,
    lastFault: null,
    refusal: null,
    ceiling: null,
    current: null,
    committed: false,
    settleNano: 0,
    spentNano: 0,
    waitUntil: 0,
    failure: null,
    outbox: [],
  };
}

const fail = (failure: Failure) => (): Partial<ReqContext> => ({ failure });
const aborted: Branch<Ev<'request.aborted'>> = { to: 'failed', do: (_c, e) => ({ failure: { kind: 'aborted', reason: e.reason } }) };
/**
 * The least time a wait for capacity must leave an attempt before the deadline: a tenth of the
 * request's time, at most a second. A slot that frees later is not waited for (503 at once).
 */
export const attemptRoom = (c: { receivedAt: number; deadlineAt: number }): number => Math.min(1000, Math.floor((c.deadlineAt - c.receivedAt) / 10));

/**
 * How far a refused worst case is from fitting: over the budget line's room (limit less spent and
 * reserved), or over the cost cap. The refusal a request refused for money names is the one
 * nearest to fitting — the one a lower max_tokens may get under — as its headers and ledger row
 * name its model: of one budget line or the cap, the smallest worst case (the first one refused
 * named a dearer model); across lines, not a model whose own budget is all but gone when another
 * model was refused by a wider budget by a little.
 */
export function shortfall(r: { amount: number; limit?: number; spent?: number; reserved?: number }, maxCostNano: number | null): number {
  return r.limit !== undefined ? r.amount - (r.limit - (r.spent ?? 0) - (r.reserved ?? 0)) : r.amount - (maxCostNano ?? 0);
}

const nearest = (c: ReqContext, next: BudgetRefusal): BudgetRefusal =>
  c.refusal === null || shortfall(next, c.maxCostNano) < shortfall(c.refusal, c.maxCostNano) ? next : c.refusal;
const excludeModel = (c: ReqContext, model: string): readonly string[] => (c.excludedModels.includes(model) ? c.excludedModels : [...c.excludedModels, model]);
const endpointOf = (c: ReqContext): string => c.current?.endpoint ?? '';

/** The reservation of the failed attempt: settle what the provider already billed, else release it. */
function returnReservation(c: ReqContext, e: Ev<'attempt.failed'>): Command[] {
  const cur = c.current;
  if (!cur) return [];
  return [
    e.partialCostNano > 0
      ? { type: 'settle', budgets: cur.budgets, reserved: cur.amount, actual: e.partialCostNano }
      : { type: 'release', budgets: cur.budgets, reserved: cur.amount },
  ];
}

/** A continuation whose prefill the fallback refused (a 4xx other than 429) must not replace the real fault. */
function keepsFault(e: Ev<'attempt.failed'>): boolean {
  const f = e.fault;
  return f.kind === 'http_status' && f.status !== null && f.status < 500 && f.status !== 429;
}

function failedAttempt(c: ReqContext, e: Ev<'attempt.failed'>, more: Partial<ReqContext> = {}, continuation = false): Partial<ReqContext> {
  return {
    lastFault: continuation && keepsFault(e) ? c.lastFault : e.fault,
    outbox: returnReservation(c, e),
    current: null,
    spentNano: c.spentNano + e.partialCostNano,
    ...more,
  };
}

/**
 * Every decision the retry policy's verdict can lead to, in selection order. A continuation
 * (an attempt after the stream committed) differs twice: a refused prefill (the provider's
 * 4xx) fails over to the next endpoint instead of reaching the client, and does not replace
 * the fault that cut the stream.
 */
function onFailure(continuation: boolean): Array<Branch<Ev<'attempt.failed'>>> {
  const failedAt = (c: ReqContext, e: Ev<'attempt.failed'>, more: Partial<ReqContext> = {}): Partial<ReqContext> => failedAttempt(c, e, more, continuation);
  const exclude = (c: ReqContext, e: Ev<'attempt.failed'>): Partial<ReqContext> =>
    e.retryLater === true ? failedAt(c, e) : failedAt(c, e, { excluded: [...c.excluded, endpointOf(c)] });
  return [
    {
      to: 'failed',
      when: (_c, e) => e.next === 'stop',
      do: (c, e) => failedAt(c, e, { failure: { kind: 'aborted', reason: e.fault.kind === 'client_gone' ? 'client_gone' : 'deadline' } }),
    },
    {
      to: 'backoff',
      // No backoff when the attempt that failed was the last one allowed: the request fails at once (routed → exhausted).
      when: (c, e) => e.next === 'retry_same' && c.attempts < c.maxTotalAttempts,
      do: (c, e) => {
        const id = endpointOf(c);
        const per = c.per[id] ?? { attempts: 0, transientRetryUsed: false };
        const used = per.transientRetryUsed || e.fault.status !== 429;
        return failedAt(c, e, { pinned: { endpoint: id, notBefore: e.at + e.delayMs }, per: { ...c.per, [id]: { ...per, transientRetryUsed: used } } });
      },
    },
    { to: 'routed', when: (_c, e) => e.next === 'failover' || e.next === 'retry_same' || (continuation && e.next === 'propagate'), do: exclude },
    {
      to: 'routed',
      when: (c, e) => e.next === 'larger_context' && c.candidates.some((m) => !c.excludedModels.includes(m) && !e.smallerModels.includes(m)),
      do: (c, e) => failedAt(c, e, { excludedModels: [...new Set([...c.excludedModels, ...e.smallerModels])] }),
    },
    { to: 'failed', do: (c, e) => failedAt(c, e, { failure: { kind: 'propagate', fault: e.fault } }) },
  ];
}

const succeeded: Branch<Ev<'attempt.succeeded'>> = { to: 'settling', do: (_c, e) => ({ settleNano: e.costNano }) };

export const CHART: Record<ReqState, StateDef> = {
  queued: {
    on: {
      'request.routed': [{ to: 'routed', do: (_c, e) => ({ candidates: e.candidates }) }],
      'route.refused': [{ to: 'failed', do: fail({ kind: 'refused' }) }],
    },
  },
  routed: {
    always: [{ to: 'failed', when: (c) => c.attempts >= c.maxTotalAttempts, do: fail({ kind: 'exhausted' }) }],
    on: {
      'request.aborted': [aborted],
      'endpoint.picked': [
        {
          to: 'routed',
          // The cap is the request's: what its earlier attempts cost plus this attempt's worst case.
          when: (c, e) => c.maxCostNano !== null && c.spentNano + e.amount > c.maxCostNano,
          do: (c, e) => ({
            pinned: null,
            excludedModels: excludeModel(c, e.model),
            refusal: nearest(c, { kind: 'max_cost', model: e.model, amount: c.spentNano + e.amount }),
          }),
        },
        {
          to: 'routed',
          when: (c, e) => c.ceiling !== null && e.amount >= c.ceiling,
          do: (c, e) => ({ pinned: null, excludedModels: excludeModel(c, e.model) }),
        },
        { to: 'reserving', do: (c, e) => ({ pinned: null, current: { endpoint: e.endpoint, model: e.model, amount: e.amount, budgets: [] } }) },
      ],
      'endpoint.none': [
        { to: 'failed', when: (c, e) => !e.waitable || e.at >= c.deadlineAt, do: fail({ kind: 'exhausted' }) },
        // Every candidate is throttled until after the deadline: waiting cannot help (503 at once, not 504 later).
        // …or frees too late for an attempt to run before the deadline (a slot 3 ms before it was waited for, then 504).
        { to: 'failed', when: (c, e) => !e.unknown && e.earliest !== null && e.earliest >= c.deadlineAt - attemptRoom(c), do: fail({ kind: 'exhausted' }) },
        { to: 'waiting', do: (c, e) => ({ pinned: null, waitUntil: Math.min(c.deadlineAt, e.earliest ?? c.deadlineAt) }) },
      ],
    },
  },
  waiting: {
    on: {
      'capacity.freed': [{ to: 'routed' }],
      'capacity.refused': [{ to: 'failed', do: fail({ kind: 'exhausted' }) }],
      'request.aborted': [aborted],
    },
  },
  backoff: {
    on: {
      'timer.fired': [{ to: 'routed' }],
      'request.aborted': [aborted],
    },
  },
  reserving: {
    on: {
      // The deadline (or the client) ended the wait for a shared store's answer: nothing was granted
      // yet (a grant that comes later is released by the driver).
      'request.aborted': [aborted],
      'budget.granted': [
        // The reservation is asynchronous (a shared store answers later): the slot picked before it may be gone.
        {
          to: 'routed',
          when: (_c, e) => e.slotGone,
          do: (c, e) => ({ current: null, outbox: [{ type: 'release', budgets: e.budgets, reserved: c.current?.amount ?? 0 }] }),
        },
        { to: 'continuing', when: (c) => c.committed, do: (c, e) => dispatch(c, e) },
        { to: 'attempting', do: (c, e) => dispatch(c, e) },
      ],
      'budget.refused': [
        {
          to: 'routed',
          do: (c, e) => {
            const cur = c.current ?? { model: '', amount: 0 };
            return {
              current: null,
              // Only a budget every model shares bars dearer worst cases; a model's own budget bars that model alone.
              ceiling: e.everyModel ? cur.amount : c.ceiling,
              excludedModels: excludeModel(c, cur.model),
              refusal: nearest(c, {
                kind: 'budget',
                model: cur.model,
                amount: cur.amount,
                budget: e.budget,
                limit: e.limit,
                spent: e.spent,
                reserved: e.reserved,
              }),
            };
          },
        },
      ],
    },
  },
  attempting: {
    on: {
      'attempt.committed': [{ to: 'streaming', do: () => ({ committed: true }) }],
      'attempt.succeeded': [succeeded],
      'attempt.failed': onFailure(false),
    },
  },
  streaming: { on: { 'attempt.succeeded': [succeeded], 'attempt.failed': onFailure(false) } },
  continuing: { on: { 'attempt.succeeded': [succeeded], 'attempt.failed': onFailure(true) } },
  settling: { on: { 'budget.settled': [{ to: 'done' }] } },
  done: { final: true },
  failed: { final: true },
};

function dispatch(c: ReqContext, e: Ev<'budget.granted'>): Partial<ReqContext> {
  const cur = c.current ?? { endpoint: '', model: '', amount: 0, budgets: [] };
  const per = c.per[cur.endpoint] ?? { attempts: 0, transientRetryUsed: false };
  // Literals of the records' own shapes, no spreads followed by properties (slow on Node 20, see request.machine.ts).
  const next: Record<string, PerEndpoint> = Object.assign({}, c.per);
  next[cur.endpoint] = { attempts: per.attempts + 1, transientRetryUsed: per.transientRetryUsed };
  return {
    current: { endpoint: cur.endpoint, model: cur.model, amount: cur.amount, budgets: e.budgets },
    attempts: c.attempts + 1,
    per: next,
  };
}
