/**
 * A JSON schema as Anthropic's structured outputs take it (`output_config.format`, strict tool
 * use). Their grammar-constrained sampling takes a subset of JSON Schema and refuses a request
 * whose schema has more: a numeric bound (zod 4's `.int()` writes `minimum`/`maximum` of ±2^53-1),
 * a string length or pattern, an `additionalProperties` other than false, a `minItems` above 1,
 * an unlisted string format. Anthropic's own SDK rewrites the schema before sending it; so does
 * switchyard, for a chat or Responses schema on its way to an Anthropic-kind model:
 *
 * - kept: `type`, `properties`, `required`, `items`, `enum`, `const`, `anyOf` (`oneOf` becomes
 *   `anyOf`), `allOf`, `$ref`, `$defs`/`definitions`, `description`, `title`, the string formats
 *   Anthropic lists, `minItems` 0 or 1;
 * - every object gets `additionalProperties: false` (Anthropic requires it): an object with listed
 *   properties is then answered with those (an answer the client's schema still accepts); an
 *   object with no listed properties and `additionalProperties` true or a schema (a map, a
 *   free-form object) could only be answered `{}`, so such a schema is refused (a 400 naming
 *   where; a route or `auto` passes the Anthropic-kind models over for it);
 * - any other keyword is moved into the node's `description` as `{key: value, …}`, so the model is
 *   still told; `$schema` (the dialect, no constraint) is dropped.
 *
 * The client's own schema is what the quality cascade validates the answer against: the moved
 * constraints are still checked there. A copy; the client's body is not changed.
 */

import { untranslatable } from './anthropic-messages.js';

const STRING_FORMATS: ReadonlySet<string> = new Set(['date-time', 'time', 'date', 'duration', 'email', 'hostname', 'uri', 'ipv4', 'ipv6', 'uuid']);

/** Deeper than this the rest of a schema is passed on as it is (a schema is a few levels deep). */
const MAX_DEPTH = 64;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPrimitive = (v: unknown): boolean => v === null || typeof v !== 'object';

/**
 * The most subschemas a schema may have to be rewritten: what a structured output can sensibly be
 * (OpenAI allows 5,000 properties in all), with room. A 3.9 MB schema of 1,300,000 empty `anyOf`
 * members held the event loop 1.5 s a rewrite, and a request was rewritten several times.
 */
export const MAX_SCHEMA_NODES = 10_000;

/** `param`: where the schema is in the request (named in the 400 for a schema Anthropic cannot express). */
export function anthropicSchema(schema: Record<string, unknown>, param: string): Record<string, unknown> {
  return node(schema, 0, param, { nodes: 0, param }) as Record<string, unknown>;
}

function node(input: unknown, depth: number, at: string, seen: { nodes: number; param: string }): unknown {
  if (!isObj(input) || depth > MAX_DEPTH) return input;
  if (++seen.nodes > MAX_SCHEMA_NODES)
    throw untranslatable(seen.param, `the schema has more than ${MAX_SCHEMA_NODES} subschemas, more than Anthropic's structured outputs are sent`);
  const rest: Record<string, unknown> = { ...input };
  const out: Record<string, unknown> = {};
  const take = (k: string): unknown => {
    const v = rest[k];
    delete rest[k];
    return v;
  };
  for (const defsKey of ['$defs', 'definitions']) {
    const defs = take(defsKey);
    if (isObj(defs)) out[defsKey] = Object.fromEntries(Object.entries(defs).map(([k, v]) => [k, node(v, depth + 1, `${at}.${defsKey}.${k}`, seen)]));
    else if (defs !== undefined) rest[defsKey] = defs;
  }
  const ref = take('$ref');
  if (typeof ref === 'string') {
    out.$ref = ref;
    return out;
  }
  if (ref !== undefined) rest.$ref = ref;
  take('$schema');
  const en = take('enum');
  if (Array.isArray(en) && en.length > 0 && en.every(isPrimitive)) out.enum = en;
  else if (en !== undefined) rest.enum = en;
  const cst = take('const');
  if (cst !== undefined && isPrimitive(cst)) out.const = cst;
  else if (cst !== undefined) rest.const = cst;
  const type = take('type');
  if (type !== undefined) out.type = type;
  for (const [from, to] of [
    ['anyOf', 'anyOf'],
    ['oneOf', 'anyOf'],
    ['allOf', 'allOf'],
  ] as const) {
    const list = take(from);
    if (Array.isArray(list)) out[to] = list.map((v, i) => node(v, depth + 1, `${at}.${from}[${i}]`, seen));
    else if (list !== undefined) rest[from] = list;
  }
  const description = take('description');
  const title = take('title');
  if (typeof title === 'string') out.title = title;
  else if (title !== undefined) rest.title = title;
  const types = Array.isArray(type) ? type : [type];
  if (types.includes('object') || isObj(rest.properties)) {
    const props = take('properties');
    out.properties = isObj(props) ? Object.fromEntries(Object.entries(props).map(([k, v]) => [k, node(v, depth + 1, `${at}.properties.${k}`, seen)])) : {};
    const extra = take('additionalProperties');
    const patterned = isObj(rest.patternProperties) && Object.keys(rest.patternProperties).length > 0;
    // Closed (as Anthropic requires), an object with no listed properties could only be answered {}
    // (a bare {"type": "object"} stays: the usual schema of a tool without arguments).
    if ((extra === true || isObj(extra) || patterned) && Object.keys(out.properties as object).length === 0)
      throw untranslatable(
        at,
        "Anthropic's structured outputs take only objects with listed properties (additionalProperties false), and this one lists none: a map or free-form object could only be answered {}. List its properties, or send it to an OpenAI-kind model",
      );
    out.additionalProperties = false;
    const required = take('required');
    if (Array.isArray(required)) out.required = required;
    else if (required !== undefined) rest.required = required;
  }
  if (types.includes('array') || rest.items !== undefined) {
    const items = take('items');
    if (items !== undefined)
      out.items = Array.isArray(items) ? items.map((v, i) => node(v, depth + 1, `${at}.items[${i}]`, seen)) : node(items, depth + 1, `${at}.items`, seen);
    const minItems = take('minItems');
    if (minItems === 0 || minItems === 1) out.minItems = minItems;
    else if (minItems !== undefined) rest.minItems = minItems;
  }
  const format = take('format');
  if (typeof format === 'string' && STRING_FORMATS.has(format)) out.format = format;
  else if (format !== undefined) rest.format = format;
  const moved = Object.entries(rest);
  const note = moved.length > 0 ? `{${moved.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')}}` : '';
  if (typeof description === 'string' || note !== '') {
    out.description = [typeof description === 'string' ? description : '', note].filter((s) => s !== '').join('\n\n');
  }
  return out;
}
