import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock, type SnapshotFrom } from 'xstate';
import { endpointMachine, LATENCY_HALF_LIFE_MS, MAX_DELAY_MS, peakAt, type EndpointInput, type EndpointSettings } from '../../machines/endpoint.machine.js';
import type { EndpointEvent } from '../../machines/events.js';
import { gcraAdmits, gcraFreeAt, gcraUsed, MINUTE_MS } from '../../machines/gcra.js';
import { reportCoverage } from './coverage.js';
import { isAfter, runShortestPaths, type ModelEvent, type ModelSpec } from './model-harness.js';

type Snap = SnapshotFrom<typeof endpointMachine>;
const T0 = Date.UTC(2025, 2, 10, 12, 0, 0);
/**
 * Small settings on one time lattice: a request costs 20 s of the RPM window (3/min), 429
 * waits and the recovery are 10 s, so the times relative to `now` in the abstraction take
 * few values. The 10 s wait is shorter than a request's 20 s: a window can still be full when
 * a 429's wait ends (the `windowFreed` "still full" branch). TPM (1000/min; 100 tokens
 * estimated, 150 real) is consumed and corrected on every path, but three requests a minute
 * can never fill it, so it cannot change a guard and stays out of the key.
 */
const SETTINGS: EndpointSettings = {
  rpm: 3,
  tpm: 1000,
  maxConcurrent: 8,
  failureThreshold: 2,
  recoveryMs: 10_000,
  halfOpenProbes: 1,
  latencyWindow: 4,
  latencyPriorMs: 800,
};
const EST = 100;
const RETRY_MS = 10_000;
/** The model only answers requests it dispatched, at most this many at once. */
const MAX_IN_FLIGHT = 2;
const input = (settings: Partial<EndpointSettings> = {}): EndpointInput => ({
  id: 'ep',
  model: 'm',
  provider: 'p',
  now: T0,
  settings: { ...SETTINGS, ...settings },
});

/** The runtime dispatches only into a window that admits; this also bounds `rpmTat - now`. */
const admits = (s: Snap): boolean => {
  const c = s.context;
  const rpm = c.settings.rpm === null || gcraAdmits(c.rpmTat, c.now, 1, c.settings.rpm);
  const tpm = c.settings.tpm === null || gcraAdmits(c.tpmTat, c.now, EST, c.settings.tpm);
  return c.inFlight < MAX_IN_FLIGHT && rpm && tpm;
};

/**
 * Which requests in flight may end: while half-open, or healthy after a 429's throttle with its
 * probe out, this round's probes (`probe`: the round) and requests sent otherwise (no `probe`),
 * each only if one is in flight; elsewhere any request, whose `probe` the machine does not read.
 */
function enders(s: Snap): Array<{ probe?: number }> {
  const c = s.context;
  if (s.value !== 'half-open' && c.probesInFlight === 0) return c.inFlight > 0 ? [{}] : [];
  return [...(c.probesInFlight > 0 ? [{ probe: c.halfOpenRound }] : []), ...(c.inFlight > c.probesInFlight ? [{}] : [])];
}

function events(s: Snap, own: readonly string[]): Array<ModelEvent<typeof endpointMachine>> {
  const at = s.context.now;
  const ending = enders(s);
  return own.flatMap((type): Array<ModelEvent<typeof endpointMachine>> => {
    switch (type) {
      case 'request.dispatched':
        return admits(s) ? [{ type, at, estTokens: EST }] : [];
      case 'upstream.answering':
        return ending.filter((p) => p.probe !== undefined).map((p) => ({ type, at, ...p }));
      case 'upstream.succeeded':
        return ending.map((p) => ({ type, at, latencyMs: 900, ttftMs: 200, tokens: EST + 50, estTokens: EST, ...p }));
      case 'upstream.failed':
        return ending.flatMap((p): Array<ModelEvent<typeof endpointMachine>> => [
          { type, at, fault: 'server_error', countsAsFailure: true, estTokens: EST, tokens: 0, ...p },
          { type, at, fault: 'other', countsAsFailure: false, estTokens: EST, tokens: 0, ...p },
          // A 503/529 overload with retry-after: throttled (as for a 429); while circuit-open, a longer ask than its recovery.
          {
            type,
            at,
            fault: 'overloaded',
            countsAsFailure: true,
            estTokens: EST,
            tokens: 0,
            retryAt: at + (s.value === 'circuit-open' ? 2 : 1) * RETRY_MS,
            ...p,
          },
        ]);
      case 'upstream.released':
        return ending.map((p) => ({ type, at, estTokens: EST, tokens: 0, ...p }));
      case 'upstream.rateLimited':
        return ending.map((p) => ({ type, at, retryAt: at + RETRY_MS, estTokens: EST, ...p }));
      case 'window.exhausted':
        return [
          { type, at, retryAt: at + RETRY_MS, reason: 'x-ratelimit-remaining-requests: 0' },
          { type, at, retryAt: at + RETRY_MS, reason: 'shared rpm' },
          { type, at, retryAt: at + RETRY_MS, reason: 'shared cooldown' },
        ];
      case 'window.admitted':
        return [{ type, at }];
      case 'endpoint.reset':
        return [{ type, at }];
      default:
        return isAfter({ type }) ? [{ type: type as `xstate.after.${string}` }] : [];
    }
  });
}

const abstract = (s: Snap) => {
  const c = s.context;
  return {
    state: s.value,
    failures: Math.min(c.failures, c.settings.failureThreshold),
    probes: c.probesInFlight,
    awaitingProbe: c.awaitingProbe,
    inFlight: c.inFlight,
    rpm: Math.max(0, c.rpmTat - c.now),
    retryIn: c.retryAt === null ? null : c.retryAt - c.now,
    shared: c.reason?.startsWith('shared ') === true,
    // A 429's throttle ends in a probe, a window's or a header's does not.
    by429: c.reason === 'upstream 429' || c.reason === 'shared cooldown' || c.reason === 'upstream overloaded',
    cooldown: c.reason === 'shared cooldown',
  };
};

function materialize(e: EndpointEvent, live: Snap): EndpointEvent {
  const shift = live.context.now - e.at;
  // A probe of the path's round is a probe of the live actor's round (the key leaves the count out).
  const probe = 'probe' in e && e.probe !== undefined ? { probe: live.context.halfOpenRound } : {};
  return 'retryAt' in e && e.retryAt !== undefined ? { ...e, at: e.at + shift, retryAt: e.retryAt + shift, ...probe } : { ...e, at: e.at + shift, ...probe };
}

const spec: ModelSpec<typeof endpointMachine> = {
  machine: endpointMachine,
  input: input(),
  abstract,
  events,
  materialize,
  expectedDelay: (before, after) =>
    after.type.includes('.recovery.')
      ? Math.max(before.context.settings.recoveryMs, (before.context.retryAt ?? before.context.now) - before.context.now)
      : (before.context.retryAt ?? before.context.now) - before.context.now,
  // Why TPM may stay out of the key: it never holds its whole limit on these paths.
  attach:
    () =>
    ({ after }) => {
      if (after.context.tpmTat - after.context.now >= MINUTE_MS) expect.fail('the TPM window filled up: it must be part of the key');
    },
};

describe('endpoint machine: model-based paths', () => {
  it('replays every edge-aware shortest path on a simulated clock with 100% state and transition coverage', () => {
    const run = runShortestPaths(spec);
    expect(run.paths).toBeGreaterThan(100);
    const report = reportCoverage('endpoint', endpointMachine, run.recorder.edges.values(), run.recorder.states);
    expect(report.states.missing).toEqual([]);
    expect(report.transitions.missing).toEqual([]);
  });
});

/** A real actor on a simulated clock; `at()` is the model time matching the clock. */
function start(settings: Partial<EndpointSettings> = {}) {
  const clock = new SimulatedClock();
  const actor = createActor(endpointMachine, { input: input(settings), clock }).start();
  const at = (): number => T0 + clock.now();
  const snap = (): Snap => actor.getSnapshot();
  const send = (e: EndpointEvent): void => actor.send(e);
  const dispatch = (estTokens = 10): void => send({ type: 'request.dispatched', at: at(), estTokens });
  /** `probe`: the half-open round the ending request was a probe of (as the runtime tells it back). */
  const fail = (countsAsFailure: boolean, probe?: number): void =>
    send({ type: 'upstream.failed', at: at(), fault: countsAsFailure ? 'server_error' : 'other', countsAsFailure, estTokens: 10, tokens: 0, probe });
  const succeed = (tokens = 10, estTokens = 10, probe?: number): void =>
    send({ type: 'upstream.succeeded', at: at(), latencyMs: 700, ttftMs: 90, tokens, estTokens, probe });
  /** This half-open round, as a probe dispatched now carries it. */
  const round = (): number => actor.getSnapshot().context.halfOpenRound;
  return { clock, actor, at, snap, send, dispatch, fail, succeed, round };
}

const noTpm = { tpm: null };

describe('endpoint machine: examples', () => {
  it('429 with retryAt: throttled until exactly retryAt', () => {
    const ep = start(noTpm);
    ep.dispatch();
    const retryAt = ep.at() + 7_345;
    ep.send({ type: 'upstream.rateLimited', at: ep.at(), retryAt, estTokens: 10 });
    expect(ep.snap().value).toBe('throttled');
    expect(ep.snap().context.retryAt).toBe(retryAt);
    ep.clock.increment(7_344);
    expect(ep.snap().value).toBe('throttled');
    ep.clock.increment(1);
    expect(ep.snap().value).toBe('healthy');
    expect(ep.snap().context.now).toBe(retryAt);
  });

  it('a 503/529 overload with retryAt: throttled until exactly retryAt (the failure still counts), then a single probe', () => {
    const ep = start({ rpm: null, tpm: null, failureThreshold: 3 });
    ep.dispatch();
    ep.dispatch();
    const retryAt = ep.at() + 4_000;
    ep.send({ type: 'upstream.failed', at: ep.at(), fault: 'overloaded', countsAsFailure: true, estTokens: 10, tokens: 0, retryAt });
    expect(ep.snap().value).toBe('throttled');
    expect(ep.snap().context).toMatchObject({ retryAt, reason: 'upstream overloaded', failures: 1, errors: 1 });
    // Another overload asking for longer extends it.
    ep.send({ type: 'upstream.failed', at: ep.at(), fault: 'overloaded', countsAsFailure: true, estTokens: 10, tokens: 0, retryAt: retryAt + 1_000 });
    expect(ep.snap().context).toMatchObject({ retryAt: retryAt + 1_000, failures: 2 });
    ep.clock.increment(4_999);
    expect(ep.snap().value).toBe('throttled');
    ep.clock.increment(1);
    expect(ep.snap().value).toBe('healthy');
    expect(ep.snap().context).toMatchObject({ awaitingProbe: true, reason: null, failures: 2 });
    // A 503 without retry-after stays the plain failure it was.
    ep.dispatch();
    ep.fail(true, ep.round());
    expect(ep.snap().value).toBe('circuit-open');
  });

  it('an overload whose retryAt is past recoveryMs keeps the circuit open until then (retryAt says so), then half-open', () => {
    const ep = start({ rpm: null, tpm: null, failureThreshold: 1, recoveryMs: 10_000 });
    ep.dispatch();
    const retryAt = ep.at() + 30_000;
    ep.send({ type: 'upstream.failed', at: ep.at(), fault: 'overloaded', countsAsFailure: true, estTokens: 10, tokens: 0, retryAt });
    expect(ep.snap().value).toBe('circuit-open');
    expect(ep.snap().context.retryAt).toBe(retryAt);
    ep.clock.increment(29_999);
    expect(ep.snap().value).toBe('circuit-open');
    ep.clock.increment(1);
    expect(ep.snap().value).toBe('half-open');
  });

  it("an upstream 429's throttle ends in a single probe: the next dispatch is the probe, the others wait until its answer begins", () => {
    const ep = start({ rpm: null, tpm: null });
    ep.dispatch();
    ep.send({ type: 'upstream.rateLimited', at: ep.at(), retryAt: ep.at() + 5000, estTokens: 10 });
    ep.clock.increment(5000);
    expect(ep.snap().value).toBe('healthy');
    expect(ep.snap().context).toMatchObject({ awaitingProbe: true, probesInFlight: 0 });
    const probe = ep.round();
    ep.dispatch();
    expect(ep.snap().context).toMatchObject({ awaitingProbe: true, probesInFlight: 1 });
    // Another request's end (sent before the 429) is not the probe's: still waiting.
    ep.dispatch();
    ep.succeed();
    expect(ep.snap().context).toMatchObject({ awaitingProbe: true, probesInFlight: 1 });
    ep.send({ type: 'upstream.answering', at: ep.at(), probe });
    expect(ep.snap().value).toBe('healthy');
    expect(ep.snap().context).toMatchObject({ awaitingProbe: false, probesInFlight: 0 });
    // Its end later is bookkeeping.
    ep.succeed(10, 10, probe);
    expect(ep.snap().context).toMatchObject({ awaitingProbe: false, probesInFlight: 0, inFlight: 0 });
  });

  it("the probe after a 429's throttle: a 429 throttles again, a client that left lets the next request probe, a 5xx lets all go", () => {
    const ep = start({ rpm: null, tpm: null, failureThreshold: 3 });
    const throttle = () => ep.send({ type: 'upstream.rateLimited', at: ep.at(), retryAt: ep.at() + 5000, estTokens: 10, probe: ep.round() });
    ep.dispatch();
    throttle();
    ep.clock.increment(5000);
    ep.dispatch();
    throttle();
    expect(ep.snap().value).toBe('throttled');
    expect(ep.snap().context).toMatchObject({ awaitingProbe: false, probesInFlight: 0 });
    ep.clock.increment(5000);
    expect(ep.snap().context).toMatchObject({ awaitingProbe: true, probesInFlight: 0 });
    ep.dispatch();
    ep.send({ type: 'upstream.released', at: ep.at(), estTokens: 10, tokens: 0, probe: ep.round() });
    expect(ep.snap().context).toMatchObject({ awaitingProbe: true, probesInFlight: 0 });
    ep.dispatch();
    ep.fail(true, ep.round());
    expect(ep.snap().value).toBe('healthy');
    expect(ep.snap().context).toMatchObject({ awaitingProbe: false, probesInFlight: 0, failures: 1 });
    // A header's or a window's throttle ends without a probe.
    ep.send({ type: 'window.exhausted', at: ep.at(), retryAt: ep.at() + 5000, reason: 'x-ratelimit-remaining-requests: 0' });
    ep.clock.increment(5000);
    expect(ep.snap().value).toBe('healthy');
    expect(ep.snap().context.awaitingProbe).toBe(false);
  });

  it('a retryAt further than a timer can wait is held at now + 2^31-1 ms: the throttle neither ends at once nor moves `now` decades ahead', () => {
    const ep = start(noTpm);
    ep.dispatch();
    const at = ep.at();
    ep.send({ type: 'upstream.rateLimited', at, retryAt: at + 1e15, estTokens: 10 });
    expect(ep.snap().context.retryAt).toBe(at + MAX_DELAY_MS);
    const delays = Object.values(ep.actor.system.getSnapshot()._scheduledEvents).map((t) => t.delay);
    expect(delays).toEqual([MAX_DELAY_MS]);
    ep.clock.increment(1);
    expect(ep.snap().value).toBe('throttled');
    expect(ep.snap().context.now).toBe(at);
    // The same for a window a header or a shared store reports exhausted.
    ep.send({ type: 'window.exhausted', at: ep.at(), retryAt: ep.at() + 1e15, reason: 'x-ratelimit-remaining-requests: 0' });
    expect(ep.snap().context.retryAt).toBe(ep.at() + MAX_DELAY_MS);
    ep.clock.increment(MAX_DELAY_MS);
    expect(ep.snap().value).toBe('healthy');
    expect(ep.snap().context.now).toBe(ep.at());
  });

  it('failures below the threshold do not open the circuit', () => {
    const ep = start({ rpm: null, tpm: null, failureThreshold: 3 });
    for (let i = 0; i < 3; i++) ep.dispatch();
    ep.fail(true);
    ep.fail(true);
    expect(ep.snap().value).toBe('healthy');
    expect(ep.snap().context.failures).toBe(2);
    ep.fail(true);
    expect(ep.snap().value).toBe('circuit-open');
  });

  it('a success resets the failure count', () => {
    const ep = start({ rpm: null, tpm: null });
    for (let i = 0; i < 3; i++) ep.dispatch();
    ep.fail(true);
    ep.succeed();
    expect(ep.snap().context.failures).toBe(0);
    ep.fail(true);
    expect(ep.snap().value).toBe('healthy');
    expect(ep.snap().context.failures).toBe(1);
  });

  it('400-class failures (countsAsFailure false) never open the circuit', () => {
    const ep = start({ rpm: null, tpm: null });
    for (let i = 0; i < 10; i++) {
      ep.dispatch();
      ep.fail(false);
    }
    expect(ep.snap().value).toBe('healthy');
    expect(ep.snap().context).toMatchObject({ failures: 0, errors: 10, inFlight: 0 });
  });

  it('a 429 counts as rateLimited, neither a success nor an error, throttled or circuit-open alike', () => {
    const ep = start({ rpm: null, tpm: null, failureThreshold: 1, recoveryMs: 60_000 });
    ep.dispatch();
    ep.send({ type: 'upstream.rateLimited', at: ep.at(), retryAt: ep.at() + 5000, estTokens: 10 });
    expect(ep.snap().value).toBe('throttled');
    expect(ep.snap().context).toMatchObject({ rateLimited: 1, successes: 0, errors: 0, requests: 1 });
    ep.dispatch();
    ep.dispatch();
    ep.fail(true);
    expect(ep.snap().value).toBe('circuit-open');
    // A late 429 of a request sent before the circuit opened: bookkeeping, still counted.
    ep.send({ type: 'upstream.rateLimited', at: ep.at(), retryAt: ep.at() + 5000, estTokens: 10 });
    expect(ep.snap().context).toMatchObject({ rateLimited: 2, errors: 1, inFlight: 0 });
  });

  /** Mirrors the runtime's admission rule (src/runtime/endpoints.ts `availability`). */
  const admitsProbe = (s: Snap): boolean => s.value === 'half-open' && s.context.probesInFlight < s.context.settings.halfOpenProbes;

  function openThenHalfOpen(halfOpenProbes: number) {
    const ep = start({ rpm: null, tpm: null, halfOpenProbes, recoveryMs: 1000 });
    ep.dispatch();
    ep.dispatch();
    ep.fail(true);
    ep.fail(true);
    expect(ep.snap().value).toBe('circuit-open');
    ep.clock.increment(999);
    expect(ep.snap().value).toBe('circuit-open');
    ep.clock.increment(1);
    expect(ep.snap().value).toBe('half-open');
    return ep;
  }

  it.each([1, 2])('half-open admits exactly halfOpenProbes (%i) probes, and a success closes', (probes) => {
    const ep = openThenHalfOpen(probes);
    for (let i = 0; i < probes; i++) {
      expect(admitsProbe(ep.snap())).toBe(true);
      ep.dispatch();
    }
    expect(ep.snap().context.probesInFlight).toBe(probes);
    expect(admitsProbe(ep.snap())).toBe(false);
    ep.succeed(10, 10, ep.round());
    expect(ep.snap().value).toBe('healthy');
    expect(ep.snap().context).toMatchObject({ failures: 0, probesInFlight: 0, retryAt: null });
  });

  it("half-open: a probe's stream closes the circuit when its answer begins; its end, or a failure after, is an ordinary request's", () => {
    const ep = openThenHalfOpen(1);
    const probe = ep.round();
    ep.dispatch();
    expect(admitsProbe(ep.snap())).toBe(false);
    // Another round's probe beginning to answer decides nothing.
    ep.send({ type: 'upstream.answering', at: ep.at(), probe: probe - 1 });
    expect(ep.snap().value).toBe('half-open');
    ep.send({ type: 'upstream.answering', at: ep.at(), probe });
    expect(ep.snap().value).toBe('healthy');
    expect(ep.snap().context).toMatchObject({ failures: 0, probesInFlight: 0, retryAt: null, inFlight: 1 });
    // The stream fails after its first content: one failure of a healthy endpoint, not a re-opened circuit.
    ep.fail(true, probe);
    expect(ep.snap().value).toBe('healthy');
    expect(ep.snap().context).toMatchObject({ failures: 1, inFlight: 0 });
  });

  it('half-open: a failing probe re-opens for another recovery; a non-counting one frees the probe slot', () => {
    const ep = openThenHalfOpen(1);
    ep.dispatch();
    ep.fail(false, ep.round());
    expect(ep.snap().value).toBe('half-open');
    expect(admitsProbe(ep.snap())).toBe(true);
    ep.dispatch();
    ep.fail(true, ep.round());
    expect(ep.snap().value).toBe('circuit-open');
    expect(ep.snap().context.retryAt).toBe(ep.at() + 1000);
    ep.clock.increment(999);
    expect(ep.snap().value).toBe('circuit-open');
    ep.clock.increment(1);
    expect(ep.snap().value).toBe('half-open');
  });

  it('half-open: a request sent before the circuit opened that ends now neither frees the probe slot nor decides (halfOpenProbes: 1 let a second request through)', () => {
    const ep = start({ rpm: null, tpm: null, halfOpenProbes: 1, recoveryMs: 1000 });
    // Six sent while healthy; two fail and open the circuit, four are still in flight.
    for (let i = 0; i < 6; i++) ep.dispatch();
    ep.fail(true);
    ep.fail(true);
    ep.clock.increment(1000);
    expect(ep.snap().value).toBe('half-open');
    ep.dispatch();
    const probe = ep.round();
    expect(admitsProbe(ep.snap())).toBe(false);
    // The old request ends as a client error (400), released, or even a success or a 429: bookkeeping only.
    ep.fail(false);
    expect(ep.snap().value).toBe('half-open');
    expect(admitsProbe(ep.snap())).toBe(false);
    ep.send({ type: 'upstream.released', at: ep.at(), estTokens: 10, tokens: 0 });
    ep.succeed();
    ep.send({ type: 'upstream.rateLimited', at: ep.at(), retryAt: ep.at() + 5000, estTokens: 10 });
    expect(ep.snap().value).toBe('half-open');
    expect(ep.snap().context).toMatchObject({ probesInFlight: 1, inFlight: 1, retryAt: null });
    expect(admitsProbe(ep.snap())).toBe(false);
    // A probe of an earlier round is not this round's either: it failed, the circuit opened again.
    ep.fail(true, probe);
    expect(ep.snap().value).toBe('circuit-open');
    ep.clock.increment(1000);
    ep.dispatch();
    ep.dispatch();
    ep.succeed(10, 10, probe);
    expect(ep.snap().value).toBe('half-open');
    // Only this round's probe decides.
    ep.succeed(10, 10, ep.round());
    expect(ep.snap().value).toBe('healthy');
  });

  it('RPM window full → throttled → healthy exactly when the GCRA window frees', () => {
    const ep = start(noTpm);
    for (let i = 0; i < 3; i++) ep.dispatch();
    const c = ep.snap().context;
    const freeAt = gcraFreeAt(c.rpmTat, ep.at(), 1, 3);
    expect(ep.snap().value).toBe('throttled');
    expect(c).toMatchObject({ reason: 'rpm window full', retryAt: freeAt });
    ep.clock.increment(freeAt - ep.at() - 1);
    expect(ep.snap().value).toBe('throttled');
    ep.clock.increment(1);
    expect(gcraAdmits(c.rpmTat, ep.at(), 1, 3)).toBe(true);
    // Fails today: the `windowFreed` guard judges the window at the stale `now` (before
    // `advanceToRetryAt`), re-enters `throttled` with a 0 ms timer and stays until it fires.
    expect(ep.snap().value).toBe('healthy');
  });

  it('latency: the plain EWMA averages, the peak EWMA jumps to a slow sample and decays from it', () => {
    const ep = start(noTpm);
    const done = (latencyMs: number) => {
      ep.dispatch();
      ep.send({ type: 'upstream.succeeded', at: ep.at(), latencyMs, ttftMs: null, tokens: 10, estTokens: 10 });
    };
    done(100);
    expect(ep.snap().context).toMatchObject({ latencyEwma: 100, peakEwma: 100 });
    done(500);
    expect(ep.snap().context.latencyEwma).toBeCloseTo(180, 9);
    expect(ep.snap().context.peakEwma).toBe(500);
    done(100);
    expect(ep.snap().context.peakEwma).toBeCloseTo(420, 9);
    expect(ep.snap().context.latencies).toEqual([100, 500, 100]);
    // Time forgives the peak too: halved per LATENCY_HALF_LIFE_MS without a sample, then the sample is averaged in.
    ep.clock.increment(LATENCY_HALF_LIFE_MS);
    done(100);
    expect(ep.snap().context.peakEwma).toBeCloseTo(210 + 0.2 * (100 - 210), 9);
    expect(peakAt(400, 1_000, 1_000 + 2 * LATENCY_HALF_LIFE_MS)).toBeCloseTo(100, 9);
    expect(peakAt(400, null, 5_000)).toBe(400);
  });

  it('TPM: the estimate is replaced by the real token count', () => {
    const ep = start({ rpm: null, tpm: 1000 });
    ep.dispatch(400);
    ep.dispatch(400);
    expect(gcraUsed(ep.snap().context.tpmTat, ep.at(), 1000)).toBe(800);
    ep.succeed(100, 400);
    expect(gcraUsed(ep.snap().context.tpmTat, ep.at(), 1000)).toBe(500);
    ep.send({ type: 'upstream.failed', at: ep.at(), fault: 'timeout', countsAsFailure: true, estTokens: 400, tokens: 650 });
    expect(gcraUsed(ep.snap().context.tpmTat, ep.at(), 1000)).toBe(750);
    expect(ep.snap().value).toBe('healthy');
    ep.dispatch(250);
    expect(ep.snap().value).toBe('throttled');
    expect(ep.snap().context.reason).toBe('tpm window full');
  });

  it('window exhausted while circuit-open: the recovery leaves `now` at the moment the delay fired', () => {
    const ep = start({ ...noTpm, recoveryMs: 1000 });
    ep.dispatch();
    ep.dispatch();
    ep.fail(true);
    ep.fail(true);
    const openedAt = ep.at();
    ep.send({ type: 'window.exhausted', at: openedAt, retryAt: openedAt + 30_000, reason: 'x-ratelimit-remaining-requests: 0' });
    ep.clock.increment(1000);
    expect(ep.snap().value).toBe('half-open');
    // Fails today: `enterHalfOpen` sets now = retryAt, which `exhausted` moved 29 s past the recovery.
    expect(ep.snap().context.now).toBe(openedAt + 1000);
  });
});
