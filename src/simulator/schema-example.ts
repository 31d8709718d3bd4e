/**
 * A deterministic value that fits a JSON schema, for the simulator's structured answers: a
 * `response_format: json_schema` answer and a tool call's arguments take the shape the client
 * asked for (as a real model does), so SDK helpers that validate the answer (`parse()` with a
 * zod schema) work against the simulator. Covers what structured outputs use: objects (every
 * property), arrays, strings (`text`, a value of its `format`, or the first `enum`/`const`), numbers within
 * `minimum`/`maximum`, booleans, null, `anyOf`/`oneOf`/`allOf` (the first branch) and local
 * `$ref`s (`#/$defs/…`, `#/definitions/…`). Depth is bounded, so a recursive schema ends.
 */

/** A value of each string `format` the cascade's checks validate (src/quality/formats.ts), as a model would answer it. */
const FORMAT_EXAMPLES: Record<string, string> = {
  date: '2025-01-31',
  time: '12:30:00Z',
  'date-time': '2025-01-31T12:30:00Z',
  duration: 'P1DT2H',
  email: 'someone@example.com',
  hostname: 'example.com',
  ipv4: '192.0.2.1',
  ipv6: '2001:db8::1',
  uuid: '123e4567-e89b-42d3-a456-426614174000',
  uri: 'https://example.com/',
};

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const MAX_DEPTH = 8;

function resolveRef(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let at: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObj(at) || !Object.hasOwn(at, key)) return undefined;
    at = at[key];
  }
  return at;
}

function numberIn(s: Record<string, unknown>, integer: boolean): number {
  const min = typeof s.minimum === 'number' ? s.minimum : typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum + 1 : undefined;
  const max = typeof s.maximum === 'number' ? s.maximum : typeof s.exclusiveMaximum === 'number' ? s.exclusiveMaximum - 1 : undefined;
  // 1 when the range allows it (zod gives every int a range of ±2^53), else the nearer bound.
  let n = 1;
  if (min !== undefined && n < min) n = integer ? Math.ceil(min) : min;
  if (max !== undefined && n > max) n = integer ? Math.floor(max) : max;
  return n;
}

/**
 * Bounds a schema gives only in its `description` — `{minimum: 3, maximum: 5}`, where an adapter
 * (switchyard's for Anthropic, as Anthropic's SDK does) moved keywords that API does not take —
 * read back as keywords, as a model reading the description would keep to them.
 */
function withDescribedBounds(schema: Record<string, unknown>): Record<string, unknown> {
  if (typeof schema.description !== 'string') return schema;
  const note = /\{([^{}]*)\}\s*$/.exec(schema.description);
  if (!note) return schema;
  const out: Record<string, unknown> = { ...schema };
  for (const m of note[1]!.matchAll(/\b(minimum|maximum|exclusiveMinimum|exclusiveMaximum|minItems|maxItems): (-?\d+(?:\.\d+)?)/g))
    if (out[m[1]!] === undefined) out[m[1]!] = Number(m[2]);
  return out;
}

function example(schema: unknown, root: unknown, text: string, depth: number): unknown {
  if (!isObj(schema) || depth > MAX_DEPTH) return depth > MAX_DEPTH ? null : text;
  schema = withDescribedBounds(schema);
  if (!isObj(schema)) return text;
  if (typeof schema.$ref === 'string') return example(resolveRef(root, schema.$ref), root, text, depth + 1);
  if (Object.hasOwn(schema, 'const')) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  for (const k of ['anyOf', 'oneOf', 'allOf'] as const) {
    const branches = schema[k];
    if (Array.isArray(branches) && branches.length > 0) {
      const first = branches.find((b) => !(isObj(b) && b.type === 'null')) ?? branches[0];
      return example(first, root, text, depth + 1);
    }
  }
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  const type = types.find((t) => t !== 'null') ?? types[0];
  switch (type) {
    case 'object':
      break;
    case 'array': {
      const n = Math.min(3, Math.max(1, typeof schema.minItems === 'number' ? schema.minItems : 1));
      return Array.from({ length: n }, () => example(schema.items, root, text, depth + 1));
    }
    case 'string':
      return typeof schema.format === 'string' && Object.hasOwn(FORMAT_EXAMPLES, schema.format) ? FORMAT_EXAMPLES[schema.format] : text;
    case 'integer':
      return numberIn(schema, true);
    case 'number':
      return numberIn(schema, false);
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      if (!isObj(schema.properties)) return text;
  }
  const out: Record<string, unknown> = {};
  if (isObj(schema.properties)) for (const [k, v] of Object.entries(schema.properties)) out[k] = example(v, root, text, depth + 1);
  return out;
}

/**
 * A value of `schema` with every string set to `text`; undefined when the schema describes no
 * object properties (the simulator then answers its usual `{"answer": …}` / `{"input": …}`), unless
 * it says no other property is allowed (`properties: {}`, `additionalProperties: false`: a tool
 * without arguments): then `{}`.
 */
export function schemaExample(schema: unknown, text: string): Record<string, unknown> | undefined {
  if (!isObj(schema)) return undefined;
  const v = example(schema, schema, text, 0);
  if (isObj(v) && Object.keys(v).length > 0) return v;
  return schema.additionalProperties === false ? {} : undefined;
}
