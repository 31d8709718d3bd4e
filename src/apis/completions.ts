/**
 * OpenAI's legacy Completions API (`POST /v1/completions`, the SDK's `client.completions.create`)
 * on the shared chat flow: the prompt becomes one user message, the answer's message text the
 * completion's `text`. The sampling fields both APIs share pass through as they are and are
 * checked by the chat body's own rules; the fields with no chat form (`suffix`, `best_of` over 1,
 * `logprobs`, token-array or batched prompts) are refused with a 400 naming them.
 */
import { SwitchyardError } from '../errors.js';
import { checkFields, isObj, present, unsupported } from './fields.js';

/** OpenAI's default for a completion that names no `max_tokens` (the Completions API's, not chat's). */
export const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

/** Fields copied into the chat body as they are (their checks are the chat body's). */
const SHARED = [
  'model',
  'max_tokens',
  'temperature',
  'top_p',
  'n',
  'stream',
  'stream_options',
  'stop',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'user',
  'seed',
] as const;

const HANDLED = new Set<string>([...SHARED, 'prompt', 'echo']);

const HARMLESS: Record<string, (v: unknown) => boolean> = {
  best_of: (v) => v === 1,
  suffix: (v) => v === '',
};

const WHY: Record<string, string> = {
  best_of: 'only 1 is supported (several candidates would each be routed and billed); send several requests',
  suffix: 'insertion (text after the completion) is not supported: chat models have no such mode',
  logprobs: 'log probabilities are not supported on /v1/completions; use /v1/chat/completions with logprobs',
};

export interface CompletionsRequest {
  /** The chat body, before the chat body's own checks (`parseChatBody`). */
  chat: Record<string, unknown>;
  /** With `echo: true`, the prompt, put before the completion's text. */
  echo: string | null;
  stream: boolean;
}

function promptText(prompt: unknown): string {
  if (!present(prompt)) throw new SwitchyardError('invalid_request', 'prompt: Field required (the text to complete)', { param: 'prompt' });
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt)) {
    if (prompt.length === 1 && typeof prompt[0] === 'string') return prompt[0];
    if (prompt.length > 0 && prompt.every((p) => typeof p === 'string'))
      throw unsupported('prompt', `a batch of ${prompt.length} prompts is not supported: send one request per prompt (each is routed and billed on its own)`);
    if (prompt.length > 0 && (prompt.every((p) => typeof p === 'number') || prompt.every((p) => Array.isArray(p))))
      throw unsupported('prompt', 'token arrays are not supported (a token id means different text to different providers): send the prompt as text');
  }
  throw unsupported('prompt', 'expected a string (or an array holding one string)');
}

export function translateCompletions(body: Record<string, unknown>): CompletionsRequest {
  checkFields(body, HANDLED, HARMLESS, WHY);
  const text = promptText(body.prompt);
  if (present(body.echo) && typeof body.echo !== 'boolean') throw unsupported('echo', 'expected a boolean');
  const chat: Record<string, unknown> = {};
  for (const k of SHARED) if (body[k] !== undefined) chat[k] = body[k];
  chat.messages = [{ role: 'user', content: text }];
  if (!present(chat.max_tokens)) chat.max_tokens = COMPLETIONS_DEFAULT_MAX_TOKENS;
  return { chat, echo: body.echo === true ? text : null, stream: body.stream === true };
}

/** Chat fields a completions request names otherwise: errors about them name the client's field. */
const COMPLETIONS_PARAM: ReadonlyArray<readonly [RegExp, string]> = [
  // An Anthropic-kind model's refusal of a request with no text: here, the prompt was empty.
  [
    /needs at least one user or assistant message with content; this request has only system\/developer messages or empty ones/g,
    'needs a prompt with text; this one is empty',
  ],
  [/\bmessages\[0\]\.content\b/g, 'prompt'],
  [/\bmessages\[0\]/g, 'prompt'],
  // The field's name (`messages: …`, 'messages', a message that starts with it), not the word in a sentence ("…only system/developer messages…").
  [/^messages\b|(?<=')messages(?=')|\bmessages(?=:)/g, 'prompt'],
];

/** An error's param and message as a completions client wrote its request. */
export function renameParam<E extends { param?: unknown; message?: unknown }>(e: E): E {
  // `param` is a field path only: its `messages` is the field.
  if (typeof e.param === 'string') e.param = e.param.replace(/^messages\[0\]\.content\b|^messages\[0\]|^messages\b/, 'prompt');
  for (const [re, to] of COMPLETIONS_PARAM) if (typeof e.message === 'string') e.message = e.message.replace(re, to);
  return e;
}

type Obj = Record<string, unknown>;

/** The answer's text; a model's refusal (chat's `refusal`, no content) is its text, as Messages gives it. */
function messageText(message: unknown): string {
  if (!isObj(message)) return '';
  let text = '';
  if (typeof message.content === 'string') text = message.content;
  else if (Array.isArray(message.content)) text = message.content.map((p) => (isObj(p) && typeof p.text === 'string' ? p.text : '')).join('');
  if (text === '' && typeof message.refusal === 'string') return message.refusal;
  return text;
}

/** The `text_completion` object of a chat completion (non-streamed). */
export function completionOfChat(id: string, body: Obj, echo: string | null): Obj {
  const choices = Array.isArray(body.choices) ? body.choices : [];
  const out: Obj = {
    id,
    object: 'text_completion',
    created: body.created,
    model: body.model,
    choices: choices.map((c, i) => {
      const choice = isObj(c) ? c : {};
      return {
        text: (echo ?? '') + messageText(choice.message),
        index: typeof choice.index === 'number' ? choice.index : i,
        logprobs: null,
        finish_reason: choice.finish_reason ?? null,
      };
    }),
  };
  if (body.system_fingerprint !== undefined) out.system_fingerprint = body.system_fingerprint;
  if (body.usage !== undefined) out.usage = body.usage;
  return out;
}

/**
 * Chat chunks → `text_completion` chunks. A chunk with neither text nor a finish (the role chunk)
 * is dropped; the usage chunk (`choices: []`) is kept as OpenAI sends it. With `echo`, the
 * prompt leads the first chunk's text.
 */
export class CompletionChunks {
  private echo: string | null;

  constructor(
    private readonly id: string,
    echo: string | null,
  ) {
    this.echo = echo;
  }

  chunk(c: Obj): Obj | null {
    const choices = Array.isArray(c.choices) ? c.choices : [];
    const out: Obj[] = [];
    for (const [i, raw] of choices.entries()) {
      const choice = isObj(raw) ? raw : {};
      const delta = isObj(choice.delta) ? choice.delta : {};
      let text = typeof delta.content === 'string' ? delta.content : typeof delta.refusal === 'string' ? delta.refusal : '';
      if (this.echo !== null) {
        text = this.echo + text;
        this.echo = null;
      }
      const finish = choice.finish_reason ?? null;
      if (text === '' && finish === null) continue;
      out.push({ text, index: typeof choice.index === 'number' ? choice.index : i, logprobs: null, finish_reason: finish });
    }
    if (out.length === 0 && !(choices.length === 0 && isObj(c.usage))) return null;
    const chunk: Obj = { id: this.id, object: 'text_completion', created: c.created, model: c.model, choices: out };
    if (c.system_fingerprint !== undefined) chunk.system_fingerprint = c.system_fingerprint;
    if (c.usage !== undefined && c.usage !== null) chunk.usage = c.usage;
    return chunk;
  }
}
