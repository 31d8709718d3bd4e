/**
 * The endpoint's per-request bookkeeping applied in place (`recordOn(…, quiet: true)`, what the
 * runtime does while nobody inspects every event) must leave the endpoint exactly where sending
 * every event to the actor leaves it: same state, same context, same timers, after any sequence
 * of dispatches, answers, failures, 429s, exhausted windows and resets.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { bookkeeping, endpointMachine, type EndpointSettings, type EndpointStateValue } from '../../machines/endpoint.machine.js';
import type { EndpointEvent } from '../../machines/events.js';
import { recordOn } from '../../src/runtime/endpoints.js';

const T0 = Date.UTC(2025, 2, 10, 12, 0, 0);
/** Small windows and a low threshold: windows fill, circuits open and recover within a sequence. */
const SETTINGS: EndpointSettings = {
  rpm: 6,
  tpm: 2000,
  maxConcurrent: 8,
  failureThreshold: 2,
  recoveryMs: 10_000,
  halfOpenProbes: 1,
  latencyWindow: 3,
  latencyPriorMs: 800,
};

type Step = {
  wait: number;
  kind: 'dispatch' | 'success' | 'release' | 'fail' | 'failQuiet' | 'rateLimited' | 'exhausted' | 'reset';
  tokens: number;
  latency: number;
};

const step: fc.Arbitrary<Step> = fc.record({
  // Waits on the windows' and timers' scale (fast-check's integers lean small, and recovery takes 10 s).
  wait: fc.constantFrom(0, 0, 0, 500, 3_000, 7_000, 10_000, 12_000),
  kind: fc.oneof(
    { weight: 6, arbitrary: fc.constant('dispatch' as const) },
    { weight: 5, arbitrary: fc.constant('success' as const) },
    { weight: 2, arbitrary: fc.constant('fail' as const) },
    { weight: 2, arbitrary: fc.constantFrom('release' as const, 'failQuiet' as const, 'rateLimited' as const, 'exhausted' as const, 'reset' as const) },
  ),
  tokens: fc.integer({ min: 0, max: 900 }),
  latency: fc.integer({ min: 1, max: 5000 }),
});

function eventOf(s: Step, at: number): EndpointEvent {
  const est = 200;
  switch (s.kind) {
    case 'dispatch':
      return { type: 'request.dispatched', at, estTokens: est };
    case 'success':
      return { type: 'upstream.succeeded', at, latencyMs: s.latency, ttftMs: s.latency % 3 === 0 ? null : s.latency >> 1, tokens: s.tokens, estTokens: est };
    case 'release':
      return { type: 'upstream.released', at, estTokens: est, tokens: s.tokens };
    case 'fail':
      return { type: 'upstream.failed', at, fault: 'server_error', countsAsFailure: true, estTokens: est, tokens: 0 };
    case 'failQuiet':
      return { type: 'upstream.failed', at, fault: 'other', countsAsFailure: false, estTokens: est, tokens: 0 };
    case 'rateLimited':
      return { type: 'upstream.rateLimited', at, retryAt: at + 7_000, estTokens: est };
    case 'exhausted':
      return { type: 'window.exhausted', at, retryAt: at + 5_000, reason: 'x-ratelimit-remaining 0' };
    case 'reset':
      return { type: 'endpoint.reset', at };
  }
}

function pair() {
  const clock = new SimulatedClock();
  const input = { id: 'ep', model: 'm', provider: 'p', now: T0, settings: SETTINGS };
  const sent = createActor(endpointMachine, { input, clock }).start();
  const quiet = createActor(endpointMachine, { input, clock }).start();
  return { clock, sent, quiet };
}

describe('endpoint bookkeeping in place', () => {
  it('ends in the same state and context as sending every event, on any sequence', () => {
    let inPlace = 0;
    let throughActor = 0;
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
        const { clock, sent, quiet } = pair();
        let elapsed = 0;
        for (const s of steps) {
          // Timers (throttle end, recovery) fire on both alike.
          clock.increment(s.wait);
          elapsed += s.wait;
          const ev = eventOf(s, T0 + elapsed);
          // The runtime's watched path: every event through the actor (and what follows a finish).
          expect(recordOn(sent, ev, false)).toBe(false);
          if (recordOn(quiet, ev, true)) inPlace++;
          else throughActor++;
          const a = sent.getSnapshot();
          const b = quiet.getSnapshot();
          seen.add(String(b.value));
          expect(b.value).toBe(a.value);
          expect(b.context).toEqual(a.context);
        }
        sent.stop();
        quiet.stop();
      }),
      { numRuns: 300, seed: 14 },
    );
    // Both ways were taken, in every state: the property is not vacuous.
    expect(inPlace).toBeGreaterThan(1000);
    expect(throughActor).toBeGreaterThan(100);
    expect([...seen].sort()).toEqual(['circuit-open', 'half-open', 'healthy', 'throttled']);
  });

  it('sends what crosses an edge: a dispatch that fills the window, anything half-open, failures', () => {
    const { sent } = pair();
    const s = sent.getSnapshot();
    const state = s.value as EndpointStateValue;
    const at = T0;
    expect(bookkeeping(state, s.context, { type: 'request.dispatched', at, estTokens: 1 })).not.toBeNull();
    // The sixth request of an rpm-6 window fills it: healthy → throttled is an edge.
    const full = { ...s.context, rpmTat: T0 + 50_000 };
    expect(bookkeeping('healthy', full, { type: 'request.dispatched', at, estTokens: 1 })).toBeNull();
    expect(bookkeeping('throttled', full, { type: 'request.dispatched', at, estTokens: 1 })).not.toBeNull();
    expect(bookkeeping('half-open', s.context, { type: 'upstream.succeeded', at, latencyMs: 1, ttftMs: null, tokens: 1, estTokens: 1 })).toBeNull();
    expect(bookkeeping('healthy', s.context, { type: 'upstream.failed', at, fault: 'other', countsAsFailure: false, estTokens: 1, tokens: 0 })).toBeNull();
    expect(bookkeeping('healthy', s.context, { type: 'upstream.rateLimited', at, retryAt: at + 1, estTokens: 1 })).toBeNull();
    sent.stop();
  });

  it("a success on a healthy endpoint clears the last failure's reason, watched or not; a throttled one keeps its throttle's", () => {
    for (const quiet of [false, true]) {
      const { sent: actor } = pair();
      const ok = (at: number): EndpointEvent => ({ type: 'upstream.succeeded', at, latencyMs: 5, ttftMs: null, tokens: 1, estTokens: 1 });
      recordOn(actor, { type: 'request.dispatched', at: T0, estTokens: 1 }, quiet);
      recordOn(actor, { type: 'upstream.failed', at: T0, fault: 'overloaded', countsAsFailure: true, estTokens: 1, tokens: 0 }, quiet);
      expect([actor.getSnapshot().value, actor.getSnapshot().context.reason]).toEqual(['healthy', 'overloaded']);
      recordOn(actor, { type: 'request.dispatched', at: T0 + 1, estTokens: 1 }, quiet);
      recordOn(actor, ok(T0 + 2), quiet);
      expect([quiet, actor.getSnapshot().value, actor.getSnapshot().context.reason]).toEqual([quiet, 'healthy', null]);
      recordOn(actor, { type: 'request.dispatched', at: T0 + 3, estTokens: 1 }, quiet);
      recordOn(actor, { type: 'upstream.rateLimited', at: T0 + 4, retryAt: T0 + 60_000, estTokens: 1 }, quiet);
      recordOn(actor, ok(T0 + 5), quiet);
      expect([quiet, actor.getSnapshot().value, actor.getSnapshot().context.reason]).toEqual([quiet, 'throttled', 'upstream 429']);
      actor.stop();
    }
  });

  it('a stopped actor is not written to', () => {
    const { quiet } = pair();
    quiet.stop();
    const before = structuredClone(quiet.getSnapshot().context);
    expect(recordOn(quiet, { type: 'request.dispatched', at: T0, estTokens: 1 }, true)).toBe(false);
    expect(quiet.getSnapshot().context).toEqual(before);
  });

  it("a finish that frees the endpoint's own full tpm window ends the throttle at once, watched or not; a 429's throttle stays", () => {
    for (const quiet of [false, true]) {
      const { clock, sent: actor } = pair();
      const at = () => T0 + clock.now();
      // Three times the 2000-token limit counted while it runs: throttled for two minutes by the estimate.
      recordOn(actor, { type: 'request.dispatched', at: at(), estTokens: 6000 }, quiet);
      expect([actor.getSnapshot().value, actor.getSnapshot().context.reason]).toEqual(['throttled', 'tpm window full']);
      clock.increment(1000);
      recordOn(actor, { type: 'upstream.succeeded', at: at(), latencyMs: 900, ttftMs: null, tokens: 30, estTokens: 6000 }, quiet);
      expect(actor.getSnapshot().value).toBe('healthy');
      expect(actor.getSnapshot().context).toMatchObject({ retryAt: null, reason: null });

      // Throttled by the upstream (a 429), a finish that frees the window does not end it.
      recordOn(actor, { type: 'request.dispatched', at: at(), estTokens: 100 }, quiet);
      recordOn(actor, { type: 'request.dispatched', at: at(), estTokens: 100 }, quiet);
      recordOn(actor, { type: 'upstream.rateLimited', at: at(), retryAt: at() + 7000, estTokens: 100 }, quiet);
      recordOn(actor, { type: 'upstream.succeeded', at: at(), latencyMs: 900, ttftMs: null, tokens: 5, estTokens: 100 }, quiet);
      expect([actor.getSnapshot().value, actor.getSnapshot().context.reason]).toEqual(['throttled', 'upstream 429']);
      actor.stop();
    }
  });
});
