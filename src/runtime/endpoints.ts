/**
 * The runtime's view of each endpoint: its config, adapter, pool and the endpoint actor that
 * holds its live state. Availability is read from the actor's snapshot (synchronously, so
 * check-then-dispatch is atomic on the event loop).
 */
import type { ActorRefFrom } from 'xstate';
import { gcraAdmits, gcraFreeAt, gcraUsed } from '../../machines/gcra.js';
import {
  bookkeeping,
  ownWindowThrottle,
  after429,
  LATENCY_STALE_MS,
  peakAt,
  UPSTREAM_OVERLOADED,
  windowFull,
  type endpointMachine,
  type EndpointSettings,
  type EndpointStateValue,
} from '../../machines/endpoint.machine.js';
import type { EndpointEvent } from '../../machines/events.js';
import type { Config, EndpointConfig, ModelConfig, ProviderConfig } from '../config/schema.js';
import type { ProviderAdapter } from '../upstream/adapters/types.js';
import type { UpstreamPools } from '../upstream/pools.js';
import { poolConnections } from '../config/pool-size.js';
import type { Pool } from 'undici';

export type EndpointActor = ActorRefFrom<typeof endpointMachine>;

export interface EndpointHandle {
  id: string;
  /** The actor's key under the supervisor (the id, plus a generation after a reload changed it). */
  actorKey: string;
  model: string;
  providerName: string;
  endpoint: EndpointConfig;
  modelCfg: ModelConfig;
  provider: ProviderConfig;
  adapter: ProviderAdapter;
  pool: Pool;
  basePath: string;
  apiKey: string | undefined;
  /** The provider's extra headers: `headers`, and `headersEnv` read from the environment. */
  headers: Readonly<Record<string, string>>;
  actor: EndpointActor;
  /** The runtime's clock (its scheduler's `now`), for how old the endpoint's figures are (withinWish). */
  clock?: () => number;
  /** Settings the actor was created with; reload keeps the actor when these are unchanged. */
  fingerprint: string;
  /**
   * The endpoint's earlier actors a reload replaced that still have attempts in flight on the same
   * upstream (base URL and upstream model): those attempts count against this one's
   * `maxConcurrent` and in its in-flight count until they end (the fresh actor started at 0, so a
   * reload let twice `maxConcurrent` run on a capped upstream). Absent when there are none.
   */
  draining?: EndpointHandle[];
}

/** Attempts in flight on the endpoint's upstream: its actor's and those of the actors it replaced that are still draining. */
export function inFlightOf(h: EndpointHandle): number {
  let n = h.actor.getSnapshot().context.inFlight;
  if (h.draining !== undefined) for (const d of h.draining) n += d.actor.getSnapshot().context.inFlight;
  return n;
}

/** A provider's extra headers: its `headers`, and each `headersEnv` header with its variable's value (set: serve refuses to start otherwise). */
export function providerHeaders(p: ProviderConfig, env: NodeJS.ProcessEnv): Readonly<Record<string, string>> {
  const fromEnv = Object.entries(p.headersEnv);
  if (fromEnv.length === 0) return p.headers;
  const out = { ...p.headers };
  for (const [name, variable] of fromEnv) {
    const v = env[variable];
    if (v) out[name] = v;
  }
  return out;
}

export function endpointSettings(cfg: Config, modelCfg: ModelConfig, ep: EndpointConfig): EndpointSettings {
  const r = cfg.resilience;
  return {
    rpm: ep.rpm ?? null,
    tpm: ep.tpm ?? null,
    maxConcurrent: ep.maxConcurrent,
    failureThreshold: r.failureThreshold,
    recoveryMs: r.recoveryMs,
    halfOpenProbes: r.halfOpenProbes,
    latencyWindow: r.latencyWindow,
    latencyPriorMs: modelCfg.latencyPriorMs,
  };
}

/**
 * What the endpoint's actor is made of: the endpoint, its provider and the actor's settings.
 * Not the price: a handle carries the model's config (the price included) and a reload gives
 * kept actors new handles, so a price edit keeps the rpm window, the breaker and the
 * concurrency count (it replaced the actor, and with it all three: a price-only reload let
 * through twice an endpoint's rpm and reopened a circuit-open endpoint at once).
 */
export function fingerprint(provider: ProviderConfig, ep: EndpointConfig, settings: EndpointSettings): string {
  return JSON.stringify({ ep, settings, provider });
}

export function poolFor(pools: UpstreamPools, cfg: Config, providerName: string): { pool: Pool; basePath: string } {
  const provider = cfg.providers[providerName]!;
  const url = new URL(provider.baseUrl);
  return {
    pool: pools.get(url.origin, { connections: poolConnections(cfg, providerName), connectTimeoutMs: cfg.resilience.connectTimeoutMs }, providerName),
    basePath: url.pathname.replace(/\/+$/, ''),
  };
}

export type Availability =
  | { readonly ok: true; readonly probe: boolean }
  /** Not now; `freeAt` is when it may be (null: not before a state change). */
  | {
      readonly ok: false;
      readonly freeAt: number | null;
      readonly why: string;
      /**
       * What holds it: `circuit` (open: waiting does not help before its cool-down), `size` (a TPM
       * window with room, not enough for this request's estimate: a smaller one fits, so the
       * endpoint is not full), or `full` (nothing fits now).
       */
      readonly hold: 'circuit' | 'size' | 'full';
    };

/** The two answers that carry nothing of the moment: shared, not built per call. */
const FREE: Availability = Object.freeze({ ok: true, probe: false });
const PROBE: Availability = Object.freeze({ ok: true, probe: true });

/** Can this endpoint take a request of `estTokens` at `now`? */
export function availability(h: EndpointHandle, now: number, estTokens: number): Availability {
  const snap = h.actor.getSnapshot();
  const c = snap.context;
  const state = snap.value as EndpointStateValue;
  if (state === 'circuit-open') return { ok: false, freeAt: c.retryAt, why: 'circuit-open', hold: 'circuit' };
  // The actor's throttle timer starts when it processes the event and may fire a few ms after
  // `retryAt`; a caller that waited until `retryAt` (a 429's retry-after) must not lose to it.
  // Past `retryAt` the endpoint is judged like a healthy one (its own windows still apply).
  if (state === 'throttled' && (c.retryAt === null || c.retryAt > now))
    return { ok: false, freeAt: c.retryAt, why: `throttled (${c.reason ?? 'window'})`, hold: 'full' };
  // An upstream 429's throttle ends in a single probe: the others wait until its answer begins (the actor's event wakes them).
  // A free probe slot after a 429 is a probe (a shared store gives it the replicas' one probe slot).
  const probeSlot = c.awaitingProbe || (state === 'throttled' && after429(c.reason));
  if (probeSlot && c.probesInFlight > 0) return { ok: false, freeAt: null, why: 'after a 429 or an overload, one request probes first', hold: 'full' };
  if (state === 'half-open') {
    return c.probesInFlight < c.settings.halfOpenProbes ? PROBE : { ok: false, freeAt: null, why: 'half-open, probe in flight', hold: 'full' };
  }
  if ((h.draining === undefined ? c.inFlight : inFlightOf(h)) >= c.settings.maxConcurrent)
    return { ok: false, freeAt: null, why: `max concurrent (${c.settings.maxConcurrent}) reached`, hold: 'full' };
  const s = c.settings;
  if (s.rpm !== null && !gcraAdmits(c.rpmTat, now, 1, s.rpm))
    return { ok: false, freeAt: gcraFreeAt(c.rpmTat, now, 1, s.rpm), why: 'rpm window full', hold: 'full' };
  if (s.tpm !== null && !gcraAdmits(c.tpmTat, now, estTokens, s.tpm)) return tpmRefusal(c.tpmTat, now, estTokens, s.tpm);
  return probeSlot ? PROBE : FREE;
}

/** Held back now because its upstream answered an overload (a 503 or 529 with retry-after) that has not run out. */
export function heldForOverload(h: EndpointHandle, now: number): boolean {
  const snap = h.actor.getSnapshot();
  const c = snap.context;
  return snap.value === 'throttled' && c.reason === UPSTREAM_OVERLOADED && c.retryAt !== null && c.retryAt > now;
}

/**
 * Why a request does not fit the TPM window. The endpoint's state is `throttled` only when the
 * window holds its whole limit (nothing fits); while it has room left it stays `healthy`, as a
 * smaller request still fits, and only a request whose estimate is larger than that room waits
 * or fails over: this says so, rather than calling the window full.
 */
function tpmRefusal(tat: number, now: number, estTokens: number, limit: number): Availability {
  const freeAt = gcraFreeAt(tat, now, estTokens, limit);
  const used = Math.ceil(gcraUsed(tat, now, limit));
  if (used >= limit) return { ok: false, freeAt, why: 'tpm window full', hold: 'full' };
  return { ok: false, freeAt, why: `tpm window has ${limit - used} of ${limit} tokens free, this request needs ~${Math.ceil(estTokens)}`, hold: 'size' };
}

/**
 * What a request dispatched to `h` now carries back on the event that ends it (`probe`): the
 * probe round when the dispatch is a probe (the endpoint is half-open, or healthy after an
 * upstream 429's throttle and no probe is out yet), otherwise undefined. Read in the same step
 * as the dispatch, before it.
 */
export function probeRound(h: EndpointHandle): number | undefined {
  const snap = h.actor.getSnapshot();
  const c = snap.context;
  const probes = snap.value === 'half-open' || ((c.awaitingProbe || (snap.value === 'throttled' && after429(c.reason))) && c.probesInFlight === 0);
  return probes ? c.halfOpenRound : undefined;
}

/** An endpoint's usual latency: the measured peak EWMA, the model's prior until measured. */
export function latencyOf(h: EndpointHandle): number {
  const c = h.actor.getSnapshot().context;
  return c.peakEwma ?? c.settings.latencyPriorMs;
}

/**
 * Latency used for choosing between endpoints and models: the peak EWMA as time has forgiven it
 * (endpoint.machine.ts peakAt), so an endpoint passed over for a slow spell is asked again once its
 * figure has come down to the others' (it never was: nothing measured it again).
 */
export function pickLatencyOf(h: EndpointHandle): number {
  const c = h.actor.getSnapshot().context;
  return c.peakEwma === null ? c.settings.latencyPriorMs : peakAt(c.peakEwma, c.latencyAt, h.clock?.() ?? c.now);
}

/** What the pick (and the dry run, which says what it would pick) orders a model's endpoints by: latency × (requests in flight + 1). */
export const pickLoad = (h: EndpointHandle): number => pickLatencyOf(h) * (inFlightOf(h) + 1);

/**
 * Whether a latency wish of `max` ms may send a request to `h`: its latency is within it, or its
 * latency was measured over LATENCY_STALE_MS ago and nothing is in flight there, so the figure is
 * history and this request measures it again (a slow answer puts it out of the wish at once: the
 * peak EWMA takes a slower sample whole). An endpoint a wish passed over was never asked again: a
 * slow spell long over kept it out, and the wish's requests failed (502, 503) while it was idle.
 */
export function withinWish(h: EndpointHandle, max: number): boolean {
  const c = h.actor.getSnapshot().context;
  if ((c.peakEwma ?? c.settings.latencyPriorMs) <= max) return true;
  return c.latencyAt !== null && c.inFlight === 0 && (h.clock?.() ?? c.now) - c.latencyAt > LATENCY_STALE_MS;
}

/** Every endpoint of the model is slower than the latency wish `max` (the request passes the model over for it). */
export function tooSlow(endpoints: readonly EndpointHandle[] | undefined, max: number | null): boolean {
  return max !== null && endpoints !== undefined && endpoints.length > 0 && endpoints.every((h) => !withinWish(h, max));
}

/**
 * Tell an endpoint what happened to one of its requests. With `quiet` (nobody inspects every
 * event), per-request bookkeeping that crosses no state edge is applied to the actor's live
 * context in place — the same update the machine's action makes (`bookkeeping`) — instead of
 * going through the actor; everything else is sent. Returns whether it was applied in place
 * (the caller then notifies what the actor's subscribers would have been told).
 */
export function recordOn(actor: EndpointActor, ev: EndpointEvent, quiet: boolean): boolean {
  let inPlace = false;
  if (quiet) {
    const snap = actor.getSnapshot();
    const u = snap.status === 'active' ? bookkeeping(snap.value as EndpointStateValue, snap.context, ev, true) : null;
    if (u !== null) {
      Object.assign(snap.context, u);
      inPlace = true;
    }
  }
  if (!inPlace) actor.send(ev);
  if (ev.type === 'upstream.succeeded' || ev.type === 'upstream.released') admitIfFreed(actor, ev.at);
  return inPlace;
}

/**
 * A finished request's TPM estimate was just replaced by its real count: an endpoint throttled only
 * by its own window that now admits again is healthy at once, not at the `retryAt` the estimate gave
 * (a request that reserved its whole max_tokens and used a few would keep it throttled up to a minute).
 */
function admitIfFreed(actor: EndpointActor, at: number): void {
  const snap = actor.getSnapshot();
  if (snap.status !== 'active' || snap.value !== 'throttled' || !ownWindowThrottle(snap.context.reason)) return;
  if (!windowFull(snap.context, Math.max(snap.context.now, at))) actor.send({ type: 'window.admitted', at });
}
