/**
 * The request lifecycle chart (`request.chart.ts`) in its two executable forms:
 *
 * - `requestMachine`: an XState machine built from the table (guards and assigns are the
 *   table's functions). The model-based tests traverse it with xstate/graph and print its
 *   coverage; it is what an inspector would show.
 * - `stepRequest` / `requestLogic`: the same table as a reducer (`fromTransition`). This is
 *   what the runtime executes per request. Measured on this machine (bench/request-machine.ts,
 *   one request = 7 steps): XState's pure `initialTransition`/`transition` ≈ 390–660 µs (each
 *   call builds a throwaway actor), `machine.transition` with one reused inert scope ≈ 60–110 µs,
 *   the reducer ≈ 1–2 µs. The hot-path budget of a whole request is ~100 µs, so the reducer runs
 *   and the machine is the tested, inspectable twin: every model-test path is replayed through
 *   both, and their snapshots must agree step by step.
 */
import { assign, fromTransition, setup, type StateNodeConfig } from 'xstate';
import { CHART, initialContext, type Branch, type Command, type ReqContext, type ReqEvent, type ReqInput, type ReqState } from './request.chart.js';

export * from './request.chart.js';

export interface ReqSnapshot {
  value: ReqState;
  context: ReqContext;
}

const NONE: readonly Command[] = [];

/**
 * A copy of the context, field by field: one object literal of a fixed shape (what
 * `Object.assign({}, c)` gives, the same keys in the same order, without its generic copy —
 * ~0.3 µs a step on Node 20). Every key of ReqContext is listed (initialContext makes no other;
 * test/machines/request-context-copy.test.ts holds them equal).
 */
function copy(c: ReqContext): ReqContext {
  return {
    receivedAt: c.receivedAt,
    deadlineAt: c.deadlineAt,
    maxTotalAttempts: c.maxTotalAttempts,
    maxCostNano: c.maxCostNano,
    candidates: c.candidates,
    attempts: c.attempts,
    per: c.per,
    excluded: c.excluded,
    excludedModels: c.excludedModels,
    pinned: c.pinned,
    lastFault: c.lastFault,
    refusal: c.refusal,
    ceiling: c.ceiling,
    current: c.current,
    committed: c.committed,
    settleNano: c.settleNano,
    spentNano: c.spentNano,
    waitUntil: c.waitUntil,
    failure: c.failure,
    outbox: c.outbox,
  };
}

/** A branch's effect: the context change merged in; a fresh (event-driven) step starts an empty outbox. */
function apply(c: ReqContext, b: Branch, e: ReqEvent, fresh: boolean): ReqContext {
  const d = b.do?.(c, e);
  const outbox = fresh ? NONE : c.outbox;
  if (!d) {
    if (!(fresh && c.outbox.length > 0)) return c;
    const next = copy(c);
    next.outbox = outbox;
    return next;
  }
  // Object.assign for the change (a few keys), not `{ ...c, ...d }` (slow on Node 20): see `copy`.
  const next = Object.assign(copy(c), d);
  next.outbox = d.outbox ? (outbox.length ? [...outbox, ...d.outbox] : d.outbox) : outbox;
  return next;
}

function select(list: readonly Branch[] | undefined, c: ReqContext, e: ReqEvent): Branch | undefined {
  if (!list) return undefined;
  for (const b of list) if (!b.when || b.when(c, e)) return b;
  return undefined;
}

/** One step of the chart; the same snapshot object back when the event does not apply. */
export function stepRequest(s: ReqSnapshot, e: ReqEvent): ReqSnapshot {
  const def = CHART[s.value];
  const b = select(def.on?.[e.type] as Branch[] | undefined, s.context, e);
  if (!b) return s;
  let value = b.to;
  let context = apply(s.context, b, e, true);
  for (let guard = 0; guard < 8; guard++) {
    const a = select(CHART[value].always, context, e);
    if (!a) break;
    context = apply(context, a, e, false);
    value = a.to;
  }
  return { value, context };
}

export function startRequest(input: ReqInput): ReqSnapshot {
  return { value: 'queued', context: initialContext(input) };
}

export const isFinal = (s: { value: string }): boolean => CHART[s.value as ReqState].final === true;

/** What the driver does while the request is in this state (null: the attempt already running goes on). */
export function commandOf(s: ReqSnapshot): Command | null {
  const c = s.context;
  switch (s.value) {
    case 'queued':
      return { type: 'route' };
    case 'routed':
      return { type: 'pick', excluded: [...c.excluded], excludedModels: [...c.excludedModels], pinned: c.pinned?.endpoint ?? null, committed: c.committed };
    case 'waiting':
      return { type: 'wait', until: c.waitUntil };
    case 'backoff':
      return { type: 'sleep', until: c.pinned?.notBefore ?? 0 };
    case 'reserving':
      return { type: 'reserve', endpoint: c.current?.endpoint ?? '', model: c.current?.model ?? '', amount: c.current?.amount ?? 0 };
    case 'attempting':
    case 'continuing':
      return { type: 'send', endpoint: c.current?.endpoint ?? '', continuation: s.value === 'continuing' };
    case 'streaming':
      return null;
    case 'settling':
      return { type: 'settle', budgets: c.current?.budgets ?? [], reserved: c.current?.amount ?? 0, actual: c.settleNano };
    case 'done':
    case 'failed':
      return { type: 'finish' };
  }
}

/** The reducer as actor logic, for anyone who wants it as an actor (inspection, tests). */
export const requestLogic = fromTransition(
  (s: ReqSnapshot, e: ReqEvent) => stepRequest(s, e),
  ({ input }: { input: ReqInput }) => startRequest(input),
);

type NodeConfig = StateNodeConfig<ReqContext, ReqEvent, never, never, never, never, never, never, never, never>;

const machineSetup = setup({ types: { context: {} as ReqContext, events: {} as ReqEvent, input: {} as ReqInput } });

function transitions(list: readonly Branch[], fresh: boolean) {
  return list.map((b) => ({
    target: b.to,
    ...(b.when ? { guard: ({ context, event }: { context: ReqContext; event: ReqEvent }) => b.when!(context, event) } : {}),
    actions: assign(({ context, event }: { context: ReqContext; event: ReqEvent }) => apply(context, b, event, fresh)),
  }));
}

function states(): Record<ReqState, NodeConfig> {
  const out = {} as Record<ReqState, NodeConfig>;
  for (const [name, def] of Object.entries(CHART) as Array<[ReqState, (typeof CHART)[ReqState]]>) {
    const on: Record<string, unknown> = {};
    for (const [type, list] of Object.entries(def.on ?? {})) on[type] = transitions(list as Branch[], true);
    out[name] = {
      ...(def.final ? { type: 'final' } : {}),
      ...(Object.keys(on).length ? { on } : {}),
      ...(def.always ? { always: transitions(def.always, false) } : {}),
    } as NodeConfig;
  }
  return out;
}

export const requestMachine = machineSetup.createMachine({
  id: 'request',
  context: ({ input }) => initialContext(input),
  initial: 'queued',
  states: states(),
});
