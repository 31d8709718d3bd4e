/**
 * GCRA (generic cell rate algorithm): a rate window as one number, the theoretical arrival
 * time `tat`. `limit` units per `periodMs`, bursts up to `limit`. O(1) per decision, no
 * arrays of timestamps, and the same arithmetic a shared (Redis) window runs in one script.
 * A request costs 1 unit for RPM, its token count for TPM; refunds move `tat` back.
 */
export const MINUTE_MS = 60_000;

/** Whether `cost` units fit into the window at time `now`. A cost above the whole limit fits only into an empty window. */
export function gcraAdmits(tat: number, now: number, cost: number, limit: number, periodMs = MINUTE_MS): boolean {
  const c = Math.min(cost, limit);
  return Math.max(tat, now) + (c * periodMs) / limit - now <= periodMs;
}

/** The new `tat` after consuming `cost` units (negative cost refunds). */
export function gcraConsume(tat: number, now: number, cost: number, limit: number, periodMs = MINUTE_MS): number {
  const next = Math.max(tat, now) + (cost * periodMs) / limit;
  return Math.max(next, now);
}

/** Earliest time at which `cost` units fit. */
export function gcraFreeAt(tat: number, now: number, cost: number, limit: number, periodMs = MINUTE_MS): number {
  const c = Math.min(cost, limit);
  return Math.max(now, Math.max(tat, now) + (c * periodMs) / limit - periodMs);
}

/** Units currently counted in the window. */
export function gcraUsed(tat: number, now: number, limit: number, periodMs = MINUTE_MS): number {
  return Math.min(limit, (Math.max(0, tat - now) * limit) / periodMs);
}
