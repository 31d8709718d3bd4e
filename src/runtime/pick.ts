/**
 * The endpoint choice of one step: the pinned endpoint (a quick retry) if it can take the
 * request now, else the first available endpoint of the candidates in order (per model,
 * fastest-and-least-loaded first). When none can, it says whether waiting could help and
 * until when — the request machine decides whether to wait or give up.
 */
import { own } from '../config/lookup.js';
import type { RuntimeCore } from './core.js';
import { availability, pickLoad, withinWish, type EndpointHandle } from './endpoints.js';

export interface PickRequest {
  excluded: readonly string[];
  excludedModels: readonly string[];
  pinned: string | null;
  /** The stream committed: only models that accept a prefill can continue it (unless its answer is still to come: PickContext.freshAnswer). */
  committed: boolean;
}

export interface PickContext {
  candidates: readonly string[];
  /** Endpoints that cannot take this body (untakeableEndpoints): never picked. */
  skip: readonly string[];
  /** The committed stream sent what a prefill cannot continue (a tool call, a refusal: StreamSession.unprefillable). */
  toolCallsSent: boolean;
  /**
   * The committed stream's client has seen none of the answer yet (a long reasoning phase started
   * the stream: StreamSession.freshAnswer): any candidate may give it, fresh; no prefill is needed.
   */
  freshAnswer?: boolean;
  maxLatencyMs: number | null;
  estTokens: number;
  now: number;
  /**
   * The request's place in line (its queue ticket's number): an endpoint a waiter ahead of it
   * claims (CapacityQueue.claimedBefore) is passed over as full, room or not. Without it, none is.
   */
  order?: number;
}

export type PickResult =
  | { type: 'picked'; handle: EndpointHandle }
  /**
   * `waitable`: some candidate is only throttled or busy; `earliest` known free time; `unknown`:
   * some free time is not known; `claims`: the endpoints found full for any request (not for
   * want of TPM room for this one's size), which a waiter claims; `yielded`: one had room but a
   * waiter ahead claims it (wake the line).
   */
  | { type: 'none'; waitable: boolean; earliest: number | null; unknown: boolean; claims?: readonly string[]; yielded?: boolean };

/** Whether `h` may be tried at all: not excluded, able to take the body, and within the latency limit. */
const eligible = (h: EndpointHandle, req: PickRequest, pc: PickContext): boolean =>
  !req.excluded.includes(h.id) && (pc.skip.length === 0 || !pc.skip.includes(h.id)) && (pc.maxLatencyMs === null || withinWish(h, pc.maxLatencyMs));

export function pickEndpoint(rt: RuntimeCore, req: PickRequest, pc: PickContext): PickResult {
  // Someone waits: an endpoint a waiter ahead of this request claims is left to it.
  const ahead = pc.order !== undefined && rt.queue.depth > 0 ? pc.order : null;
  const acc: NoneAcc = { earliest: null, waitable: false, unknown: false, claims: null, yielded: false, ahead, rt };
  if (req.pinned !== null) {
    const h = rt.handles.get(req.pinned);
    if (h && availability(h, pc.now, pc.estTokens).ok && !leftToAhead(h, acc)) return { type: 'picked', handle: h };
  }
  // The same order as candidateEndpoints, without its generator, filtered copy and sort when a
  // model has one endpoint (the common case): that endpoint is the whole of its sorted list.
  for (let i = 0; i < pc.candidates.length; i++) {
    const model = pc.candidates[i]!;
    if (req.excludedModels.includes(model)) continue;
    const mc = own(rt.cfg.models, model);
    if (!mc) continue;
    if (req.committed && pc.freshAnswer !== true && (!mc.capabilities.includes('prefill') || pc.toolCallsSent)) continue;
    const all = rt.byModel.get(model);
    if (all === undefined) continue;
    if (all.length === 1) {
      const h = all[0]!;
      if (eligible(h, req, pc) && tryOne(h, pc, acc)) return { type: 'picked', handle: h };
      continue;
    }
    const eps = all.filter((h) => eligible(h, req, pc));
    eps.sort((a, b) => pickLoad(a) - pickLoad(b));
    for (const h of eps) if (tryOne(h, pc, acc)) return { type: 'picked', handle: h };
  }
  return { type: 'none', waitable: acc.waitable, earliest: acc.earliest, unknown: acc.unknown, claims: acc.claims ?? undefined, yielded: acc.yielded };
}

interface NoneAcc {
  earliest: number | null;
  waitable: boolean;
  unknown: boolean;
  claims: string[] | null;
  yielded: boolean;
  /** The request's place in line when someone waits (PickContext.order), else null. */
  ahead: number | null;
  rt: RuntimeCore;
}

/** A waiter ahead of this request claims `h`: noted as full for it, free time unknown (the waiter's wake tells). */
function leftToAhead(h: EndpointHandle, acc: NoneAcc): boolean {
  if (acc.ahead === null || !acc.rt.queue.claimedBefore(h.id, acc.ahead)) return false;
  acc.waitable = true;
  acc.unknown = true;
  acc.yielded = true;
  (acc.claims ??= []).push(h.id);
  return true;
}

/** True when `h` can take the request now; else notes in `acc` whether and when waiting could help. */
function tryOne(h: EndpointHandle, pc: PickContext, acc: NoneAcc): boolean {
  const a = availability(h, pc.now, pc.estTokens);
  if (a.ok) return !leftToAhead(h, acc);
  if (a.hold === 'circuit') return false;
  acc.waitable = true;
  if (a.freeAt !== null) acc.earliest = acc.earliest === null ? a.freeAt : Math.min(acc.earliest, a.freeAt);
  else acc.unknown = true;
  // Full for any request, not only for want of TPM room for this one's size (a smaller one may fit): claimed while it waits.
  if (a.hold === 'full') (acc.claims ??= []).push(h.id);
  return false;
}
