/**
 * A failed request's final machine context turned into the error the client gets. The
 * machine says why it failed (refused, aborted, exhausted, propagate); the wording and the
 * API shape live here, next to the error catalog's constructors.
 */
import type { ApiName } from './request-scope.js';
import type { BudgetRefusal, ReqContext } from '../../machines/request.machine.js';
import { periodEnd } from '../../machines/budget.machine.js';
import { formatUsd, usdToNano } from '../accounting/money.js';
import { SwitchyardError, upstreamClientError } from '../errors.js';
import { UpstreamFault } from '../upstream/types.js';
import type { Outcome } from './finalize.js';
import { unsupportedFeature } from './retry-policy.js';

export interface FailureInput {
  ctx: ReqContext;
  /** Why the request's signal aborted, if it did. */
  abortReason: unknown;
  routeError: SwitchyardError | null;
  model: string;
  maxCostUsd: number | null;
  /** x-switchyard-max-latency-ms when no candidate endpoint is that fast (null otherwise). */
  tooSlow?: number | null;
  /** `resilience.queue.maxDepth` when the request found the capacity queue full (null otherwise). */
  queueFull?: number | null;
  /** A slot freed for the request with only this many ms left before its deadline, too few for an attempt (null otherwise). */
  lateLeftMs?: number | null;
  /** The API the request came in (a refusal's hint names its own output cap field; embeddings have none). */
  api?: ApiName;
  /** Why each candidate could not take it now (`circuit-open`, `max concurrent (4) reached`, `throttled (…)`), for a 503 that no fault explains. */
  unavailable?: () => readonly string[];
  /** A candidate is held back now because its upstream answered an overload (a 503 or 529 with retry-after). */
  heldForOverload?: () => boolean;
  /** The request came with a client key (auth on): a shared budget's spend is not shown in a refusal. */
  keyed?: boolean;
  /** Every candidate model is gone from the running config (a reload removed it while the request waited). */
  removed?: string[] | null;
  /** The request's deadline is the client's own `x-switchyard-timeout-ms`. */
  clientDeadline?: boolean;
  /** The client's max_tokens, when a stream cut after delivering all of it was not continued (null otherwise). */
  capCut?: number | null;
  /** The answer is held to a JSON format, so a stream that had begun was not continued (request-driver.ts `formatted`). */
  formattedCut?: boolean;
  /** The prompt holds a part whose size it does not show (a PDF, a file by id, a URL), reserved at the model's context window. */
  unboundedPrompt?: boolean;
  /**
   * Seconds until a candidate endpoint takes requests again when every one is circuit-open (the
   * failures opened them), else null: a 502's `retry-after` is at least that (it said the upstream's
   * 3 s while the circuit held 8, and the SDK's retry met a 503).
   */
  allOpenSeconds?: () => number | null;
  retryAfterSeconds: () => number;
}

/** When a request was cut: a queued one had sent nothing ("after 0 attempt(s)" read as a fault). */
const cutAfter = (attempts: number): string => (attempts === 0 ? 'before any attempt was sent' : `after ${attempts} attempt${attempts === 1 ? '' : 's'}`);

/** `clientDeadline`: the deadline was the client's own `x-switchyard-timeout-ms` (retries included). */
export function abortedOutcome(reason: unknown, ctx: ReqContext, clientDeadline = false): Outcome {
  if (reason instanceof UpstreamFault && reason.kind === 'client_gone')
    return { ok: false, error: new SwitchyardError('client_closed_request', 'client closed the request'), clientGone: true };
  if (reason instanceof UpstreamFault && reason.kind === 'shutting_down')
    return {
      ok: false,
      error: new SwitchyardError(
        'shutting_down',
        `switchyard is shutting down: the request was cut ${cutAfter(ctx.attempts)}; send it again (to another instance)`,
        { headers: { 'retry-after': '1' } },
      ),
    };
  return {
    ok: false,
    // x-switchyard-timeout-ms is the deadline with retries included: the SDKs, which retry a 504 on
    // their own (twice by default, each retry the deadline again, each cut attempt billed), are told not to.
    error: new SwitchyardError(
      'timeout',
      `request deadline of ${ctx.deadlineAt - ctx.receivedAt} ms passed after ${ctx.attempts} attempt(s)`,
      clientDeadline ? { headers: { 'x-should-retry': 'false' } } : {},
    ),
  };
}

/** The longest retry-after (s) an SDK is left to wait out by itself on a 503 no_endpoint_available. */
export const MAX_SDK_RETRY_AFTER_S = 60;

/** How a client brings the worst case down: it is the prompt plus the output cap, named as its API names it (embeddings have none: their worst case is their input). */
const LOWER: Record<ApiName, string> = {
  chat: "; the worst case is the prompt plus max_tokens (the model's maxOutputTokens when max_tokens is absent): a lower max_tokens lowers it",
  completions: "; the worst case is the prompt plus max_tokens (16 when absent, as in OpenAI's completions API): a lower max_tokens lowers it",
  responses: "; the worst case is the prompt plus max_output_tokens (the model's maxOutputTokens when it is absent): a lower max_output_tokens lowers it",
  messages: '; the worst case is the prompt plus max_tokens: a lower max_tokens lowers it',
  embeddings: '',
};

/**
 * When the refusing budget starts over (its id ends in its period: `global:day`, `key:<id>:month`),
 * so a client knows whether waiting helps; a `total` budget never does.
 */
export function budgetResetNote(budget: string, now: number): string {
  const period = budget.slice(budget.lastIndexOf(':') + 1);
  if (period === 'total') return '; a total budget does not reset (raise its limit in budget.limits)';
  if (period !== 'day' && period !== 'month') return '';
  const end = periodEnd(period, now)!;
  return `; this ${period}'s budget resets at ${new Date(end).toISOString().replace('.000Z', 'Z')} (UTC)`;
}

/** `earlier`: attempts before were billed (their cost is in a cap refusal's amount). `now`: when it was refused (the budget's reset is said from it). */
/** What a refusal says when the worst case is the context window's (a part of unknown size): a lower output cap hardly moves it. */
const UNBOUNDED =
  "; this request holds a part whose size it does not show (a PDF, a file by id, a document, image or video by URL, an MCP server's tools), so its prompt is reserved at the model's whole context window: a lower max_tokens hardly lowers it (a model with a smaller context window, or a higher cap, does)";

function refusalError(
  r: BudgetRefusal,
  maxCostUsd: number | null,
  api: ApiName = 'chat',
  keyed = false,
  earlier = true,
  now = Date.now(),
  unbounded = false,
): SwitchyardError {
  const lower = unbounded ? UNBOUNDED : LOWER[api];
  const headers = { headers: { 'x-should-retry': 'false' } };
  // Amounts as exact decimals (formatUsd): never `$1e-7`, never float noise.
  const cap = maxCostUsd === null ? 'unset' : `$${formatUsd(usdToNano(maxCostUsd))}`;
  if (r.kind === 'max_cost')
    return new SwitchyardError(
      'budget_exceeded',
      `worst-case cost of this request on ${r.model}${earlier ? ', earlier attempts included' : ''} ($${formatUsd(r.amount)}) exceeds x-switchyard-max-cost-usd (${cap})${lower}`,
      headers,
    );
  // Refused only for what requests in flight hold: once they settle (each reservation replaced by
  // what it cost, usually far less), this one may fit. Said so, not "raise its limit" (a burst of
  // requests against a budget with room for a few worst cases read as a spent budget).
  const inFlight = r.reserved > 0 && r.spent + r.amount <= r.limit;
  const note = inFlight
    ? `; requests in flight hold ${keyed && !r.budget.startsWith('key:') ? 'part of it' : `$${formatUsd(r.reserved)} of it`} as their worst case: once they settle, at what they cost, this request may fit`
    : budgetResetNote(r.budget, now);
  // A client key is shown its own budget's spend, not a budget it shares with the other keys (the
  // global one, a model's): that is theirs too, and /switchyard/spend is an operations route.
  if (keyed && !r.budget.startsWith('key:'))
    return new SwitchyardError(
      'budget_exceeded',
      `budget ${r.budget} would be exceeded: limit $${formatUsd(r.limit)}, this request needs up to $${formatUsd(r.amount)} (a budget shared with other client keys: its spend is not shown to a client)${r.spent + r.reserved < r.limit ? lower : ''}${note}`,
      headers,
    );
  return new SwitchyardError(
    'budget_exceeded',
    `budget ${r.budget} would be exceeded: limit $${formatUsd(r.limit)}, spent $${formatUsd(r.spent)}, reserved $${formatUsd(r.reserved)}, this request needs up to $${formatUsd(r.amount)}${r.spent + r.reserved < r.limit ? lower : ''}${note}`,
    headers,
  );
}

const realFault = (f: unknown): UpstreamFault | null => (f instanceof UpstreamFault ? f : null);

function exhausted(inp: FailureInput): Outcome {
  const { ctx } = inp;
  // A deadline that passed while the request waited for capacity is no time-out of an upstream: the
  // candidates could not take it in its time (503, below). A client gone or a shutdown says so.
  const deadline = inp.abortReason instanceof UpstreamFault && inp.abortReason.kind === 'deadline';
  if (inp.abortReason !== undefined && !deadline) return abortedOutcome(inp.abortReason, ctx, inp.clientDeadline === true);
  const f = realFault(ctx.lastFault);
  if (f !== null && 'sidecarBusy' in f)
    return {
      ok: false,
      error: new SwitchyardError('server_busy', `${f.message}: send it again shortly (after ${ctx.attempts} attempt${ctx.attempts === 1 ? '' : 's'})`, {
        headers: { 'retry-after': '1' },
      }),
    };
  if (f === null && ctx.refusal)
    return {
      ok: false,
      error: refusalError(ctx.refusal, inp.maxCostUsd, inp.api, inp.keyed === true, ctx.spentNano > 0, Date.now(), inp.unboundedPrompt === true),
    };
  if (f === null || (f.status === 429 && ctx.attempts > 0) || ctx.attempts === 0) {
    const tooSlow = inp.tooSlow ?? null;
    if (f === null && tooSlow !== null) {
      return {
        ok: false,
        error: new SwitchyardError(
          'no_endpoint_available',
          `no endpoint available for ${inp.model}: no candidate endpoint's latency (observed, or its latencyPriorMs until measured) is within x-switchyard-max-latency-ms (${tooSlow} ms); raise it or leave it out`,
          // Asking again soon meets the same latencies: the SDKs are told not to retry on their own.
          { headers: { 'x-should-retry': 'false' } },
        ),
      };
    }
    // Removed while it waited, for capacity or after a 429 (that wait is what the reload ended): said so.
    const removed = inp.removed ?? null;
    // A model the client named itself is no longer served: asking again is a 400 model_not_found, so
    // the SDKs are told not to retry; a routed request (a route, auto) is routed among what is left.
    if (removed !== null) {
      const named = removed.includes(inp.model);
      return {
        ok: false,
        error: new SwitchyardError(
          'no_endpoint_available',
          named
            ? `no endpoint available for ${inp.model}: a config reload removed it while this request waited; it is no longer served (asking again is refused as an unknown model): name another model`
            : `no endpoint available for ${inp.model}: a config reload removed ${removed.join(', ')} while this request waited; send it again (it is routed among the models left)`,
          { headers: named ? { 'x-should-retry': 'false' } : { 'retry-after': '1' } },
        ),
      };
    }
    const full = inp.queueFull ?? null;
    const why = f
      ? `last upstream answer: ${f.message}`
      : full !== null
        ? `every candidate endpoint is busy (maxConcurrent), throttled or circuit-open, and ${full} requests already wait for one (resilience.queue.maxDepth)`
        : (() => {
            // Said as it is (a busy endpoint is not a circuit-open one): each candidate's own reason.
            const down = inp.unavailable?.() ?? [];
            if (down.length > 0) return down.join(', ');
            // Nothing holds it back now: it was refused for its time, said as such (it read as if every endpoint were down).
            const late = inp.lateLeftMs ?? null;
            const waited = `it waited ${ctx.deadlineAt - ctx.receivedAt - (late ?? 0)} ms for a candidate endpoint (busy, circuit-open or throttled)`;
            if (late !== null) return `${waited}, and one freed only ${late} ms before the request's deadline, too little for an attempt`;
            if (deadline) return `${waited}, until the request's deadline of ${ctx.deadlineAt - ctx.receivedAt} ms`;
            return 'every candidate endpoint is busy, circuit-open or throttled';
          })();
    const after = inp.retryAfterSeconds();
    // The SDKs sleep whatever retry-after says (openai-node and anthropic-sdk do not cap it): past a
    // minute they are told not to retry on their own, so a call does not hang for up to an hour.
    const headers: Record<string, string> =
      after > MAX_SDK_RETRY_AFTER_S ? { 'retry-after': String(after), 'x-should-retry': 'false' } : { 'retry-after': String(after) };
    // Held back for an upstream's overload, a Messages client gets what the request that met it got:
    // Anthropic's 529 overloaded_error (its SDK's OverloadedError), not a 503 Anthropic never answers
    // (the SDK's ServiceUnavailableError), so a client that backs off on overload sees one answer.
    const overloaded = inp.api === 'messages' && (inp.heldForOverload?.() ?? false);
    return {
      ok: false,
      error: new SwitchyardError('no_endpoint_available', `no endpoint available for ${inp.model}: ${why}`, {
        headers,
        ...(overloaded ? { status: 529, upstreamType: 'overloaded_error' } : {}),
        upstreamText: f?.error?.message ?? null,
      }),
    };
  }
  // Every candidate said it does not take a feature the request uses (retry-policy's fail-over on
  // such a 400): the client gets the last one's 400 as the provider wrote it, as with one candidate.
  if (
    f.kind === 'http_status' &&
    (f.status === 400 || f.status === 422) &&
    f.error &&
    f.error.unstructured === undefined &&
    unsupportedFeature(f.error.message)
  )
    return { ok: false, error: upstreamClientError(f.status, f.error) };
  const status = f.status !== null ? `status ${f.status}` : f.kind;
  // A stream that had begun can go on only where its text can be continued: say why the other models were not tried.
  const capCut = inp.capCut ?? null;
  const begun =
    capCut !== null
      ? `; the stream had delivered all of max_tokens (${capCut}), so it was not continued`
      : ctx.committed && inp.formattedCut === true
        ? `; the stream had begun, and its answer is held to a JSON format (${inp.api === 'responses' ? 'text.format' : inp.api === 'messages' ? 'output_config.format' : 'response_format'}), which a continuation from the text delivered cannot keep, so it was not continued`
        : ctx.committed
          ? '; the stream had begun, and no other candidate could continue it (a stream that sent a tool call or a refusal, or a relayed one that showed a thinking, tool or citation block, cannot be continued; a continuation needs a `prefill` model)'
          : '';
  // Another model was left for money (a committed stream's continuation too): the cause an operator looks for.
  const money = ctx.refusal
    ? `; another model was refused for money: ${refusalError(ctx.refusal, inp.maxCostUsd, inp.api, inp.keyed === true, ctx.spentNano > 0, Date.now(), inp.unboundedPrompt === true).message}`
    : '';
  // The last answer an overload (a 503 or 529, of any provider kind, or a stream's overloaded_error event): on the Messages API it is
  // Anthropic's own 529 `overloaded_error` (its SDK's OverloadedError, which its clients catch to
  // back off), not a 502 `api_error` saying nothing of overload (an OpenAI-kind upstream's 503 was
  // typed by its own `server_error`). A stream already begun says the type in-band, on a 200.
  // The attempts' cap ended it (a fallback may not have been tried): the setting is named.
  const capped = ctx.attempts >= ctx.maxTotalAttempts ? `; resilience.retry.maxTotalAttempts (${ctx.maxTotalAttempts}) reached` : '';
  // An `overloaded_error` event as a stream's first (Anthropic's 529 by another road) is one too.
  const overload = (f.kind === 'http_status' && (f.status === 503 || f.status === 529)) || (f.kind === 'stream_error' && f.error?.type === 'overloaded_error');
  return {
    ok: false,
    error: new SwitchyardError('upstream_error', `upstream failed on every attempt (${ctx.attempts}); last: ${status}: ${f.message}${money}${begun}${capped}`, {
      upstreamType: overload ? 'overloaded_error' : (f.error?.type ?? null),
      upstreamText: f.error?.message ?? null,
      answerCheck: 'answerCheck' in f && typeof f.answerCheck === 'string' ? f.answerCheck : null,
      ...(overload && inp.api === 'messages' && !ctx.committed ? { status: 529 } : {}),
      // The SDKs retry a 5xx on their own (openai-node and anthropic-sdk: twice). A last answer that
      // asking again gets the same (a redirect, the provider refusing switchyard's key, account or
      // region: 401, 402, 403; a proxy's page) is no 5xx to retry: they are told not to. A last
      // answer that said when to ask again (a 503's or 529's retry-after) is told on, so their retry
      // waits for it instead of their own half a second.
      ...(permanent(f) ? { headers: { 'x-should-retry': 'false' } } : upstreamWait(f, inp.allOpenSeconds?.() ?? null)),
    }),
  };
}

/**
 * The `retry-after` of a last upstream 5xx that sent one (whole seconds, rounded up), for the 502:
 * the SDKs sleep what it says before their own retry, and past a minute they are told not to retry
 * (as for a 503 no_endpoint_available), so a call does not hang that long. Without it they asked the
 * provider again within a second or two, twice, of its asking for ten.
 */
function upstreamWait(f: UpstreamFault, openSeconds: number | null): { headers?: Record<string, string> } {
  const ms = f.kind === 'http_status' && f.status !== null && f.status >= 500 ? (f.rateLimit?.retryAfterMs ?? null) : null;
  if (ms === null && openSeconds === null) return {};
  const after = Math.max(ms === null ? 0 : Math.ceil(ms / 1000), openSeconds ?? 0);
  return { headers: after > MAX_SDK_RETRY_AFTER_S ? { 'retry-after': String(after), 'x-should-retry': 'false' } : { 'retry-after': String(after) } };
}

/**
 * An upstream answer that asking again soon gets the same: a 3xx, a 4xx but for 408 (a timeout) and
 * 429 (a rate limit), or a 2xx web page where the API's answer should be (attempt.ts `webPage`).
 */
const permanent = (f: UpstreamFault): boolean =>
  (f.kind === 'http_status' && f.status !== null && f.status < 500 && f.status !== 408 && f.status !== 429) ||
  // An error event of the client's kind (a content filter's block part way, after a held cascade
  // step): asking again gets the same block, billed again.
  (f.kind === 'stream_error' && f.error?.type === 'invalid_request_error');

export function failureOutcome(inp: FailureInput): Outcome {
  const failure = inp.ctx.failure;
  switch (failure?.kind) {
    case 'refused':
      return { ok: false, error: inp.routeError ?? new SwitchyardError('internal_error', 'routing refused the request') };
    case 'aborted': {
      // A `stop` nothing aborted: switchyard's own bound (SidecarBusyFault) ended it, which is no time-out.
      const f = realFault(inp.ctx.lastFault);
      if (inp.abortReason === undefined && f !== null && 'sidecarBusy' in f) return exhausted(inp);
      return abortedOutcome(inp.abortReason, inp.ctx, inp.clientDeadline === true);
    }
    case 'propagate': {
      // A stream cut once it had delivered all of max_tokens is not continued, but the cut is the
      // upstream's fault (a 502 upstream_error), not the client's 400.
      if ((inp.capCut ?? null) !== null) return exhausted(inp);
      const f = realFault(failure.fault);
      return { ok: false, error: upstreamClientError(failure.fault.status ?? 400, f?.error ?? { message: f?.message ?? 'upstream refused the request' }) };
    }
    default:
      return exhausted(inp);
  }
}
