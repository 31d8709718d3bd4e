/**
 * What the quality cascade shows outside: escalations on the inspector's timeline (records of
 * the inspection hub), and `POST /switchyard/feedback {"request_id", "good"}`, an app's own
 * verdict on an answer, stored in the ledger database for `switchyard calibrate`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { LedgerStore } from '../accounting/ledger.js';
import { SwitchyardError } from '../errors.js';
import { readBody, sendJson } from '../http/server.js';
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

const Feedback = z.strictObject({
  request_id: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected the x-request-id of a response'),
  good: z.boolean(),
});

export function feedbackRoute(ledger: LedgerStore, now: () => number) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST') throw new SwitchyardError('method_not_allowed', 'use POST /switchyard/feedback {"request_id": "...", "good": true|false}');
    const raw = await readBody(req, 4096);
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new SwitchyardError('invalid_request', 'feedback body is not valid JSON');
    }
    const p = Feedback.safeParse(json);
    if (!p.success) {
      const i = p.error.issues[0]!;
      throw new SwitchyardError('invalid_request', `invalid feedback: ${i.path.join('.') || '(root)'}: ${i.message}`, { param: i.path.join('.') || null });
    }
    const stored = await ledger.recordFeedback(p.data.request_id, p.data.good, now());
    if (stored === 'unknown_request') throw new SwitchyardError('not_found', `no request ${p.data.request_id} in the ledger`, { param: 'request_id' });
    sendJson(res, 200, { ok: true, request_id: p.data.request_id, good: p.data.good });
  };
}
