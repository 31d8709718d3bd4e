/**
 * One attempt against one endpoint: send, apply the per-attempt time limits, and read the
 * answer (whole, or as a stream handed piece by piece to the StreamSession). Every failure
 * leaves here as an UpstreamFault; `delivered` tells how much reached the client first.
 */
import type { Usage } from '../accounting/cost.js';
import { outputCap } from '../accounting/reservation.js';
import { countTextTokens } from '../accounting/tokens.js';
import type { ResilienceConfig } from '../config/schema.js';
import { SseParser } from '../upstream/sse.js';
import { classifyError, discard, readText, send, type UpstreamResponse } from '../upstream/transport.js';
import { UpstreamFault, type ChatBody } from '../upstream/types.js';
import { parseRateLimit } from '../upstream/rate-headers.js';
import type { EndpointHandle } from './endpoints.js';
import { traceAttempt } from './request-scope.js';
import { linkedCancel, type Cancel, type CancelSignal } from './cancel.js';
import type { StreamSession } from './stream-session.js';

export interface AttemptInput {
  h: EndpointHandle;
  body: ChatBody;
  stream: boolean;
  prefill: string | null;
  /** Relay the upstream's own answer (a Messages request to an Anthropic-kind endpoint) instead of chat chunks. */
  relay: boolean;
  resilience: ResilienceConfig;
  /** Request-level signal: deadline or client gone, with an UpstreamFault as reason. */
  signal: CancelSignal;
  now: () => number;
}

export interface NativeBody {
  text: string;
  json: Record<string, unknown>;
}

export interface AttemptSuccess {
  usage: Usage | null;
  /** Text this attempt produced (estimates when usage is missing). */
  text: string;
  /** Non-streaming: the completion object, model not yet rewritten. */
  completion: Record<string, unknown> | null;
  /** Non-streaming: the upstream's text when `completion` is that text parsed as is (the model can be spliced in). */
  completionText: string | null;
  /** Non-streaming relay: the upstream's own body (text and parsed), to be sent with only `model` rewritten. */
  native: NativeBody | null;
  ttftMs: number | null;
  latencyMs: number;
  /** `x-ratelimit-remaining-*` said 0: the window is exhausted until this time. */
  exhaustedUntil: number | null;
  malformed: number;
}

/** Thrown with the fault: what this attempt had already delivered to the client. */
export class AttemptFailure extends Error {
  constructor(
    readonly fault: UpstreamFault,
    readonly deliveredText: string,
    readonly latencyMs: number,
  ) {
    super(fault.message);
  }
}

function exhaustedUntil(res: UpstreamResponse, now: number): number | null {
  const rl = parseRateLimit(res.headers, now);
  if ((rl.remainingRequests === 0 || rl.remainingTokens === 0) && rl.resetMs !== null && rl.resetMs > 0) return now + rl.resetMs;
  return null;
}

async function errorFault(inp: AttemptInput, res: UpstreamResponse, signal: CancelSignal): Promise<UpstreamFault> {
  let text = '';
  try {
    text = await readText(res, signal, 256 * 1024, inp.resilience.idleTimeoutMs);
  } catch {
    // The error body itself failed: the status is enough to classify.
  }
  const info = inp.h.adapter.parseError(res.statusCode, text);
  return new UpstreamFault('http_status', `upstream answered ${res.statusCode}: ${info.message}`, res.statusCode, info, parseRateLimit(res.headers, inp.now()));
}

const platformHosts = new Map<string, boolean>();
/** Whether a provider's base URL is OpenAI's own API (memoised: one URL parse per provider). */
export function isOpenAIPlatform(baseUrl: string): boolean {
  let v = platformHosts.get(baseUrl);
  if (v === undefined) {
    try {
      v = new URL(baseUrl).hostname === 'api.openai.com';
    } catch {
      v = false;
    }
    platformHosts.set(baseUrl, v);
  }
  return v;
}

/**
 * A continuation's upstream counts only the tokens it adds, so it is asked for what the client's
 * cap leaves after the answer already delivered (the prefill); at least 1, as APIs refuse 0.
 */
export function continuationCap(cap: number, prefill: string | null): number {
  if (prefill === null || prefill.length === 0) return cap;
  return Math.max(1, cap - countTextTokens(prefill));
}

export async function runAttempt(inp: AttemptInput, session: StreamSession | null): Promise<AttemptSuccess> {
  const started = inp.now();
  // The attempt's own cancellation: follows the request's, and ends this attempt alone.
  const { cancel: ac, unlink } = linkedCancel(inp.signal);
  const r = inp.resilience;
  const req = inp.h.adapter.buildRequest({
    body: inp.body,
    upstreamModel: inp.h.endpoint.upstreamModel,
    stream: inp.stream,
    apiKey: inp.h.apiKey,
    headers: inp.h.provider.headers,
    basePath: inp.h.basePath,
    maxOutputTokens: continuationCap(outputCap(inp.body, inp.h.modelCfg.maxOutputTokens), inp.prefill),
    completionTokensField: isOpenAIPlatform(inp.h.provider.baseUrl),
    anthropicVersion: inp.h.provider.anthropicVersion,
    prefill: inp.prefill,
  });
  if (inp.prefill !== null) session?.prefillSent(req.prefillSent ?? inp.prefill);
  const h = inp.h;
  const trace = traceAttempt({
    endpoint: h.id,
    model: h.model,
    tier: h.modelCfg.tier,
    provider: h.endpoint.provider,
    providerKind: h.adapter.kind,
    upstreamModel: h.endpoint.upstreamModel,
  });
  if (trace) Object.assign(req.headers, trace.headers());
  const traced = (out: AttemptSuccess): AttemptSuccess => {
    trace?.end({ ok: true, text: out.text, usage: out.usage });
    return out;
  };
  // Time to first token is measured from dispatch; it covers a silent upstream before headers too.
  let firstToken: NodeJS.Timeout | undefined;
  if (inp.stream) {
    firstToken = setTimeout(() => ac.abort(new UpstreamFault('first_token_timeout', `no content within ${r.firstTokenTimeoutMs} ms`)), r.firstTokenTimeoutMs);
  }
  let delivered = '';
  let headersIn = false;
  try {
    const res = await send(inp.h.pool, req, { headersTimeoutMs: r.headersTimeoutMs, signal: ac.signal, abort: (reason) => ac.abort(reason) });
    headersIn = true;
    if (res.statusCode >= 300) throw await errorFault(inp, res, ac.signal);
    if (!inp.stream) return traced(await readCompletion(inp, res, ac.signal, started));
    if (!session) throw new Error('streaming attempt without a session');
    const out = await readStream(
      inp,
      res,
      ac,
      session,
      started,
      () => firstToken && clearTimeout(firstToken),
      (t) => (delivered += t),
    );
    return traced(out);
  } catch (err) {
    const fault = err instanceof UpstreamFault ? err : classifyError(err, ac.signal);
    // A reset before the response headers is a reset (one quick retry); once the stream was open it is a cut.
    const cut = fault.kind === 'reset' && inp.stream && headersIn ? new UpstreamFault('stream_cut', 'the upstream stream was cut', null) : fault;
    // Make sure nothing of this attempt keeps running (a half-read body, a stalled socket).
    if (!ac.signal.aborted) ac.abort(cut);
    trace?.end({ ok: false, fault: cut.kind, status: cut.status });
    throw new AttemptFailure(cut, delivered, inp.now() - started);
  } finally {
    if (firstToken) clearTimeout(firstToken);
    unlink();
  }
}

async function readCompletion(inp: AttemptInput, res: UpstreamResponse, signal: CancelSignal, started: number): Promise<AttemptSuccess> {
  // A whole body that goes silent half way is cut by the idle limit, as a stream would be.
  const text = await readText(res, signal, undefined, inp.resilience.idleTimeoutMs);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UpstreamFault('bad_response', 'upstream answer is not JSON');
  }
  let parsed;
  try {
    parsed = inp.h.adapter.parseCompletion(json);
  } catch (err) {
    throw new UpstreamFault('bad_response', (err as Error).message);
  }
  const latencyMs = inp.now() - started;
  const completionText = parsed.completion === json ? text : null;
  return {
    usage: parsed.usage,
    text: parsed.text,
    completion: parsed.completion,
    completionText,
    native: inp.relay ? { text, json: json as Record<string, unknown> } : null,
    ttftMs: null,
    latencyMs,
    exhaustedUntil: exhaustedUntil(res, inp.now()),
    malformed: 0,
  };
}

async function readStream(
  inp: AttemptInput,
  res: UpstreamResponse,
  ac: Cancel,
  session: StreamSession,
  started: number,
  clearFirstToken: () => void,
  onDelivered: (t: string) => void,
): Promise<AttemptSuccess> {
  const parser = new SseParser();
  const decoder = inp.h.adapter.streamDecoder(inp.relay);
  const idleMs = inp.resilience.idleTimeoutMs;
  let idle: NodeJS.Timeout | undefined;
  let ttftMs: number | null = null;
  let usage: Usage | null = null;
  let text = '';
  let finish: string | null = null;
  let done = false;
  let malformed = 0;
  const exhausted = exhaustedUntil(res, inp.now());
  try {
    const firstContent = (): void => {
      ttftMs = inp.now() - started;
      clearFirstToken();
      idle = setTimeout(() => ac.abort(new UpstreamFault('idle_timeout', `stream silent for ${idleMs} ms`)), idleMs);
    };
    const handle = async (events: ReturnType<SseParser['push']>): Promise<void> => {
      for (const ev of events) {
        idle?.refresh();
        for (const p of decoder.decode(ev)) {
          if (p.type === 'native') {
            if (p.content && ttftMs === null) firstContent();
            if (p.finishReason) finish = p.finishReason;
            await session.relay(p, inp.h);
            if (p.text) {
              text += p.text;
              onDelivered(p.text);
            }
          } else if (p.type === 'chunk') {
            if (p.content && ttftMs === null) firstContent();
            if (p.finishReason) finish = p.finishReason;
            await session.forward(p, inp.h);
            if (p.text) {
              text += p.text;
              onDelivered(p.text);
            }
          } else if (p.type === 'usage') usage = p.usage;
          else if (p.type === 'done') done = true;
          else if (p.type === 'malformed') malformed++;
          else throw new UpstreamFault('stream_error', `upstream error in stream: ${p.error.message}`, null, p.error);
        }
      }
    };
    // A manual iterator: leaving a for-await loop at [DONE] would destroy the body, and the
    // abort error it builds (with a source-mapped stack) costs more than the whole chunk loop.
    // After [DONE] the rest of the body (normally just its end) is drained by `discard`.
    const chunks = res.body[Symbol.asyncIterator]();
    while (!done) {
      const next = await chunks.next();
      if (next.done) break;
      await handle(parser.push(next.value as Buffer));
    }
    if (!done) await handle(parser.end());
  } finally {
    if (idle) clearTimeout(idle);
    if (done) discard(res);
  }
  // A clean end without [DONE] is fine once the answer finished; without a finish it is a cut.
  if (!done && finish === null) throw new UpstreamFault('stream_cut', 'the upstream stream ended before the answer finished');
  return { usage, text, completion: null, completionText: null, native: null, ttftMs, latencyMs: inp.now() - started, exhaustedUntil: exhausted, malformed };
}
