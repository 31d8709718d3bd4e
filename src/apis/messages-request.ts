/**
 * Anthropic Messages request (`POST /v1/messages`) → the internal chat-completions body, the
 * reverse of `upstream/adapters/anthropic-messages.ts`. The client's body also rides along
 * untouched (apis/native.ts), so an Anthropic-kind endpoint receives it as written; the
 * chat form serves routing, budgeting and OpenAI-kind endpoints. Fields and blocks with no
 * chat form are listed as `untranslated`: fine for Anthropic, a 400 naming them elsewhere.
 */
import { echoValue, SwitchyardError } from '../errors.js';
import type { ChatBody, ChatMessage } from '../upstream/types.js';
import { withNative } from './native.js';
import { arrayOf, flag, isObj, numberIn, positiveInt, present, str, toolNames, unknownTool, unsupported } from './fields.js';

const HANDLED = new Set([
  'model',
  'messages',
  'system',
  'max_tokens',
  'stream',
  'tools',
  'tool_choice',
  'stop_sequences',
  'temperature',
  'top_p',
  'metadata',
  'output_config',
]);

/**
 * Top-level fields at the value that changes nothing: an OpenAI-kind endpoint drops them instead
 * of refusing them (an Anthropic-kind one gets the body as sent), as chat completions to Claude
 * drop `n: 1` or `service_tier: auto`.
 */
const NO_OP: Record<string, (v: unknown) => boolean> = {
  thinking: (v) => isObj(v) && v.type === 'disabled' && Object.keys(v).length === 1,
  service_tier: (v) => v === 'auto',
  fallbacks: (v) => Array.isArray(v) && v.length === 0, // no server-side fallback asked for
  // Automatic prompt caching (a top-level breakpoint): a caching hint as a block's cache_control is (a 1-hour one is refused before).
  cache_control: (v) => isObj(v) && v.type === 'ephemeral',
};

interface Ctx {
  untranslated: string[];
  /** The content blocks the chat form leaves out (see {@link NativeMessages.leftOut}). */
  leftOut?: unknown[];
}

/** A content block with no chat form: named as untranslated, and kept for the prompt's count. */
function leftOut(ctx: Ctx, path: string, block: unknown): void {
  ctx.untranslated.push(path);
  (ctx.leftOut ??= []).push(block);
}

const IMAGE_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

function imagePart(b: Record<string, unknown>, p: string): Record<string, unknown> {
  const src = isObj(b.source) ? b.source : {};
  if (src.type === 'base64') {
    const type = str(src.media_type, `${p}.source.media_type`);
    // Anthropic's four (checked for every endpoint kind: an OpenAI-kind model would take others).
    if (!IMAGE_TYPES.has(type))
      throw unsupported(`${p}.source.media_type`, `Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp', not ${echoValue(type)}`);
    return { type: 'image_url', image_url: { url: `data:${type};base64,${str(src.data, `${p}.source.data`)}` } };
  }
  if (src.type === 'url') return { type: 'image_url', image_url: { url: str(src.url, `${p}.source.url`) } };
  throw unsupported(`${p}.source.type`, 'expected base64 or url');
}

function blocks(content: unknown, p: string): Array<Record<string, unknown>> {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw unsupported(p, 'expected a string or an array of content blocks');
  return content.map((b: unknown, j) => {
    if (!isObj(b) || typeof b.type !== 'string') throw unsupported(`${p}[${j}]`, 'a content block must be an object with a type');
    if (b.type === 'image' || b.type === 'document') sourceGiven(b, `${p}[${j}]`);
    return b;
  });
}

/**
 * An image or document block with something to read, for every endpoint kind, as Anthropic's own
 * 400 says (one with no source, or an empty url or data, was sent on and billed: a re-test round).
 * What each source type holds beyond that is the translation's and the provider's to judge.
 */
function sourceGiven(b: Record<string, unknown>, p: string): void {
  const src = b.source;
  if (!isObj(src)) throw unsupported(`${p}.source`, `Field required (the ${String(b.type)}'s source, e.g. {"type": "base64", "media_type": …, "data": …})`);
  // A PDF's bytes are pdfParts' to judge (its "the PDF is empty" says more).
  const field =
    (src.type === 'base64' && b.type === 'image') || src.type === 'text' ? 'data' : src.type === 'url' ? 'url' : src.type === 'file' ? 'file_id' : null;
  if (field !== null && (typeof src[field] !== 'string' || src[field] === ''))
    throw unsupported(`${p}.source.${field}`, `${typeof src[field] === 'string' ? 'String should have at least 1 character' : 'Field required (a string)'}`);
}

/**
 * A document a chat model can read as text: a text source, or a content source of text blocks,
 * without citations (they have no chat form); its title and context first, as Anthropic shows
 * them with it. Null for any other (a PDF, a URL, images, citations on): a PDF by its bytes becomes
 * a `file` part (pdfParts), the others stay untranslated.
 */
function documentText(b: Record<string, unknown>): string | null {
  const src = isObj(b.source) ? b.source : null;
  if (src === null || (isObj(b.citations) && b.citations.enabled === true)) return null;
  let body: string | null = null;
  if (src.type === 'text' && typeof src.data === 'string') body = src.data;
  else if (src.type === 'content') {
    const parts: unknown = typeof src.content === 'string' ? [{ type: 'text', text: src.content }] : src.content;
    if (Array.isArray(parts) && parts.length > 0 && parts.every((x) => isObj(x) && x.type === 'text' && typeof x.text === 'string'))
      body = parts.map((x) => (x as { text: string }).text).join('\n');
  }
  if (body === null || body.trim() === '') return null;
  const head = [b.title, b.context].filter((x): x is string => typeof x === 'string' && x !== '');
  return [...head, body].join('\n\n');
}

/**
 * A PDF given by its bytes (`source.type: base64`, no citations: chat has none) as chat's `file`
 * part, OpenAI's form for a PDF (`file_data` a base64 data: URL; a `filename` is required with it),
 * after a text part with its title and context, as Anthropic shows them with it. Null for any
 * other document: a PDF by URL or by Files API id has no chat form (chat takes no URL for a file,
 * and an Anthropic file id names nothing an OpenAI-kind model can read).
 */
function pdfParts(b: Record<string, unknown>, p: string): Array<Record<string, unknown>> | null {
  const src = isObj(b.source) ? b.source : null;
  if (src === null || src.type !== 'base64' || src.media_type !== 'application/pdf' || (isObj(b.citations) && b.citations.enabled === true)) return null;
  const data = str(src.data, `${p}.source.data`);
  if (data === '') throw unsupported(`${p}.source.data`, 'the PDF is empty: give its bytes, base64-encoded');
  const title = typeof b.title === 'string' && b.title !== '' ? b.title : null;
  const head = [title, b.context].filter((x): x is string => typeof x === 'string' && x !== '');
  const file = { type: 'file', file: { filename: pdfName(title), file_data: `data:application/pdf;base64,${data}` } };
  return head.length > 0 ? [{ type: 'text', text: head.join('\n\n') }, file] : [file];
}

/** A file name for a PDF from its document title (one line, at most 100 characters, ending `.pdf`). */
function pdfName(title: string | null): string {
  const base = (title ?? '')
    .replace(/[\p{Cc}/\\\s]+/gu, ' ')
    .trim()
    .slice(0, 96);
  if (base === '') return 'document.pdf';
  return /\.pdf$/i.test(base) ? base : `${base}.pdf`;
}

function toolResultText(content: unknown, p: string, ctx: Ctx): string {
  if (content === undefined || content === null) return '';
  return (
    blocks(content, p)
      .map((b, j) => {
        if (b.type === 'text') return str(b.text, `${p}[${j}].text`);
        const doc = b.type === 'document' ? documentText(b) : null;
        if (doc !== null) return doc;
        leftOut(ctx, `${p}[${j}]`, b);
        return '';
      })
      .filter((t) => t !== '')
      // A tool's output in several text blocks (MCP servers send a block per item) keeps them apart,
      // as a user turn's blocks are: joined with a line break, not run together.
      .join('\n')
  );
}

/** A text block's text: Anthropic refuses an empty one ("text content blocks must be non-empty"). */
function blockText(b: Record<string, unknown>, p: string): string {
  const text = str(b.text, `${p}.text`);
  if (text.trim() === '')
    throw unsupported(`${p}.text`, text === '' ? 'text content blocks must be non-empty' : 'text content blocks must contain non-whitespace text');
  return text;
}

/**
 * A prefill (the final assistant turn) whose text ends with whitespace: Anthropic refuses it
 * ("final assistant content cannot end with trailing whitespace"), so for every endpoint kind, before
 * any upstream call. Sent on, a native request was that 400 after an attempt (auto and routes send a
 * prefill only to a prefill model, Claude), while an OpenAI-kind model took it.
 */
function finalAssistant(content: unknown, p: string): void {
  const last = typeof content === 'string' ? content : Array.isArray(content) ? (content.at(-1) as unknown) : undefined;
  const text = typeof last === 'string' ? last : isObj(last) && last.type === 'text' && typeof last.text === 'string' ? last.text : null;
  if (text !== null && text !== text.trimEnd()) throw unsupported(p, 'final assistant content cannot end with trailing whitespace');
}

/** Anthropic refuses a tool call the next message does not answer (chat completions refuse it too). */
function unanswered(p: string, ids: string[]): void {
  if (ids.length > 0)
    throw unsupported(
      p,
      `tool_use ids were found without tool_result blocks immediately after: ${ids.map((id) => echoValue(id)).join(', ')}; each tool_use block must have a corresponding tool_result block in the next message`,
    );
}

/**
 * The text a model reads in content blocks the chat form leaves out, and how many images they
 * hold: a document's title, context and text (a PDF's pages are not in the request: none), a search
 * result's title, source and text, a tool result's blocks, any other block as its JSON. Thinking
 * from earlier turns is none: Anthropic drops it from the prompt (and its count_tokens counts none).
 */
export function leftOutContent(blocks: readonly unknown[]): { texts: string[]; images: number } {
  const out = { texts: [] as string[], images: 0 };
  const walk = (b: unknown, depth: number): void => {
    if (typeof b === 'string') {
      out.texts.push(b);
      return;
    }
    if (Array.isArray(b)) {
      if (depth < 8) for (const x of b as unknown[]) walk(x, depth + 1);
      return;
    }
    if (!isObj(b)) return;
    const own = (...keys: string[]): void => {
      for (const k of keys) if (typeof b[k] === 'string') out.texts.push(b[k]);
    };
    switch (b.type) {
      case 'text':
        own('text');
        return;
      case 'image':
        out.images++;
        return;
      case 'thinking':
      case 'redacted_thinking':
        return;
      case 'document': {
        own('title', 'context');
        const src = isObj(b.source) ? b.source : {};
        if (src.type === 'text' && typeof src.data === 'string') out.texts.push(src.data);
        else if (src.type === 'content') walk(src.content, depth + 1);
        return;
      }
      case 'search_result':
        own('title', 'source');
        walk(b.content, depth + 1);
        return;
      case 'tool_result':
        walk(b.content, depth + 1);
        return;
      default: {
        // A block of a type not known here: its JSON, less a `source` (base64 data is not what the model reads).
        const { source: _source, ...rest } = b;
        out.texts.push(JSON.stringify(rest));
      }
    }
  };
  for (const b of blocks) walk(b, 0);
  return out;
}

/** A user turn's tool results answer the tool calls of the assistant turn just before it, and only those. */
function userTurn(content: unknown, p: string, ctx: Ctx, calls: ReadonlySet<string>): ChatMessage[] {
  const out: ChatMessage[] = [];
  const parts: Array<Record<string, unknown>> = [];
  const answered = new Set<string>();
  /** A block other than a tool result came: Anthropic wants the results first ("must begin with" them). */
  let other = false;
  blocks(content, p).forEach((b, j) => {
    const bp = `${p}[${j}]`;
    if (b.type !== 'tool_result') other = true;
    else if (other && calls.size > 0)
      throw unsupported(
        bp,
        `did not find ${calls.size} tool_result block(s) at the beginning of this message: messages following tool_use blocks must begin with a matching number of tool_result blocks (put the text after them)`,
      );
    const doc = b.type === 'document' ? documentText(b) : null;
    const pdf = b.type === 'document' && doc === null ? pdfParts(b, bp) : null;
    if (b.type === 'text') parts.push({ type: 'text', text: blockText(b, bp) });
    // An image by its Files API id has no chat form: left out as a document by file is (an Anthropic-kind endpoint reads it).
    else if (b.type === 'image' && !(isObj(b.source) && b.source.type === 'file')) parts.push(imagePart(b, bp));
    else if (doc !== null) parts.push({ type: 'text', text: doc });
    else if (pdf !== null) parts.push(...pdf);
    else if (b.type === 'tool_result') {
      const id = str(b.tool_use_id, `${bp}.tool_use_id`);
      if (answered.has(id))
        throw unsupported(`${bp}.tool_use_id`, `tool_use_id ${echoValue(id)} is answered twice in this message: one tool_result per tool_use`);
      if (!calls.has(id))
        throw unsupported(
          `${bp}.tool_use_id`,
          `unexpected tool_use_id ${echoValue(id)} in a tool_result block: each tool_result must answer a tool_use block of the previous (assistant) message`,
        );
      answered.add(id);
      // Chat has no `is_error`: a failed tool's result says so in its words, or the model reads it as a result.
      const result = toolResultText(b.content, `${bp}.content`, ctx);
      // A boolean, as Anthropic checks it: "true" or 1 read as false made a failed tool's output a result.
      const failed = flag(b.is_error, `${bp}.is_error`);
      out.push({ role: 'tool', tool_call_id: id, content: failed ? (result === '' ? 'Error' : `Error: ${result}`) : result });
    } else if (b.type === 'tool_use')
      // Refused for every endpoint kind (Anthropic refuses it too): no model takes it, so no route can help.
      throw unsupported(
        `${bp}.type`,
        'a tool_use block belongs in an assistant message (the model calls the tool); a user message answers it with a tool_result block',
      );
    else leftOut(ctx, bp, b);
  });
  unanswered(
    p,
    [...calls].filter((id) => !answered.has(id)),
  );
  // Chat wants tool results right after the assistant's calls, then the user's own words.
  const onlyText = parts.every((x) => x.type === 'text');
  if (parts.length > 0) out.push({ role: 'user', content: onlyText ? parts.map((x) => String(x.text)).join('\n') : parts });
  return out;
}

/**
 * A `tool_use` block's `input`: the call's arguments, a JSON object as Anthropic requires (for
 * every endpoint kind; chat would carry a string or array as arguments no tool schema fits).
 */
function toolInput(v: unknown, p: string): Record<string, unknown> {
  if (v === undefined) throw unsupported(`${p}.input`, 'Field required (the arguments the tool was called with, a JSON object such as {})');
  if (!isObj(v))
    throw unsupported(
      `${p}.input`,
      `Input should be a valid dictionary (a JSON object of the tool's arguments such as {}, not ${v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`})`,
    );
  return v;
}

/** A model's own reasoning from an earlier answer, passed back with it (as the SDK's examples append `response.content`). */
const THINKING: ReadonlySet<unknown> = new Set(['thinking', 'redacted_thinking']);

function assistantTurn(content: unknown, p: string, ctx: Ctx, thinkingOn: boolean): ChatMessage {
  let text = '';
  const calls: unknown[] = [];
  const all = blocks(content, p);
  // Claude's thinking passed back in a turn that also says or calls something: an earlier turn's
  // thinking is not what Claude reads next (Anthropic strips it), but for a tool-use loop with
  // thinking on, and then the request is Anthropic-kind's alone anyway (`thinking` has no chat form).
  // Without it the chat form leaves the blocks out, as a value that changes nothing: they were a field
  // with no chat form, so a conversation holding an earlier Claude answer could not go (or fail over)
  // to an OpenAI-kind model. They still count in the prompt's bound (leftOut).
  const dropThinking = !thinkingOn && all.some((b) => b.type === 'text' || b.type === 'tool_use');
  all.forEach((b, j) => {
    const bp = `${p}[${j}]`;
    if (dropThinking && THINKING.has(b.type)) (ctx.leftOut ??= []).push(b);
    else if (b.type === 'text') text += blockText(b, bp);
    else if (b.type === 'tool_use')
      calls.push({
        id: str(b.id, `${bp}.id`),
        type: 'function',
        function: { name: str(b.name, `${bp}.name`), arguments: JSON.stringify(toolInput(b.input, bp)) },
      });
    else if (b.type === 'tool_result')
      throw unsupported(`${bp}.type`, "a tool_result block belongs in a user message (it answers the assistant's tool_use in the message before it)");
    else leftOut(ctx, bp, b);
  });
  const m: ChatMessage = { role: 'assistant', content: text === '' && calls.length > 0 ? null : text };
  if (calls.length > 0) m.tool_calls = calls;
  return m;
}

export function messagesToChat(body: Record<string, unknown>, ctx: Ctx): ChatMessage[] {
  const out: ChatMessage[] = [];
  if (present(body.system)) {
    const system =
      typeof body.system === 'string'
        ? body.system
        : blocks(body.system, 'system')
            .map((b, j) => {
              if (b.type === 'text') return blockText(b, `system[${j}]`);
              leftOut(ctx, `system[${j}]`, b);
              return '';
            })
            .join('\n\n');
    if (system !== '') out.push({ role: 'system', content: system });
  }
  const msgs = arrayOf(body.messages, 'messages');
  if (msgs.length === 0) throw unsupported('messages', 'at least one message is required');
  let calls: ReadonlySet<string> = new Set();
  const thinkingOn = present(body.thinking) && !(isObj(body.thinking) && body.thinking.type === 'disabled');
  msgs.forEach((raw, i) => {
    const p = `messages[${i}]`;
    if (!isObj(raw)) throw unsupported(p, 'a message must be an object');
    if (raw.role !== 'user' && raw.role !== 'assistant') throw unsupported(`${p}.role`, 'expected user or assistant');
    const last = i === msgs.length - 1;
    // Anthropic: "all messages must have non-empty content except for the optional final assistant message".
    const empty = raw.content === '' || (Array.isArray(raw.content) && raw.content.length === 0);
    if (empty && !(last && raw.role === 'assistant'))
      throw unsupported(`${p}.content`, 'all messages must have non-empty content except for the optional final assistant message');
    if (raw.role === 'user') {
      out.push(...userTurn(raw.content, `${p}.content`, ctx, calls));
      calls = new Set();
    } else {
      unanswered(`messages[${i - 1}].content`, [...calls]);
      if (empty) return; // an empty final assistant turn prefills nothing: the chat form leaves it out
      if (last) finalAssistant(raw.content, `${p}.content`);
      out.push(assistantTurn(raw.content, `${p}.content`, ctx, thinkingOn));
      const ids = blocks(raw.content, `${p}.content`).flatMap((b) => (b.type === 'tool_use' && typeof b.id === 'string' ? [b.id] : []));
      calls = new Set(ids);
      if (calls.size < ids.length) {
        const dup = ids.find((id, k) => ids.indexOf(id) !== k)!;
        throw unsupported(`${p}.content`, `tool_use ids must be unique: ${echoValue(dup)} appears twice`);
      }
    }
  });
  return out;
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;
/**
 * Anthropic's client-run tools (`bash_20250124`, `text_editor_20250728`, `computer_20250124`,
 * `memory_20250818`…) and what Anthropic adds to the prompt for each (their definitions and
 * instructions, not in the request), in input tokens: its documentation's figures (bash 245, the
 * text editor 700, computer use 735 plus ~500 of system prompt); memory, documented without a
 * figure, 1,024. The one list of them: the request check and the reservation both read it.
 */
const CLIENT_TOOL_TOKENS: Readonly<Record<string, number>> = { bash: 245, text_editor: 700, computer: 1235, memory: 1024 };

/** The prompt tokens Anthropic adds for a tool of this `type` when it is a client-run tool's; null for any other type. */
export function clientToolPromptTokens(type: unknown): number | null {
  if (typeof type !== 'string') return null;
  const m = /^([a-z_]+)_\d{8}$/.exec(type);
  return m !== null && Object.hasOwn(CLIENT_TOOL_TOKENS, m[1]!) ? CLIENT_TOOL_TOKENS[m[1]!]! : null;
}
/** Chat completions' longest function name (OpenAI answers a longer one with a 400); Anthropic takes 128. */
export const CHAT_MAX_TOOL_NAME = 64;

/** `ctx`: a name longer than chat completions take is listed as untranslated (sent to Anthropic-kind endpoints only). */
export function toolsToChat(v: unknown, ctx: Ctx = { untranslated: [] }): unknown[] {
  const seen = new Set<string>();
  return arrayOf(v, 'tools').map((raw, i) => {
    const t = isObj(raw) ? raw : {};
    // Anthropic's client tools without a schema (bash, the text editor, computer use, memory): the
    // app runs them, Anthropic adds their definitions to the prompt (bounded in reservation.ts).
    // They have no chat form: such a request goes to Anthropic-kind endpoints only.
    const clientRun = clientToolPromptTokens(t.type) !== null;
    // Server tools run (and bill) inside Anthropic, outside switchyard's budget: refused everywhere.
    if (!clientRun && present(t.type) && t.type !== 'custom')
      throw unsupported(
        `tools[${i}].type`,
        `server tool ${echoValue(t.type)} is not supported (its cost is outside switchyard's budget); only client tools are`,
      );
    if (!clientRun && !isObj(t.input_schema))
      throw unsupported(
        `tools[${i}].input_schema`,
        t.input_schema === undefined
          ? 'Field required (the JSON Schema of the tool\'s input, such as {"type": "object", "properties": {}})'
          : 'expected a JSON Schema object, such as {"type": "object", "properties": {}}',
      );
    // A tool's input is an object (Anthropic refuses any other schema; sent on, an OpenAI-kind upstream's own error named its function schema).
    if (!clientRun && (t.input_schema as Record<string, unknown>).type !== 'object')
      throw unsupported(
        `tools[${i}].input_schema.type`,
        (t.input_schema as Record<string, unknown>).type === undefined
          ? 'Field required (a tool\'s input is an object: {"type": "object", "properties": {…}})'
          : `Input should be 'object', not ${echoValue((t.input_schema as Record<string, unknown>).type)}`,
      );
    const name = str(t.name, `tools[${i}].name`);
    // Anthropic's (and OpenAI's) rule for a tool's name, checked for every endpoint kind alike.
    if (!TOOL_NAME.test(name))
      throw unsupported(`tools[${i}].name`, `String should match pattern '^[a-zA-Z0-9_-]{1,128}$' (letters, digits, _ and -): ${echoValue(name)}`);
    if (seen.has(name)) throw unsupported(`tools[${i}].name`, `tool names must be unique: ${echoValue(name)} is declared twice`);
    seen.add(name);
    if (clientRun) {
      ctx.untranslated.push(`tools[${i}].type`);
      return { type: 'function', function: { name, parameters: { type: 'object' } } };
    }
    if (name.length > CHAT_MAX_TOOL_NAME) ctx.untranslated.push(`tools[${i}].name`);
    const fn: Record<string, unknown> = { name, parameters: t.input_schema };
    if (present(t.description)) fn.description = str(t.description, `tools[${i}].description`);
    // Strict tool use is OpenAI's strict function: the call's arguments follow the schema. OpenAI's
    // strict mode takes fewer schemas than Anthropic's (an optional property is refused with a 400):
    // such a tool keeps the request on Anthropic-kind models, as output_config.format does.
    if (present(t.strict)) {
      fn.strict = flag(t.strict, `tools[${i}].strict`);
      if (fn.strict === true && !strictable(t.input_schema)) ctx.untranslated.push(`tools[${i}].strict`);
    }
    return { type: 'function', function: fn };
  });
}

function toolChoice(v: unknown, chat: ChatBody): void {
  if (!isObj(v)) throw unsupported('tool_choice', 'expected an object');
  // A boolean, checked whatever the type: "true" or 1 was dropped, and the model called tools in parallel.
  const single = flag(v.disable_parallel_tool_use, 'tool_choice.disable_parallel_tool_use');
  // auto or none with no tools is a request without tools (Anthropic serves it); chat completions
  // refuse tool_choice and parallel_tool_calls without tools, so the chat form carries neither.
  if ((v.type === 'auto' || v.type === 'none') && toolNames(chat.tools).length === 0) return;
  if (v.type === 'auto') chat.tool_choice = 'auto';
  else if (v.type === 'any') {
    // Anthropic answers 400 to `any` with no tools (as to `tool`); refused here for every endpoint kind, before any upstream call.
    if (toolNames(chat.tools).length === 0)
      throw unsupported(
        'tool_choice',
        'type "any" makes the model call one of tools, and the request declares no tools: declare them in tools, or use {"type":"auto"} or leave tool_choice out',
      );
    chat.tool_choice = 'required';
  } else if (v.type === 'none') chat.tool_choice = 'none';
  else if (v.type === 'tool') {
    // The named tool must be one of `tools` (Anthropic refuses it too; the check holds for every endpoint kind).
    const name = str(v.name, 'tool_choice.name');
    if (!toolNames(chat.tools).includes(name)) throw unknownTool('tool_choice.name', name, toolNames(chat.tools));
    chat.tool_choice = { type: 'function', function: { name } };
  } else throw unsupported('tool_choice.type', 'expected auto, any, tool or none');
  if (single) chat.parallel_tool_calls = false;
}

const CHAT_MAX_STOP = 4;

const VERSION = /^[0-9A-Za-z._-]{1,64}$/;
const BETA = /^[0-9A-Za-z._-]+(\s*,\s*[0-9A-Za-z._-]+)*$/;

/** The client's `anthropic-version` / `anthropic-beta`, checked (they are sent upstream as given). */
export function anthropicHeaders(h: Record<string, string | string[] | undefined>): { version?: string; beta?: string } {
  const out: { version?: string; beta?: string } = {};
  const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v.join(',') : v);
  const version = one(h['anthropic-version'])?.trim();
  if (version !== undefined && version !== '') {
    if (!VERSION.test(version)) throw unsupported('anthropic-version', 'expected a version such as 2023-06-01');
    out.version = version;
  }
  const beta = one(h['anthropic-beta'])?.trim();
  if (beta !== undefined && beta !== '') {
    if (beta.length > 1024 || !BETA.test(beta)) throw unsupported('anthropic-beta', 'expected comma-separated beta names');
    // The 1M-token context window (`context-1m-…`) bills a prompt over 200K tokens at premium rates
    // that `models.<id>.price` does not hold: left out, so what is sent is what the catalogue prices
    // (a prompt over the window is Anthropic's 400, as without the beta). Claude Code sends it on every request.
    const kept = beta
      .split(',')
      .map((b) => b.trim())
      .filter((b) => !PRICED_APART.test(b));
    if (kept.length > 0) out.beta = kept.join(',');
  }
  return out;
}

/** Betas whose requests Anthropic bills at rates the catalogue has no price for. */
const PRICED_APART = /^context-1m-/i;

/** Why a 1-hour cache write is refused (the chat path's translation says the same). */
export const LONG_CACHE_WHY =
  'a 1-hour cache write costs twice the input price, and switchyard prices cache writes at cacheWritePerMTok (the 5-minute rate), so its spend could not be bounded or recorded exactly; use the 5-minute cache (no ttl, or "5m")';

/** A `cache_control` with `ttl: "1h"` anywhere Anthropic reads one: refused (see {@link LONG_CACHE_WHY}). */
function refuseLongCache(body: Record<string, unknown>): void {
  const check = (o: unknown, p: string): void => {
    if (isObj(o) && isObj(o.cache_control) && o.cache_control.ttl === '1h') throw unsupported(`${p === '' ? '' : `${p}.`}cache_control.ttl`, LONG_CACHE_WHY);
  };
  const each = (v: unknown, p: string, inner?: (o: unknown, q: string) => void): void => {
    if (!Array.isArray(v)) return;
    v.forEach((o: unknown, i) => {
      check(o, `${p}[${i}]`);
      inner?.(o, `${p}[${i}]`);
    });
  };
  check(body, '');
  each(body.system, 'system');
  each(body.tools, 'tools');
  each(body.messages, 'messages', (m, p) => isObj(m) && each(m.content, `${p}.content`, (b, q) => isObj(b) && each(b.content, `${q}.content`)));
}

/**
 * Whether OpenAI's strict structured outputs can hold an answer to this schema: every object in
 * it sets `additionalProperties: false` and lists all its properties in `required` (OpenAI's
 * strict mode refuses any other). Anthropic's structured outputs need only the first.
 */
function strictable(schema: unknown, depth = 0): boolean {
  if (Array.isArray(schema)) return schema.every((s) => strictable(s, depth + 1));
  if (!isObj(schema) || depth > 64) return true;
  const props = schema.properties;
  if (schema.type === 'object' || isObj(props)) {
    if (schema.additionalProperties !== false) return false;
    // A set: every property looked up in the list was quadratic (40,000 properties: 1 s).
    const required = new Set<unknown>(Array.isArray(schema.required) ? schema.required : []);
    if (isObj(props) && !Object.keys(props).every((k) => required.has(k))) return false;
  }
  for (const key of ['properties', '$defs', 'definitions'] as const)
    if (isObj(schema[key]) && !Object.values(schema[key]).every((s) => strictable(s, depth + 1))) return false;
  for (const key of ['items', 'anyOf', 'allOf', 'oneOf', 'prefixItems'] as const)
    if (schema[key] !== undefined && !strictable(schema[key], depth + 1)) return false;
  return true;
}

/**
 * `output_config`: structured outputs (`format`, a JSON schema) become chat's `response_format`
 * json_schema for an OpenAI-kind model, strict (Anthropic's structured outputs always hold the
 * answer to the schema; OpenAI's only in strict mode) — a schema strict mode cannot take (an
 * optional property) keeps the request on Anthropic-kind models, as a field with no chat form
 * does; `effort` has no chat form there (its levels are not OpenAI's `reasoning_effort`), so it
 * keeps the request on Anthropic-kind models.
 */
function outputConfig(v: unknown, chat: ChatBody, ctx: Ctx): void {
  if (!isObj(v)) throw unsupported('output_config', 'expected an object such as {"format": {"type": "json_schema", "schema": {…}}}');
  for (const k of Object.keys(v)) {
    if (!present(v[k])) continue;
    if (k === 'format') {
      const f = v.format;
      if (!isObj(f) || f.type !== 'json_schema' || !isObj(f.schema))
        throw unsupported('output_config.format', 'expected {"type": "json_schema", "schema": {…}} (a JSON schema object)');
      if (!strictable(f.schema)) ctx.untranslated.push('output_config.format');
      chat.response_format = { type: 'json_schema', json_schema: { name: 'output', schema: f.schema, strict: true } } as ChatBody['response_format'];
    } else ctx.untranslated.push(`output_config.${k}`);
  }
}

/**
 * What Anthropic bills above a model's standard prices, for every endpoint kind (the native path
 * sends the body as written): fast mode (`speed`), a regional `inference_geo` other than global,
 * a `service_tier` other than auto or standard_only. switchyard reserves and records at
 * `models.<id>.price`, so it could neither hold nor record such a call.
 */
function refusePricedExtras(body: Record<string, unknown>): void {
  const why = "it is billed above the model's standard prices, which switchyard reserves and records (models.<id>.price)";
  if (present(body.speed) && body.speed !== 'standard') throw unsupported('speed', `speed ${echoValue(body.speed)} is not supported: ${why}; leave it out`);
  if (present(body.inference_geo) && body.inference_geo !== 'global')
    throw unsupported('inference_geo', `inference_geo ${echoValue(body.inference_geo)} is not supported: ${why}; leave it out or use "global"`);
  if (present(body.service_tier) && body.service_tier !== 'auto' && body.service_tier !== 'standard_only')
    throw unsupported('service_tier', `service_tier ${echoValue(body.service_tier)} is not supported: ${why}; use "auto" or "standard_only"`);
  // Server-side fallback: Anthropic may answer with another model, at that model's prices, under the one switchyard priced and records.
  if (present(body.fallbacks) && !(Array.isArray(body.fallbacks) && body.fallbacks.length === 0))
    throw unsupported(
      'fallbacks',
      "not supported: Anthropic may answer with a substitute model at that model's prices, which switchyard would record as the model it reserved for; leave it out (switchyard's own fallbacks are models.<id>.fallbacks)",
    );
  if (present(body.fallback_credit_token))
    throw unsupported(
      'fallback_credit_token',
      `not supported: it reprices the call's cache writes away from models.<id>.price, which switchyard records; leave it out`,
    );
  // Compaction: the summarising call's tokens are not in the answer's top-level usage, the counts switchyard reserves for and records.
  const compactNote =
    "its summarising call's tokens are billed outside the answer's usage, which switchyard reserves for and records; leave it out (send a shorter conversation instead)";
  if (present(body.compaction)) throw unsupported('compaction', `not supported: ${compactNote}`);
  const edits = isObj(body.context_management) ? body.context_management.edits : undefined;
  if (Array.isArray(edits))
    edits.forEach((e, i) => {
      if (isObj(e) && typeof e.type === 'string' && e.type.startsWith('compact'))
        throw unsupported(`context_management.edits[${i}]`, `a ${echoValue(e.type)} edit (compaction) is not supported: ${compactNote}`);
    });
}

/**
 * A message thread (`thread`: the conversation kept by the provider, continued from its last
 * message id) is refused for every model, before the messages are read (a continuing turn holds
 * only the new tool results): a thread lives on one provider account, and switchyard routes each
 * turn anew. The refusal carries Anthropic's `thread_unsupported_request` code, on which the SDK's
 * tool runner sends the turn again with the whole history and no thread.
 */
function refuseThread(body: Record<string, unknown>): void {
  if (!present(body.thread)) return;
  throw new SwitchyardError(
    'invalid_request',
    'thread: message threads are not supported through switchyard (each turn may go to another model or account); send the whole conversation without thread',
    { param: 'thread', details: { error_code: 'thread_unsupported_request', unsupported: ['thread'] } },
  );
}

/** Validate and translate; the result carries the client's body (and its Anthropic headers) for Anthropic-kind endpoints. */
export function translateMessages(body: Record<string, unknown>, headers: { version?: string; beta?: string } = {}): ChatBody {
  const ctx: Ctx = { untranslated: [] };
  refuseThread(body);
  refusePricedExtras(body);
  refuseLongCache(body);
  const model = str(body.model, 'model');
  if (model === '') throw unsupported('model', 'must not be empty');
  // Anthropic's documented cache pre-warm (max_tokens 0: the prompt processed and cached, nothing
  // generated) has no form in chat completions: an Anthropic-kind endpoint only (sent max_tokens 0,
  // see anthropic-native.ts). The flow reserves, and the chat form carries, an output cap of 1.
  // Anthropic refuses it streamed, with extended thinking or with structured outputs: so does switchyard.
  const prewarm = body.max_tokens === 0;
  if (prewarm) {
    const thinking = isObj(body.thinking) && body.thinking.type === 'enabled';
    const format = isObj(body.output_config) && present(body.output_config.format);
    const bad =
      body.stream === true ? 'stream' : thinking ? 'thinking' : format ? 'output_config.format' : present(body.output_format) ? 'output_format' : null;
    if (bad !== null) throw unsupported('max_tokens', `0 (a prompt cache pre-warm) cannot be used with ${bad}, as Anthropic's API says`);
    ctx.untranslated.push('max_tokens');
  }
  // 0 is taken (the pre-warm above): a negative count is told so, not "expected a positive integer".
  if (typeof body.max_tokens === 'number' && body.max_tokens < 0)
    throw unsupported('max_tokens', 'expected 0 (a prompt cache pre-warm) or a positive integer: the most tokens the answer may have');
  const maxTokens = prewarm ? 1 : positiveInt(body.max_tokens, 'max_tokens');
  const chat: ChatBody = { model, messages: messagesToChat(body, ctx), max_tokens: maxTokens };
  if (flag(body.stream, 'stream')) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  if (present(body.tools) && arrayOf(body.tools, 'tools').length > 0) chat.tools = toolsToChat(body.tools, ctx);
  if (present(body.tool_choice)) toolChoice(body.tool_choice, chat);
  if (present(body.stop_sequences)) {
    const stop = arrayOf(body.stop_sequences, 'stop_sequences').map((s, i) => str(s, `stop_sequences[${i}]`));
    // None (`[]`, which clients send for "no stop sequences") is no chat `stop`: OpenAI refuses an
    // empty `stop` in some requests, and Ollama's `stop: []` replaces the model's own end tokens (the
    // answer runs on past its end), as the chat → Anthropic translation already leaves it out.
    if (stop.length > 0) chat.stop = stop;
    // Chat completions take at most 4 stop sequences (OpenAI answers more with a 400).
    if (stop.length > CHAT_MAX_STOP) ctx.untranslated.push(`stop_sequences[${CHAT_MAX_STOP}]`);
  }
  // Anthropic's ranges (checked for every endpoint kind, as Anthropic itself would).
  if (present(body.temperature)) chat.temperature = numberIn(body.temperature, 'temperature', 0, 1);
  if (present(body.top_p)) chat.top_p = numberIn(body.top_p, 'top_p', 0, 1);
  if (present(body.metadata)) {
    // Anthropic's metadata is `{user_id?: string}` (it refuses anything else): so for every endpoint kind.
    const md = body.metadata;
    if (!isObj(md)) throw unsupported('metadata', 'expected an object such as {"user_id": "…"}');
    const extra = Object.keys(md).find((k) => k !== 'user_id');
    if (extra !== undefined) throw unsupported(`metadata.${extra}`, 'Extra inputs are not permitted (metadata takes user_id only)');
    if (present(md.user_id)) chat.user = str(md.user_id, 'metadata.user_id');
  }
  if (present(body.output_config)) outputConfig(body.output_config, chat, ctx);
  for (const [k, v] of Object.entries(body)) {
    if (present(v) && !HANDLED.has(k) && !(Object.hasOwn(NO_OP, k) && NO_OP[k]!(v))) ctx.untranslated.push(k);
  }
  return withNative(chat, { kind: 'anthropic-messages', body, untranslated: ctx.untranslated, headers, ...(ctx.leftOut ? { leftOut: ctx.leftOut } : {}) });
}
