/**
 * The inspection hub: one `inspect` observer on the actor system that turns XState
 * inspection events into compact, sanitised records (actor, previous and new state, the
 * event that caused it, time, a small context summary), kept in a bounded ring buffer and
 * pushed to live subscribers (`/switchyard/events`, metrics, the Stately bridge).
 *
 * By default only state changes and budget decisions become records, so the hot path pays
 * one map lookup per snapshot. With an `all` subscriber attached, every inspection event is
 * forwarded too (sanitised).
 */
import type { InspectionEvent } from 'xstate';
import { nanoToUsd } from '../accounting/money.js';
import { scrub } from './scrub.js';

export interface HubRecord {
  seq: number;
  at: number;
  kind: 'transition' | 'budget' | 'inspection' | 'escalation';
  actor: string;
  from: string | null;
  to: string | null;
  event: Record<string, unknown> | null;
  context: Record<string, unknown> | null;
  /**
   * The record is of an endpoint actor a reload replaced, draining its attempts in flight (its
   * failures can open its own circuit): not the endpoint `/switchyard/state` shows under that name.
   */
  replaced?: true;
}

type Listener = (r: HubRecord) => void;

/**
 * Field names that hold secrets, compared whole (case, `-` and `_` ignored): a substring match
 * once also stripped every `tokens` and `estTokens` field from the events.
 */
const SECRET_FIELDS = new Set([
  'authorization',
  'proxyauthorization',
  'apikey',
  'xapikey',
  'secret',
  'clientsecret',
  'token',
  'accesstoken',
  'refreshtoken',
  'admintoken',
  'bearer',
  'password',
  'passwd',
  'key',
  'privatekey',
  'credentials',
  'cookie',
  'setcookie',
]);
const isSecretField = (name: string): boolean => SECRET_FIELDS.has(name.toLowerCase().replace(/[-_]/g, ''));

/** Deep copy without any field whose name looks like a secret; bounded depth and size. */
export function sanitize(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return scrub(v);
  if (v === null || typeof v !== 'object') return typeof v === 'function' ? undefined : v;
  if (depth > 4) return '[…]';
  if (Array.isArray(v)) return v.length > 20 ? [...v.slice(-20).map((x) => sanitize(x, depth + 1))] : v.map((x) => sanitize(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (isSecretField(k)) continue;
    if (typeof x === 'function') continue;
    out[k] = sanitize(x, depth + 1);
  }
  return out;
}

const idOf = (ref: unknown): string => (ref as { id?: string } | undefined)?.id ?? 'unknown';
/**
 * An actor's name as every other surface gives it (`/switchyard/state`, metrics, `status`): an
 * endpoint a reload replaced runs as `endpoint:<id>#N` beside its draining predecessor, and its
 * records name it `endpoint:<id>` (they named it `…#3`, which a filter by the state's id missed).
 */
const publicId = (id: string): string => id.replace(/#\d+$/, '');

const valueOf = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

const usdOf = (nano: unknown): number | null => (typeof nano === 'number' ? nanoToUsd(nano) : null);

function summary(ctx: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (!ctx) return null;
  if ('lines' in ctx && Array.isArray(ctx.lines)) {
    // `limit`, `spent`, `reserved` are the actor's integer nano-USD (as its events' amounts);
    // the `…Usd` twins are the same in USD, the unit `/switchyard/state` shows.
    return {
      budgets: (ctx.lines as Array<Record<string, unknown>>).map((l) => ({
        id: l.id,
        limit: l.limit,
        spent: l.spent,
        reserved: l.reserved,
        limitUsd: usdOf(l.limit),
        spentUsd: usdOf(l.spent),
        reservedUsd: usdOf(l.reserved),
        resetsAt: l.resetsAt,
      })),
      granted: ctx.granted,
      refused: ctx.refused,
    };
  }
  if ('inFlight' in ctx) {
    return { inFlight: ctx.inFlight, failures: ctx.failures, retryAt: ctx.retryAt, reason: ctx.reason, latencyEwma: ctx.latencyEwma, requests: ctx.requests };
  }
  if ('queueDepth' in ctx) return { queueDepth: ctx.queueDepth, routed: ctx.routed, endpoints: ctx.endpointIds };
  return null;
}

/** What a budget record's context summarises (the budget actor's context; its lines are replaced, never changed, on each decision). */
interface BudgetCounts {
  lines: unknown;
  granted: unknown;
  refused: unknown;
}

/**
 * A budget decision's record. One is kept per reservation, usually read by nobody: its event is
 * sanitised and its context summarised when first read (`event` and `context` are getters, and
 * `toJSON` gives the same object a plain record would). What it reads then is what it held at
 * the decision: the event (never mutated; secrets registered meanwhile are only more to scrub),
 * the lines array of that moment (lines are replaced on a change, never mutated) and the two counts.
 */
class BudgetRecord implements HubRecord {
  readonly kind = 'budget' as const;
  readonly from = null;
  seq = 0;
  at = 0;
  readonly #raw: unknown;
  readonly #counts: BudgetCounts;
  #event: Record<string, unknown> | undefined = undefined;
  #context: Record<string, unknown> | null | undefined = undefined;

  constructor(
    readonly actor: string,
    readonly to: string,
    raw: unknown,
    ctx: Record<string, unknown>,
  ) {
    this.#raw = raw;
    this.#counts = { lines: ctx.lines, granted: ctx.granted, refused: ctx.refused };
  }

  get event(): Record<string, unknown> {
    return (this.#event ??= sanitize(this.#raw) as Record<string, unknown>);
  }

  get context(): Record<string, unknown> | null {
    if (this.#context === undefined) this.#context = summary(this.#counts as unknown as Record<string, unknown>);
    return this.#context;
  }

  toJSON(): HubRecord {
    return { kind: this.kind, actor: this.actor, from: this.from, to: this.to, event: this.event, context: this.context, seq: this.seq, at: this.at };
  }
}

/**
 * Budget grants kept for the history, at most: one is made per request, so under load they would
 * fill a shared ring within a second and push every state change out of it. Kept apart, they also
 * die young: a grant record (with the event and budget lines it holds) kept for `historySize`
 * requests outlived two scavenges and was promoted to the old generation (~430 B a request at
 * 16 connections, bench/gc-probe.ts).
 */
export const GRANT_HISTORY = 64;

export class InspectionHub {
  private readonly ring: HubRecord[] = [];
  /** The latest budget grants (see GRANT_HISTORY); every other record is in `ring`. */
  private readonly grants: HubRecord[] = [];
  private seq = 0;
  /** The highest `seq` no longer kept (pushed out of either ring): a reconnect after an older id missed records. */
  private dropped = 0;
  private readonly last = new Map<string, string>();
  private readonly budgetCounts = new Map<string, { granted: number; refused: number }>();
  private readonly listeners = new Set<Listener>();
  private readonly allListeners = new Set<Listener>();
  /** Whether an actor (its system id) is an endpoint's a reload replaced (set by the sidecar: the runtime knows). */
  replacedActor: ((actorId: string) => boolean) | null = null;

  /** Extra raw observers (the Stately bridge). */
  private readonly raw = new Set<(ev: InspectionEvent) => void>();

  constructor(
    private readonly size: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The `inspect` option of the root actor. Must never throw. */
  readonly observe = (ev: InspectionEvent): void => {
    try {
      for (const r of this.raw) r(ev);
      if (this.allListeners.size > 0) this.forwardAll(ev);
      if (ev.type !== '@xstate.snapshot') return;
      const actor = idOf(ev.actorRef);
      const snap = ev.snapshot as { value?: unknown; context?: Record<string, unknown>; status?: string };
      // A stopped actor (a reload's replaced or removed endpoint, drained) is forgotten: one key per
      // replaced endpoint stayed for good, and an actor later spawned under its key is a new one.
      if (snap.status === 'stopped') {
        this.last.delete(actor);
        this.budgetCounts.delete(actor);
        return;
      }
      if (snap.value === undefined) return;
      const to = valueOf(snap.value);
      const from = this.last.get(actor) ?? null;
      const ctx = snap.context;
      if (ctx && 'granted' in ctx && 'refused' in ctx) this.budgetDecision(actor, ev.event, ctx);
      if (from === to) return;
      this.last.set(actor, to);
      const rec: Omit<HubRecord, 'seq' | 'at'> = {
        kind: 'transition',
        actor: publicId(actor),
        from,
        to,
        event: sanitize(ev.event) as Record<string, unknown>,
        context: summary(ctx),
      };
      if (this.replacedActor?.(actor) === true) rec.replaced = true;
      this.push(rec);
    } catch {
      // Inspection must never break the actor system.
    }
  };

  /**
   * A budget decision made in place, not through the actor (src/runtime/budget.ts): recorded
   * exactly as the actor's snapshot after that event would have been.
   */
  readonly budgetApplied = (actor: string, event: unknown, ctx: object): void => {
    try {
      this.budgetDecision(actor, event, ctx as Record<string, unknown>);
    } catch {
      // Inspection must never break a request.
    }
  };

  private budgetDecision(actor: string, event: unknown, ctx: Record<string, unknown>): void {
    const granted = Number(ctx.granted);
    const refused = Number(ctx.refused);
    const prev = this.budgetCounts.get(actor);
    if (!prev) {
      this.budgetCounts.set(actor, { granted, refused });
      return;
    }
    if (prev.granted === granted && prev.refused === refused) return;
    const to = refused > prev.refused ? 'refused' : 'granted';
    prev.granted = granted;
    prev.refused = refused;
    const rec = new BudgetRecord(actor, to, event, ctx);
    rec.seq = ++this.seq;
    rec.at = this.now();
    if (to === 'refused') this.keep(rec);
    else this.keep(rec, this.grants, Math.min(this.size, GRANT_HISTORY));
  }

  private forwardAll(ev: InspectionEvent): void {
    let context: Record<string, unknown> | null = null;
    let event: Record<string, unknown>;
    if (ev.type === '@xstate.event') event = { inspection: ev.type, event: sanitize(ev.event), source: ev.sourceRef ? publicId(idOf(ev.sourceRef)) : null };
    else if (ev.type === '@xstate.snapshot') {
      const snap = ev.snapshot as { value?: unknown; context?: Record<string, unknown> };
      event = { inspection: ev.type, event: sanitize(ev.event), value: snap.value ?? null };
      // The snapshot's context as a transition record summarises it (an endpoint's counters, a budget's lines, the queue): it was null.
      context = summary(snap.context);
    } else if (ev.type === '@xstate.action') event = { inspection: ev.type, action: ev.action.type };
    else event = { inspection: ev.type };
    const r: HubRecord = { kind: 'inspection', actor: publicId(idOf(ev.actorRef)), from: null, to: null, context, seq: 0, at: this.now(), event };
    for (const l of this.allListeners) l(r);
  }

  private push(r: Omit<HubRecord, 'seq' | 'at'>): void {
    // Stamped in place, not spread.
    this.keep(Object.assign(r, { seq: ++this.seq, at: this.now() }));
  }

  private keep(rec: HubRecord, ring: HubRecord[] = this.ring, cap: number = this.size): void {
    ring.push(rec);
    if (ring.length > cap) {
      const gone = ring.shift()!;
      if (gone.seq > this.dropped) this.dropped = gone.seq;
    }
    for (const l of this.listeners) l(rec);
  }

  /** A record that is not an actor transition (a cascade escalation): kept and pushed like one. */
  note(r: Omit<HubRecord, 'seq' | 'at'>): void {
    this.push(r);
  }

  /**
   * The kept records in the order they happened: the last `size` of them, budget grants only
   * among the last GRANT_HISTORY grants.
   */
  history(): HubRecord[] {
    const out = this.merged();
    return out.length > this.size ? out.slice(out.length - this.size) : out;
  }

  /**
   * What a subscriber that saw every record up to `after` (its `Last-Event-ID`) has not seen: the
   * kept records after it, `missed` when some record after it is no longer kept (the history is
   * `observe.historySize` long), `unknown` when this process never gave that id (it restarted):
   * then `records` is the whole history.
   */
  since(after: number): { records: HubRecord[]; missed: boolean; unknown: boolean } {
    const all = this.merged();
    const from = Math.max(0, all.length - this.size);
    const lostUpTo = Math.max(this.dropped, from > 0 ? all[from - 1]!.seq : 0);
    const kept = from > 0 ? all.slice(from) : all;
    if (after > this.seq) return { records: kept, missed: false, unknown: true };
    return { records: kept.filter((r) => r.seq > after), missed: lostUpTo > after, unknown: false };
  }

  /** Both rings in the order their records happened. */
  private merged(): HubRecord[] {
    if (this.grants.length === 0) return this.ring.slice();
    const out: HubRecord[] = [];
    let i = 0;
    let j = 0;
    while (i < this.ring.length || j < this.grants.length) {
      const a = this.ring[i];
      const b = this.grants[j];
      if (b === undefined || (a !== undefined && a.seq < b.seq)) {
        out.push(a!);
        i++;
      } else {
        out.push(b);
        j++;
      }
    }
    return out;
  }

  /** Subscribe to records; `all` also receives every inspection event. Returns unsubscribe. */
  subscribe(l: Listener, all = false): () => void {
    this.listeners.add(l);
    if (all) this.allListeners.add(l);
    return () => {
      this.listeners.delete(l);
      this.allListeners.delete(l);
    };
  }

  /** Someone takes every inspection event (an `all` subscriber, a raw observer such as the Stately bridge). */
  watched(): boolean {
    return this.allListeners.size > 0 || this.raw.size > 0;
  }

  addRawObserver(fn: (ev: InspectionEvent) => void): void {
    this.raw.add(fn);
  }
}
