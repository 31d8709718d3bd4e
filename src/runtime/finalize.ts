/**
 * The end of every request: answer the client (or end the stream), write the ledger row
 * before the response ends, and log one line with what happened.
 */
import type { Usage } from '../accounting/cost.js';
import type { ModelShare } from '../accounting/ledger.js';
import { nanoToUsd } from '../accounting/money.js';
import { SwitchyardError, loggedMessage } from '../errors.js';
import type { RoutePlan } from '../routing/resolve.js';
import type { ChatCall, ChatSink } from './api.js';
import type { RuntimeCore } from './core.js';
import type { EndpointHandle } from './endpoints.js';
import type { NativeBody } from './attempt.js';
import type { StreamSession } from './stream-session.js';
import { spliceModel } from './splice-model.js';

export type Outcome =
  | { ok: true; endpoint: EndpointHandle; completion: Record<string, unknown> | null; completionText?: string | null; native?: NativeBody | null }
  | { ok: false; error: SwitchyardError; clientGone?: boolean };

export interface Tally {
  attempts: number;
  costNano: number;
  /** `costNano` by the model whose budgets each part was charged to: the row's shares of other models than its own. */
  costByModel?: ReadonlyMap<string, number>;
  estimated: boolean;
  usage: Usage;
  /** The served answer's own tokens (a stream's usage chunk), when they differ from all billed attempts' `usage`. */
  answerUsage?: Usage;
  ttftMs: number | null;
  plan: RoutePlan | null;
  endpoint: EndpointHandle | null;
  /** With no endpoint: the model the request was for (its first candidate), for its row and log. */
  model?: string | null;
  headers: (h: EndpointHandle | null) => Record<string, string>;
}

/**
 * The ledger row is written first; the answer (and the metrics and the log line) follow once it
 * is committed, or once writing it failed (logged). One promise: the insert's, continued.
 */
export function finalizeRequest(rt: RuntimeCore, call: ChatCall, sink: ChatSink, session: StreamSession | null, outcome: Outcome, t: Tally): Promise<void> {
  const latencyMs = rt.now() - call.receivedAt;
  // A JSON answer's body is made before its row is written: an upstream body that cannot be
  // serialised again (nested deeper than the stack allows) fails the request as the 502 it is,
  // with its row saying so, instead of a row of 200 and a 500 to the client.
  let body: string | null = null;
  if (outcome.ok && !session && !(outcome.native && sink.native)) {
    try {
      body = completionBody(outcome);
    } catch {
      outcome = {
        ok: false,
        error: new SwitchyardError('upstream_error', `the answer of ${outcome.endpoint.id} could not be relayed: its JSON is nested too deeply`),
      };
    }
  }
  // A stream continued on another endpoint is the committed one's: its headers named it, and its
  // row (with the cost of every part) must name the model whose budgets were charged.
  const h = session?.committedTo ?? (outcome.ok ? outcome.endpoint : t.endpoint);
  const status = outcome.ok ? 200 : outcome.error.status;
  const model = h?.model ?? t.model ?? null;
  // A request refused before any attempt (for money) names the model it was for, not an endpoint it never reached.
  const endpoint = outcome.ok || t.attempts > 0 ? (h?.id ?? null) : null;
  let inserted: Promise<unknown>;
  try {
    inserted = rt.ledger.insert({
      requestId: call.requestId,
      at: call.receivedAt,
      keyId: call.keyId,
      model,
      endpoint,
      attempts: t.attempts,
      promptTokens: t.usage.promptTokens,
      completionTokens: t.usage.completionTokens,
      cachedTokens: t.usage.cachedTokens ?? 0,
      costNano: t.costNano,
      estimated: t.estimated,
      status: sentStatus(session, outcome, status),
      latencyMs,
      ttftMs: t.ttftMs,
      stream: session !== null || call.body.stream === true,
      errorCode: outcome.ok ? null : outcome.error.code,
      routeScore: t.plan?.score ?? null,
      ...sharesOf(t.costByModel, model),
    });
  } catch (err) {
    inserted = Promise.reject(err);
  }
  const end: Ending = { rt, call, sink, session, outcome, t, h, endpoint, status, body };
  // A refusal that cost nothing does not wait for a ledger that cannot commit now (a full disk, a
  // lock): its row waits, its answer is sent. It waited with the rest: a full disk's 503 for an
  // in-flight journal it could not write never reached its client.
  if (!outcome.ok && t.costNano === 0 && rt.ledger.writeBlocked) {
    answer(end);
    return inserted.then(
      () => rt.rowWritten?.(call.requestId),
      (err: unknown) => {
        rt.rowWritten?.(call.requestId);
        call.log.warn({ ledger: (err as Error).message }, 'could not write the ledger row of a refused request');
      },
    );
  }
  return inserted.then(
    () => {
      rt.rowWritten?.(call.requestId);
      answer(end);
    },
    (err: unknown) => {
      rt.rowWritten?.(call.requestId);
      // A row the ledger keeps to write later (PostgreSQL down) is not lost: a warning, no stack.
      if ((err as { kept?: unknown } | null)?.kept === true) call.log.warn({ ledger: (err as Error).message }, 'could not write the ledger row now');
      else call.log.error({ err }, 'could not write the ledger row');
      answer(end);
    },
  );
}

/** The row's shares: what each model other than the row's was charged of its cost (none: no field). */
function sharesOf(byModel: ReadonlyMap<string, number> | undefined, model: string | null): { shares?: ModelShare[] } {
  if (byModel === undefined || byModel.size === 0 || (byModel.size === 1 && byModel.has(model ?? ''))) return {};
  const shares: ModelShare[] = [];
  for (const [m, costNano] of byModel) if (m !== model && costNano > 0) shares.push({ model: m, costNano });
  return shares.length > 0 ? { shares } : {};
}

/** What the answer needs once the ledger row is written: the request, its outcome, and what was settled of it. */
interface Ending {
  rt: RuntimeCore;
  call: ChatCall;
  sink: ChatSink;
  session: StreamSession | null;
  outcome: Outcome;
  t: Tally;
  /** The endpoint that answered, or the last one tried (or, refused for money before any attempt, the one refused). */
  h: EndpointHandle | null;
  /** The id of the endpoint the request reached, for its row, metrics and log line (none before any attempt). */
  endpoint: string | null;
  /** The HTTP status the request ends with. */
  status: number;
  /** A JSON answer's body (completionBody), made before the row. */
  body: string | null;
}

/** The upstream text with the model spliced in, when that is provably the same JSON; else re-serialised (may throw). */
function completionBody(outcome: Extract<Outcome, { ok: true }>): string {
  const completion = outcome.completion ?? {};
  const model = outcome.endpoint.model;
  const spliced = outcome.completionText ? spliceModel(outcome.completionText, completion, model) : null;
  if (spliced !== null) return spliced;
  completion.model = model;
  return JSON.stringify(completion);
}

/** After the ledger row: the request's metrics, the answer or the stream's end, the log line. */
function answer({ rt, call, sink, session, outcome, t, h, endpoint, status, body }: Ending): void {
  const errorCode = outcome.ok ? null : outcome.error.code;
  // The whole request, its wait for the ledger row included (a file locked by a backup: seconds the
  // client waited, which the row itself, written before that wait ended, cannot hold).
  const latencyMs = rt.now() - call.receivedAt;
  rt.recordRequest?.({
    model: h?.model ?? t.model ?? null,
    endpoint,
    status,
    attempts: t.attempts,
    latencyMs,
    ttftMs: t.ttftMs,
    usage: t.usage,
    costNano: t.costNano,
    ...(t.costByModel !== undefined && t.costByModel.size > 0 ? { costByModel: t.costByModel } : {}),
    stream: session !== null || call.body.stream === true,
    api: call.api ?? 'chat',
    error: errorCode,
    httpStatus: session?.committed && !outcome.ok ? sentStatus(session, outcome, status) : undefined,
  });
  const headers = t.headers(h);
  if (outcome.ok) {
    if (session) {
      session.finish(outcome.endpoint, t.answerUsage ?? t.usage);
    } else {
      headers['x-switchyard-cost-usd'] = nanoToUsd(t.costNano).toFixed(9);
      // A native relay: the upstream's own body, only its model made the catalogue id.
      if (outcome.native && sink.native) sink.native.json(200, headers, nativeWithModel(outcome.native, outcome.endpoint.model));
      else sink.json(200, headers, body ?? completionBody(outcome));
    }
  } else if (!outcome.clientGone) {
    if (session?.committed) session.fail(outcome.error, headers, t.usage);
    else {
      // An error answer can have cost money (an attempt cut at the deadline is billed): its header says so, as the row does.
      if (t.costNano > 0) headers['x-switchyard-cost-usd'] = nanoToUsd(t.costNano).toFixed(9);
      sink.fail(outcome.error, headers);
    }
  }
  // Built only when info is logged (the realistic config logs at warn).
  if (call.log.isLevelEnabled('info')) {
    const line: Record<string, unknown> = {
      model: h?.model ?? t.model ?? null,
      endpoint,
      status,
      latencyMs,
      attempts: t.attempts,
      // The configured key's id (`auth.keys[].id`, never its secret; null without auth) and the
      // billed tokens, under the ledger row's names, so a line can be matched to its row.
      keyId: call.keyId,
      promptTokens: t.usage.promptTokens,
      completionTokens: t.usage.completionTokens,
      costUsd: nanoToUsd(t.costNano),
      stream: session !== null || call.body.stream === true,
    };
    if (errorCode) line.error = errorCode;
    const failed = outcome.ok ? '' : loggedMessage(outcome.error.message, outcome.error.upstreamText, call.log.isLevelEnabled('debug'));
    call.log.info(line, outcome.ok ? 'request served' : `request failed: ${failed}`);
  }
}

/** The upstream's body with its top-level `model` set: spliced when provably exact, else re-serialised. */
function nativeWithModel({ text, json: parsed }: NativeBody, model: string): string {
  const spliced = spliceModel(text, parsed, model);
  if (spliced !== null) return spliced;
  parsed.model = model;
  return JSON.stringify(parsed);
}

/** The status line the client got: 200 for a stream that failed after it started (its error came as an event), else `status`. */
function sentStatus(session: StreamSession | null, outcome: Outcome, status: number): number {
  return session?.committed && !outcome.ok && !outcome.clientGone ? 200 : status;
}
