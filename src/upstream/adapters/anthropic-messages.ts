/**
 * OpenAI chat messages → Anthropic Messages `system` + `messages`.
 *
 * - `system` / `developer` messages (wherever they are) become the top-level `system`,
 *   joined with a blank line: Anthropic has no system turn inside the conversation.
 * - `tool` messages become `tool_result` blocks in a user turn; assistant `tool_calls` become
 *   `tool_use` blocks.
 * - Consecutive turns of the same role are merged (Anthropic requires alternation); inside a
 *   merged user turn the `tool_result` blocks go first, as Anthropic requires.
 * - Empty text, and text of whitespace only, is dropped (Anthropic rejects such text blocks:
 *   "text content blocks must contain non-whitespace text"), and so is a turn left empty.
 *
 * Anything that has no faithful Anthropic form is refused with a 400 naming the field.
 */
import { anthropicToolId } from '../../apis/messages-output.js';
import { LONG_CACHE_WHY } from '../../apis/messages-request.js';
import { echoName, echoValue, SwitchyardError } from '../../errors.js';
import type { ChatMessage } from '../types.js';

export type AnthropicBlock = Record<string, unknown> & { type: string };

export interface AnthropicTurn {
  role: 'user' | 'assistant';
  content: AnthropicBlock[];
}

export interface TranslatedMessages {
  /** Joined text; text blocks when one of them carries a `cache_control` (a string cannot). */
  system: string | AnthropicBlock[] | null;
  turns: AnthropicTurn[];
}

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The 400 for anything without a faithful Anthropic form. */
export function untranslatable(param: string, why: string): SwitchyardError {
  return new SwitchyardError('invalid_request', `${echoName(param)} cannot be translated for Anthropic models: ${why}`, { param });
}

/**
 * A `cache_control` marker, as LiteLLM and OpenRouter take it on chat content parts, messages and
 * tools for Anthropic's prompt caching: `{"type": "ephemeral"}`, optionally with a `ttl` of "5m"
 * ("1h" is refused: {@link LONG_CACHE_WHY}). Kept on the Anthropic block it belongs to (undefined when absent); anything else is
 * refused rather than dropped, which would lose the caching discount without a word.
 */
export function cacheControl(v: unknown, param: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (isObj(v) && v.ttl === '1h') throw untranslatable(`${param}.cache_control.ttl`, LONG_CACHE_WHY);
  if (isObj(v) && v.type === 'ephemeral' && Object.keys(v).every((k) => k === 'type' || k === 'ttl') && (v.ttl === undefined || v.ttl === '5m'))
    return v.ttl === undefined ? { type: 'ephemeral' } : { type: 'ephemeral', ttl: v.ttl };
  throw untranslatable(`${param}.cache_control`, 'must be {"type": "ephemeral"}, optionally with "ttl": "5m"');
}

/** `block` with the part's `cache_control`, when it has one. */
function marked(block: AnthropicBlock, part: Record<string, unknown>, param: string): AnthropicBlock {
  const cc = cacheControl(part.cache_control, param);
  return cc === undefined ? block : { ...block, cache_control: cc };
}

const ANTHROPIC_IMAGE_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
const DATA_URL = /^data:([a-z]+\/[a-z0-9.+-]+);base64,(.*)$/is;

/**
 * The image type base64 bytes begin with (PNG, JPEG, GIF, WebP), or null. A data URL's label is
 * often not its bytes' (frameworks label every image image/jpeg; OpenAI reads the bytes), and
 * Anthropic refuses a label that is not: "The image was specified using the image/jpeg media
 * type, but the image appears to be a image/png image".
 */
export function sniffImageType(base64: string): string | null {
  const b = Buffer.from(base64.slice(0, 24), 'base64');
  if (b.length >= 8 && b[0] === 0x89 && b.toString('latin1', 1, 4) === 'PNG' && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a)
    return 'image/png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 6 && /^GIF8[79]a$/.test(b.toString('latin1', 0, 6))) return 'image/gif';
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  return null;
}

/** An image's base64 block, typed by its bytes where they tell one of Anthropic's four (else by its label). */
function base64Image(label: string, data: string): AnthropicBlock {
  return { type: 'image', source: { type: 'base64', media_type: sniffImageType(data) ?? label, data } };
}

function imageBlock(part: Record<string, unknown>, param: string): AnthropicBlock {
  const img = part.image_url;
  const url = isObj(img) ? img.url : typeof img === 'string' ? img : undefined;
  if (typeof url !== 'string') throw untranslatable(param, 'image_url.url must be a string');
  const m = DATA_URL.exec(url);
  // A PDF or text file in an image part (LiteLLM's older form for a document): a document.
  if (m && /^(application\/pdf|text\/plain)$/i.test(m[1]!)) return dataBlock(url, param, null)!;
  if (m) {
    // Anthropic takes these four (OpenAI also reads image/jpg); anything else is refused upstream.
    const type = m[1]!.toLowerCase() === 'image/jpg' ? 'image/jpeg' : m[1]!.toLowerCase();
    if (!ANTHROPIC_IMAGE_TYPES.has(type) && sniffImageType(m[2]!) === null)
      throw untranslatable(param, `Anthropic accepts images of type image/jpeg, image/png, image/gif or image/webp, not ${echoValue(type)}`);
    return base64Image(type, m[2]!);
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  if (url.startsWith('data:')) throw untranslatable(param, 'only base64 data: URLs are supported');
  throw untranslatable(param, 'image URLs must be https:, http: or base64 data: URLs');
}

/**
 * A file given by its bytes (a `data:` URL): a PDF becomes a base64 document block, plain text a
 * text document (decoded), an image an image block; `title` (the part's filename) names it as
 * Anthropic shows a document's title. Any other type has no Anthropic form.
 */
function dataBlock(url: string, param: string, title: string | null): AnthropicBlock | null {
  const m = DATA_URL.exec(url);
  if (!m) return null;
  const type = m[1]!.toLowerCase();
  const withTitle = (b: AnthropicBlock): AnthropicBlock => (title === null || title === '' ? b : { ...b, title });
  if (type === 'application/pdf') return withTitle({ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: m[2]! } });
  if (type === 'text/plain') {
    const text = Buffer.from(m[2]!, 'base64').toString('utf8');
    if (text.trim() === '') throw untranslatable(param, 'the text file is empty (Anthropic refuses a document without text)');
    return withTitle({ type: 'document', source: { type: 'text', media_type: 'text/plain', data: text } });
  }
  const image = type === 'image/jpg' ? 'image/jpeg' : type;
  if (ANTHROPIC_IMAGE_TYPES.has(image) || sniffImageType(m[2]!) !== null) return base64Image(image, m[2]!);
  throw untranslatable(param, `Anthropic reads files of type application/pdf, text/plain or an image (jpeg, png, gif, webp), not ${echoValue(type)}`);
}

/**
 * A chat `file` part (OpenAI's form for a PDF: `{"type": "file", "file": {"file_data": "data:application/pdf;base64,…", "filename"}}`)
 * as an Anthropic document. A `file_id` names a file in OpenAI's Files API, which Anthropic cannot read.
 */
function fileBlock(part: Record<string, unknown>, param: string): AnthropicBlock {
  const file = part.file;
  if (!isObj(file)) throw untranslatable(`${param}.file`, 'a file part needs "file": an object with file_data');
  const name = typeof file.filename === 'string' ? file.filename : null;
  if (typeof file.file_data === 'string') {
    const block = dataBlock(file.file_data, `${param}.file.file_data`, name);
    if (block === null) throw untranslatable(`${param}.file.file_data`, 'file_data must be a base64 data: URL, e.g. "data:application/pdf;base64,JVBERi0…"');
    return block;
  }
  if (file.file_id !== undefined)
    throw untranslatable(
      `${param}.file.file_id`,
      "file_id names a file uploaded to OpenAI's Files API, which Anthropic cannot read: send the file's bytes as file_data (a base64 data: URL)",
    );
  throw untranslatable(`${param}.file`, 'a file part needs file_data (a base64 data: URL)');
}

/**
 * Content (a string or an array of parts) → blocks. `images` says whether image and file parts
 * are allowed here (user turns only); `refusal` parts of assistant history are kept as text.
 */
function contentBlocks(content: unknown, param: string, images: boolean): AnthropicBlock[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return content.trim() === '' ? [] : [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw untranslatable(param, 'content must be a string or an array of parts');
  const out: AnthropicBlock[] = [];
  content.forEach((part: unknown, j) => {
    const p = `${param}[${j}]`;
    if (!isObj(part)) throw untranslatable(p, 'a content part must be an object');
    if (part.type === 'text' && typeof part.text === 'string') {
      if (part.text.trim() !== '') out.push(marked({ type: 'text', text: part.text }, part, p));
    } else if (part.type === 'refusal' && !images && typeof part.refusal === 'string') {
      if (part.refusal.trim() !== '') out.push(marked({ type: 'text', text: part.refusal }, part, p));
    } else if (part.type === 'image_url' && images) {
      out.push(marked(imageBlock(part, p), part, p));
    } else if (part.type === 'file' && images) {
      out.push(marked(fileBlock(part, p), part, p));
    } else {
      throw untranslatable(`${p}.type`, `content part type ${echoValue(part.type)} is not supported here`);
    }
  });
  return out;
}

/**
 * A message-level `cache_control` (LiteLLM's form: on the message, not a part) marks the message's
 * last block, where Anthropic's cache breakpoint for it goes.
 */
function markLast(blocks: AnthropicBlock[], m: Record<string, unknown>, param: string): AnthropicBlock[] {
  const cc = cacheControl(m.cache_control, param);
  if (cc === undefined || blocks.length === 0) return blocks;
  blocks[blocks.length - 1] = { ...blocks[blocks.length - 1]!, cache_control: cc };
  return blocks;
}

function toolUseBlocks(toolCalls: unknown, param: string): AnthropicBlock[] {
  if (toolCalls === undefined || toolCalls === null) return [];
  if (!Array.isArray(toolCalls)) throw untranslatable(param, 'tool_calls must be an array');
  return toolCalls.map((tc: unknown, k) => {
    const p = `${param}[${k}]`;
    if (!isObj(tc) || (tc.type !== undefined && tc.type !== 'function') || !isObj(tc.function)) {
      throw untranslatable(p, 'only function tool calls are supported');
    }
    const { name, arguments: args } = tc.function;
    if (typeof tc.id !== 'string' || typeof name !== 'string') throw untranslatable(p, 'a tool call needs an id and a function name');
    let input: unknown = {};
    if (typeof args === 'string' && args.trim() !== '') {
      try {
        input = JSON.parse(args);
      } catch {
        throw untranslatable(`${p}.function.arguments`, 'arguments are not valid JSON');
      }
    } else if (args !== undefined && args !== null && typeof args !== 'string') {
      throw untranslatable(`${p}.function.arguments`, 'arguments must be a JSON string');
    }
    if (!isObj(input)) throw untranslatable(`${p}.function.arguments`, 'arguments must be a JSON object');
    return { type: 'tool_use', id: anthropicToolId(tc.id), name, input };
  });
}

function toolResultBlock(m: ChatMessage, param: string): AnthropicBlock {
  if (typeof m.tool_call_id !== 'string' || m.tool_call_id === '') throw untranslatable(`${param}.tool_call_id`, 'a tool message needs a tool_call_id');
  let content: string | AnthropicBlock[] = typeof m.content === 'string' ? m.content : contentBlocks(m.content, `${param}.content`, false);
  // Anthropic takes cache_control on the tool_result itself, not inside its content ("place it
  // directly on tool_result"): a part's marker moves up, the message's own wins.
  let cc = cacheControl(m.cache_control, param);
  if (Array.isArray(content) && content.some((b) => b.cache_control !== undefined)) {
    cc ??= content.findLast((b) => b.cache_control !== undefined)!.cache_control as Record<string, unknown>;
    content = content.map(({ cache_control: _moved, ...b }) => b as AnthropicBlock);
  }
  const block: AnthropicBlock = { type: 'tool_result', tool_use_id: anthropicToolId(m.tool_call_id), content };
  if (cc !== undefined) block.cache_control = cc;
  return block;
}

/**
 * Appends a turn, merging it into the previous one when the role is the same. In place and
 * linear: a conversation of 20 000 consecutive user messages merged by copying took seconds.
 * {@link translateMessages} puts a merged user turn's tool results first once, at the end.
 */
export function pushTurn(turns: AnthropicTurn[], turn: AnthropicTurn): void {
  if (turn.content.length === 0) return;
  const last = turns[turns.length - 1];
  if (last && last.role === turn.role) {
    for (const b of turn.content) last.content.push(b);
  } else {
    turns.push({ role: turn.role, content: [...turn.content] });
  }
}

/** Anthropic: in a user turn, tool results come before any other content (order kept within each). */
function resultsFirst(turn: AnthropicTurn): void {
  if (turn.role !== 'user') return;
  const results = turn.content.filter((b) => b.type === 'tool_result');
  if (results.length > 0 && results.length < turn.content.length) turn.content = [...results, ...turn.content.filter((b) => b.type !== 'tool_result')];
}

export function translateMessages(messages: ChatMessage[]): TranslatedMessages {
  const system: AnthropicBlock[] = [];
  const turns: AnthropicTurn[] = [];
  messages.forEach((m, i) => {
    const param = `messages[${i}]`;
    if (!isObj(m)) throw untranslatable(param, 'a message must be an object');
    for (const field of ['function_call', 'audio'] as const) {
      if (m[field] !== undefined && m[field] !== null) throw untranslatable(`${param}.${field}`, `${field} has no Anthropic equivalent`);
    }
    switch (m.role) {
      case 'system':
      case 'developer':
        for (const b of markLast(contentBlocks(m.content, `${param}.content`, false), m, param)) system.push(b);
        return;
      case 'user':
        pushTurn(turns, { role: 'user', content: markLast(contentBlocks(m.content, `${param}.content`, true), m, param) });
        return;
      case 'assistant': {
        const blocks = contentBlocks(m.content, `${param}.content`, false);
        // A refusal OpenAI answered (`content: null`, `refusal: "…"`), appended back to the history
        // as the SDK returned it, is the assistant's turn: kept as its text, not dropped.
        if (blocks.length === 0 && typeof m.refusal === 'string' && m.refusal.trim() !== '') blocks.push({ type: 'text', text: m.refusal });
        pushTurn(turns, { role: 'assistant', content: markLast([...blocks, ...toolUseBlocks(m.tool_calls, `${param}.tool_calls`)], m, param) });
        return;
      }
      case 'tool':
        pushTurn(turns, { role: 'user', content: [toolResultBlock(m, param)] });
        return;
      default:
        throw untranslatable(`${param}.role`, `role ${echoValue(m.role)} is not supported`);
    }
  });
  turns.forEach(resultsFirst);
  // A last user message with no text (`""`, `" "`) is dropped, as Anthropic refuses empty text: the
  // assistant's message before it would then end the conversation and be continued as a prefill,
  // not answered. Refused instead, naming it.
  const lastIndex = messages.length - 1;
  const last = messages[lastIndex];
  if (isObj(last) && last.role === 'user' && turns[turns.length - 1]?.role === 'assistant')
    throw untranslatable(
      `messages[${lastIndex}].content`,
      "the last user message has no text (Anthropic refuses empty text, and without it Claude would continue the assistant's message before it instead of answering): send the user's text, or leave the message out to continue that message",
    );
  return { system: systemOf(system), turns };
}

/** The system text blocks joined with a blank line, or kept as blocks when one carries a `cache_control`. */
function systemOf(blocks: AnthropicBlock[]): string | AnthropicBlock[] | null {
  if (blocks.length === 0) return null;
  if (blocks.some((b) => b.cache_control !== undefined)) return blocks;
  return blocks.map((b) => String(b.text)).join('\n\n');
}

/** A turn whose content is one plain text block is sent as a string (the simple form). */
export function wireTurns(turns: AnthropicTurn[]): Array<{ role: string; content: string | AnthropicBlock[] }> {
  return turns.map((t) => {
    const only = t.content.length === 1 ? t.content[0] : undefined;
    if (only && only.type === 'text' && Object.keys(only).length === 2 && typeof only.text === 'string') return { role: t.role, content: only.text };
    return { role: t.role, content: t.content };
  });
}
