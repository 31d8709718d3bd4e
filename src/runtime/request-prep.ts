/**
 * What a request's driver works out before it routes: the prompt's token count (exact only
 * where it decides something) and the headers that tell the client what happened.
 */
import { countPromptTokens } from '../accounting/tokens.js';
import { requestedOutputTokens } from '../accounting/reservation.js';
import { nativeOf } from '../apis/native.js';
import type { ChatCall } from './api.js';
import type { EndpointHandle } from './endpoints.js';

/** An embeddings call sent as token ids: the ids are its exact prompt count. */
function embeddingTokens(body: object): number | undefined {
  const native = nativeOf(body);
  return native?.kind === 'embeddings' ? native.tokens : undefined;
}

/** Above this many characters of prompt text the exact tokenizer always runs. */
const EXACT_COUNT_CHARS = 16_000;

function promptChars(messages: ReadonlyArray<{ content?: unknown }>): number {
  let n = 0;
  for (const m of messages) {
    if (typeof m.content === 'string') n += m.content.length;
    else if (Array.isArray(m.content))
      for (const p of m.content)
        n += typeof p === 'object' && p !== null && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text.length : 340;
  }
  return n;
}

/**
 * Prompt tokens, an estimate for routing, TPM windows and what people see (reservations use
 * `promptBoundTokens`). The real tokenizer costs ~100 µs per 2 KB, so it runs only where the
 * count decides something: the prompt is long enough for context windows and the long-prompt
 * rule to matter. Otherwise a character estimate serves (corrected by the upstream's usage).
 */
export function countPrompt(call: ChatCall): number {
  const body = call.body;
  const ids = embeddingTokens(body);
  if (ids !== undefined) return ids;
  const chars = promptChars(body.messages);
  const exact = chars > EXACT_COUNT_CHARS || Array.isArray(body.tools);
  return exact ? countPromptTokens(body.messages, body.tools ?? undefined) : Math.ceil(chars / 3) + 3 * body.messages.length + 3;
}

/** Estimated tokens for TPM windows: prompt plus the output asked for. */
export function estTokens(call: ChatCall, promptTokens: number): number {
  return promptTokens + Math.min(requestedOutputTokens(call.body) ?? 256, 4096);
}

/** The o200k count for a ledger row the upstream gave no usage for (a number people read). */
export function shownPromptTokens(call: ChatCall): number {
  return embeddingTokens(call.body) ?? countPromptTokens(call.body.messages, call.body.tools ?? undefined);
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Header values must be visible ASCII: arrows and symbols of the reason are spelled out. */
export function asciiReason(reason: string): string {
  // Already printable ASCII (the usual reason): every replace below would leave it as it is.
  return PRINTABLE_ASCII.test(reason) ? reason : asciiReasonSlow(reason);
}

/** asciiReason without its shortcut (exported for the test that holds the two equal). */
export function asciiReasonSlow(reason: string): string {
  return reason
    .replace(/→/g, '->')
    .replace(/≥/g, '>=')
    .replace(/≤/g, '<=')
    .replace(/×/g, 'x')
    .normalize('NFKD')
    .replace(/[^\x20-\x7e]/g, '');
}

export function switchyardHeaders(attempts: number, h: EndpointHandle | null, reason: string | null): Record<string, string> {
  const out: Record<string, string> = { 'x-switchyard-attempts': String(attempts) };
  if (h) {
    out['x-switchyard-model'] = h.model;
    out['x-switchyard-endpoint'] = h.id;
    out['x-switchyard-tier'] = h.modelCfg.tier;
  }
  if (reason !== null) out['x-switchyard-reason'] = asciiReason(reason);
  return out;
}
