/**
 * One attempt against one endpoint: send, apply the per-attempt time limits, and read the
 * answer (whole, or as a stream handed piece by piece to the StreamSession). Every failure
 * leaves here as an UpstreamFault; `delivered` tells how much reached the client first.
 */
import { nativeOf } from '../apis/native.js';
import { badToolArgs, BROKEN_OFF, completionToolCalls, StreamToolCalls } from '../apis/messages-output.js';
import { usageFromAnthropic, usageFromOpenAI, type Usage } from '../accounting/cost.js';
import { countTextTokens } from '../accounting/tokens.js';
import type { ResilienceConfig } from '../config/schema.js';
import { SseParser, type SseEvent } from '../upstream/sse.js';
import {
  classifyError,
  BODY_LIMIT_BYTES,
  ERROR_BODY_LIMIT_BYTES,
  readText,
  send,
  sendWhole,
  type BodyConsumer,
  type SendOptions,
  type UpstreamResponse,
} from '../upstream/transport.js';
import { OversizeFault, SidecarBusyFault, UnusableAnswer, UpstreamFault, type ChatBody, type StreamPiece } from '../upstream/types.js';
import { ByteCollector } from '../upstream/byte-collector.js';
import { HeldShare, heldOverMessage } from '../upstream/held-bytes.js';
import { completionAsSse } from '../upstream/json-as-stream.js';
import type { StreamDecoder } from '../upstream/adapters/types.js';
import { parseRateLimit } from '../upstream/rate-headers.js';
import { statusMessage } from '../upstream/redirect.js';
import type { OutputParts } from '../observe/output-parts.js';
import type { EndpointHandle } from './endpoints.js';
import { traceAttempt } from './request-scope.js';
import { linkedCancel, type Cancel, type CancelSignal } from './cancel.js';
import type { StreamSession } from './stream-session.js';
import type { Scheduler } from './scheduler.js';

export interface AttemptInput {
  h: EndpointHandle;
  body: ChatBody;
  stream: boolean;
  prefill: string | null;
  /** The output cap sent upstream (outputCap, less a continuation's prefill): what this attempt was reserved for. */
  outputCap: number;
  /** Relay the upstream's own answer (a Messages request to an Anthropic-kind endpoint) instead of chat chunks. */
  relay: boolean;
  resilience: ResilienceConfig;
  /**
   * The attempt's share of a short deadline (the driver's `deadlineShare`): when below
   * `headersTimeoutMs` (JSON) or `firstTokenTimeoutMs` (a stream), the limit it is cut at instead.
   */
  shareMs?: number | null;
  /** Where the `shareMs` cut is timed: the runtime's scheduler (a simulated clock in tests). */
  scheduler?: Scheduler;
  /**
   * A translated Messages request: an answer calling a tool with arguments that are not a JSON
   * object is a bad answer (a `tool_use` input is an object), failed over like one, and billed.
   */
  toolArgsObjects?: boolean;
  /**
   * A translated Messages request, or a Responses one: an answer whose finish reason says the
   * provider broke it off ({@link BROKEN_OFF}) is a cut (a stream: continued or ended with an error
   * event; a JSON answer: a bad answer, failed over and billed), never a whole answer ending
   * `end_turn` or `completed` (neither API has a word for it; chat relays the finish reason).
   */
  brokenOffIsCut?: boolean;
  /** Request-level signal: deadline or client gone, with an UpstreamFault as reason. */
  signal: CancelSignal;
  now: () => number;
  /** Told when a connection has taken the request (it went out: the provider may bill it from here). */
  onSent?: () => void;
}

export interface NativeBody {
  text: string;
  json: Record<string, unknown>;
}

export interface AttemptSuccess {
  usage: Usage | null;
  /** Text this attempt produced (estimates when usage is missing). */
  text: string;
  /** Streamed output besides content text (tool calls, refusals), for the same estimates. */
  other: string;
  /** Non-streaming: the completion object, model not yet rewritten. */
  completion: Record<string, unknown> | null;
  /** Non-streaming: the upstream's text when `completion` is that text parsed as is (the model can be spliced in). */
  completionText: string | null;
  /** Non-streaming relay: the upstream's own body (text and parsed), to be sent with only `model` rewritten. */
  native: NativeBody | null;
  ttftMs: number | null;
  latencyMs: number;
  /** How the answer finished (its first choice's chat finish reason, a stream's last one), null when none was given. */
  finishReason: string | null;
  /** The model the upstream says answered (its body's or first chunk's `model`: a dated snapshot, `gpt-4.1-2025-04-14`), null when it said none. */
  model: string | null;
  /** `x-ratelimit-remaining-*` said 0: the window is exhausted until this time. */
  exhaustedUntil: number | null;
  malformed: number;
}

/** Thrown with the fault: what this attempt had already delivered to the client. */
export class AttemptFailure extends Error {
  constructor(
    readonly fault: UpstreamFault,
    /** Content text the client was given by this attempt (a continuation's prefill). */
    readonly deliveredText: string,
    readonly latencyMs: number,
    /** Output given besides content (tool-call names and arguments, refusals): billed, not prefill. */
    readonly otherText = '',
    /** The counts the upstream reported before the failure (Anthropic's message_start / message_delta), if any. */
    readonly usage: Usage | null = null,
    /** When the first content reached the client, if it did. */
    readonly ttftMs: number | null = null,
    /** The request went out to the upstream (it may have it, and bill it, even if no answer came back). */
    readonly sent = false,
    /** A non-streamed attempt's upstream answered 2xx before it failed: the answer was made (and billed), its body lost or cut. */
    readonly answered = false,
    /** A whole answer in an answer's shape but a bad one (no choice, the wrong vector count): the provider read the prompt, and billed it. */
    readonly promptBilled = false,
    /**
     * `usage` is the answer's last word (a whole body's, or a stream's sent after its finish reason):
     * billed as it is, not raised to the estimate of what was delivered, as counts reported part way are.
     */
    readonly usageFinal = false,
  ) {
    super(fault.message);
  }
}

/** Why a body may not read as text: the upstream compressed it though switchyard asked for `accept-encoding: identity`. */
function encodingNote(res: UpstreamResponse): string {
  const enc = res.headers['content-encoding'];
  const v = Array.isArray(enc) ? enc.join(', ') : enc;
  return typeof v === 'string' && v !== '' && v.toLowerCase() !== 'identity'
    ? ` (it came compressed, content-encoding: ${v.slice(0, 40)}, though switchyard asks for identity: a proxy in front of the provider compresses it)`
    : '';
}

function exhaustedUntil(res: UpstreamResponse, now: number): number | null {
  const rl = parseRateLimit(res.headers, now);
  if ((rl.remainingRequests === 0 || rl.remainingTokens === 0) && rl.resetMs !== null && rl.resetMs > 0) return now + rl.resetMs;
  return null;
}

async function errorFault(inp: AttemptInput, res: UpstreamResponse, signal: CancelSignal): Promise<UpstreamFault> {
  let text = '';
  try {
    text = await readText(res, signal, ERROR_BODY_LIMIT_BYTES, inp.resilience.idleTimeoutMs);
  } catch {
    // The error body itself failed: the status is enough to classify.
  }
  return statusFault(inp, res, text);
}

/** An error status's fault, from its body's text ('' when the body failed). */
function statusFault(inp: AttemptInput, res: UpstreamResponse, text: string): UpstreamFault {
  const info = inp.h.adapter.parseError(res.statusCode, text);
  const message = statusMessage(res.statusCode, res.headers, inp.h.provider.baseUrl, info.message);
  return new UpstreamFault('http_status', message, res.statusCode, info, parseRateLimit(res.headers, inp.now()));
}

/** A base URL's host name, lower-cased ('' for what is not a URL: no provider's). */
function hostOf(baseUrl: string): string {
  try {
    return new URL(baseUrl).hostname.toLowerCase();
  } catch {
    return '';
  }
}

/** `test` of a base URL's host, memoised per base URL (one URL parse each, not one per attempt). */
function hostCheck(test: (host: string) => boolean): (baseUrl: string) => boolean {
  const seen = new Map<string, boolean>();
  return (baseUrl) => {
    let v = seen.get(baseUrl);
    if (v === undefined) {
      v = test(hostOf(baseUrl));
      seen.set(baseUrl, v);
    }
    return v;
  };
}

/**
 * Whether a provider's base URL is OpenAI's own API or an Azure OpenAI host: the APIs that define
 * OpenAI's newer wire (`max_completion_tokens`, the `developer` role), where other
 * OpenAI-compatible APIs may only know the older one. Regional hosts too: eu.api.openai.com and
 * us.api.openai.com (OpenAI's data residency).
 */
export const isOpenAIHost = hostCheck(
  (host) => host === 'api.openai.com' || /\.(api\.openai\.com|openai\.azure\.com|cognitiveservices\.azure\.com|services\.ai\.azure\.com)$/.test(host),
);

/**
 * Google's OpenAI-compatible APIs for Gemini (AI Studio's generativelanguage.googleapis.com,
 * Vertex AI's aiplatform.googleapis.com): they refuse a field they do not know with a 400
 * (`Unknown name "prompt_cache_key": Cannot find field`), OpenAI's prompt-caching hints included.
 */
export const isGeminiHost = hostCheck(
  (host) => host === 'generativelanguage.googleapis.com' || host === 'aiplatform.googleapis.com' || host.endsWith('-aiplatform.googleapis.com'),
);

/** DeepSeek's API, which takes the output cap in `max_tokens` only and silently ignores `max_completion_tokens`. */
const isDeepSeekHost = hostCheck((host) => host === 'api.deepseek.com' || host.endsWith('.deepseek.com'));

/**
 * Where a provider's output cap goes under `outputCapField: auto` (the host checks are memoised per
 * base URL): `max_completion_tokens` on OpenAI's own API and Azure OpenAI's hosts, whose reasoning
 * models refuse `max_tokens`; `max_tokens` on DeepSeek's, which ignores `max_completion_tokens` (an
 * answer asked for 100 tokens ran to the model's default, billed by DeepSeek beyond what was
 * reserved and recorded); the client's field elsewhere.
 */
export function autoCapField(baseUrl: string): 'client' | 'max_tokens' | 'max_completion_tokens' {
  return isOpenAIHost(baseUrl) ? 'max_completion_tokens' : isDeepSeekHost(baseUrl) ? 'max_tokens' : 'client';
}

/**
 * How many UTF-16 units of output one token can be at most, for the bound on what a stream may
 * deliver (StreamReader). o200k's longest tokens are runs of ~128 spaces or symbols; a stream over
 * this many characters per token it was allowed has ignored max_tokens.
 */
export const MAX_CHARS_PER_TOKEN = 128;

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
    model: inp.h.model,
    stream: inp.stream,
    apiKey: inp.h.apiKey,
    headers: inp.h.headers,
    basePath: inp.h.basePath,
    maxOutputTokens: inp.outputCap,
    capField: inp.h.provider.outputCapField === 'auto' ? autoCapField(inp.h.provider.baseUrl) : inp.h.provider.outputCapField,
    openaiHost: isOpenAIHost(inp.h.provider.baseUrl),
    dropCacheHints: isGeminiHost(inp.h.provider.baseUrl),
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
    baseUrl: h.provider.baseUrl,
  });
  if (trace) Object.assign(req.headers, trace.headers());
  // The first-token limit runs from when a connection takes the request (a wait for one in the
  // pool is not the upstream's silence); it covers a silent upstream before headers too.
  let firstToken: NodeJS.Timeout | undefined;
  let reader: StreamReader | null = null;
  let headersIn = false;
  let sent = false;
  let answered = false;
  /** A whole answer taken as a bad one after all (its tool call arguments): still billed. */
  let refused: AttemptSuccess | null = null;
  // The short-deadline cut (`shareMs`), from now; over once the answer begins (a JSON answer's
  // status, a stream's first content), as the limits it stands in for are.
  let shareCut: (() => void) | null = null;
  const endShare = (): void => {
    if (shareCut !== null) shareCut();
    shareCut = null;
  };
  const shareMs = inp.shareMs;
  if (shareMs !== undefined && shareMs !== null && inp.scheduler !== undefined)
    shareCut = inp.scheduler.after(shareMs, () => {
      shareCut = null;
      const what = inp.stream ? 'content' : 'response headers';
      ac.abort(
        new UpstreamFault(
          inp.stream ? 'first_token_timeout' : 'headers_timeout',
          `no ${what} within ${shareMs} ms, when the request's deadline still leaves another endpoint room to answer`,
        ),
      );
    });
  try {
    const opts: SendOptions = {
      headersTimeoutMs: r.headersTimeoutMs,
      signal: ac.signal,
      abort: (reason: UpstreamFault) => ac.abort(reason),
      onSent: () => {
        sent = true;
        inp.onSent?.();
        if (inp.stream && firstToken === undefined && reader === null)
          firstToken = setTimeout(
            () => ac.abort(new UpstreamFault('first_token_timeout', `no content within ${r.firstTokenTimeoutMs} ms`)),
            r.firstTokenTimeoutMs,
          );
      },
      onStatus: inp.stream
        ? undefined
        : (status: number) => {
            answered = status >= 200 && status < 300;
            endShare();
          },
    };
    if (!inp.stream) {
      // The headers and the whole body in one step; a whole body that goes silent half way is cut by the idle limit, as a stream would be.
      const whole = await sendWhole(inp.h.pool, req, opts, r.idleTimeoutMs);
      if (whole.statusCode >= 300) throw statusFault(inp, whole, whole.text);
      const out = completionOf(inp, whole, started);
      const bad = inp.toolArgsObjects === true ? badToolArgs(completionToolCalls(out.completion)) : null;
      if (bad !== null) {
        refused = out;
        throw new UnusableAnswer(`the answer calls tool ${bad} with arguments that are not a JSON object (a Messages tool_use input must be one)`, 'tool_args');
      }
      if (inp.brokenOffIsCut === true && out.finishReason !== null && BROKEN_OFF.has(out.finishReason)) {
        refused = out;
        throw new UpstreamFault('bad_response', `the upstream broke the answer off (finish_reason ${out.finishReason}): it is not a whole answer`);
      }
      // Far more text than the cap allows (an upstream that ignored max_tokens): a bad answer, as a stream is cut there.
      if (answerChars(out) > inp.outputCap * MAX_CHARS_PER_TOKEN) {
        refused = out;
        throw new UpstreamFault(
          'bad_response',
          `the upstream answered far more than the ${inp.outputCap} output tokens it was asked for at most (over ${inp.outputCap * MAX_CHARS_PER_TOKEN} characters)`,
        );
      }
      return traced(trace, out);
    }
    const res = await send(inp.h.pool, req, opts);
    headersIn = true;
    if (res.statusCode >= 300) throw await errorFault(inp, res, ac.signal);
    if (!session) throw new Error('streaming attempt without a session');
    reader = new StreamReader(inp, res, ac, session, started, () => {
      if (firstToken) clearTimeout(firstToken);
      endShare();
    });
    if (trace?.output) reader.output = trace.output;
    // A whole JSON answer to a stream request (a server that ignores `stream`), or a 200 whose JSON is an error: read as the stream it stands for.
    res.consume(inp.h.adapter.kind === 'openai' && !inp.relay && jsonBody(res) ? new JsonAnswerAsStream(reader, res) : reader);
    return traced(trace, await reader.result);
  } catch (err) {
    const fault = err instanceof UpstreamFault ? err : classifyError(err, ac.signal);
    // A reset before the response headers is a reset (one quick retry); once the stream was open it is a cut.
    const cut = fault.kind === 'reset' && inp.stream && headersIn ? new UpstreamFault('stream_cut', 'the upstream stream was cut', null) : fault;
    // Make sure nothing of this attempt keeps running (a half-read body, a stalled socket).
    if (!ac.signal.aborted) ac.abort(cut);
    trace?.end({ ok: false, fault: cut.kind, status: cut.status });
    throw new AttemptFailure(
      cut,
      reader?.text ?? '',
      inp.now() - started,
      reader?.other ?? refused?.text ?? '',
      reader?.reported ?? refused?.usage ?? (fault instanceof BadAnswerFault ? fault.reported : null),
      reader?.ttftMs ?? null,
      sent,
      answered,
      fault instanceof BadAnswerFault && fault.answerShaped,
      reader ? reader.finished && reader.reported !== null : (refused?.usage ?? (fault instanceof BadAnswerFault ? fault.reported : null)) != null,
    );
  } finally {
    if (firstToken) clearTimeout(firstToken);
    endShare();
    unlink();
  }
}

/**
 * How long a whole answer's output is, in UTF-16 units: its text, and what the stream bound counts
 * besides (tool calls' names and arguments, a refusal), and reasoning text a provider returns
 * beside the answer (`reasoning_content`, `reasoning`). A huge tool call passed the bound on text alone.
 */
function answerChars(out: AttemptSuccess): number {
  let n = out.text.length;
  const choices = out.completion?.choices;
  const first: unknown = Array.isArray(choices) ? choices[0] : undefined;
  const m = typeof first === 'object' && first !== null ? (first as { message?: unknown }).message : undefined;
  if (typeof m !== 'object' || m === null) return n;
  const msg = m as { tool_calls?: unknown; refusal?: unknown; reasoning_content?: unknown; reasoning?: unknown };
  for (const v of [msg.refusal, msg.reasoning_content, msg.reasoning]) if (typeof v === 'string') n += v.length;
  if (Array.isArray(msg.tool_calls))
    for (const tc of msg.tool_calls as unknown[]) {
      const call =
        typeof tc === 'object' && tc !== null
          ? (tc as { function?: { name?: unknown; arguments?: unknown }; custom?: { name?: unknown; input?: unknown } })
          : undefined;
      const f = call?.function;
      if (typeof f?.name === 'string') n += f.name.length;
      if (typeof f?.arguments === 'string') n += f.arguments.length;
      // A custom tool's call: its name and free-form input.
      const c = call?.custom;
      if (typeof c?.name === 'string') n += c.name.length;
      if (typeof c?.input === 'string') n += c.input.length;
    }
  return n;
}

/** The attempt's success, told to its trace (a function, not a closure made per attempt). */
function traced(trace: ReturnType<typeof traceAttempt>, out: AttemptSuccess): AttemptSuccess {
  if (trace === null) return out;
  if (trace.output && out.completion !== null) trace.output.completion(out.completion);
  trace.end({ ok: true, usage: out.usage, finishReason: out.finishReason, model: out.model });
  return out;
}

/** A stream piece, for the span's captured output: a template chunk is text alone (not parsed for it). */
function captureOutput(o: OutputParts, p: Extract<StreamPiece, { type: 'chunk' | 'native' }>): void {
  if (p.type === 'native') o.native(p.name, p.data);
  else if (p.shape !== undefined) o.addText(p.text);
  else o.chunk(p.chunk);
}

/**
 * A 2xx JSON body that is not an answer (no choices, an error object, another API's shape): a bad
 * response, failed over, with the counts it reported. A provider that reports usage for it has
 * billed them (the prompt, at least), so the attempt is billed by them, as a cut stream is.
 */
class BadAnswerFault extends UpstreamFault {
  constructor(
    message: string,
    readonly reported: Usage | null,
    /** In an answer's shape (`choices`, an embeddings `data` list) but not a good one: the provider read, and billed, the prompt. */
    readonly answerShaped = false,
    /**
     * Bad for this request only (vectors not of the `dimensions` it asked, which this upstream does
     * not apply): failed over, but not held against the endpoint's health — one client's field
     * opened the circuit for every other request (a re-test round).
     */
    readonly requestOwn = false,
  ) {
    super('bad_response', message);
  }
}

/** A fault that is the request's, not the endpoint's (BadAnswerFault.requestOwn): not counted as the endpoint failing. */
export const requestOwnFault = (f: UpstreamFault): boolean => f instanceof BadAnswerFault && f.requestOwn;

/** The usage a body reports, in either provider's convention (their fields differ), or null. */
function reportedUsage(json: unknown): Usage | null {
  if (typeof json !== 'object' || json === null) return null;
  const u = (json as { usage?: unknown }).usage;
  return usageFromOpenAI(u) ?? usageFromAnthropic(u) ?? null;
}

/** How many vectors an embeddings input asks for: one per text, or per token array. */
function embeddingInputs(input: string | string[] | number[] | number[][]): number {
  if (typeof input === 'string') return 1;
  return input.length > 0 && typeof input[0] === 'number' ? 1 : input.length;
}

/**
 * Each vector of an embeddings answer's `data` in `want`'s encoding: a list of numbers as the
 * base64 of its little-endian float32s (OpenAI's base64 encoding), or such base64 as the list.
 * Changes `data` in place; true when it changed anything.
 */
export function encodeVectors(data: unknown[], want: 'float' | 'base64'): boolean {
  let changed = false;
  for (const d of data) {
    if (typeof d !== 'object' || d === null) continue;
    const item = d as { embedding?: unknown };
    const v = item.embedding;
    if (want === 'base64' && Array.isArray(v) && v.every((x) => typeof x === 'number')) {
      const bytes = Buffer.allocUnsafe(v.length * 4);
      for (let i = 0; i < v.length; i++) bytes.writeFloatLE(v[i] as number, i * 4);
      item.embedding = bytes.toString('base64');
      changed = true;
    } else if (want === 'float' && typeof v === 'string') {
      const bytes = Buffer.from(v, 'base64');
      if (bytes.length % 4 !== 0) continue;
      const floats = new Float32Array(bytes.length / 4);
      for (let i = 0; i < floats.length; i++) floats[i] = bytes.readFloatLE(i * 4);
      item.embedding = Array.from(floats);
      changed = true;
    }
  }
  return changed;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The size of the first vector (of vectors that passed vectorMismatch) that is not the `dimensions`
 * asked, or null: an OpenAI-compatible server that ignores it gave vectors of its own size as a 200,
 * which a vector store refuses far from the cause.
 */
function otherDimensions(data: unknown[], dimensions: number): number | null {
  for (const d of data) {
    const n = vectorLength((d as { embedding: unknown }).embedding);
    if (n !== dimensions) return n;
  }
  return null;
}

/** The number of floats in a vector (isVector): an array's length, or base64's bytes / 4. */
const vectorLength = (v: unknown): number => (typeof v === 'string' ? Buffer.byteLength(v, 'base64') / 4 : (v as unknown[]).length);

/** An embedding as the API gives one: a non-empty array of finite numbers, or base64 of whole float32s. */
function isVector(v: unknown): boolean {
  if (typeof v === 'string') return v.length > 0 && v.length % 4 === 0 && BASE64.test(v) && Buffer.byteLength(v, 'base64') % 4 === 0;
  if (!Array.isArray(v) || v.length === 0) return false;
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'number' || !Number.isFinite(v[i])) return false;
  return true;
}

/**
 * What is wrong with an embeddings answer's `data` for `want` inputs (a count, a missing or repeated
 * index, a vector that is none: `"abc"`, `["a"]`, `[null, 2]`, `[]`, which was delivered as a 200 and
 * the SDK's base64 decoding made `[]`), or null.
 */
function vectorMismatch(data: unknown[], want: number): string | null {
  if (data.length !== want) return `has ${data.length} vector${data.length === 1 ? '' : 's'}`;
  const bad = data.findIndex((d) => !isVector((d as { embedding?: unknown }).embedding));
  if (bad >= 0) return `has an entry (${bad}) whose embedding is not a vector (a non-empty array of numbers, or base64 of float32s)`;
  const seen = new Set<number>();
  for (const d of data) {
    const i = (d as { index?: unknown }).index;
    // No index at all: taken in order, as OpenAI's SDK does.
    if (i === undefined) continue;
    if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= want || seen.has(i)) return `has a vector with index ${JSON.stringify(i)?.slice(0, 40)}`;
    seen.add(i);
  }
  return null;
}

/**
 * A 2xx answer that is a web page (`text/html`) where the API's JSON or event stream should be: the
 * provider's baseUrl points at a web server (a site, a login or captive portal, a gateway's UI), not
 * at its API. Like a redirect, it is the endpoint's configuration: it counts, fails over, and is
 * logged as an error naming the baseUrl (retry-policy's `notTheApi`). It was a bad answer, or for a
 * stream "the upstream stream ended before the answer finished", which sent the operator after a
 * flaky provider.
 */
function webPage(res: UpstreamResponse): UpstreamFault | null {
  const t = res.headers['content-type'];
  if (typeof t !== 'string' || !/^\s*text\/html\b/i.test(t)) return null;
  return new UpstreamFault(
    'http_status',
    `upstream answered ${res.statusCode} with a web page (text/html), not an answer of the API: check the provider's baseUrl`,
    res.statusCode,
  );
}

/**
 * An event stream where a whole JSON answer was asked for (`stream: false`): a server that streams
 * whatever the request says. Its answer was made, and billed, so the attempt is billed the usage the
 * stream reported (its last usage), or, in an answer's shape, its prompt; it was a bad answer "not
 * JSON", billed $0, however long the stream.
 */
function streamForJson(res: UpstreamResponse, text: string): BadAnswerFault | null {
  const t = res.headers['content-type'];
  if (typeof t !== 'string' || !/^\s*text\/event-stream\b/i.test(t)) return null;
  let usage: Usage | null = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith('data:') || !line.includes('"usage"')) continue;
    try {
      usage = reportedUsage(JSON.parse(line.slice(5))) ?? usage;
    } catch {
      // Not JSON: no counts in it.
    }
  }
  return new BadAnswerFault('upstream answered an event stream to a request that was not streamed (stream: false): it ignores `stream`', usage, true);
}

/** Whether an answer's body is JSON by its content type. */
function jsonBody(res: UpstreamResponse): boolean {
  const t = res.headers['content-type'];
  return typeof t === 'string' && /^application\/(?:[\w.+-]*\+)?json\b/i.test(t.trim());
}

/**
 * The body of a stream request that came as JSON: read whole (within the answer's size limit),
 * then handed to the stream reader as the events it stands for (`completionAsSse`).
 */
class JsonAnswerAsStream implements BodyConsumer {
  private readonly body = new ByteCollector(BODY_LIMIT_BYTES, NaN, new HeldShare());
  private over = false;

  constructor(
    private readonly reader: StreamReader,
    private readonly res: UpstreamResponse,
  ) {}

  data(chunk: Buffer): undefined {
    if (this.over || this.body.add(chunk)) return undefined;
    this.over = true;
    const f = this.body.overShared
      ? new SidecarBusyFault(heldOverMessage(this.body.size + chunk.length))
      : new OversizeFault(`upstream body larger than ${BODY_LIMIT_BYTES} bytes`);
    this.reader.error(f);
    this.res.abort(f);
    return undefined;
  }

  end(): void {
    if (this.over) return;
    const text = this.body.bytes().toString('utf8');
    this.body.release();
    let sse: string | null = null;
    try {
      sse = completionAsSse(JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text));
    } catch {
      sse = null;
    }
    if (sse === null) {
      this.reader.error(
        new UpstreamFault('bad_response', 'upstream answered a stream request with a JSON body that is neither a chat.completion nor an error'),
      );
      return;
    }
    const wait = this.reader.data(Buffer.from(sse));
    if (wait === undefined) this.reader.end();
    else void wait.then(() => this.reader.end());
  }

  error(err: unknown): void {
    this.body.release();
    if (!this.over) this.reader.error(err);
  }
}

/** A whole answer (its body read by sendWhole) as the attempt's result. */
/** The first choice's `finish_reason` of a chat completion, if it has one. */
function finishOf(completion: Record<string, unknown> | null): string | null {
  const choices = completion?.choices;
  const first: unknown = Array.isArray(choices) ? choices[0] : undefined;
  const f = typeof first === 'object' && first !== null ? (first as { finish_reason?: unknown }).finish_reason : undefined;
  return typeof f === 'string' ? f : null;
}

function completionOf(inp: AttemptInput, res: UpstreamResponse, started: number): AttemptSuccess {
  // A byte order mark before the JSON (some gateways write one) is not part of it.
  let text = res.text.charCodeAt(0) === 0xfeff ? res.text.slice(1) : res.text;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw webPage(res) ?? streamForJson(res, text) ?? new UpstreamFault('bad_response', `upstream answer is not JSON${encodingNote(res)}`);
  }
  let parsed;
  try {
    parsed = inp.h.adapter.parseCompletion(json);
  } catch (err) {
    const o = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {};
    throw new BadAnswerFault((err as Error).message, reportedUsage(json), Array.isArray(o.choices) || Array.isArray(o.data));
  }
  const native = nativeOf(inp.body);
  if (native?.kind === 'embeddings') {
    // One vector per input, each index once: a client pairs them with its texts by position.
    const want = embeddingInputs(native.input);
    const data = (json as { data?: unknown }).data;
    const miss = Array.isArray(data) ? vectorMismatch(data, want) : 'is no list of vectors';
    // The provider billed the batch: its reported usage is billed (parsed.usage reads an embeddings usage, with no completion count).
    const billed = parsed.usage ?? reportedUsage(json);
    if (miss !== null) throw new BadAnswerFault(`upstream embeddings answer ${miss} for ${want} input${want === 1 ? '' : 's'}`, billed, true);
    const dims = native.extra.dimensions;
    const other = typeof dims === 'number' ? otherDimensions(data as unknown[], dims) : null;
    // The request's field this upstream does not apply: failed over, not held against the endpoint (requestOwn).
    if (other !== null)
      throw new BadAnswerFault(
        `upstream embeddings answer has a vector of ${other} dimensions where ${String(dims)} were asked (dimensions: this upstream does not apply it)`,
        billed,
        true,
        true,
      );
    // In the encoding the client asked for (float unless it said base64), whatever the upstream sent:
    // an OpenAI-compatible server that ignores encoding_format gave the OpenAI SDK, which asks for
    // base64, float lists it decoded to empty vectors.
    if (encodeVectors(data as unknown[], native.extra.encoding_format === 'base64' ? 'base64' : 'float')) text = JSON.stringify(json);
  }
  const latencyMs = inp.now() - started;
  const completionText = parsed.completion === json ? text : null;
  return {
    usage: parsed.usage,
    text: parsed.text,
    other: parsed.other ?? '',
    completion: parsed.completion,
    completionText,
    native: inp.relay ? { text, json: json as Record<string, unknown> } : null,
    ttftMs: null,
    latencyMs,
    finishReason: finishOf(parsed.completion),
    model: typeof json === 'object' && json !== null && typeof (json as { model?: unknown }).model === 'string' ? (json as { model: string }).model : null,
    exhaustedUntil: exhaustedUntil(res, inp.now()),
    malformed: 0,
  };
}

/**
 * Reads a stream's body as the transport hands it over: SSE events parsed, decoded and forwarded
 * to the session as they come. Synchronous while the client takes what is written; when it
 * needs a drain, the rest of that chunk waits for it and the upstream is paused meanwhile (the
 * transport holds what arrives). Ends at `[DONE]` (the rest of the body is drained and dropped),
 * at the body's end, or at the first failure.
 */
class StreamReader implements BodyConsumer {
  private readonly parser = new SseParser();
  private readonly decoder: StreamDecoder;
  private readonly idleMs: number;
  private idle: NodeJS.Timeout | undefined;
  /**
   * When the stream last showed life (Date.now()), once the idle limit runs. The idle timer is not
   * moved per chunk (a refresh costs ~0.2 µs, a clock read ~0.03): when it fires, it looks at this
   * and waits the rest of the limit if the stream spoke meanwhile.
   */
  private lastData = 0;
  /** Waiting for the client to drain: the upstream is paused by us, so its silence is not idleness. */
  private clientWait = false;
  ttftMs: number | null = null;
  private usage: Usage | null = null;
  /** The text delivered to the client by this attempt. */
  text = '';
  /** Output delivered besides content text (tool calls, refusals). */
  other = '';
  /**
   * A bound on what the client is given, in UTF-16 units of output: the output cap sent times
   * {@link MAX_CHARS_PER_TOKEN}. An upstream that ignores max_tokens is cut there, so neither the
   * memory held nor the estimate billed grows without end.
   */
  private readonly maxChars: number;
  private finish: string | null = null;
  /** The model the upstream says answers: the first chunk's `model` (message_start's, relayed). */
  private model: string | null = null;
  /** Whether the body held any event (a web page's holds none). */
  private events = false;
  private done = false;
  /** What the upstream answered, for the attempt's span when it captures content (`observe.otlp.captureContent`); null otherwise. */
  output: OutputParts | null = null;
  private malformed = 0;
  private settled = false;
  private readonly exhausted: number | null;
  /** The answer's tool calls, gathered when their arguments must be JSON objects (`toolArgsObjects`). */
  private readonly tools: StreamToolCalls | null;
  readonly result: Promise<AttemptSuccess>;
  private resolve!: (r: AttemptSuccess) => void;
  private reject!: (err: unknown) => void;

  constructor(
    private readonly inp: AttemptInput,
    private readonly res: UpstreamResponse,
    private readonly ac: Cancel,
    private readonly session: StreamSession,
    private readonly started: number,
    private readonly clearFirstToken: () => void,
  ) {
    const rf = (inp.body as { response_format?: { type?: unknown } }).response_format;
    this.decoder = inp.h.adapter.streamDecoder(inp.relay, inp.prefill === null && typeof rf === 'object' && rf !== null && rf.type === 'json_schema');
    this.maxChars = inp.outputCap * MAX_CHARS_PER_TOKEN;
    this.idleMs = inp.resilience.idleTimeoutMs;
    this.exhausted = exhaustedUntil(res, inp.now());
    this.tools = inp.toolArgsObjects === true ? new StreamToolCalls() : null;
    this.result = new Promise<AttemptSuccess>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  data(chunk: Buffer): Promise<void> | undefined {
    if (this.settled) return undefined;
    try {
      const wait = this.handle(this.parser.push(chunk));
      if (wait !== undefined) return this.waitClient(wait).then(this.afterChunk, this.failed);
      this.afterChunk();
    } catch (err) {
      this.failed(err);
    }
    return undefined;
  }

  end(): void {
    if (this.settled) return;
    try {
      const wait = this.handle(this.parser.end());
      if (wait !== undefined) void this.waitClient(wait).then(this.ended, this.failed);
      else this.ended();
    } catch (err) {
      this.failed(err);
    }
  }

  error(err: unknown): void {
    // The answer had finished (its finish reason came) when the connection dropped, before [DONE]
    // or the body's end: it is whole, as at a clean end without [DONE]. Our own abort is not that.
    if (this.finish !== null && !this.ac.signal.aborted) this.ended();
    else this.failed(err);
  }

  /** The counts the upstream reported so far (a failure settles by them where they say more than the estimate). */
  get reported(): Usage | null {
    return this.usage;
  }

  /** The answer's finish reason came: counts reported with it or after it are its final ones. */
  get finished(): boolean {
    return this.finish !== null;
  }

  /**
   * The idle limit stands still while the client drains: a slow reader is not an idle upstream.
   * An abort meanwhile (the deadline, a shutdown cut) ends the attempt at once: the transport
   * would hand its failure over only after the drain, which a client that reads nothing never gives.
   */
  private waitClient(wait: Promise<void>): Promise<void> {
    this.clientWait = true;
    this.ac.addEventListener('abort', this.abortedWaiting);
    return wait.finally(() => {
      this.clientWait = false;
      this.ac.removeEventListener('abort', this.abortedWaiting);
      this.lastData = Date.now();
    });
  }

  private readonly abortedWaiting = (): void => {
    this.failed(this.ac.reason);
  };

  /** After a chunk: `[DONE]` ends the attempt; the rest of the body is drained. */
  private readonly afterChunk = (): void => {
    if (!this.done) return;
    this.res.discard();
    this.succeed();
  };

  private readonly ended = (): void => {
    if (this.done) this.res.discard();
    // A clean end without [DONE] is fine once the answer finished; without a finish it is a cut
    // (or, with no event at all in a web page's body, no stream of the API: a misconfigured baseUrl).
    if (!this.done && this.finish === null)
      this.failed(
        (this.events ? null : webPage(this.res)) ??
          new UpstreamFault('stream_cut', `the upstream stream ended before the answer finished${encodingNote(this.res)}`),
      );
    else this.succeed();
  };

  private succeed(): void {
    if (this.settled) return;
    // A call whose arguments are not a JSON object cannot be a Messages tool_use: a bad answer (billed;
    // nothing can continue a stream that sent a tool call, so the request ends with its error event
    // and a row that says so). An answer cut by max_tokens keeps its calls as they are.
    // Neither content nor a finish reason (only empty `choices`, then [DONE]): no answer at all,
    // which no client can read (the SDKs' stream helpers throw) — a bad response, failed over.
    if (this.ttftMs === null && this.finish === null && this.text === '' && this.other === '') {
      this.failed(new UpstreamFault('bad_response', 'the upstream stream ended without an answer (no content, no finish reason)'));
      return;
    }
    // Its end said (`[DONE]`, `message_stop`) but never a finish reason: nothing says the answer was
    // whole (a proxy that cut it and closed the stream cleanly looks so) — a cut, as a body that ends
    // without `[DONE]` is: continued or failed over. Relayed as finished, the SDKs' stream helpers
    // threw on the choice's missing finish_reason after the client had it.
    if (this.finish === null) {
      this.failed(new UpstreamFault('stream_cut', 'the upstream stream ended without saying how the answer finished (no finish or stop reason)'));
      return;
    }
    if (this.inp.brokenOffIsCut === true && BROKEN_OFF.has(this.finish)) {
      this.failed(new UpstreamFault('stream_cut', `the upstream broke the answer off (finish_reason ${this.finish}): it is not a whole answer`));
      return;
    }
    // A continuation that added nothing (no text past the seam, no call, no refusal) but said it
    // finished: nothing says the answer it was to continue was whole (it was cut mid-answer, and the
    // model declined to go on), so it is cut again: the next candidate continues it, or the stream
    // ends with its error event. It ended the stream with a clean finish on a cut answer (a chaos
    // round: 8 of 40 words, then `stop`). Not at `length`: the client's cap was reached.
    if (this.inp.prefill !== null && this.text === '' && this.other === '' && this.finish !== 'length') {
      this.failed(
        new UpstreamFault('stream_cut', `the continuation added nothing to the cut answer (finish_reason ${this.finish}): nothing says it was whole`),
      );
      return;
    }
    const bad = this.tools !== null && this.finish !== 'length' ? badToolArgs(this.tools.calls) : null;
    if (bad !== null) {
      this.failed(
        new UnusableAnswer(`the answer calls tool ${bad} with arguments that are not a JSON object (a Messages tool_use input must be one)`, 'tool_args'),
      );
      return;
    }
    this.settled = true;
    clearTimeout(this.idle);
    this.parser.release();
    const inp = this.inp;
    this.resolve({
      usage: this.usage,
      text: this.text,
      other: this.other,
      completion: null,
      completionText: null,
      native: null,
      ttftMs: this.ttftMs,
      latencyMs: inp.now() - this.started,
      finishReason: this.finish,
      model: this.model,
      exhaustedUntil: this.exhausted,
      malformed: this.malformed,
    });
  }

  private readonly failed = (err: unknown): void => {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.idle);
    this.parser.release();
    this.reject(err);
  };

  /**
   * One chunk's events. The stream's last sign of life is noted once: the events of one chunk are
   * handled at the same moment (and again per event after a wait for the client, as each event did before).
   */
  private handle(events: SseEvent[]): Promise<void> | undefined {
    if (events.length > 0) this.events = true;
    if (this.idle !== undefined) this.lastData = Date.now();
    for (let i = 0; i < events.length; i++) {
      const pieces = this.decoder.decode(events[i]!);
      for (let j = 0; j < pieces.length; j++) {
        const wait = this.piece(pieces[j]!);
        if (wait !== undefined) return this.handleRest(wait, events, i, pieces, j);
      }
    }
    return undefined;
  }

  /** The rest of a chunk's events once the client drained (the slow path: one await per forward). */
  private async handleRest(wait: Promise<void>, events: SseEvent[], i: number, pieces: StreamPiece[], j: number): Promise<void> {
    await wait;
    // Ended meanwhile (aborted while the client drained): nothing more is forwarded.
    for (let k = j + 1; k < pieces.length && !this.settled; k++) {
      const w = this.piece(pieces[k]!);
      if (w !== undefined) await w;
    }
    for (let e = i + 1; e < events.length && !this.settled; e++) {
      if (this.idle !== undefined) this.lastData = Date.now();
      for (const p of this.decoder.decode(events[e]!)) {
        if (this.settled) return;
        const w = this.piece(p);
        if (w !== undefined) await w;
      }
    }
  }

  private firstContent(): void {
    this.ttftMs = this.inp.now() - this.started;
    this.firstOutput();
  }

  /**
   * The answer's first output, reasoning text included (DeepSeek's `reasoning_content`, OpenRouter's
   * `reasoning`, as Anthropic's thinking deltas count as content): the model is producing, so the
   * first-token limit is met and from here silence is the idle limit's. A reasoning model that
   * reasoned longer than `firstTokenTimeoutMs` before its answer was cut as if it never answered.
   */
  private firstOutput(): void {
    if (this.idle !== undefined) return;
    this.clearFirstToken();
    this.lastData = Date.now();
    this.idle = setTimeout(this.idleCheck, this.idleMs);
  }

  /** The idle limit's timer: the stream silent for the whole limit ends the attempt; else it waits for the rest. */
  private readonly idleCheck = (): void => {
    if (this.settled) return;
    const left = this.clientWait ? this.idleMs : this.lastData + this.idleMs - Date.now();
    if (left > 0) this.idle = setTimeout(this.idleCheck, left);
    else if (this.finish !== null) {
      // The answer had finished (its finish reason came) and the upstream went silent before [DONE]:
      // it is whole, as at a clean end without [DONE]; the silent connection is let go.
      this.succeed();
      this.ac.abort(new UpstreamFault('idle_timeout', `stream silent for ${this.idleMs} ms after its finish`));
    } else this.ac.abort(new UpstreamFault('idle_timeout', `stream silent for ${this.idleMs} ms`));
  };

  /**
   * A chunk whose finish reason says the provider broke the answer off ({@link BROKEN_OFF}): its
   * content is forwarded, its finish reason is not — the answer is a cut (continued, or ended with
   * an error event: see `end`), and a client given `finish_reason: "insufficient_system_resource"`
   * would take it for the answer's end. So is the finish of a continuation that has added nothing
   * yet. Any other chunk as it came.
   */
  private withoutBrokenOff(p: Extract<StreamPiece, { type: 'chunk' }>): Extract<StreamPiece, { type: 'chunk' }> {
    if (p.finishReason === null) return p;
    // A continuation's finish before it added anything is held back too: such a continuation is a cut (see `succeed`).
    const emptyContinuation = this.inp.prefill !== null && p.finishReason !== 'length' && this.text === '' && this.other === '' && !p.text && !p.other;
    if (!emptyContinuation && (this.inp.brokenOffIsCut !== true || !BROKEN_OFF.has(p.finishReason))) return p;
    const choices = p.chunk.choices.map((c) => (c.finish_reason != null ? { ...c, finish_reason: null } : c));
    const { raw: _raw, shape: _shape, ...rest } = p;
    return { ...rest, chunk: { ...p.chunk, choices }, finishReason: null };
  }

  /** One decoded piece; a promise when the session waits for the client to drain. */
  private piece(p: StreamPiece): Promise<void> | undefined {
    switch (p.type) {
      case 'chunk':
      case 'native': {
        // A templated chunk's envelope is read, not the chunk (that would parse it).
        if (this.model === null) {
          const m = p.type === 'native' ? p.model : p.shape !== undefined ? p.shape.model : p.chunk.model;
          if (typeof m === 'string' && m !== '') this.model = m;
        }
        if (p.content && this.ttftMs === null) this.firstContent();
        else if (p.type === 'chunk' && p.other && this.idle === undefined) this.firstOutput();
        if (p.finishReason) this.finish = p.finishReason;
        // Only a chunk with output besides text can hold a tool call (a template chunk is text alone).
        if (this.tools !== null && p.type === 'chunk' && p.other) this.tools.chunk(p.chunk);
        // Read before forwarding: the session may trim a piece's text (a continuation's seam).
        if (this.output !== null) captureOutput(this.output, p);
        // A piece that would take the output past its bound is not forwarded (one event can be megabytes).
        const other = p.type === 'chunk' ? p.other : undefined;
        if ((p.text || other) && this.text.length + this.other.length + p.text.length + (other?.length ?? 0) > this.maxChars)
          this.overCap(p.text + (other ?? ''));
        const wait = p.type === 'chunk' ? this.session.forward(this.withoutBrokenOff(p), this.inp.h) : this.session.relay(p, this.inp.h);
        // The text is read after forwarding: the session may trim it (a continuation's seam). It is
        // written by then (a drain only waits for the socket), so it counts even if the attempt ends meanwhile.
        this.delivered(p.text, p.type === 'chunk' ? p.other : undefined);
        return wait;
      }
      case 'usage':
        this.usage = p.usage;
        return undefined;
      case 'done':
        this.done = true;
        return undefined;
      case 'malformed':
        // An event that is not JSON is dropped (a proxy's stray line); one that was a delta carried
        // part of the answer, which is lost: a cut (continued or failed over), never an answer that
        // ends cleanly without those words.
        // After the finish reason nothing of the answer can be lost (a trailing chunk cut in half).
        if (p.lost === true && this.finish === null)
          throw new UpstreamFault(
            'stream_cut',
            'an upstream stream event that carried part of the answer could not be read (not JSON): the stream was cut there',
          );
        this.malformed++;
        return undefined;
      default:
        // After the answer's finish reason an error event loses nothing of it: the answer is whole, as
        // when the connection drops or goes silent there. Taken for a cut, it was continued past its
        // finish (a second answer after the first's finish_reason) or ended with an error event.
        if (this.finish !== null) {
          this.done = true;
          return undefined;
        }
        throw new UpstreamFault('stream_error', `upstream error in stream: ${p.error.message}`, null, p.error);
    }
  }

  private delivered(t: string, other: string | undefined): void {
    if (t) this.text += t;
    if (other) this.other += other;
  }

  /**
   * The output went past its bound: the piece is not forwarded, but the upstream generated it (at
   * least the cap), so it is billed as output not delivered — up to the bound, which the estimate
   * of a cut attempt is held to anyway.
   */
  private overCap(withheld: string): never {
    this.other += withheld.slice(0, Math.max(0, this.maxChars - this.text.length - this.other.length) + 1);
    throw new UpstreamFault(
      'bad_response',
      `the upstream sent far more than the ${this.inp.outputCap} output tokens it was asked for at most (over ${this.maxChars} characters): the stream was cut there`,
    );
  }
}
