/**
 * The JSON answer's fast path: the upstream's own text with its top-level `model` value
 * replaced in place, instead of `JSON.parse` → set `model` → `JSON.stringify` of the whole
 * completion. Only taken when the splice is provably the same JSON value: the text has exactly
 * one `"model"` key, it sits directly in the top-level object, and its value is written the way
 * `JSON.stringify` writes the parsed string. Anything else (escaped keys, a nested `model`, no
 * `model` at all) returns null and the caller re-serialises. For compact upstream JSON (what
 * `JSON.stringify` produces) the result is byte-identical to the slow path.
 */
const KEY = '"model"';

/** Nesting depth of `raw` at `index` (1 = directly inside the top-level object), or -1 inside a string. */
function depthAt(raw: string, index: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < index; i++) {
    const c = raw.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) depth--;
  }
  return inString ? -1 : depth;
}

const isWs = (c: number): boolean => c === 32 || c === 10 || c === 13 || c === 9;

/** `raw` with the top-level `model` set to `model`, or null when the splice is not provably exact. */
export function spliceModel(raw: string, parsed: Record<string, unknown>, model: string): string | null {
  if (typeof parsed.model !== 'string') return null;
  const at = raw.indexOf(KEY);
  if (at < 0 || raw.indexOf(KEY, at + KEY.length) >= 0) return null;
  if (depthAt(raw, at) !== 1) return null;
  let i = at + KEY.length;
  while (isWs(raw.charCodeAt(i))) i++;
  if (raw.charCodeAt(i) !== 58) return null; // ':'
  i++;
  while (isWs(raw.charCodeAt(i))) i++;
  const old = JSON.stringify(parsed.model);
  if (!raw.startsWith(old, i)) return null;
  return raw.slice(0, i) + JSON.stringify(model) + raw.slice(i + old.length);
}
