/**
 * The endpoint choice as it was before the fast path (a generator over filtered, sorted copies),
 * kept only as the reference that src/runtime/pick.ts's `pickEndpoint` must equal
 * (test/unit/pick-fast.test.ts).
 */
import { own } from '../../src/config/lookup.js';
import type { RuntimeCore } from '../../src/runtime/core.js';
import { availability, pickLatencyOf, withinWish, type EndpointHandle } from '../../src/runtime/endpoints.js';
import type { PickContext, PickRequest, PickResult } from '../../src/runtime/pick.js';

const load = (h: EndpointHandle): number => pickLatencyOf(h) * (h.actor.getSnapshot().context.inFlight + 1);

/** Endpoints in candidate order, without the excluded ones. After a commit only models that accept a prefill. */
function* candidateEndpoints(rt: RuntimeCore, req: PickRequest, pc: PickContext): Generator<EndpointHandle> {
  for (const model of pc.candidates) {
    if (req.excludedModels.includes(model)) continue;
    const mc = own(rt.cfg.models, model);
    if (!mc) continue;
    if (req.committed && pc.freshAnswer !== true && (!mc.capabilities.includes('prefill') || pc.toolCallsSent)) continue;
    const maxLatency = pc.maxLatencyMs;
    const eps = (rt.byModel.get(model) ?? []).filter(
      (h) => !req.excluded.includes(h.id) && !pc.skip.includes(h.id) && (maxLatency === null || withinWish(h, maxLatency)),
    );
    eps.sort((a, b) => load(a) - load(b));
    yield* eps;
  }
}

export function pickEndpointReference(rt: RuntimeCore, req: PickRequest, pc: PickContext): PickResult {
  let earliest: number | null = null;
  let waitable = false;
  let unknown = false;
  let yielded = false;
  const claims: string[] = [];
  // Claimed by a waiter ahead of this request (first come, first served): full for it.
  const claimed = (h: EndpointHandle): boolean => {
    if (pc.order === undefined || rt.queue.depth === 0 || !rt.queue.claimedBefore(h.id, pc.order)) return false;
    waitable = unknown = yielded = true;
    claims.push(h.id);
    return true;
  };
  if (req.pinned !== null) {
    const h = rt.handles.get(req.pinned);
    if (h && availability(h, pc.now, pc.estTokens).ok && !claimed(h)) return { type: 'picked', handle: h };
  }
  for (const h of candidateEndpoints(rt, req, pc)) {
    const a = availability(h, pc.now, pc.estTokens);
    if (a.ok) {
      if (claimed(h)) continue;
      return { type: 'picked', handle: h };
    }
    if (a.hold === 'circuit') continue;
    waitable = true;
    if (a.freeAt !== null) earliest = earliest === null ? a.freeAt : Math.min(earliest, a.freeAt);
    else unknown = true;
    if (a.hold === 'full') claims.push(h.id);
  }
  return { type: 'none', waitable, earliest, unknown, claims: claims.length > 0 ? claims : undefined, yielded };
}
