/**
 * What an OpenAI-kind endpoint does with a request that came in another API's format:
 * an embeddings call goes to `/embeddings`; a Messages call is sent as its chat translation,
 * unless it uses a field that only Anthropic understands (then a 400 naming it — never a
 * silent drop).
 */
import { usageFromOpenAI } from '../../accounting/cost.js';
import { echoName, SwitchyardError } from '../../errors.js';
import type { NativeMessages, NativeRequest } from '../../apis/native.js';
import type { UpstreamHttpRequest } from '../types.js';
import type { BuildInput, ParsedCompletion } from './types.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The 400 an OpenAI-kind model (`target`) answers a Messages request that uses a field with no
 * chat form (`untranslated`), naming the first; null when there is none. Asked at routing too
 * (runtime/translatable.ts), so such a request is refused before an endpoint is picked.
 */
export function untranslatedError(native: NativeMessages, target: string): SwitchyardError | null {
  const field = native.untranslated[0];
  if (field === undefined) return null;
  const why = field.startsWith('stop_sequences[')
    ? `${echoName(field)}: OpenAI-kind endpoints take at most 4 stop sequences (chat completions' limit; ${target} is OpenAI-kind): send at most 4, or name an Anthropic-kind model`
    : /^tools\[\d+\]\.name$/.test(field)
      ? `${echoName(field)}: OpenAI-kind endpoints take tool names of at most 64 characters (chat completions' limit; ${target} is OpenAI-kind): shorten the name, or name an Anthropic-kind model`
      : /^tools\[\d+\]\.strict$/.test(field)
        ? `${echoName(field)}: an OpenAI-kind model takes a strict tool only when its input_schema's every object lists all its properties in required and sets additionalProperties false; this one does not (${target} is OpenAI-kind): make every property required (a nullable type for an optional one), or name an Anthropic-kind model`
        : field === 'max_tokens'
          ? `max_tokens 0 (a prompt cache pre-warm: the prompt cached, nothing generated) has no chat-completions form: it is only supported when the request is routed to an Anthropic-kind endpoint (${target} is OpenAI-kind)`
          : field === 'output_config.format'
            ? `output_config.format: an OpenAI-kind model holds its answer to a schema only in strict mode, which takes a schema whose every object lists all its properties in required and sets additionalProperties false; this one does not (${target} is OpenAI-kind): make every property required (a nullable type for an optional one), or name an Anthropic-kind model`
            : `${echoName(field)}${blockNote(native.body, field)} has no chat-completions form: it is only supported when the request is routed to an Anthropic-kind endpoint (${target} is OpenAI-kind)`;
  return new SwitchyardError('invalid_request', why, { param: field });
}

/**
 * What the content block at `path` (`messages[0].content[1]`) is and why chat cannot carry it, so the
 * 400 says what to change, not only where (a document with citations on named only its position).
 */
function blockNote(body: Record<string, unknown>, path: string): string {
  // Content blocks only (a message's or the system prompt's), not top-level fields (`thinking`, `top_k`).
  if (!/(\.content|^system)\[\d+\]$/.test(path)) return '';
  let at: unknown = body;
  for (const m of path.matchAll(/([A-Za-z_]+)|\[(\d+)\]/g)) {
    if (!isObj(at) && !Array.isArray(at)) return '';
    at = m[1] !== undefined ? (at as Record<string, unknown>)[m[1]] : (at as unknown[])[Number(m[2])];
  }
  if (!isObj(at) || typeof at.type !== 'string') return '';
  const inResult = /\.content\[\d+\]\.content\[\d+\]$/.test(path);
  const src = isObj(at.source) ? at.source : {};
  if (at.type === 'document') {
    if (isObj(at.citations) && at.citations.enabled === true)
      return ' (a document with citations on: chat has no citations; turn them off to send it to any model)';
    if (inResult) return ' (a document inside a tool result: a chat tool result is text)';
    if (src.type === 'url') return " (a PDF by URL: chat takes a file's bytes; send it as base64)";
    if (src.type === 'file') return ' (a document by an Anthropic Files API id, which an OpenAI-kind model cannot read)';
    return ' (a document chat cannot read as text or as a PDF file)';
  }
  if (at.type === 'image' && inResult) return ' (an image inside a tool result: a chat tool result is text)';
  if (at.type === 'thinking' || at.type === 'redacted_thinking') {
    const on = isObj(body.thinking) && body.thinking.type !== 'disabled';
    // Without thinking on it is left out beside the answer's text or tool use; a turn of thinking alone has nothing left to send.
    return on
      ? " (an earlier answer's thinking, with thinking on)"
      : " (an earlier answer's thinking, and that turn has no text or tool use beside it to send)";
  }
  return ` (a ${echoName(at.type)} block)`;
}

/** A native-form request for an OpenAI-kind endpoint, or null to send the chat body as usual. */
export function buildOpenAINative(input: BuildInput, native: NativeRequest | undefined): UpstreamHttpRequest | null {
  if (native === undefined) return null;
  if (native.kind === 'anthropic-messages') {
    const err = untranslatedError(native, input.model ?? input.upstreamModel);
    if (err !== null) throw err;
    return null;
  }
  const headers: Record<string, string> = { ...input.headers, 'content-type': 'application/json', accept: 'application/json' };
  if (input.apiKey) headers.authorization = `Bearer ${input.apiKey}`;
  const body = { ...native.extra, model: input.upstreamModel, input: native.input };
  return { path: `${input.basePath}/embeddings`, headers, body: JSON.stringify(body) };
}

/** An OpenAI embeddings answer (`{object: "list", data: [{embedding}]}`), or null if it is not one. */
export function parseEmbeddings(json: unknown): ParsedCompletion | null {
  if (!isObj(json) || json.object !== 'list' || !Array.isArray(json.data)) return null;
  if (!json.data.every((d) => isObj(d) && d.embedding !== undefined && d.embedding !== null))
    throw new Error('upstream embeddings answer has an entry without an embedding');
  const u = isObj(json.usage) ? json.usage : {};
  // Embeddings usage has no completion_tokens; the prompt is all that is billed.
  const usage = usageFromOpenAI({ completion_tokens: 0, ...u }) ?? null;
  return { completion: json, usage, text: '' };
}
