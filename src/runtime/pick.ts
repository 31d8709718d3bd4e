/**
 * The endpoint choice of one step: the pinned endpoint (a quick retry) if it can take the
 * request now, else the first available endpoint of the candidates in order (per model,
 * fastest-and-least-loaded first). When none can, it says whether waiting could help and
 * until when — the request machine decides whether to wait or give up.
 */
import { own } from '../config/lookup.js';
import type { RuntimeCore } from './core.js';
import { availability, latencyOf, type EndpointHandle } from './endpoints.js';

export interface PickRequest {
  excluded: readonly string[];
  excludedModels: readonly string[];
  pinned: string | null;
  /** The stream committed: only models that accept a prefill can continue it. */
  committed: boolean;
}

export interface PickContext {
  candidates: readonly string[];
  toolCallsSent: boolean;
  maxLatencyMs: number | null;
  estTokens: number;
  now: number;
}

export type PickResult =
  | { type: 'picked'; handle: EndpointHandle }
  /** `waitable`: some candidate is only throttled or busy; `earliest` known free time; `unknown`: some free time is not known. */
  | { type: 'none'; waitable: boolean; earliest: number | null; unknown: boolean };

const load = (h: EndpointHandle): number => latencyOf(h) * (h.actor.getSnapshot().context.inFlight + 1);

/** Endpoints in candidate order, without the excluded ones. After a commit only models that accept a prefill. */
export function* candidateEndpoints(rt: RuntimeCore, req: PickRequest, pc: PickContext): Generator<EndpointHandle> {
  for (const model of pc.candidates) {
    if (req.excludedModels.includes(model)) continue;
    const mc = own(rt.cfg.models, model);
    if (!mc) continue;
    if (req.committed && (!mc.capabilities.includes('prefill') || pc.toolCallsSent)) continue;
    const maxLatency = pc.maxLatencyMs;
    const eps = (rt.byModel.get(model) ?? []).filter((h) => !req.excluded.includes(h.id) && (maxLatency === null || latencyOf(h) <= maxLatency));
    eps.sort((a, b) => load(a) - load(b));
    yield* eps;
  }
}

export function pickEndpoint(rt: RuntimeCore, req: PickRequest, pc: PickContext): PickResult {
  if (req.pinned !== null) {
    const h = rt.handles.get(req.pinned);
    if (h && availability(h, pc.now, pc.estTokens).ok) return { type: 'picked', handle: h };
  }
  let earliest: number | null = null;
  let waitable = false;
  let unknown = false;
  for (const h of candidateEndpoints(rt, req, pc)) {
    const a = availability(h, pc.now, pc.estTokens);
    if (a.ok) return { type: 'picked', handle: h };
    if (a.why.startsWith('circuit-open')) continue;
    waitable = true;
    if (a.freeAt !== null) earliest = earliest === null ? a.freeAt : Math.min(earliest, a.freeAt);
    else unknown = true;
  }
  return { type: 'none', waitable, earliest, unknown };
}
