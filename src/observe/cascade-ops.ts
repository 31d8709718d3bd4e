/**
 * What the quality cascade shows on the inspector's timeline: one record of the inspection
 * hub per escalation, and one for the step whose answer was delivered.
 */
import type { CascadeRecord } from '../runtime/cascade.js';
import type { InspectionHub } from './hub.js';

/**
 * One timeline record per escalation (from → to, why), and one for the delivered step — both for a
 * step that escalated and whose answer was delivered in the end (a later step's was no better).
 * `costUsd` is the step's own cost, `requestCostUsd` the whole request's.
 */
export function noteEscalations(hub: InspectionHub, r: CascadeRecord): void {
  r.steps.forEach((s, i) => {
    const next = r.steps[i + 1];
    const note = (to: string, type: string): void =>
      hub.note({
        kind: 'escalation',
        actor: `request:${r.requestId}`,
        from: s.model ?? 'none',
        to,
        event: { type, reason: s.outcome, step: i + 1 },
        context: { reason: s.outcome, costUsd: s.costNano / 1e9, requestCostUsd: r.costNano / 1e9 },
      });
    if (next) note(next.model ?? 'none', 'cascade.escalated');
    if (i === r.delivered) note('delivered', 'cascade.delivered');
  });
}
