/**
 * The narrow interface between the HTTP layer and the runtime: a validated call goes in, the
 * runtime answers through a sink. The HTTP layer owns sockets; the runtime owns decisions.
 */
import type { RequestLog } from '../observe/request-log.js';
import type { ApiName } from './request-scope.js';
import type { SwitchyardError } from '../errors.js';
import type { ChatBody } from '../upstream/types.js';
import type { CancelSignal } from './cancel.js';
import type { Usage } from '../accounting/cost.js';

export interface Hints {
  task: string | null;
  tier: string | null;
  maxLatencyMs: number | null;
  maxCostUsd: number | null;
  timeoutMs: number | null;
  /**
   * The OpenAI or Anthropic SDK's own timeout for this call (its `x-stainless-timeout`, whole
   * seconds, truncated), in ms; null when not sent. The SDKs give up on a call then when its
   * response headers have not come (a JSON answer's end, a stream's first content).
   */
  sdkTimeoutMs?: number | null;
  /** `x-switchyard-cascade: on|off`; null: `routing.cascade.enabled` decides. */
  cascade?: boolean | null;
}

export interface ChatCall {
  requestId: string;
  body: ChatBody;
  hints: Hints;
  keyId: string | null;
  receivedAt: number;
  /** The request's logger (`requestLog`: a pino child made only when it writes). */
  log: RequestLog;
  /** The client API it came in through (set by `inScope`; absent: chat). */
  api?: ApiName;
  /**
   * A cascade step's: what the cascade's earlier steps cost, settled but their ledger rows not yet
   * written (they wait for the cascade's end). A shared store's reservation carries it, so a replica
   * that dies mid-step has it counted when its reservation is reclaimed.
   */
  priorNano?: number;
  /** `priorNano` by the model whose budgets each part was charged to (a shared store's seed of a model line a reload adds counts its part). */
  priorByModel?: ReadonlyMap<string, number>;
  /**
   * A cascade step that has somewhere else to go (other models of the plain order, a next tier):
   * when no candidate can take it now it ends at once with 503 no_endpoint_available instead of
   * waiting for a throttled or busy endpoint to free (the cascade goes on to the others).
   */
  noWait?: boolean;
}

export interface ChatSink {
  /** Aborted when the client goes away. */
  readonly signal: CancelSignal;
  json(status: number, headers: Record<string, string>, body: string): void;
  startStream(headers: Record<string, string>): void;
  /** Write one SSE `data:` event; false when the socket buffer is full (await `drain`). */
  write(data: string): boolean;
  drain(): Promise<void>;
  end(): void;
  /**
   * Before the stream started: an OpenAI-shaped JSON error. After: an in-band error event, then
   * end; `billed` is what the ledger counts of it (a Responses `response.failed` reports it).
   */
  fail(err: SwitchyardError, headers?: Record<string, string>, billed?: Usage): void;
  readonly started: boolean;
  /**
   * Present on a sink whose client has seen nothing of what it was given (a cascade step's
   * buffer): it forgets a stream begun by an attempt that then failed, so the next attempt starts
   * a fresh answer (a plain fail-over) instead of continuing one nobody saw.
   */
  restart?(): void;
  /**
   * True on a sink that gathers a streamed answer's tool calls and writes each whole at the
   * answer's end (a Messages `tool_use` block): pieces of tool calls alone do not commit the
   * stream, so a failure before the answer's end is still invisible to the client (fail-over).
   */
  readonly holdsToolCalls?: boolean;
  /**
   * True on a sink whose client reads a model's reasoning chunks (DeepSeek's `reasoning_content`,
   * OpenRouter's `reasoning`) as they come: chat completions, and Responses (as a `reasoning` item). A reasoning phase held
   * HOLD_TOOLS_MS then starts the stream, with the reasoning held so far, as on a Messages sink
   * (which pings instead), rather than sending nothing until the answer's first content.
   */
  readonly showsReasoning?: boolean;
  /**
   * True on a sink whose API has no form for a model's reasoning but whose client must not wait in
   * silence while the model reasons (legacy Completions): a reasoning phase held HOLD_TOOLS_MS
   * starts the stream (its headers), and the sink keeps it alive with SSE comments until content.
   */
  readonly keepsAliveWhileReasoning?: boolean;
  /**
   * Present when the client's API can take the upstream's own answer as is (the Messages API
   * from an Anthropic-kind endpoint): the flow then relays it instead of a chat completion.
   */
  readonly native?: NativeSink;
}

/** The upstream's own answer, relayed (only `model` rewritten by the flow). */
export interface NativeSink {
  json(status: number, headers: Record<string, string>, body: string): void;
  startStream(headers: Record<string, string>): void;
  /** One SSE event as the upstream named it; false when the socket buffer is full (await the sink's `drain`). */
  event(name: string, data: string): boolean;
  /**
   * The relayed stream goes on translated (a continuation on another endpoint): the chunks written
   * next continue its text block `openText` (or, when null, start a new block at `nextIndex`). A
   * sink without it cannot have a relayed stream continued.
   */
  resume?(openText: number | null, nextIndex: number): void;
}
