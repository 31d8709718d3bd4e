/**
 * `POST /switchyard/feedback {"request_id", "good": true|false}`: an app's own verdict on an
 * answer, stored in the ledger database (the latest verdict wins) for `switchyard calibrate`.
 * An id the ledger does not know is a 404: a verdict must belong to a request switchyard served.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { LedgerStore } from '../accounting/ledger.js';
import { SwitchyardError } from '../errors.js';
import { bodyText, readBody, sendJson } from './server.js';

const Feedback = z.strictObject({
  request_id: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected the x-request-id of a response'),
  good: z.boolean(),
});

export function feedbackRoute(ledger: LedgerStore, now: () => number) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req, 4096, undefined, 'the fixed limit of feedback bodies');
    let json: unknown;
    try {
      json = JSON.parse(bodyText(raw));
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
