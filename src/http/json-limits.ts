/**
 * Shape limits of a request body. V8's JSON.parse is iterative and takes any nesting, but every
 * recursive walk after it (validation, token counting, serialisation) would overflow the stack
 * on a deep one and end in a 500: nesting beyond MAX_JSON_DEPTH is refused right after parsing.
 */
import { SwitchyardError } from '../errors.js';

/** Deepest array/object nesting a body may have; real chat requests use under 20. */
export const MAX_JSON_DEPTH = 64;

/**
 * Most distinct key names a body may use. Every walk over a parsed body (the shape, the prompt's
 * byte bound, the upstream request's serialisation) costs ~1 µs per key when the names are all
 * different (V8 keeps such objects as hash tables): a 3 MB body of 200,000 distinct keys held the
 * event loop ~0.5 s past its parse. Real requests use a few hundred names (a tool schema's
 * properties, a logit_bias's token ids); the names are counted only once a body has this many keys.
 */
export const MAX_DISTINCT_KEYS = 50_000;

/**
 * Why a parsed body is refused for its shape, or null: nesting beyond `limit`, a key named
 * `__proto__`, or more than `maxNames` distinct key names.
 */
export function shapeProblem(value: unknown, limit: number, maxNames = MAX_DISTINCT_KEYS): string | null {
  const stack: Array<[unknown, number]> = [[value, 0]];
  let keys = 0;
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > limit) return `request body nests deeper than ${limit} levels`;
    if (Array.isArray(v)) {
      for (const c of v) if (typeof c === 'object' && c !== null) stack.push([c, depth + 1]);
      continue;
    }
    const names = Object.keys(v);
    keys += names.length;
    for (const k of names) {
      // JSON.parse makes `"__proto__"` an own key; any copy by assignment (a spread into
      // Object.assign, a schema library's output) would make it the copy's prototype instead, and
      // the field would vanish or be inherited: refused, at any depth.
      if (k === '__proto__') return 'request body has a key named "__proto__", which switchyard does not accept (at any depth)';
      const c = (v as Record<string, unknown>)[k];
      if (typeof c === 'object' && c !== null) stack.push([c, depth + 1]);
    }
  }
  return keys > maxNames && distinctNames(value) > maxNames
    ? `request body uses more than ${maxNames} distinct key names, which no API request needs; send the data as text (a string) instead`
    : null;
}

/** How many distinct key names `value` uses (its nesting already checked). */
function distinctNames(value: unknown): number {
  const seen = new Set<string>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (const c of v) if (typeof c === 'object' && c !== null) stack.push(c);
      continue;
    }
    for (const k of Object.keys(v)) {
      seen.add(k);
      const c = (v as Record<string, unknown>)[k];
      if (typeof c === 'object' && c !== null) stack.push(c);
    }
  }
  return seen.size;
}

/** Bodies below this size are parsed before their depth is known: at most ~2,000 levels, about a millisecond of parse. */
const PRESCAN_BYTES = 4096;

/**
 * Whether a body's raw bytes nest arrays and objects deeper than `limit`, read before it is parsed:
 * parsing a deep one costs ~0.5 µs a level (4 MB of `[` held the event loop 1.5 s before the depth
 * check after the parse refused it; ten at once stalled every client for seconds). Strings are
 * skipped whole (`indexOf` to the next unescaped quote), so a 4 MB prompt is read in ~0.1 ms.
 * Brackets of invalid JSON may be miscounted; JSON.parse refuses such a body anyway.
 */
export function nestsDeeper(raw: Uint8Array, limit: number): boolean {
  if (raw.length < PRESCAN_BYTES) return false;
  const b = Buffer.from(raw.buffer, raw.byteOffset, raw.length);
  let depth = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0x22) {
      // The closing quote: the next one not escaped by an odd run of backslashes.
      let j = i + 1;
      for (;;) {
        j = b.indexOf(0x22, j);
        if (j < 0) return false;
        let k = j - 1;
        while (b[k] === 0x5c) k--;
        if ((j - 1 - k) % 2 === 0) break;
        j++;
      }
      i = j;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** Throws 400 before the parse when the raw body nests deeper than MAX_JSON_DEPTH (see {@link nestsDeeper}). */
export function checkRawDepth(raw: Uint8Array): void {
  if (nestsDeeper(raw, MAX_JSON_DEPTH)) throw new SwitchyardError('invalid_request', `request body nests deeper than ${MAX_JSON_DEPTH} levels`);
}

/** Throws 400 when the parsed body nests deeper than MAX_JSON_DEPTH, has a `__proto__` key or too many distinct key names. */
export function checkJsonShape(value: unknown): void {
  const problem = shapeProblem(value, MAX_JSON_DEPTH);
  if (problem !== null) throw new SwitchyardError('invalid_request', problem);
}
