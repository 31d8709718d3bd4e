/**
 * `/switchyard/state`: the live picture read from the actors' snapshots. Built from
 * context fields only (never config secrets: API keys are not in any actor's context).
 */
import { gcraUsed } from '../../machines/gcra.js';
import { nanoToUsd } from '../accounting/money.js';
import type { Runtime } from './runtime.js';
import { inFlightOf } from './endpoints.js';
import { localView, type SharedView } from '../shared-state/index.js';

export interface EndpointView {
  id: string;
  model: string;
  provider: string;
  state: string;
  rpm: { used: number; limit: number | null };
  tpm: { used: number; limit: number | null };
  inFlight: number;
  maxConcurrent: number;
  latency: { p50: number | null; ewma: number | null; peakEwma: number | null; ttftEwma: number | null; prior: number };
  consecutiveFailures: number;
  retryAt: string | null;
  reason: string | null;
  requests: number;
  successes: number;
  errors: number;
  /** Attempts answered with a 429 (requests = successes + errors + rateLimited + those released or in flight). */
  rateLimited: number;
}

export interface BudgetView {
  id: string;
  scope: string;
  key: string | null;
  model: string | null;
  period: string;
  limitUsd: number;
  spentUsd: number;
  reservedUsd: number;
  remainingUsd: number;
  periodStart: string;
  resetsAt: string | null;
}

export interface StateView {
  at: string;
  uptimeMs: number;
  endpoints: EndpointView[];
  budgets: BudgetView[];
  supervisor: { state: string; queueDepth: number; requestsRouted: number; requestsQueued: number; inFlight: number };
  /** The replica, its shared store and what is shared (issue 13). */
  shared?: SharedView;
}

function p50(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
const round = (x: number): number => Math.round(x * 100) / 100;

export function buildState(rt: Runtime): StateView {
  const now = rt.now();
  const endpoints: EndpointView[] = [];
  for (const h of rt.handles.values()) {
    const c = h.actor.getSnapshot().context;
    const s = c.settings;
    // With Redis the windows are shared: their fill across replicas (read on the lease tick), or this replica's own if that is higher (its latest requests).
    const sw = rt.shared?.store.windowUse(h.id, now);
    // A cooldown another replica shared (its upstream's 429 or x-ratelimit), past this replica's own: no replica sends there until it ends.
    const cd = rt.shared?.store.sharedCooldown(h.id, now) ?? null;
    const sharedCd = cd !== null && (c.retryAt === null || cd > c.retryAt) && rt.publicState(h) !== 'circuit-open' ? cd : null;
    endpoints.push({
      id: h.id,
      model: h.model,
      provider: h.providerName,
      state: sharedCd !== null ? 'throttled' : rt.publicState(h),
      rpm: { used: s.rpm !== null ? round(Math.max(sw?.rpm ?? 0, gcraUsed(c.rpmTat, now, s.rpm))) : 0, limit: s.rpm },
      tpm: { used: s.tpm !== null ? Math.round(Math.max(sw?.tpm ?? 0, gcraUsed(c.tpmTat, now, s.tpm))) : 0, limit: s.tpm },
      inFlight: h.draining === undefined ? c.inFlight : inFlightOf(h),
      maxConcurrent: s.maxConcurrent,
      latency: {
        p50: p50(c.latencies),
        ewma: c.latencyEwma === null ? null : round(c.latencyEwma),
        peakEwma: c.peakEwma === null ? null : round(c.peakEwma),
        ttftEwma: c.ttftEwma === null ? null : round(c.ttftEwma),
        prior: s.latencyPriorMs,
      },
      consecutiveFailures: c.failures,
      retryAt: iso(sharedCd ?? c.retryAt),
      // Healthy again after a 429's (or a 503/529 overload's) throttle, its probe not answered yet: the others wait for it.
      reason:
        sharedCd !== null
          ? 'cooldown shared by the replicas (an upstream 429, overload or x-ratelimit exhaustion)'
          : c.awaitingProbe
            ? 'after an upstream 429 or overload: one request probes first'
            : c.reason,
      requests: c.requests,
      successes: c.successes,
      errors: c.errors,
      rateLimited: c.rateLimited,
    });
  }
  const budgets = rt.budget.lines().map((l) => ({
    id: l.id,
    scope: l.scope,
    key: l.key,
    model: l.model,
    period: l.period,
    limitUsd: nanoToUsd(l.limit),
    spentUsd: nanoToUsd(l.spent),
    reservedUsd: nanoToUsd(l.reserved),
    remainingUsd: nanoToUsd(Math.max(0, l.limit - l.spent - l.reserved)),
    periodStart: new Date(l.periodStart).toISOString(),
    resetsAt: iso(l.resetsAt),
  }));
  const sup = rt.supervisor.getSnapshot();
  return {
    at: new Date(now).toISOString(),
    uptimeMs: now - rt.startedAt,
    endpoints,
    budgets,
    supervisor: {
      state: String(sup.value),
      queueDepth: sup.context.queueDepth,
      requestsRouted: sup.context.routed,
      requestsQueued: sup.context.queued,
      inFlight: rt.requestsInFlight,
    },
    shared: rt.shared?.view() ?? localView(rt.replica),
  };
}
