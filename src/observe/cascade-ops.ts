/**
 * What the quality cascade shows on the inspector's timeline: one record of the inspection
 * hub per escalation, and one for the step whose answer was delivered.
 */
import type { CascadeRecord } from '../runtime/cascade.js';
import type { InspectionHub } from './hub.js';

/** One timeline record per escalation (from → to, why), and one for the delivered step. */
export function noteEscalations(hub: InspectionHub, r: CascadeRecord): void {
  r.steps.forEach((s, i) => {
    const delivered = i === r.delivered;
    const next = r.steps[i + 1];
    if (!delivered && !next) return;
    hub.note({
      kind: 'escalation',
      actor: `request:${r.requestId}`,
      from: s.model ?? 'none',
      to: delivered ? 'delivered' : (next?.model ?? 'none'),
      event: { type: delivered ? 'cascade.delivered' : 'cascade.escalated', reason: s.outcome, step: i + 1 },
      context: { reason: s.outcome, costUsd: r.costNano / 1e9 },
    });
  });
}
