/**
 * A stream's content chunks without `JSON.parse`. An OpenAI-format stream repeats one chunk
 * shape: `{"id":…,"object":"chat.completion.chunk",…,"choices":[{"index":0,"delta":{"content":"…"},…}]}`
 * where only the content string changes. Parsing each (~1–2 µs on Node 20) was the largest cost
 * of a stream's relay. Once one such chunk was parsed, its text is split around the content
 * value into a prefix and a suffix — after checking, by parsing the text with another string in
 * that place, that the position is exactly `choices[0].delta.content`. A later event whose text
 * is that prefix, one JSON string literal, and that suffix is the template chunk with that
 * content: by the JSON grammar, nothing else can differ. Anything else (a finish reason, usage,
 * a tool call, another id, a field that varies per chunk) is parsed as before.
 */
import type { ChunkShape, OpenAIChunk, StreamPiece } from './types.js';

export interface ChunkTemplate {
  prefix: string;
  suffix: string;
  shape: ChunkShape;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A string literal without escapes or control characters: its text is the characters between the quotes. */
function plain(lit: string): boolean {
  const last = lit.length - 1;
  if (last < 1 || lit.charCodeAt(0) !== 34 || lit.charCodeAt(last) !== 34) return false;
  for (let i = 1; i < last; i++) {
    const c = lit.charCodeAt(i);
    if (c === 34 || c === 92 || c < 32) return false;
  }
  return true;
}

/**
 * The template of `chunk` (parsed from `raw`), or null when it is not a plain content chunk or the
 * content's position in `raw` cannot be proven. A plain content chunk: one choice, a string
 * `delta.content`, no tool calls, no refusal text, no finish reason, no usage, no error.
 */
export function learnTemplate(raw: string, chunk: OpenAIChunk): ChunkTemplate | null {
  if ((chunk.usage !== undefined && chunk.usage !== null) || isObj(chunk.error) || chunk.choices.length !== 1) return null;
  const c = chunk.choices[0];
  if (!isObj(c) || !isObj(c.delta) || c.finish_reason) return null;
  const d = c.delta;
  if (typeof d.content !== 'string' || d.tool_calls !== undefined || (typeof d.refusal === 'string' && d.refusal.length > 0)) return null;
  const lit = JSON.stringify(d.content);
  const at = raw.lastIndexOf(lit);
  if (at < 0) return null;
  const prefix = raw.slice(0, at);
  const suffix = raw.slice(at + lit.length);
  // The proof: another string in that place becomes delta.content. Only that one literal changed,
  // so it was delta.content's value (the value JSON.parse keeps), and nothing else differs.
  let probe: unknown;
  try {
    probe = JSON.parse(`${prefix}"\\u0001probe"${suffix}`);
  } catch {
    return null;
  }
  if (!isObj(probe) || !Array.isArray(probe.choices)) return null;
  const pc: unknown = probe.choices[0];
  if (!isObj(pc) || !isObj(pc.delta) || pc.delta.content !== '\u0001probe') return null;
  return { prefix, suffix, shape: { id: chunk.id, object: chunk.object, created: chunk.created, model: chunk.model } };
}

/** A content chunk matched against a template: `chunk` is parsed from `raw` the first time it is read. */
class TemplateChunk {
  readonly type = 'chunk' as const;
  readonly finishReason = null;
  content: boolean;
  raw: string | undefined;
  private parsed: OpenAIChunk | null = null;

  constructor(
    private readonly source: string,
    public text: string,
    readonly shape: ChunkShape,
  ) {
    this.raw = source;
    this.content = text.length > 0;
  }

  /** Parsed from the upstream's text (not from `raw`, which a consumer may drop). */
  get chunk(): OpenAIChunk {
    return (this.parsed ??= JSON.parse(this.source) as OpenAIChunk);
  }
}

/** The piece for `raw` when it is `t`'s chunk with another content string; null when it is not (parse it). */
export function matchTemplate(t: ChunkTemplate, raw: string): Extract<StreamPiece, { type: 'chunk' }> | null {
  const end = raw.length - t.suffix.length;
  // slice + === rather than startsWith: on Node 20 startsWith of a ~150-character prefix went
  // from ~150 ns to ~900 ns per call once hot (measured); the comparison stays ~85 ns.
  if (end - t.prefix.length < 2 || raw.slice(0, t.prefix.length) !== t.prefix || raw.slice(end) !== t.suffix) return null;
  const lit = raw.slice(t.prefix.length, end);
  let text: string;
  if (plain(lit)) text = lit.slice(1, -1);
  else {
    if (lit.charCodeAt(0) !== 34) return null;
    // Escapes: exactly one string literal, or this is not the template's shape.
    let v: unknown;
    try {
      v = JSON.parse(lit);
    } catch {
      return null;
    }
    if (typeof v !== 'string') return null;
    text = v;
  }
  return new TemplateChunk(raw, text, t.shape);
}
