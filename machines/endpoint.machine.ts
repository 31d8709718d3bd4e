/**
 * One actor per upstream endpoint (model × provider). States: healthy, throttled,
 * circuit-open, half-open: the contract's names (spec §4), in the machine itself, its inspection events and /switchyard/state.
 *
 * Pure: time comes in on events (`at`) and from the actor's clock through named delays;
 * the runtime classifies raw upstream errors before sending them here.
 */
import { assign, setup, assertEvent } from 'xstate';
import type { EndpointEvent } from './events.js';
import { gcraAdmits, gcraConsume, MINUTE_MS } from './gcra.js';

export interface EndpointSettings {
  rpm: number | null;
  tpm: number | null;
  maxConcurrent: number;
  failureThreshold: number;
  recoveryMs: number;
  halfOpenProbes: number;
  latencyWindow: number;
  /** Prior for latency until something is measured. */
  latencyPriorMs: number;
}

export interface EndpointInput {
  id: string;
  model: string;
  provider: string;
  settings: EndpointSettings;
  now: number;
}

export interface EndpointContext {
  id: string;
  model: string;
  provider: string;
  settings: EndpointSettings;
  /** Last known time: the latest event's `at`, or the moment a delay fired. */
  now: number;
  rpmTat: number;
  tpmTat: number;
  inFlight: number;
  /** Requests dispatched as probes in this half-open round and not yet finished. */
  probesInFlight: number;
  /**
   * Counts the half-open rounds (one per entry into half-open). A request dispatched while
   * half-open is a probe of this round and carries the number back on the event that ends it
   * (`probe`), so only this round's probes free a slot or decide the circuit.
   */
  halfOpenRound: number;
  /**
   * An upstream 429's throttle ended: the endpoint is healthy again, but one request probes first
   * (of the round the 429 began, `halfOpenRound`) and the others wait until that probe's answer
   * begins or it ends. Without it every request that waited for the throttle went at once, and a
   * provider still rate-limiting answered each of them with another 429. The probe may also be
   * sent while still throttled, once `retryAt` has passed (a retry that waited for exactly that
   * moment does not lose to the throttle's timer).
   */
  awaitingProbe: boolean;
  failures: number;
  /** Last `latencyWindow` total latencies (ring, newest last). */
  latencies: number[];
  latencyEwma: number | null;
  /** Peak-sensitive EWMA: jumps to a slower sample at once, decays towards faster ones (used for selection). */
  peakEwma: number | null;
  /** When the latest latency was measured (a success's `at`); null before any. */
  latencyAt: number | null;
  ttftEwma: number | null;
  /** Throttled or circuit-open until this time. */
  retryAt: number | null;
  reason: string | null;
  requests: number;
  successes: number;
  errors: number;
  /** Attempts the upstream answered with a 429 (neither a success nor an error: the endpoint is throttled, not failing). */
  rateLimited: number;
}

/**
 * The longest delay the actor's timers can take: 2^31-1 ms (about 24.8 days). Node fires a
 * longer timer after 1 ms, which ended a throttle at once and moved `now` to a `retryAt` decades
 * ahead; so no `retryAt` is ever set further than this from `now`, and no delay exceeds it.
 */
export const MAX_DELAY_MS = 2_147_483_647;

/** A throttle's end, extended to `retryAt` but never beyond what one timer can wait from `now`. */
const throttleUntil = (ctx: EndpointContext, now: number, retryAt: number): number => Math.min(Math.max(ctx.retryAt ?? 0, retryAt), now + MAX_DELAY_MS);

/** Weight of the newest sample in the EWMAs. */
const EWMA_ALPHA = 0.2;

const ewma = (prev: number | null, sample: number): number => (prev === null ? sample : prev + EWMA_ALPHA * (sample - prev));

/** Peak EWMA (as in Finagle's load balancer): a slow endpoint is penalised at once, forgiven gradually. */
const peakEwma = (prev: number | null, sample: number): number => (prev === null || sample > prev ? sample : prev + EWMA_ALPHA * (sample - prev));

/**
 * A latency measured longer ago than this is history: a latency wish no longer rules the endpoint
 * out by it (runtime/endpoints.ts wishLatencyOf), and the next sample starts the peak EWMA afresh.
 * An endpoint a wish passed over was never asked again, so its figure never changed: a slow spell
 * long over kept it out of every request with the wish, which then failed while it was idle.
 */
export const LATENCY_STALE_MS = 30_000;

/**
 * The peak EWMA is forgiven by time too: halved every this many ms without a sample. An endpoint
 * the pick passed over for one slow answer was never asked again, so its figure never came down
 * (a black-box round: 40 s after a single 672 ms answer, 0 of 40 requests went back to the 72 ms
 * endpoint). Under traffic, samples come far more often than this and it changes nothing.
 */
export const LATENCY_HALF_LIFE_MS = 10_000;

/** The peak EWMA `peak` measured at `latencyAt`, as time has forgiven it by `now`. */
export function peakAt(peak: number, latencyAt: number | null, now: number): number {
  return latencyAt === null || now <= latencyAt ? peak : peak * 2 ** (-(now - latencyAt) / LATENCY_HALF_LIFE_MS);
}

/** RPM full: not even one more request fits. TPM full: the window holds its whole limit. */
export function windowFull(ctx: Pick<EndpointContext, 'settings' | 'rpmTat' | 'tpmTat'>, now: number): boolean {
  const s = ctx.settings;
  if (s.rpm !== null && !gcraAdmits(ctx.rpmTat, now, 1, s.rpm)) return true;
  if (s.tpm !== null && ctx.tpmTat - now >= MINUTE_MS) return true;
  return false;
}

/** When the full window admits again (RPM one request, TPM the 1/100 of its limit). */
export function windowFreeAt(ctx: EndpointContext, now: number): number {
  const s = ctx.settings;
  let at = now;
  if (s.rpm !== null) at = Math.max(at, ctx.rpmTat + MINUTE_MS / s.rpm - MINUTE_MS);
  if (s.tpm !== null) at = Math.max(at, ctx.tpmTat - MINUTE_MS + MINUTE_MS / 100);
  return Math.ceil(at);
}

/** Finished attempts: in-flight down, TPM corrected from the estimate to the real count. */
function finish(ctx: EndpointContext, ev: { at: number; estTokens: number; tokens?: number }): Partial<EndpointContext> {
  const s = ctx.settings;
  const delta = (ev.tokens ?? 0) - ev.estTokens;
  return {
    now: Math.max(ctx.now, ev.at),
    inFlight: Math.max(0, ctx.inFlight - 1),
    tpmTat: s.tpm !== null && delta !== 0 ? gcraConsume(ctx.tpmTat, ev.at, delta, s.tpm) : ctx.tpmTat,
  };
}

/** A request was sent: RPM, TPM (estimated) and in-flight count it. */
function dispatched(ctx: EndpointContext, ev: { at: number; estTokens: number }): Partial<EndpointContext> {
  const s = ctx.settings;
  return {
    now: Math.max(ctx.now, ev.at),
    inFlight: ctx.inFlight + 1,
    requests: ctx.requests + 1,
    rpmTat: s.rpm !== null ? gcraConsume(ctx.rpmTat, ev.at, 1, s.rpm) : ctx.rpmTat,
    tpmTat: s.tpm !== null ? gcraConsume(ctx.tpmTat, ev.at, ev.estTokens, s.tpm) : ctx.tpmTat,
  };
}

/**
 * A complete answer: finished, failures forgotten, latency measured. `reuse`: the latency ring
 * is updated in its own array (for an update applied in place, where no earlier snapshot keeps
 * it); otherwise copied, as a machine action must.
 */
/** `healthy`: a success there also clears the last failure's reason (it stayed on a recovered endpoint's state); throttled, the reason is the throttle's. */
function succeeded(ctx: EndpointContext, ev: Extract<EndpointEvent, { type: 'upstream.succeeded' }>, reuse = false, healthy = false): Partial<EndpointContext> {
  const full = ctx.latencies.length >= ctx.settings.latencyWindow;
  const latencies = reuse ? ctx.latencies : full ? ctx.latencies.slice(1) : ctx.latencies.slice();
  if (reuse && full) latencies.splice(0, latencies.length - ctx.settings.latencyWindow + 1);
  latencies.push(ev.latencyMs);
  // Object.assign, not a spread followed by properties (slow on Node 20, see request.machine.ts).
  const u: Partial<EndpointContext> = Object.assign(finish(ctx, ev), {
    failures: 0,
    successes: ctx.successes + 1,
    latencies,
    latencyEwma: ewma(ctx.latencyEwma, ev.latencyMs),
    peakEwma:
      ctx.latencyAt === null || ev.at - ctx.latencyAt > LATENCY_STALE_MS
        ? ev.latencyMs
        : peakEwma(ctx.peakEwma === null ? null : peakAt(ctx.peakEwma, ctx.latencyAt, ev.at), ev.latencyMs),
    latencyAt: ev.at,
    ttftEwma: ev.ttftMs === null ? ctx.ttftEwma : ewma(ctx.ttftEwma, ev.ttftMs),
  });
  if (healthy && ctx.reason !== null) u.reason = null;
  return u;
}

/** Whether `ev` ends a probe of the current half-open round. */
const isProbeOf = (ctx: EndpointContext, ev: EndpointEvent): boolean => 'probe' in ev && ev.probe === ctx.halfOpenRound;

/** Whether `ev` ends (or begins the answer of) the probe that a healthy endpoint waits for after an upstream 429's throttle. */
const isThrottleProbeOf = (ctx: EndpointContext, ev: EndpointEvent): boolean => ctx.awaitingProbe && isProbeOf(ctx, ev);

/** The reason a throttle by an upstream's 429 has (a probe follows its end). */
export const UPSTREAM_429 = 'upstream 429';
/** The reason of a throttle learned from the shared store: another replica's 429 (a probe follows its end too). */
export const SHARED_COOLDOWN = 'shared cooldown';
/**
 * The reason of a throttle an upstream asked for with a failure: a 503 or 529 overload that carried
 * `retry-after` (OpenAI's "slow down", Anthropic's `overloaded_error`). Held back as after a 429,
 * and its end is probed by a single request too.
 */
export const UPSTREAM_OVERLOADED = 'upstream overloaded';
/** A throttle an upstream's 429 (or overload with retry-after) caused, here or on another replica: its end is probed by a single request. */
export const after429 = (reason: string | null): boolean => reason === UPSTREAM_429 || reason === SHARED_COOLDOWN || reason === UPSTREAM_OVERLOADED;

/** Throttled by its own rpm/tpm window (not by an upstream 429, its rate headers or a shared store). */
export const ownWindowThrottle = (reason: string | null): boolean => reason === 'rpm window full' || reason === 'tpm window full';

/**
 * Per-request bookkeeping that crosses no state edge (issue 14: state edges are actor events,
 * bookkeeping need not be). For an event the machine would take as a targetless transition
 * in `state` — a dispatch, a success or a release outside half-open — that leaves a healthy
 * endpoint's own windows open (its `always` would not fire), this returns exactly the context
 * update the machine's action makes; the runtime applies it to the live context in place
 * instead of sending the event. `null`: the event may cross an edge, send it. `reuse`: the
 * update may reuse the context's latency array (only for an update applied in place).
 * (test/machines/endpoint.bookkeeping.test.ts checks that both ways end in equal snapshots.)
 */
export function bookkeeping(state: EndpointStateValue, ctx: EndpointContext, ev: EndpointEvent, reuse = false): Partial<EndpointContext> | null {
  // Probes count through the machine: half-open, and around an upstream 429's throttle.
  if (state === 'half-open' || ctx.awaitingProbe || after429(ctx.reason)) return null;
  // What the windows see: the dispatch, or the finish (a success's latency does not touch them).
  let u: Partial<EndpointContext>;
  if (ev.type === 'request.dispatched') u = dispatched(ctx, ev);
  else if (ev.type === 'upstream.succeeded' || ev.type === 'upstream.released') u = finish(ctx, ev);
  else return null;
  if (state === 'healthy' && windowFull({ settings: ctx.settings, rpmTat: u.rpmTat ?? ctx.rpmTat, tpmTat: u.tpmTat ?? ctx.tpmTat }, u.now ?? ctx.now))
    return null;
  // Decided: only now may the latency ring be updated in its own array.
  return ev.type === 'upstream.succeeded' ? succeeded(ctx, ev, reuse, state === 'healthy') : u;
}

export const endpointMachine = setup({
  types: {
    context: {} as EndpointContext,
    events: {} as EndpointEvent,
    input: {} as EndpointInput,
  },
  guards: {
    isWindowFull: ({ context }) => windowFull(context, context.now),
    /** Checked when the throttle delay fires: at that moment time is `retryAt`, not the last event's time. */
    isWindowFullAtRetry: ({ context }) => windowFull(context, Math.max(context.now, context.retryAt ?? context.now)),
    reachesFailureThreshold: ({ context, event }) =>
      event.type === 'upstream.failed' && event.countsAsFailure && context.failures + 1 >= context.settings.failureThreshold,
    /** The attempt that ended was a probe of this half-open round (not a request sent before, nor an earlier round's probe). */
    isProbe: ({ context, event }) => isProbeOf(context, event),
    isFailedProbe: ({ context, event }) => event.type === 'upstream.failed' && event.countsAsFailure && isProbeOf(context, event),
    /** The upstream's failure asked for a pause (`retry-after` on a 503/529): the endpoint is held back until then. */
    asksToWait: ({ event }) => event.type === 'upstream.failed' && event.retryAt !== undefined,
    /** While the circuit is open, a late failure asked for a pause beyond its recovery: it stays open until then. */
    asksLonger: ({ context, event }) => event.type === 'upstream.failed' && event.retryAt !== undefined && event.retryAt > (context.retryAt ?? context.now),
    /** Healthy after an upstream 429's throttle, or throttled by one (sent once its `retryAt` passed), and no probe is out yet: this dispatch is the probe. */
    probeAwaited: ({ context }) => (context.awaitingProbe || after429(context.reason)) && context.probesInFlight === 0,
    /** The event is about the probe a healthy endpoint waits for after an upstream 429's throttle. */
    isThrottleProbe: ({ context, event }) => isThrottleProbeOf(context, event),
    /** The throttle that ends was an upstream's 429 (not a window, a rate header or a shared store): a probe goes first. */
    throttledByUpstream: ({ context }) => after429(context.reason),
    /** The shared store admitted a request after another replica's 429: that request is this replica's probe. */
    admittedAfterCooldown: ({ context }) => context.reason === SHARED_COOLDOWN,
    /**
     * `window.admitted`: a shared store admitted a request again (throttled because it said so), or a
     * finished request's real token count freed this endpoint's own full window before the `retryAt`
     * its estimate gave.
     */
    windowAdmitsAgain: ({ context, event }) =>
      context.reason?.startsWith('shared ') === true ||
      (ownWindowThrottle(context.reason) && !windowFull(context, Math.max(context.now, event.type === 'window.admitted' ? event.at : context.now))),
  },
  delays: {
    /** Until the throttle ends (`retryAt`), measured from the last known time. */
    windowFreed: ({ context }) => Math.min(MAX_DELAY_MS, Math.max(0, (context.retryAt ?? context.now) - context.now)),
    /** `recoveryMs`, or longer when the upstream's failure asked for a longer pause (`openCircuit` set `retryAt` so). */
    recovery: ({ context }) => Math.min(MAX_DELAY_MS, Math.max(context.settings.recoveryMs, (context.retryAt ?? context.now) - context.now)),
  },
  actions: {
    dispatch: assign(({ context, event }) => {
      assertEvent(event, 'request.dispatched');
      return dispatched(context, event);
    }),
    dispatchProbe: assign(({ context }) => ({ probesInFlight: context.probesInFlight + 1 })),
    succeed: assign(({ context, event }) => {
      assertEvent(event, 'upstream.succeeded');
      return succeeded(context, event);
    }),
    succeedHealthy: assign(({ context, event }) => {
      assertEvent(event, 'upstream.succeeded');
      return succeeded(context, event, false, true);
    }),
    fail: assign(({ context, event }) => {
      assertEvent(event, 'upstream.failed');
      const ev = event;
      return {
        ...finish(context, ev),
        failures: ev.countsAsFailure ? context.failures + 1 : context.failures,
        errors: context.errors + 1,
        reason: ev.fault,
      };
    }),
    release: assign(({ context, event }) => {
      // Also a 429 while the circuit is open: the attempt ends without changing the circuit.
      assertEvent(event, ['upstream.released', 'upstream.rateLimited']);
      const done = finish(context, event);
      return event.type === 'upstream.rateLimited' ? Object.assign(done, { rateLimited: context.rateLimited + 1 }) : done;
    }),
    rateLimited: assign(({ context, event }) => {
      assertEvent(event, 'upstream.rateLimited');
      const ev = event;
      const done = finish(context, ev);
      // A new probe round: the single probe that ends this throttle is of it (requests sent before carry an older one).
      return {
        ...done,
        retryAt: throttleUntil(context, done.now ?? context.now, ev.retryAt),
        reason: UPSTREAM_429,
        halfOpenRound: context.halfOpenRound + 1,
        rateLimited: context.rateLimited + 1,
      };
    }),
    /** The upstream's failure asked for a pause: throttled until its `retryAt`; a new probe round, as for a 429. */
    overloaded: assign(({ context, event }) => {
      assertEvent(event, 'upstream.failed');
      return {
        retryAt: throttleUntil(context, context.now, event.retryAt ?? context.now),
        reason: UPSTREAM_OVERLOADED,
        halfOpenRound: context.halfOpenRound + 1,
      };
    }),
    exhausted: assign(({ context, event }) => {
      assertEvent(event, 'window.exhausted');
      const ev = event;
      const now = Math.max(context.now, ev.at);
      // Another replica's 429 (a shared cooldown) begins a probe round, as a 429 here does.
      const round = after429(ev.reason) ? { halfOpenRound: context.halfOpenRound + 1 } : {};
      return { now, retryAt: throttleUntil(context, now, ev.retryAt), reason: ev.reason, ...round };
    }),
    throttleOwnWindow: assign(({ context }) => ({
      retryAt: Math.max(context.retryAt ?? 0, windowFreeAt(context, context.now)),
      reason: context.settings.rpm !== null && !gcraAdmits(context.rpmTat, context.now, 1, context.settings.rpm) ? 'rpm window full' : 'tpm window full',
    })),
    /** The throttle delay fired: time is now exactly `retryAt`. */
    advanceToRetryAt: assign(({ context }) => ({ now: Math.max(context.now, context.retryAt ?? context.now) })),
    clearThrottle: assign({ retryAt: null, reason: null }),
    /** An upstream 429's throttle ended: one request probes (unless it is out already, sent once `retryAt` passed), the others wait for it. */
    awaitProbe: assign({ awaitingProbe: true }),
    /** The probe after a 429's throttle was answered (or failed otherwise than by a 429): every request may go. */
    probeAnswered: assign(({ context, event }) => ({ now: Math.max(context.now, event.at), awaitingProbe: false, probesInFlight: 0 })),
    /** Entering throttled (or circuit-open): no probe is awaited any more; the throttle's end decides anew. */
    forgetProbe: assign({ awaitingProbe: false, probesInFlight: 0 }),
    observeTime: assign(({ context, event }) => ({ now: Math.max(context.now, event.at) })),
    /** Open until `recoveryMs` from now, or until the failure's own `retryAt` when the upstream asked for longer (bounded as a throttle is). */
    openCircuit: assign(({ context, event }) => {
      const asked = event.type === 'upstream.failed' && event.retryAt !== undefined ? Math.min(event.retryAt, context.now + MAX_DELAY_MS) : 0;
      return { retryAt: Math.max(context.now + context.settings.recoveryMs, asked), probesInFlight: 0, awaitingProbe: false };
    }),
    enterHalfOpen: assign(({ context }) => ({
      now: Math.max(context.now, context.retryAt ?? context.now),
      retryAt: null,
      probesInFlight: 0,
      halfOpenRound: context.halfOpenRound + 1,
    })),
    closeCircuit: assign({ failures: 0, probesInFlight: 0 }),
    probeEnded: assign(({ context }) => ({ probesInFlight: Math.max(0, context.probesInFlight - 1) })),
    reset: assign(({ context, event }) => ({
      now: Math.max(context.now, event.at),
      failures: 0,
      retryAt: null,
      reason: null,
      probesInFlight: 0,
      awaitingProbe: false,
    })),
  },
}).createMachine({
  id: 'endpoint',
  context: ({ input }) => ({
    id: input.id,
    model: input.model,
    provider: input.provider,
    settings: input.settings,
    now: input.now,
    rpmTat: input.now,
    tpmTat: input.now,
    inFlight: 0,
    probesInFlight: 0,
    halfOpenRound: 0,
    awaitingProbe: false,
    failures: 0,
    latencies: [],
    latencyEwma: null,
    peakEwma: null,
    latencyAt: null,
    ttftEwma: null,
    retryAt: null,
    reason: null,
    requests: 0,
    successes: 0,
    errors: 0,
    rateLimited: 0,
  }),
  initial: 'healthy',
  on: {
    'endpoint.reset': { target: '.healthy', actions: 'reset' },
  },
  states: {
    healthy: {
      always: { guard: 'isWindowFull', target: 'throttled', actions: 'throttleOwnWindow' },
      on: {
        'request.dispatched': [{ guard: 'probeAwaited', actions: ['dispatch', 'dispatchProbe'] }, { actions: 'dispatch' }],
        'upstream.succeeded': [{ guard: 'isThrottleProbe', actions: ['succeedHealthy', 'probeAnswered'] }, { actions: 'succeedHealthy' }],
        'upstream.answering': { guard: 'isThrottleProbe', actions: 'probeAnswered' },
        // A probe that failed otherwise than by a 429 says the upstream no longer rate-limits: the others go (and count their own failures).
        'upstream.failed': [
          { guard: 'reachesFailureThreshold', target: 'circuit-open', actions: ['fail', 'openCircuit'] },
          // An overload that asked for a pause (503/529 with retry-after): held back until then, as a 429 does.
          { guard: 'asksToWait', target: 'throttled', actions: ['fail', 'overloaded'] },
          { guard: 'isThrottleProbe', actions: ['fail', 'probeAnswered'] },
          { actions: 'fail' },
        ],
        // A probe whose client left told nothing: the next request probes.
        'upstream.released': [{ guard: 'isThrottleProbe', actions: ['release', 'probeEnded'] }, { actions: 'release' }],
        'upstream.rateLimited': { target: 'throttled', actions: 'rateLimited' },
        'window.exhausted': { target: 'throttled', actions: 'exhausted' },
      },
    },
    throttled: {
      entry: 'forgetProbe',
      after: {
        windowFreed: [
          { guard: 'isWindowFullAtRetry', target: 'throttled', reenter: true, actions: ['advanceToRetryAt', 'throttleOwnWindow'] },
          { guard: 'throttledByUpstream', target: 'healthy', actions: ['advanceToRetryAt', 'clearThrottle', 'awaitProbe'] },
          { target: 'healthy', actions: ['advanceToRetryAt', 'clearThrottle'] },
        ],
      },
      on: {
        'request.dispatched': [{ guard: 'probeAwaited', actions: ['dispatch', 'dispatchProbe'] }, { actions: 'dispatch' }],
        // The probe sent once `retryAt` passed ended before the throttle's timer fired: its slot is free (the next request probes).
        'upstream.succeeded': [{ guard: 'isProbe', actions: ['succeed', 'probeEnded'] }, { actions: 'succeed' }],
        'upstream.failed': [
          { guard: 'reachesFailureThreshold', target: 'circuit-open', actions: ['fail', 'openCircuit'] },
          { guard: 'asksToWait', target: 'throttled', reenter: true, actions: ['fail', 'overloaded'] },
          { guard: 'isProbe', actions: ['fail', 'probeEnded'] },
          { actions: 'fail' },
        ],
        'upstream.released': [{ guard: 'isProbe', actions: ['release', 'probeEnded'] }, { actions: 'release' }],
        'upstream.rateLimited': { target: 'throttled', reenter: true, actions: 'rateLimited' },
        'window.exhausted': { target: 'throttled', reenter: true, actions: 'exhausted' },
        // Healthy again at once; its `always` re-checks this replica's own windows.
        'window.admitted': [
          { guard: 'admittedAfterCooldown', target: 'healthy', actions: ['observeTime', 'clearThrottle', 'awaitProbe'] },
          { guard: 'windowAdmitsAgain', target: 'healthy', actions: ['observeTime', 'clearThrottle'] },
        ],
      },
    },
    'circuit-open': {
      after: { recovery: { target: 'half-open', actions: 'enterHalfOpen' } },
      on: {
        // Late answers of requests sent before the circuit opened: bookkeeping only.
        'request.dispatched': { actions: 'dispatch' },
        'upstream.succeeded': { actions: 'succeed' },
        // A late failure asking for a longer pause than the recovery left: open until then (the recovery restarts from its retryAt).
        'upstream.failed': [{ guard: 'asksLonger', target: 'circuit-open', reenter: true, actions: ['fail', 'openCircuit'] }, { actions: 'fail' }],
        'upstream.released': { actions: 'release' },
        'upstream.rateLimited': { actions: 'release' },
        // The circuit is open anyway; the half-open probe will learn the window's state again.
        'window.exhausted': { actions: 'observeTime' },
      },
    },
    'half-open': {
      // Only this round's probes decide; a request sent before the circuit opened that ends now is bookkeeping, as while circuit-open.
      on: {
        'request.dispatched': { actions: ['dispatch', 'dispatchProbe'] },
        'upstream.succeeded': [{ guard: 'isProbe', target: 'healthy', actions: ['succeed', 'closeCircuit', 'clearThrottle'] }, { actions: 'succeed' }],
        // A probe's stream began its answer: the upstream serves again, the circuit closes now (not at the
        // stream's end, which could hold every other request for minutes). Its end is then an ordinary
        // request's: a failure after this counts toward the threshold like any other.
        'upstream.answering': { guard: 'isProbe', target: 'healthy', actions: ['observeTime', 'closeCircuit', 'clearThrottle'] },
        'upstream.failed': [
          { guard: 'isFailedProbe', target: 'circuit-open', actions: ['fail', 'openCircuit'] },
          { guard: 'isProbe', actions: ['fail', 'probeEnded'] },
          { actions: 'fail' },
        ],
        'upstream.released': [{ guard: 'isProbe', actions: ['release', 'probeEnded'] }, { actions: 'release' }],
        'upstream.rateLimited': [{ guard: 'isProbe', target: 'throttled', actions: ['rateLimited', 'closeCircuit'] }, { actions: 'release' }],
        'window.exhausted': { target: 'throttled', actions: ['exhausted', 'closeCircuit'] },
      },
    },
  },
});

export type EndpointStateValue = 'healthy' | 'throttled' | 'circuit-open' | 'half-open';

/** The contract's names for the states (spec §4). */
export const PUBLIC_STATE: Record<EndpointStateValue, string> = {
  healthy: 'healthy',
  throttled: 'throttled',
  'circuit-open': 'circuit-open',
  'half-open': 'half-open',
};
