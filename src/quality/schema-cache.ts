/**
 * JSON Schema validation for the `schema` and `tool_args` checks (ajv), compiled once per
 * distinct schema and kept in a bounded LRU. Schemas come from clients, so a hostile one must
 * not hang or grow the process:
 * - no remote `$ref` (ajv has no `loadSchema`: an unresolved reference fails the compile);
 * - patterns that can backtrack exponentially (a quantified group that itself holds a
 *   quantifier or an alternation, e.g. `(a+)+`, `(a|a)*`) are refused at compile time, and a
 *   pattern is never run on a string longer than {@link MAX_PATTERN_INPUT} (such a string is
 *   taken as matching: the check errs towards not escalating);
 * - `uniqueItems` (quadratic) needs `maxItems` ≤ {@link MAX_UNIQUE_ITEMS};
 * - at most {@link MAX_SCHEMA_NODES} nodes, {@link MAX_SCHEMA_DEPTH} levels,
 *   {@link MAX_SCHEMA_PATTERNS} patterns, {@link MAX_PATH_PROPERTIES} properties along one path
 *   of nested objects, {@link MAX_ENUM_VALUES} enum values, {@link MAX_SCHEMA_ALTERNATIVES}
 *   subschemas in `anyOf`/`oneOf`/`allOf` and {@link MAX_DEPENDENCY_NAMES} names in
 *   `dependencies`, compiled without ajv's optimising pass: a schema at these limits compiles in
 *   well under a second;
 * - evicted schemas are removed from ajv's own cache too (it keeps every compiled schema);
 * - `format` is checked for the names formats.ts knows, by functions on bounded strings;
 * - a `$ref` loop that reads no deeper into the value (`$ref: "#"` at the root) overflows the
 *   stack when run: the schema is then unusable.
 * A schema refused or failing to compile is "unusable": the check is skipped, never failed
 * (the client's schema problem is not the model's quality problem). Pure: no I/O.
 */
import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';
import { FORMATS } from './formats.js';

export const MAX_PATTERN_INPUT = 10_000;
export const MAX_UNIQUE_ITEMS = 1_000;
export const MAX_SCHEMA_NODES = 5_000;
export const MAX_SCHEMA_DEPTH = 64;
/**
 * Patterns (`pattern`, `patternProperties`' keys) one schema may hold: ajv's compile grows faster
 * than their count (1,024: 0.4 s; 2,400: 2.4 s, then a stack overflow); 256 take 40 ms.
 */
export const MAX_SCHEMA_PATTERNS = 256;
/**
 * Properties along one path of nested objects: ajv nests each property's check inside the one
 * before it, and a nested object's inside its parent's, so 1,800 in one object overflowed the
 * stack when run (and was reported as a `$ref` loop), 2,400 when compiled; 1,400 ran.
 */
export const MAX_PATH_PROPERTIES = 1_000;
/**
 * `enum` values one schema may list in all: OpenAI's own limit for Structured Outputs. ajv's
 * compile grows faster than their count (5,000: 0.23 s; 20,000: 2.2 s; 50,000 held the event loop 8 s).
 */
export const MAX_ENUM_VALUES = 1_000;
/**
 * Subschemas `anyOf`, `oneOf` and `allOf` may list in all: 1,000 alternatives compiled in 0.6 s
 * (1.2 s on a loaded host, for every request: a schema over 64 KB is not cached), 2,000 overflowed
 * the stack when run; 256 take ~0.2 s.
 */
export const MAX_SCHEMA_ALTERNATIVES = 256;
/** Names `dependencies` may list in all (one list of 1,000 compiled in 0.85 s, 2,000 overflowed the stack; 200, 80 ms). */
export const MAX_DEPENDENCY_NAMES = 256;
/** The base id given to a client's schema that has none (so that `$ref: "#"` resolves). */
const ANONYMOUS_SCHEMA_ID = 'https://switchyard.invalid/response-schema';
/** Schemas larger than this (serialised) are compiled for the one answer and not cached. */
const MAX_CACHED_SCHEMA_CHARS = 64 * 1024;

export type Validation = { ok: true } | { ok: false; error: string } | { ok: 'unusable'; error: string };

/**
 * Unbounded quantifiers (`*`, `+`, `{n,}`, `{n,m}` with m over 10) a pattern may hold in all, a
 * pattern not anchored by a leading `^` counting one more (the engine retries it at every start):
 * three backtrack polynomially (`^a*a*a*b$` ~1 s on 2000 characters, `a*a*b` 8 s on 4000, both
 * minutes on {@link MAX_PATTERN_INPUT}); two stay in tens of milliseconds there.
 */
export const MAX_UNBOUNDED_QUANTIFIERS = 2;
/**
 * The paths a failing match may try through a pattern's bounded choices (`?`, `{n,m}` with n < m),
 * the product of their counts (`?` 2, `{0,10}` 11): each multiplies them (`^a?a?…a?a…a$` with 24
 * of each takes seconds; `^a{0,10}` eight times then `x$`, 11^8 paths, 2.8 s on 40 characters and
 * twelve times hours). Twelve `?` are 4,096.
 */
export const MAX_BOUNDED_PATHS = 4096;

/** The quantifier starting at `i`, if one does: how many times it may repeat and whether that count is open. */
function quantifierAt(pattern: string, i: number): { min: number; max: number; choice: boolean; unbounded: boolean } | null {
  const ch = pattern[i];
  if (ch === '*' || ch === '+') return { min: ch === '*' ? 0 : 1, max: Infinity, choice: true, unbounded: true };
  if (ch === '?') return { min: 0, max: 1, choice: true, unbounded: false };
  if (ch !== '{') return null;
  const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i, i + 24));
  if (m === null) return null;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
  return { min, max, choice: max > min, unbounded: max > 10 && max > min };
}

/**
 * A pattern that can backtrack exponentially or for long: a group repeated (`*`, `+`, `{n}` or
 * `{n,m}` with more than one repetition) whose body holds a choice (a quantifier or `|`):
 * `(a+)+`, `(a|a)*`, `(.?){24}`, `(?:(?:.?){9}){3}`, `(.|.){30}`; more than
 * {@link MAX_UNBOUNDED_QUANTIFIERS} unbounded quantifiers (polynomial); bounded ones that
 * multiply to more than {@link MAX_BOUNDED_PATHS} paths; any back-reference.
 */
export function riskyPattern(pattern: string): boolean {
  const stack: Array<{ risky: boolean }> = [];
  let unbounded = pattern.startsWith('^') ? 0 : 1;
  let paths = 1;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\') {
      // A back-reference (`\1`, `\k<name>`) makes matching no longer regular: `^(.*)(.*)\1$` with two
      // unbounded quantifiers ran in cubic time (8,000 characters: 16 s on the event loop).
      const next = pattern[i + 1];
      if (next !== undefined && ((next >= '1' && next <= '9') || next === 'k')) return true;
      i++;
      continue;
    }
    if (ch === '[') {
      // A character class: skip to its end, it holds no groups.
      for (i++; i < pattern.length && pattern[i] !== ']'; i++) if (pattern[i] === '\\') i++;
      continue;
    }
    if (ch === '(') {
      stack.push({ risky: false });
      // `(?:`, `(?=`, `(?!`, `(?<=`, `(?<name>`: the `?` is the group's kind, not a quantifier.
      if (pattern[i + 1] === '?') i++;
      continue;
    }
    if (ch === '|') {
      const top = stack[stack.length - 1];
      if (top) top.risky = true;
      continue;
    }
    if (ch === ')') {
      const g = stack.pop();
      const q = quantifierAt(pattern, i + 1);
      if (g?.risky && q !== null && q.max > 1) return true;
      const outer = stack[stack.length - 1];
      if (outer && g?.risky) outer.risky = true;
      continue;
    }
    const q = quantifierAt(pattern, i);
    if (q === null) continue;
    // A lazy or possessive mark after a quantifier (`*?`) is part of it.
    const prev = pattern[i - 1];
    if (ch === '?' && i > 0 && (prev === '*' || prev === '+' || prev === '?' || prev === '}') && !(i > 1 && pattern[i - 2] === '\\')) continue;
    if (q.unbounded && ++unbounded > MAX_UNBOUNDED_QUANTIFIERS) return true;
    if (q.choice && !q.unbounded && (paths *= q.max - q.min + 1) > MAX_BOUNDED_PATHS) return true;
    if (q.choice) {
      const top = stack[stack.length - 1];
      if (top) top.risky = true;
    }
  }
  return false;
}

/**
 * ajv's `code.regExp`: the pattern compiled once, refused when {@link riskyPattern}, never run on
 * more than {@link MAX_PATTERN_INPUT} characters. ajv keys its compiled patterns by `toString()`:
 * it must be the pattern's own (a plain object's "[object Object]" made every schema of the
 * process check the first pattern it ever compiled).
 */
function safeRegExp(pattern: string, u: string): { test: (s: string) => boolean; toString: () => string } {
  if (riskyPattern(pattern)) throw new Error(`pattern ${JSON.stringify(pattern.slice(0, 80))} may backtrack exponentially`);
  const re = new RegExp(pattern, u);
  const key = re.toString();
  return { test: (s: string) => s.length > MAX_PATTERN_INPUT || re.test(s), toString: () => key };
}
safeRegExp.code = 'safeRegExp';

/** Refuses schemas past the limits above (nodes, depth, patterns, enum values, alternatives, dependency names, properties along a path) or with quadratic `uniqueItems`. */
function preflight(schema: unknown): string | null {
  let nodes = 0;
  let patterns = 0;
  let enumValues = 0;
  let dependencyNames = 0;
  let alternatives = 0;
  const walk = (v: unknown, depth: number): string | null => {
    if (typeof v !== 'object' || v === null) return null;
    if (++nodes > MAX_SCHEMA_NODES) return `schema has more than ${MAX_SCHEMA_NODES} nodes`;
    if (depth > MAX_SCHEMA_DEPTH) return `schema is nested deeper than ${MAX_SCHEMA_DEPTH}`;
    const o = v as Record<string, unknown>;
    if (!Array.isArray(v)) {
      if (typeof o.pattern === 'string') patterns++;
      if (typeof o.patternProperties === 'object' && o.patternProperties !== null) patterns += Object.keys(o.patternProperties).length;
      if (patterns > MAX_SCHEMA_PATTERNS) return `schema has more than ${MAX_SCHEMA_PATTERNS} patterns`;
      if (Array.isArray(o.enum) && (enumValues += o.enum.length) > MAX_ENUM_VALUES) return `schema has more than ${MAX_ENUM_VALUES} enum values`;
      for (const k of ['anyOf', 'oneOf', 'allOf'] as const)
        if (Array.isArray(o[k]) && (alternatives += o[k].length) > MAX_SCHEMA_ALTERNATIVES)
          return `schema has more than ${MAX_SCHEMA_ALTERNATIVES} subschemas in anyOf, oneOf and allOf`;
      if (typeof o.dependencies === 'object' && o.dependencies !== null)
        for (const names of Object.values(o.dependencies))
          if (Array.isArray(names) && (dependencyNames += names.length) > MAX_DEPENDENCY_NAMES)
            return `schema's dependencies list more than ${MAX_DEPENDENCY_NAMES} names`;
    }
    if (!Array.isArray(v) && o.uniqueItems === true && !(typeof o.maxItems === 'number' && o.maxItems <= MAX_UNIQUE_ITEMS)) {
      return `uniqueItems needs maxItems <= ${MAX_UNIQUE_ITEMS}`;
    }
    for (const x of Array.isArray(v) ? v : Object.values(o)) {
      const bad = walk(x, depth + 1);
      if (bad) return bad;
    }
    return null;
  };
  const bad = walk(schema, 0);
  if (bad !== null) return bad;
  return pathProperties(schema, 0) > MAX_PATH_PROPERTIES ? `schema has more than ${MAX_PATH_PROPERTIES} properties along one path of nested objects` : null;
}

/** The most properties along one path of nested schemas (after {@link preflight}'s walk: bounded). */
function pathProperties(v: unknown, depth: number): number {
  if (typeof v !== 'object' || v === null || depth > MAX_SCHEMA_DEPTH) return 0;
  const o = v as Record<string, unknown>;
  const own = !Array.isArray(v) && typeof o.properties === 'object' && o.properties !== null ? Object.keys(o.properties).length : 0;
  let deepest = 0;
  for (const x of Array.isArray(v) ? v : Object.values(o)) deepest = Math.max(deepest, pathProperties(x, depth + 1));
  return own + deepest;
}

interface Entry {
  schema: AnySchema;
  validate: ValidateFunction | null;
  error: string | null;
}

export class SchemaCache {
  private readonly ajv = new Ajv({
    strict: false,
    allErrors: false,
    addUsedSchema: false,
    // The formats Structured Outputs accepts (formats.ts); another name is not checked, and not logged.
    validateFormats: true,
    formats: FORMATS,
    logger: false,
    allowUnionTypes: true,
    // No optimising pass over the generated code: it grew faster than the schema (an object of
    // 2,000 properties compiled in 1.7 s with it, 0.2 s without; 1,000 alternatives 2.2 s and
    // 0.46 s), and what it saves in validating is small beside one answer's parse.
    code: { regExp: safeRegExp, optimize: false },
  });
  private readonly lru = new Map<string, Entry>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.lru.size;
  }

  /** Validates `value` against `schema` (a JSON Schema object or boolean). */
  validate(schema: unknown, value: unknown): Validation {
    if (typeof schema === 'boolean') return schema ? { ok: true } : { ok: false, error: 'schema false accepts nothing' };
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return { ok: 'unusable', error: 'schema is not an object' };
    // The serialised schema is the key: only schemas up to MAX_CACHED_SCHEMA_CHARS are kept, so
    // the keys are bounded too (a hash would cost more than the Map lookup it feeds).
    const key = JSON.stringify(schema);
    let entry = this.lru.get(key);
    if (entry) {
      this.lru.delete(key);
      this.lru.set(key, entry);
    } else {
      entry = this.compile(schema as AnySchema);
      if (key.length <= MAX_CACHED_SCHEMA_CHARS) this.remember(key, entry);
      else queueForget(this.ajv, entry);
    }
    if (!entry.validate) return { ok: 'unusable', error: entry.error ?? 'schema unusable' };
    let valid: boolean;
    try {
      valid = entry.validate(value);
    } catch (err) {
      // A reference that loops without reading deeper into the value (`$ref: "#"` at the root,
      // definitions naming each other) recurses until the stack overflows: no value can be judged
      // by it. The entry stays, unusable (it was a 500 on every answer checked against it).
      if (!(err instanceof RangeError)) throw err;
      entry.validate = null;
      entry.error = 'the schema refers to itself without end (a $ref loop)';
      return { ok: 'unusable', error: entry.error };
    }
    if (valid) return { ok: true };
    const e = entry.validate.errors?.[0];
    return { ok: false, error: e ? `${e.instancePath || '/'} ${e.message ?? 'is invalid'}` : 'does not match the schema' };
  }

  private compile(given: AnySchema): Entry {
    const bad = preflight(given);
    if (bad) return { schema: given, validate: null, error: bad };
    // A base id for a schema without one: with addUsedSchema off, ajv cannot resolve a root
    // reference (`$ref: "#"`, the recursion Structured Outputs documents) against an anonymous
    // schema, and the compile failed, so the check was skipped. Not added to ajv: ids never clash.
    // A `$schema` naming another draft (2020-12: zod 4's `z.toJSONSchema`, many MCP tools' input
    // schemas) made ajv, which only holds draft-07's meta-schema, refuse the compile: the check was
    // skipped. The keywords Structured Outputs and tools use mean the same in both; it is dropped.
    const { $schema: _draft, ...o } = given as Record<string, unknown>;
    const schema: AnySchema = o.$id === undefined ? { $id: ANONYMOUS_SCHEMA_ID, ...o } : o;
    try {
      return { schema, validate: this.ajv.compile(schema), error: null };
    } catch (err) {
      this.ajv.removeSchema(schema);
      // ajv nests each property's check inside the one before it (and a nested object's inside
      // its parent's): ~2,400 properties along one path overflow the parser's stack.
      const error =
        err instanceof RangeError
          ? 'the schema is too large to compile: its checks nest too deep (fewer properties in one object, or along one path of nested objects, fit)'
          : (err as Error).message.slice(0, 200);
      return { schema, validate: null, error };
    }
  }

  private remember(key: string, entry: Entry): void {
    this.lru.set(key, entry);
    while (this.lru.size > this.capacity) {
      const [oldKey, old] = this.lru.entries().next().value as [string, Entry];
      this.lru.delete(oldKey);
      this.ajv.removeSchema(old.schema);
    }
  }
}

/** An uncached entry leaves ajv's cache once this turn's validation is done. */
function queueForget(ajv: Ajv, entry: Entry): void {
  queueMicrotask(() => ajv.removeSchema(entry.schema));
}
