/**
 * pickEndpoint's loop (no generator; no filtered copy or sort for a model with one endpoint)
 * equals the generator-based reference on random runtimes: the same result, the same handle.
 */
import { describe, expect, it } from 'vitest';
import { pickEndpoint, type PickContext, type PickRequest } from '../../src/runtime/pick.js';
import { pickEndpointReference } from './pick-reference.js';
import type { RuntimeCore } from '../../src/runtime/core.js';
import { availability, type EndpointHandle } from '../../src/runtime/endpoints.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const STATES = ['healthy', 'healthy', 'throttled', 'circuit-open', 'half-open'] as const;

function world(r: () => number): { rt: RuntimeCore; req: PickRequest; pc: PickContext } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const now = 1_000_000;
  const models: Record<string, { capabilities: string[] }> = {};
  const byModel = new Map<string, EndpointHandle[]>();
  const handles = new Map<string, EndpointHandle>();
  const nModels = 1 + Math.floor(r() * 4);
  for (let m = 0; m < nModels; m++) {
    const name = `m${m}`;
    models[name] = { capabilities: r() < 0.5 ? ['prefill'] : [] };
    const eps: EndpointHandle[] = [];
    const n = r() < 0.15 ? 0 : 1 + Math.floor(r() * 3);
    for (let e = 0; e < n; e++) {
      const value = pick(STATES);
      const context = {
        retryAt: r() < 0.3 ? null : now + Math.floor((r() - 0.3) * 5000),
        reason: r() < 0.5 ? null : 'rpm',
        probesInFlight: Math.floor(r() * 2),
        inFlight: Math.floor(r() * 4),
        peakEwma: r() < 0.3 ? null : Math.floor(r() * 4) * 100,
        latencyAt: r() < 0.5 ? null : now - Math.floor(r() * 30_000),
        now,
        rpmTat: 0,
        tpmTat: 0,
        settings: { halfOpenProbes: 1, maxConcurrent: 1 + Math.floor(r() * 4), rpm: null, tpm: null, latencyPriorMs: 200 },
      };
      const h = { id: `${name}/e${e}`, actor: { getSnapshot: () => ({ value, context, status: 'active' }) } } as unknown as EndpointHandle;
      eps.push(h);
      handles.set(h.id, h);
    }
    if (r() < 0.9) byModel.set(name, eps);
  }
  const names = Object.keys(models);
  const candidates = names.filter(() => r() < 0.8);
  if (r() < 0.2) candidates.push('missing');
  const ids = [...handles.keys()];
  const req: PickRequest = {
    excluded: ids.filter(() => r() < 0.2),
    excludedModels: names.filter(() => r() < 0.15),
    pinned: r() < 0.3 ? (ids.length > 0 && r() < 0.8 ? pick(ids) : 'nope') : null,
    committed: r() < 0.3,
  };
  const pc: PickContext = {
    candidates,
    skip: r() < 0.3 ? ids.filter(() => r() < 0.3) : [],
    toolCallsSent: r() < 0.3,
    freshAnswer: r() < 0.3,
    maxLatencyMs: r() < 0.5 ? null : Math.floor(r() * 4) * 100,
    estTokens: 10,
    now,
    order: r() < 0.5 ? undefined : Math.floor(r() * 6),
  };
  // Waiters ahead (tickets 1..4), each claiming some endpoints: a later request leaves those to them.
  const waiters = Array.from({ length: Math.floor(r() * 4) }, (_, i) => ({ n: i + 1, claims: ids.filter(() => r() < 0.4) }));
  const queue = {
    depth: waiters.length,
    claimedBefore: (id: string, n: number) => waiters.some((w) => w.n < n && w.claims.includes(id)),
  };
  const rt = { cfg: { models }, byModel, handles, queue } as unknown as RuntimeCore;
  return { rt, req, pc };
}

describe('pickEndpoint', () => {
  it('equals the generator-based reference on 5,000 random runtimes', () => {
    const r = rng(42);
    let picked = 0;
    let single = 0;
    let yielded = 0;
    for (let i = 0; i < 5000; i++) {
      const { rt, req, pc } = world(r);
      const fast = pickEndpoint(rt, req, pc);
      const ref = pickEndpointReference(rt, req, pc);
      expect(fast).toStrictEqual(ref);
      if (fast.type === 'none' && fast.yielded === true) yielded++;
      if (fast.type === 'picked') {
        expect(fast.handle).toBe((ref as typeof fast).handle);
        picked++;
        if (rt.byModel.get(fast.handle.id.split('/')[0]!)?.length === 1) single++;
      }
    }
    // Both paths are exercised: one-endpoint models and sorted lists, picks and waits.
    expect(picked).toBeGreaterThan(500);
    expect(single).toBeGreaterThan(100);
    expect(picked - single).toBeGreaterThan(100);
    // An endpoint with room left to a waiter ahead is exercised too.
    expect(yielded).toBeGreaterThan(100);
  });
});

describe('after a stream committed', () => {
  const settings = { halfOpenProbes: 1, maxConcurrent: 4, rpm: null, tpm: null, latencyPriorMs: 200 };
  const context = { inFlight: 0, probesInFlight: 0, retryAt: null, reason: null, peakEwma: null, rpmTat: 0, tpmTat: 0, settings };
  const ep = (id: string) => ({ id, actor: { getSnapshot: () => ({ value: 'healthy', context, status: 'active' }) } }) as unknown as EndpointHandle;
  const plain = ep('plain/e0');
  const prefill = ep('prefill/e0');
  const rt = {
    cfg: { models: { plain: { capabilities: [] }, prefill: { capabilities: ['prefill'] } } },
    byModel: new Map([
      ['plain', [plain]],
      ['prefill', [prefill]],
    ]),
    handles: new Map([
      [plain.id, plain],
      [prefill.id, prefill],
    ]),
  } as unknown as RuntimeCore;
  const req: PickRequest = { excluded: [], excludedModels: [], pinned: null, committed: true };
  const pc = (over: Partial<PickContext>): PickContext => ({
    candidates: ['plain', 'prefill'],
    skip: [],
    toolCallsSent: false,
    maxLatencyMs: null,
    estTokens: 10,
    now: 1_000_000,
    ...over,
  });

  it('only a prefill model continues an answer the client has begun to read', () => {
    expect(pickEndpoint(rt, req, pc({}))).toStrictEqual({ type: 'picked', handle: prefill });
    expect(pickEndpoint(rt, req, pc({ toolCallsSent: true })).type).toBe('none');
  });

  it('a stream that a long reasoning phase started (the client has seen none of the answer) is answered fresh by any candidate, in order: none needs a prefill (it ended with an error event when no prefill model was left)', () => {
    expect(pickEndpoint(rt, req, pc({ freshAnswer: true }))).toStrictEqual({ type: 'picked', handle: plain });
    expect(pickEndpoint(rt, req, pc({ freshAnswer: true, candidates: ['plain'] }))).toStrictEqual({ type: 'picked', handle: plain });
  });
});

describe('availability', () => {
  it('answers a free endpoint and a probe slot with shared frozen objects equal to fresh ones', () => {
    const settings = { halfOpenProbes: 1, maxConcurrent: 4, rpm: null, tpm: null, latencyPriorMs: 200 };
    const h = (value: string, probesInFlight = 0): EndpointHandle =>
      ({
        id: 'x',
        actor: { getSnapshot: () => ({ value, status: 'active', context: { inFlight: 0, probesInFlight, retryAt: null, reason: null, settings } }) },
      }) as unknown as EndpointHandle;
    const free = availability(h('healthy'), 0, 1);
    expect(free).toStrictEqual({ ok: true, probe: false });
    expect(Object.isFrozen(free)).toBe(true);
    const probe = availability(h('half-open'), 0, 1);
    expect(probe).toStrictEqual({ ok: true, probe: true });
    expect(Object.isFrozen(probe)).toBe(true);
    expect(availability(h('half-open', 1), 0, 1)).toStrictEqual({ ok: false, freeAt: null, why: 'half-open, probe in flight', hold: 'full' });
  });

  it("a request whose estimate does not fit a healthy endpoint's tpm window is told how much room there is, not that the window is full (the endpoint stays healthy: a smaller one fits)", () => {
    // 6,000 of 10,000 tokens in use: tat 36 s ahead of now.
    const context = {
      inFlight: 0,
      probesInFlight: 0,
      retryAt: null,
      reason: null,
      rpmTat: 0,
      tpmTat: 36_000,
      settings: { maxConcurrent: 4, rpm: null, tpm: 10_000 },
    };
    const h = { id: 'x', actor: { getSnapshot: () => ({ value: 'healthy', status: 'active', context }) } } as unknown as EndpointHandle;
    expect(availability(h, 0, 4_000)).toStrictEqual({ ok: true, probe: false });
    expect(availability(h, 0, 5_000)).toMatchObject({ ok: false, why: 'tpm window has 4000 of 10000 tokens free, this request needs ~5000', hold: 'size' });
    context.tpmTat = 60_000;
    expect(availability(h, 0, 5_000)).toMatchObject({ ok: false, why: 'tpm window full', hold: 'full' });
  });
});
