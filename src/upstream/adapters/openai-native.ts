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
        : field === 'output_config.format'
          ? `output_config.format: an OpenAI-kind model holds its answer to a schema only in strict mode, which takes a schema whose every object lists all its properties in required and sets additionalProperties false; this one does not (${target} is OpenAI-kind): make every property required (a nullable type for an optional one), or name an Anthropic-kind model`
          : `${echoName(field)} has no chat-completions form: it is only supported when the request is routed to an Anthropic-kind endpoint (${target} is OpenAI-kind)`;
  return new SwitchyardError('invalid_request', why, { param: field });
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
