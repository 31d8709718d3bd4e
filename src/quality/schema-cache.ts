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
 * - at most {@link MAX_SCHEMA_NODES} nodes and {@link MAX_SCHEMA_DEPTH} levels;
 * - evicted schemas are removed from ajv's own cache too (it keeps every compiled schema);
 * - `format` is checked for the names formats.ts knows, by functions on bounded strings.
 * A schema refused or failing to compile is "unusable": the check is skipped, never failed
 * (the client's schema problem is not the model's quality problem). Pure: no I/O.
 */
import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';
import { FORMATS } from './formats.js';

export const MAX_PATTERN_INPUT = 10_000;
export const MAX_UNIQUE_ITEMS = 1_000;
export const MAX_SCHEMA_NODES = 5_000;
export const MAX_SCHEMA_DEPTH = 64;
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

/** An unbounded quantifier starts at `i`. */
function unboundedAt(pattern: string, i: number): boolean {
  const ch = pattern[i];
  if (ch === '*' || ch === '+') return true;
  const m = ch === '{' ? /^\{\d+,(\d*)\}/.exec(pattern.slice(i, i + 24)) : null;
  return m !== null && (m[1] === '' || Number(m[1]) > 10);
}

/**
 * A quantified group (`)` followed by `*`, `+` or `{n,}`) whose body holds a quantifier or `|`
 * (exponential), or more than {@link MAX_UNBOUNDED_QUANTIFIERS} unbounded quantifiers (polynomial).
 */
export function riskyPattern(pattern: string): boolean {
  const stack: Array<{ risky: boolean }> = [];
  let unbounded = pattern.startsWith('^') ? 0 : 1;
  for (let i = 0; i < pattern.length; i++) {
    if (unboundedAt(pattern, i) && ++unbounded > MAX_UNBOUNDED_QUANTIFIERS) return true;
    const ch = pattern[i]!;
    if (ch === '\\') {
      i++;
      continue;
    }
    if (ch === '[') {
      // A character class: skip to its end, it holds no groups.
      for (i++; i < pattern.length && pattern[i] !== ']'; i++) if (pattern[i] === '\\') i++;
      continue;
    }
    if (ch === '(') stack.push({ risky: false });
    else if (ch === '|' || ch === '*' || ch === '+' || (ch === '{' && /^\{\d+,\d*\}/.test(pattern.slice(i)))) {
      const top = stack[stack.length - 1];
      if (top) top.risky = true;
    } else if (ch === ')') {
      const g = stack.pop();
      const next = pattern.slice(i + 1);
      const quantified = /^([*+]|\{\d+,\d*\})/.test(next);
      if (g?.risky && quantified) return true;
      const outer = stack[stack.length - 1];
      if (outer && g?.risky) outer.risky = true;
    }
  }
  return false;
}

function safeRegExp(pattern: string, u: string): { test: (s: string) => boolean } {
  if (riskyPattern(pattern)) throw new Error(`pattern ${JSON.stringify(pattern.slice(0, 80))} may backtrack exponentially`);
  const re = new RegExp(pattern, u);
  return { test: (s: string) => s.length > MAX_PATTERN_INPUT || re.test(s) };
}
safeRegExp.code = 'safeRegExp';

/** Refuses schemas too big, too deep, or with quadratic `uniqueItems`. */
function preflight(schema: unknown): string | null {
  let nodes = 0;
  const walk = (v: unknown, depth: number): string | null => {
    if (typeof v !== 'object' || v === null) return null;
    if (++nodes > MAX_SCHEMA_NODES) return `schema has more than ${MAX_SCHEMA_NODES} nodes`;
    if (depth > MAX_SCHEMA_DEPTH) return `schema is nested deeper than ${MAX_SCHEMA_DEPTH}`;
    const o = v as Record<string, unknown>;
    if (!Array.isArray(v) && o.uniqueItems === true && !(typeof o.maxItems === 'number' && o.maxItems <= MAX_UNIQUE_ITEMS)) {
      return `uniqueItems needs maxItems <= ${MAX_UNIQUE_ITEMS}`;
    }
    for (const x of Array.isArray(v) ? v : Object.values(o)) {
      const bad = walk(x, depth + 1);
      if (bad) return bad;
    }
    return null;
  };
  return walk(schema, 0);
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
    code: { regExp: safeRegExp },
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
    if (entry.validate(value)) return { ok: true };
    const e = entry.validate.errors?.[0];
    return { ok: false, error: e ? `${e.instancePath || '/'} ${e.message ?? 'is invalid'}` : 'does not match the schema' };
  }

  private compile(schema: AnySchema): Entry {
    const bad = preflight(schema);
    if (bad) return { schema, validate: null, error: bad };
    try {
      return { schema, validate: this.ajv.compile(schema), error: null };
    } catch (err) {
      this.ajv.removeSchema(schema);
      return { schema, validate: null, error: (err as Error).message.slice(0, 200) };
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
