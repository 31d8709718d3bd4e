/**
 * A request that arrived in another API's wire format rides through the shared request flow
 * as a chat-completions body (routing, budget, fail-over and ledger read that), and carries
 * its original form under a symbol key, so that:
 *
 * - an Anthropic-kind endpoint is sent the client's own Messages body (model and max_tokens
 *   set per attempt) instead of a chat → Messages round trip;
 * - an embeddings call is sent to the provider's `/embeddings` instead of `/chat/completions`.
 *
 * A symbol key is invisible to JSON.stringify (nothing leaks upstream or into logs) and is
 * kept by object spread, which is how adapters copy bodies.
 */
import type { ChatBody } from '../upstream/types.js';

export const NATIVE = Symbol('switchyard.native');

export interface NativeMessages {
  kind: 'anthropic-messages';
  /** The client's Messages body as validated at the edge. */
  body: Record<string, unknown>;
  /**
   * Fields of that body with no chat-completions form (top_k, thinking…): fine for an
   * Anthropic-kind endpoint, refused with a 400 naming them by any other.
   */
  untranslated: string[];
  /**
   * The content blocks among those that the chat form leaves out (a document, a search result,
   * an image inside a tool result, thinking): the model reads them all the same, so the prompt's
   * count (routing, count_tokens, an estimate when the upstream gave no usage) adds their text.
   */
  leftOut?: unknown[];
  /**
   * The client's `anthropic-version` and `anthropic-beta` headers: sent with the body to an
   * Anthropic-kind endpoint (the version defaults to the provider's `anthropicVersion`).
   */
  headers?: { version?: string; beta?: string };
}

export interface NativeEmbeddings {
  kind: 'embeddings';
  /** As the client sent it: text, texts, one token array or several. */
  input: string | string[] | number[] | number[][];
  /**
   * Token-array input: its exact token count (the ids), which is what the provider bills; the
   * flow's prompt estimates use it instead of counting the placeholder text.
   */
  tokens?: number;
  /** Optional OpenAI embeddings fields passed through as given. */
  extra: Record<string, unknown>;
  /**
   * The tokens of the longest single input: what a model's context window must hold (OpenAI's
   * limit is per input, so a batch may add up to more than the window).
   */
  longestInput?: number;
  /** The field holding the longest input (`input`, or `input[3]` in a list), named when no model's window holds it. */
  longestParam?: string;
  /**
   * Text input: `longestInput` is then the longest input's UTF-8 byte count, an upper bound of its
   * tokens; this counts them (the longest by tokens and its field), asked only where the bound
   * leaves a model's window no room.
   */
  longestExact?: () => { n: number; param: string };
}

export type NativeRequest = NativeMessages | NativeEmbeddings;

type WithNative = ChatBody & { [NATIVE]?: NativeRequest };

export function withNative(body: ChatBody, native: NativeRequest): ChatBody {
  const b = body as WithNative;
  b[NATIVE] = native;
  return b;
}

export function nativeOf(body: object): NativeRequest | undefined {
  return (body as WithNative)[NATIVE];
}
