import type { IncomingHttpHeaders } from 'node:http';

export type WireName = 'openai' | 'anthropic';

/** One request as the simulator sees it, whatever its wire. */
export interface ChatRequest {
  model: string;
  stream: boolean;
  /** OpenAI: stream_options.include_usage. Anthropic streams always carry usage. */
  includeUsage: boolean;
  maxTokens: number | undefined;
  /** Text of every message (system included, trailing assistant included): prompt tokens. */
  messageTexts: string[];
  /** Concatenated texts without a trailing assistant message: the answer's seed. */
  seedText: string;
  /** Text of a trailing assistant message, null if the last message is not the assistant's. */
  prefill: string | null;
  /** Tool to call, null for a text answer (no tools, tool_choice none, or after a tool result). */
  toolName: string | null;
  /** The chosen tool is an OpenAI `custom` tool: its call carries free-form text (`custom.input`), not JSON arguments. */
  toolCustom: boolean;
  /** Text of the last user message (tool arguments are made from it). */
  lastUserText: string;
  /** `response_format` json_object or json_schema: the answer is a JSON object. */
  json: boolean;
  /** The `json_schema` response format's schema: the JSON answer takes its shape. */
  jsonSchema?: unknown;
  /** The chosen tool's parameters schema: the call's arguments take its shape. */
  toolSchema?: unknown;
  /** `logprobs: true`: every content token carries its log-probability. */
  logprobs: boolean;
  /** OpenAI `top_logprobs` (0–20): how many most likely tokens each position lists; 0 when absent. */
  topLogprobs?: number;
  /** Anthropic `thinking: {type: "enabled", budget_tokens}`: the budget; null without thinking. */
  thinkingBudget: number | null;
  /** Anthropic `stop_sequences` / OpenAI `stop`: the text answer stops before the first one it contains. */
  stopSequences: string[];
}

/** What the simulator decided to answer. */
export interface Answer {
  id: string;
  model: string;
  created: number;
  /** `refusal`: the pieces go to the `refusal` field (OpenAI wire), or are the text (Anthropic). */
  kind: 'text' | 'tool' | 'refusal';
  /** Text tokens, or pieces of the tool call's arguments JSON. */
  pieces: string[];
  toolName: string;
  toolId: string;
  /** A call of an OpenAI `custom` tool: the pieces are its free-form input. */
  toolCustom: boolean;
  finish: 'stop' | 'length' | 'tool';
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  /** Log-probability of each token when the request asked for them (OpenAI wire), else null. */
  logprob: number | null;
  /** How many alternatives each token's `top_logprobs` lists (the token itself first), with `logprob`. */
  topLogprobs: number;
  /** Reasoning before the answer (Anthropic `thinking` block): its tokens and signature; billed as output. */
  thinking: { pieces: string[]; signature: string } | null;
  /** The stop sequence the text answer stopped at (Anthropic `stop_reason: stop_sequence`), or null. */
  stopSequence: string | null;
  /** Prompt tokens reported as written to the cache (Anthropic `cache_creation_input_tokens`). */
  cacheWriteTokens: number;
}

/** Wire-neutral error; each wire renders it in its own body shape. */
export interface SimError {
  status: number;
  /** Neutral category; wires map it to their `type`. */
  category: 'invalid_request' | 'authentication' | 'rate_limit' | 'server' | 'overloaded' | 'not_found';
  message: string;
  code?: string | null;
  param?: string | null;
}

/** Rate-limit numbers a wire turns into its own header names. */
export interface RateInfo {
  limit: number;
  remaining: number;
  resetMs: number;
}

export interface StreamEndOptions {
  usage: boolean;
  terminator: boolean;
}

/** A provider wire format: a small declarative adapter applied by the generic server. */
export interface Wire {
  name: WireName;
  /** Response and tool-call ids in the wire's style. */
  ids(seq: number): { id: string; toolId: string };
  /** Whether the wire's key header is present (its value is never read or logged). */
  authPresent(headers: IncomingHttpHeaders): boolean;
  /** Header-level requirements (Anthropic: anthropic-version). */
  checkHeaders(headers: IncomingHttpHeaders): SimError | null;
  parse(body: unknown): ChatRequest | SimError;
  /** Extra wire rule on a prefill (Anthropic: no trailing whitespace). */
  checkPrefill(prefill: string): SimError | null;
  errorBody(err: SimError): unknown;
  authError(): SimError;
  rateLimitError(): SimError;
  contextLengthError(promptTokens: number, maxContext: number): SimError;
  contentPolicyError(): SimError;
  /** The wire's own 404 for a model it does not serve. */
  modelNotFoundError(model: string): SimError;
  httpError(status: 500 | 502 | 503 | 529, message: string | undefined): SimError;
  rateHeaders(requests: RateInfo, tokens: RateInfo | null): Record<string, string>;
  json(a: Answer, usage: boolean): unknown;
  streamStart(a: Answer, usage: boolean): string;
  streamPiece(a: Answer, piece: string): string;
  streamEnd(a: Answer, opts: StreamEndOptions): string;
  streamError(): string;
}

/** One request in the simulator's log. Never holds a key or any other auth header value. */
export interface SimRequestLogEntry {
  seq: number;
  /** Epoch ms when the request arrived. */
  at: number;
  provider: string;
  wire: WireName;
  model: string;
  stream: boolean;
  /** Fault kind applied, or null. */
  fault: string | null;
  /** Status sent; null when none was (reset, hang). */
  status: number | null;
  /** The last message was the assistant's. */
  prefill: boolean;
  authPresent: boolean;
  /** Anthropic wire: the `anthropic-version` and `anthropic-beta` headers as received (protocol headers, not secrets). */
  anthropicVersion?: string | null;
  anthropicBeta?: string | null;
}

export function isSimError(value: ChatRequest | SimError): value is SimError {
  return 'category' in value;
}
