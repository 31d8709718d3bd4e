/**
 * A provider adapter translates between the OpenAI chat-completions format that clients speak
 * and one provider's wire format. It knows nothing of routing, retries or time limits
 * (envoy ai-gateway's split: the router picks, the translator translates).
 */
import type { Usage } from '../../accounting/cost.js';
import type { SseEvent } from '../sse.js';
import type { ChatBody, StreamPiece, UpstreamErrorInfo, UpstreamHttpRequest } from '../types.js';

export interface BuildInput {
  body: ChatBody;
  upstreamModel: string;
  /** The catalogue model the endpoint serves (what the client knows it by), for messages. */
  model?: string;
  stream: boolean;
  apiKey: string | undefined;
  /** Non-secret extra headers from the provider config. */
  headers: Record<string, string>;
  /** Path prefix of the provider's base URL (e.g. `/v1`). */
  basePath: string;
  /**
   * The output cap the budget reserved for (`outputCap` in accounting/reservation.ts): every
   * adapter sends exactly this, whichever field the client used, so the upstream can never
   * produce more than was reserved.
   */
  maxOutputTokens: number;
  /**
   * Where an OpenAI-kind upstream takes the cap: `max_completion_tokens` alone (OpenAI's and Azure
   * OpenAI's APIs, whose reasoning models refuse `max_tokens`), `max_tokens` alone, or the field(s)
   * the client used (`client`, the default: `max_tokens` when it used none).
   */
  capField?: 'client' | 'max_tokens' | 'max_completion_tokens';
  /**
   * Whether an OpenAI-kind upstream is OpenAI's own API (or Azure OpenAI's), which takes every form
   * of its chat wire. False, another OpenAI-compatible API: the messages go in the forms every such
   * API takes — `developer` as `system` (DeepSeek refuses the role with a 400), and the content of
   * a system, developer, assistant or tool message that is text parts alone as one string
   * (DeepSeek refuses an array there: "invalid type: sequence, expected a string"), and a tool
   * message's `name` from its call (Gemini refuses a tool result without one). Absent: sent as written.
   */
  openaiHost?: boolean;
  /**
   * Leave out OpenAI's prompt-caching hints (`prompt_cache_key`, `prompt_cache_retention`) and its
   * stored-completion fields (`store`, `metadata`): Gemini's OpenAI-compatible API refuses them as
   * unknown fields, and they change nothing in the answer.
   */
  dropCacheHints?: boolean;
  anthropicVersion: string;
  /** Text already delivered to the client: continue this assistant turn. */
  prefill: string | null;
}

export interface ParsedCompletion {
  /** An OpenAI `chat.completion` object. */
  completion: Record<string, unknown>;
  usage: Usage | null;
  /** Concatenated assistant text (for token estimates when usage is missing). */
  text: string;
  /**
   * The answer's output besides that text, for the same estimates: tool calls' names and
   * arguments, a refusal, reasoning or thinking text, the other choices of `n`. Read only when
   * the usage misses a count (left empty otherwise).
   */
  other?: string;
}

/** Per-attempt stream state: SSE events in, OpenAI-format pieces out. */
export interface StreamDecoder {
  decode(ev: SseEvent): StreamPiece[];
}

export interface ProviderAdapter {
  readonly kind: 'openai' | 'anthropic';
  /** Throws a SwitchyardError (400) for a field that cannot be translated. */
  buildRequest(input: BuildInput): UpstreamHttpRequest;
  parseCompletion(json: unknown): ParsedCompletion;
  /** `relay`: the attempt relays the upstream's own events (`native` pieces) instead of chat chunks. */
  /**
   * `jsonAnswer`: the request asked for a `json_schema` answer and this attempt starts it afresh
   * (not a continuation): an Anthropic-kind decoder holds text that does not begin as JSON until
   * the stream says whether it is a refusal (see AnthropicStreamDecoder).
   */
  streamDecoder(relay?: boolean, jsonAnswer?: boolean): StreamDecoder;
  parseError(status: number, bodyText: string): UpstreamErrorInfo;
}
