/**
 * Reading a config file (YAML or JSON), validating it, and turning zod's issues into lines a
 * person can act on: `models.gpt-4.1.price.outputPerMTok: expected number, got string`.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { z } from 'zod';
import { opensCredentialValue, redactSourceLine, scrub } from '../observe/scrub.js';
import { duplicateJsonKeys } from './json-duplicates.js';
import { configSchema, INVISIBLE, type Config } from './schema.js';
import { envReferences, unreadKeys } from './unread.js';
import { nearest } from './near.js';

/** `text`: the file as read (a file's load only), for what names lines of it later (a reload's refused secrets). */
export type LoadResult = { ok: true; config: Config; text?: string } | { ok: false; errors: string[] };

/**
 * Validate an already-parsed value. A config a sidecar runs on also needs a model: an empty
 * catalogue would start, never get ready and refuse every request (checked here, not in the
 * schema, which also gives tests their defaults), and a key set where nothing reads it is refused
 * (src/config/unread.ts).
 */
export function validateConfig(raw: unknown): LoadResult {
  // A file that is no config at all (a wrong path: /etc/shadow read as YAML is one key a line):
  // said without its keys, which would copy the file's lines into the output and a journal.
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const keys = Object.keys(raw);
    const known = keysAt(configSchema, []) ?? [];
    // A misspelt key (`modles`) is a config's typo, said with its "did you mean".
    const litellm = keys.find((k) => Object.hasOwn(FROM_OTHER_GATEWAYS, k) && FROM_OTHER_GATEWAYS[k] === LITELLM_FILE);
    if (litellm !== undefined && !keys.some((k) => known.includes(k)))
      return { ok: false, errors: [`(root): ${FROM_OTHER_GATEWAYS[litellm]!} (its top-level key "${litellm}" is LiteLLM's)`] };
    if (keys.length > 0 && !keys.some((k) => known.includes(k) || unknownKeyHint(k, known).startsWith(' (did you mean')))
      return {
        ok: false,
        errors: [
          `(root): this is not a switchyard config: none of its ${keys.length} top-level key${keys.length === 1 ? ' is' : 's is'} one switchyard reads (expected some of: ${known.join(', ')}); check the path`,
        ],
      };
  }
  // A key named __proto__ (a model id, say) vanished on the way into the config, silently: refused, with where it is.
  const proto = protoKeyAt(raw);
  if (proto !== null)
    return { ok: false, errors: [`${proto}: "__proto__" is not a name switchyard takes (a reserved JavaScript name, lost when read): choose another`] };
  // A list (`- providers: …`, one dash too many) or a bare value: what a config is, not "expected object, got array".
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw)))
    return {
      ok: false,
      errors: [
        `(root): a config is a mapping of sections at the top level (providers:, models:, and optionally server:, routing:, budget:, …), got ${Array.isArray(raw) ? 'a list (a line starting with "- " at the top level?)' : `a ${typeName(raw)}`}`,
      ],
    };
  const res = configSchema.safeParse(raw ?? {}, { reportInput: true });
  const models = (raw as { models?: unknown } | null)?.models;
  const empty =
    typeof models === 'object' && models !== null && !Array.isArray(models) && Object.keys(models).length === 0
      ? ['models: no model is configured: add at least one (a sidecar without models can serve nothing)']
      : [];
  const unread = [...unreadKeys(raw), ...envReferences(raw)];
  if (res.success && empty.length === 0 && unread.length === 0) return { ok: true, config: res.data };
  // Once each: two checks of one value may say the same.
  return { ok: false, errors: [...new Set([...(res.success ? [] : res.error.issues.map((issue) => formatIssue(issue, configSchema))), ...empty, ...unread])] };
}

/** Read, parse and validate a file; never throws for a user's mistake. */
/** The largest config file read (256 KiB). */
export const MAX_CONFIG_BYTES = 256 * 1024;

/**
 * A small text file (a config, a simulator profile), or an error message: only a regular file, of
 * at most `maxBytes`, and never more than that read (a FIFO hung the start silently; /dev/zero or
 * `<(cat big.yaml)` have no size to check and were read whole: 600 MB, then a YAML parse that never ended).
 */
export async function readSmallFile(file: string, maxBytes: number, what: string): Promise<{ text: string } | { error: string }> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    const st = await stat(file);
    if (!st.isFile())
      return { error: `${file}: not a regular file (${st.isDirectory() ? 'a directory' : 'a pipe, device or socket'}): give the path of a ${what} file` };
    // YAML parsing grows with the square of the key count (a 4 MB file of keys never finished); a real config is a few KB.
    if (st.size > maxBytes) return { error: `${file}: the file is ${st.size} bytes, over the limit of ${maxBytes} bytes for a ${what}` };
    handle = await open(file, 'r');
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > maxBytes) return { error: `${file}: the file is over the limit of ${maxBytes} bytes for a ${what}` };
    }
    return { text: buf.toString('utf8', 0, n) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      // A link whose target is gone (a ConfigMap not mounted yet, a moved file): say where it points.
      try {
        if (lstatSync(file).isSymbolicLink())
          return {
            error: `${file}: a symbolic link to ${readlinkSync(file)}, which does not exist: mount or create it, or point the link at the ${what} file`,
          };
      } catch {
        // not there at all: the plain message
      }
    }
    const known = code === undefined ? undefined : READ_FAILURES[code];
    return { error: `${file}: cannot read the file (${known ? `${code}: ${known[0]}): ${known[1]}` : `${code ?? String(err)})`}` };
  } finally {
    await handle?.close();
  }
}

/** What a failed read of a config or profile file means, and what to do, by its error code. */
const READ_FAILURES: Record<string, readonly [string, string]> = {
  ENOENT: ['there is no such file', "check the path (relative paths are the working directory's)"],
  ENOTDIR: ['a part of the path is a file, not a directory', 'check the path'],
  EACCES: ['permission denied', 'give the user switchyard runs as read access to the file and its directories'],
  EPERM: ['operation not permitted', 'give the user switchyard runs as read access to the file'],
  ELOOP: ['too many symbolic links, a loop?', 'point the path at the file itself'],
  ENAMETOOLONG: ['the path is too long', 'check the path'],
};

/** Values an alias-expanded YAML config may hold: a real one holds a few thousand. */
const MAX_EXPANDED_NODES = 200_000;
/** Nesting a config may have: a real one is 6 or 7 levels deep (a 3,000-deep JSON array overflowed the stack checking it). */
const MAX_CONFIG_DEPTH = 64;

/**
 * The number of values a YAML document holds once its aliases are expanded (each alias counts the
 * values of its anchor's node), counted without expanding them; more than {@link MAX_EXPANDED_NODES}
 * stops the count early. Anchors are taken in document order, as YAML resolves them.
 */
function expandedNodes(doc: import('yaml').Document, yaml: typeof import('yaml')): number {
  const anchors = new Map<string, number>();
  // Each node once (an alias is its anchor's count, looked up), so a bomb is counted in the time of its text.
  const size = (node: unknown): number => {
    let n = 1;
    if (yaml.isAlias(node)) n = anchors.get(node.source) ?? 1;
    else if (yaml.isMap(node)) for (const p of node.items) n += size(p.key) + size(p.value);
    else if (yaml.isSeq(node)) for (const item of node.items) n += size(item);
    const anchor = (node as { anchor?: unknown } | null)?.anchor;
    if (typeof anchor === 'string') anchors.set(anchor, n);
    return n;
  };
  try {
    return size(doc.contents);
  } catch (err) {
    // Nested deeper than the stack (the parser took it): the depth check after says so.
    if (err instanceof RangeError) return 0;
    throw err;
  }
}

/** The path of the first value nested deeper than `max` levels ('' for the top), or null; iterative (a deep file overflowed a recursive walk). */
function tooDeep(raw: unknown, max: number): string | null {
  const stack: Array<{ v: unknown; depth: number; path: string }> = [{ v: raw, depth: 0, path: '' }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return path;
    if (Array.isArray(v)) v.forEach((x, i) => stack.push({ v: x, depth: depth + 1, path: `${path}[${i}]` }));
    else for (const [k, x] of Object.entries(v)) stack.push({ v: x, depth: depth + 1, path: path === '' ? k : `${path}.${k}` });
  }
  return null;
}

export async function loadConfigFile(file: string): Promise<LoadResult> {
  const read = await readSmallFile(file, MAX_CONFIG_BYTES, 'config');
  if ('error' in read) return { ok: false, errors: [read.error] };
  // A byte-order mark (Windows editors write one) is no part of the config: YAML skipped it, JSON.parse refused it.
  const text = read.text.startsWith('\uFEFF') ? read.text.slice(1) : read.text;
  // UTF-16 read as UTF-8 is every other byte NUL: say so, not "expected object, got string".
  if (text.includes('\u0000') || text.startsWith('\uFFFD\uFFFD'))
    return { ok: false, errors: [`${file}: the file is not UTF-8 text (it looks like UTF-16, or binary): save it as UTF-8`] };
  let raw: unknown;
  try {
    // YAML is loaded only when a file is read: `serve` on the built-in catalogue never needs it.
    // Merge keys (`<<: *anchor`) are the usual way to share settings between models: taken, as YAML 1.1 did.
    if (/\.json$/i.test(file) && text.trim() === '') return { ok: false, errors: [`${file}: the file holds no config (it is empty)`] };
    if (/\.json$/i.test(file)) raw = JSON.parse(text);
    else {
      const yaml = await import('yaml');
      const doc = yaml.parseDocument(text, { merge: true });
      if (doc.errors.length > 0) throw doc.errors[0];
      // A tag switchyard does not read (`!vault`, `!Ref`, `!env`) was dropped with a warning that printed
      // the line, a secret with it, and the value taken literally: refused, naming the tag and the line only.
      const tagged = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED');
      if (tagged) {
        const tag = /tag:? (!\S{0,60})/.exec(tagged.message)?.[1] ?? 'a custom tag';
        const at = tagged.linePos?.[0] ? ` at line ${tagged.linePos[0].line}` : '';
        return {
          ok: false,
          errors: [
            `${file}: the YAML tag ${tag}${at} is not read by switchyard: values are read as written (no !vault, !Ref, !env…); write the value itself, or for a secret name its environment variable (apiKeyEnv, keyEnv, headersEnv)`,
          ],
        };
      }
      const nodes = expandedNodes(doc, yaml);
      if (nodes > MAX_EXPANDED_NODES)
        return {
          ok: false,
          errors: [
            `${file}: the file expands to more than ${MAX_EXPANDED_NODES} values through its aliases (*name): an alias bomb, or a config far larger than any switchyard reads`,
          ],
        };
      // The expansion is bounded above (a merge key or an alias used a hundred times, a catalogue of
      // 100 models sharing one anchor, was refused as "a resource exhaustion attack").
      try {
        raw = doc.toJS({ maxAliasCount: -1 });
      } catch (err) {
        if (!(err instanceof RangeError)) throw err;
        return {
          ok: false,
          errors: [`${file}: the file is nested more than ${MAX_CONFIG_DEPTH} levels deep: no switchyard config is (check the file is the config)`],
        };
      }
    }
    // Empty, or only comments (a ConfigMap caught mid-write): said so, not "providers: required".
    if (raw === null || raw === undefined || text.trim() === '')
      return { ok: false, errors: [`${file}: the file holds no config (it is empty, or only comments)`] };
    const deep = tooDeep(raw, MAX_CONFIG_DEPTH);
    if (deep !== null)
      return {
        ok: false,
        errors: [
          `${file}: ${deep.length > 80 ? `${deep.slice(0, 80)}…` : deep || 'the top level'} is nested more than ${MAX_CONFIG_DEPTH} levels deep: no switchyard config is (check the file is the config)`,
        ],
      };
  } catch (err) {
    const json = /\.json$/i.test(file);
    // Not even a config's start (a wrong path: a credentials file, /etc/passwd): where it failed,
    // never the parser's excerpt of the file, which would copy a line of it into the output and a journal.
    if (!looksLikeConfigText(text)) {
      const at = errorPlace(err, text);
      return {
        ok: false,
        errors: [
          `${file}: not valid ${json ? 'JSON' : 'YAML'}${at}, and not a switchyard config (no providers, models or other top-level key of one): check the path`,
        ],
      };
    }
    const msg = json ? jsonMessage(err, text) : parseMessage(err, text);
    if (!json && /multiple documents/i.test(msg))
      return {
        ok: false,
        errors: [`${file}: not valid YAML: the file holds several YAML documents (separated by ---): a config is one document, remove the extra --- lines`],
      };
    return { ok: false, errors: [`${file}: not valid ${json ? 'JSON' : 'YAML'}: ${msg}`] };
  }
  if (/\.json$/i.test(file)) {
    const dups = duplicateJsonKeys(text);
    if (dups.length > 0)
      return {
        ok: false,
        errors: dups.map(
          (d) => `${file}: line ${d.line}: the key ${JSON.stringify(d.key)} appears twice in one object (JSON would keep only the last): remove one`,
        ),
      };
  }
  const res = validateConfig(raw);
  if (res.ok) return { ...res, text };
  // Each problem with the line its path points at (YAML reads a JSON file too).
  const { withLines } = await import('./lines.js');
  return { ok: false, errors: withLines(res.errors, text, await import('yaml')) };
}

/** `a.b[0].c` from a zod path; dots inside model names (gpt-4.1) are kept as they are. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? visible(String(seg)) : `.${visible(String(seg))}`;
  }
  return out === '' ? '(root)' : out;
}

/** A key or value as a message shows it: each invisible character as its code point (`U+200B`), so the operator sees what is there. */
export function visible(s: string): string {
  return s.replace(INVISIBLE, (c) => `<U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}>`);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** The zod definition fields this file reads to find the keys a place in the config takes. */
interface SchemaDef {
  type: string;
  shape?: Record<string, { _zod: { def: SchemaDef } }>;
  innerType?: { _zod: { def: SchemaDef } };
  in?: { _zod: { def: SchemaDef } };
  valueType?: { _zod: { def: SchemaDef } };
  element?: { _zod: { def: SchemaDef } };
}

/** The keys the object schema at `path` takes, or null where the path leads elsewhere (a union, a scalar). */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] | null {
  let def = (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;
  const unwrap = (d: SchemaDef): SchemaDef => {
    for (let i = 0; i < 8; i++) {
      const next = d.innerType ?? (d.type === 'pipe' ? d.in : undefined);
      if (!next) break;
      d = next._zod.def;
    }
    return d;
  };
  for (const seg of path) {
    def = unwrap(def);
    const next =
      def.type === 'object' && typeof seg === 'string'
        ? Object.hasOwn(def.shape ?? {}, seg)
          ? def.shape![seg]
          : undefined
        : def.type === 'record'
          ? def.valueType
          : def.type === 'array'
            ? def.element
            : undefined;
    if (!next) return null;
    def = next._zod.def;
  }
  def = unwrap(def);
  return def.type === 'object' ? Object.keys(def.shape ?? {}) : null;
}

/**
 * LiteLLM proxy and Portkey settings a team brings along, with where switchyard keeps the same
 * thing: a near miss by spelling sent them elsewhere (`tpm` on a client key "did you mean rpm?" made
 * 1000 tokens a minute 1000 requests a minute), and the rest only listed the keys a place takes.
 */
const TIMEOUTS =
  "switchyard's time limits are resilience.requestTimeoutMs (the whole request) and headersTimeoutMs, firstTokenTimeoutMs, idleTimeoutMs (an attempt's), in milliseconds";
const RETRIES = 'retries are resilience.retry.maxAttempts (on one endpoint) and resilience.retry.maxTotalAttempts (in all)';
const LITELLM_FILE = "this is a LiteLLM proxy config: switchyard's has providers: and models: (README, Config reference)";
const BUDGETS = 'budgets are budget.limits, a line each: { scope: global | key | model, key: <auth.keys id> or model: <id>, period: day | month | total, usd }';
const PER_TOKEN = 'prices are USD per million tokens: price.inputPerMTok, outputPerMTok, cachedInputPerMTok, cacheWritePerMTok (a per-token price × 1,000,000)';
const FROM_OTHER_GATEWAYS: Readonly<Record<string, string>> = {
  input_cost_per_token: PER_TOKEN,
  output_cost_per_token: PER_TOKEN,
  cache_read_input_token_cost: PER_TOKEN,
  cache_creation_input_token_cost: PER_TOKEN,
  max_budget: BUDGETS,
  budget_duration: BUDGETS,
  soft_budget: BUDGETS,
  rpm_limit: "a client key's requests a minute are auth.keys[].rpm; an endpoint's, models.<id>.endpoints[].rpm",
  tpm_limit: "tokens a minute are an endpoint's limit, models.<id>.endpoints[].tpm (a client key is limited by rpm only)",
  fallbacks: 'a model\'s fallbacks are models.<id>.fallbacks; a named chain of models is routing.routes.<name> (asked for as model "route/<name>")',
  routing_strategy: "the order among a tier's models and a model's endpoints is routing.strategy: cost, latency or weighted",
  timeout: TIMEOUTS,
  request_timeout: TIMEOUTS,
  num_retries: RETRIES,
  max_retries: RETRIES,
  context_window_fallbacks:
    "a model's fallbacks are models.<id>.fallbacks; a prompt over a model's context window goes to a candidate with a larger one by itself",
  cooldown_time: 'an endpoint rests resilience.recoveryMs (milliseconds) after its circuit opens',
  allowed_fails: "an endpoint's circuit opens after resilience.failureThreshold failures in a row",
  max_parallel_requests: "an endpoint's parallel requests are models.<id>.endpoints[].maxConcurrent, shared by every key (a client key's own limit is its rpm)",
  team_id: 'switchyard has no teams: each client key (auth.keys[].id) has its own budget (budget.limits scope key) and spend (README, Not built yet)',
  team: 'switchyard has no teams: each client key (auth.keys[].id) has its own budget (budget.limits scope key) and spend (README, Not built yet)',
  tags: "switchyard keeps no spend by tag: the ledger's rows are by client key, model and endpoint (README, Not built yet)",
  user_id: "switchyard keeps no spend by user: the ledger's rows are by client key, model and endpoint (README, Not built yet)",
  model_list: LITELLM_FILE,
  litellm_settings: LITELLM_FILE,
  router_settings: LITELLM_FILE,
  general_settings: LITELLM_FILE,
};

/** The path of the first own `__proto__` key in a parsed config (the root's: `(root)`), or null. */
function protoKeyAt(v: unknown, path: Array<string | number> = []): string | null {
  if (typeof v !== 'object' || v === null) return null;
  if (!Array.isArray(v) && Object.hasOwn(v, '__proto__')) return path.length === 0 ? '(root)' : formatPath(path);
  for (const [k, child] of Object.entries(v)) {
    const found = protoKeyAt(child, [...path, Array.isArray(v) ? Number(k) : k]);
    if (found !== null) return found;
  }
  return null;
}

/** `(did you mean "x"?)` for a near miss, else the keys the place takes; '' when unknown. */
function unknownKeyHint(key: string, known: string[] | null): string {
  if (!known || known.length === 0) return '';
  // A client key's tokens a minute: no such cap (its limit is rpm); an endpoint has one.
  if (key === 'tpm' && known.includes('rpm'))
    return ` (a client key is limited by rpm only; tokens a minute are an endpoint's limit, models.<id>.endpoints[].tpm)`;
  // A model's rpm or tpm (LiteLLM's deployment limits): each endpoint has its own.
  if ((key === 'rpm' || key === 'tpm') && known.includes('endpoints')) return ` (a limit of each endpoint: models.<id>.endpoints[].${key})`;
  const other = Object.hasOwn(FROM_OTHER_GATEWAYS, key) ? FROM_OTHER_GATEWAYS[key] : undefined;
  if (other !== undefined) return ` (${other})`;
  const near = nearest(key, known);
  return near !== null ? ` (did you mean "${near}"?)` : ` (expected one of: ${known.join(', ')})`;
}

/** One line per problem: where, and what was expected (`schema` lets an unknown key name what was meant). */
export function formatIssue(issue: z.core.$ZodIssue, schema?: z.ZodType): string {
  const where = formatPath(issue.path);
  switch (issue.code) {
    case 'invalid_type': {
      const got = 'input' in issue ? typeName(issue.input) : undefined;
      if (got === 'undefined') {
        // The two sections every config has, said with what goes in them (an empty or wrong file lands here).
        if (issue.path.length === 1 && issue.path[0] === 'providers')
          return `${where}: required: the upstream APIs by a name of your choice (openai: { kind: openai, baseUrl: https://api.openai.com/v1, apiKeyEnv: OPENAI_API_KEY })`;
        if (issue.path.length === 1 && issue.path[0] === 'models')
          return `${where}: required: the catalogue by model id (gpt-4.1: { tier, price: { inputPerMTok, outputPerMTok }, contextWindow, endpoints: [{ provider, upstreamModel }] })`;
        return `${where}: required (expected ${issue.expected})`;
      }
      // `.inf` in YAML: a number, not a finite one ("expected number, got number" said nothing).
      if (got === 'number' && issue.expected === 'number') return `${where}: expected a finite number, got ${String((issue as { input?: unknown }).input)}`;
      // `rpm: 2.5` where a count is wanted: zod says "expected int, got number".
      if (issue.expected === 'int')
        return `${where}: expected a whole number${got === undefined ? '' : `, got ${got === 'number' ? String((issue as { input?: unknown }).input) : got}`}`;
      // `observe:` with nothing under it (every key commented out) is null in YAML; so are `models:` and `budget.limits:`.
      if (got === 'null' && (issue.expected === 'object' || issue.expected === 'record' || issue.expected === 'array'))
        return `${where}: the section is empty (in YAML, a key with nothing under it is null): give it its ${issue.expected === 'array' ? 'items' : 'keys'}, or remove the line`;
      return `${where}: expected ${issue.expected}${got ? `, got ${got}` : ''}`;
    }
    case 'unrecognized_keys': {
      const secret = issue.keys.find((k) => /^(api_?key|key|secret|token|password)$/i.test(k));
      if (secret) return `${where}: inline secret "${secret}" is not allowed; name an environment variable instead (apiKeyEnv / keyEnv)`;
      const known = schema ? keysAt(schema, issue.path) : null;
      if (issue.keys.length === 1) return `${where}: unknown key "${issue.keys[0]}"${unknownKeyHint(issue.keys[0]!, known)}`;
      return `${where}: unknown keys ${issue.keys.map((k) => `"${k}"${unknownKeyHint(k, known).replace(/ \(expected one of: .*\)$/, '')}`).join(', ')}${
        known ? ` (expected one of: ${known.join(', ')})` : ''
      }`;
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v)).join(', ');
      // A key left out (or misspelt beside it: `teir`) is missing, not a wrong value.
      if ('input' in issue && issue.input === undefined) return `${where}: required (expected one of ${values})`;
      // What was written, and the value meant when it is a near miss (`period: Day`, `scope: globl`).
      const input = 'input' in issue ? issue.input : undefined;
      if (typeof input !== 'string' && typeof input !== 'number' && typeof input !== 'boolean') return `${where}: expected one of ${values}`;
      const shown = JSON.stringify(typeof input === 'string' && input.length > 64 ? `${input.slice(0, 64)}…` : input);
      const near =
        typeof input === 'string'
          ? nearest(
              input,
              issue.values.filter((v): v is string => typeof v === 'string'),
            )
          : null;
      // A provider's own name for its kind (`azure`, `gemini`, `vllm`…): every OpenAI-compatible API is `openai`.
      const compatible =
        near === null && where.endsWith('.kind') && where.startsWith('providers.') && typeof input === 'string' && input !== 'anthropic'
          ? ` (an OpenAI-compatible API, ${JSON.stringify(input.slice(0, 40))} included, is kind "openai" with its /v1 address as baseUrl; Anthropic's Messages API is "anthropic")`
          : '';
      return `${where}: expected one of ${values}, got ${shown}${near !== null ? ` (did you mean "${near}"?)` : compatible}`;
    }
    case 'invalid_union': {
      // A tag that none of a discriminated union's options has (a fault's `kind: http_eror`): said as an enum's wrong value, with what was meant.
      const u = issue as { options?: unknown; discriminator?: unknown; input?: unknown };
      if (!Array.isArray(u.options) || typeof u.discriminator !== 'string') return `${where}: ${issue.message}`;
      const tag = typeof u.input === 'object' && u.input !== null ? (u.input as Record<string, unknown>)[u.discriminator] : undefined;
      return formatIssue({ code: 'invalid_value', path: issue.path, values: u.options as string[], input: tag, message: issue.message }, schema);
    }
    // `inclusive: false` is a strict bound (`positive()` is `> 0`): `>= 0` would call 0 valid.
    case 'too_small':
      if (issue.origin === 'array') return `${where}: expected at least ${String(issue.minimum)} item(s)`;
      if (issue.origin === 'string')
        return `${where}: ${Number(issue.minimum) === 1 ? 'expected a non-empty string' : `expected at least ${String(issue.minimum)} characters`}`;
      // A bound's own reason follows it (a rate limit's "leave the key out"); zod's stock text does not.
      return `${where}: expected ${issue.inclusive === false ? '>' : '>='} ${String(issue.minimum)}${/^too small/i.test(issue.message) ? '' : ` (${issue.message})`}`;
    case 'too_big':
      if (issue.origin === 'array') return `${where}: expected at most ${String(issue.maximum)} item(s)`;
      if (issue.origin === 'string') return `${where}: expected at most ${String(issue.maximum)} characters`;
      // A bound's own reason (money's exact range) follows it; zod's stock text ("Too big: …") does not.
      return `${where}: expected ${issue.inclusive === false ? '<' : '<='} ${String(issue.maximum)}${/^too big/i.test(issue.message) ? '' : ` (${issue.message})`}`;
    case 'invalid_key':
      // A record key that fails its own schema (a route name with a `/`): that schema's message.
      return `${where}: invalid key: ${issue.issues[0]?.message ?? issue.message}`;
    default:
      return `${where}: ${issue.message}`;
  }
}

/**
 * A config's start: one of its top-level keys (the schema's own) at a line's start (YAML), or
 * quoted (JSON). Made once, when a file first fails to parse.
 */
let looksLikeConfig: RegExp | null = null;
function looksLikeConfigText(text: string): boolean {
  const keys = (keysAt(configSchema, []) ?? []).join('|');
  looksLikeConfig ??= new RegExp(`^(?:${keys})\\s*:|"(?:${keys})"\\s*:`, 'm');
  return looksLikeConfig.test(text);
}

/** Line and column (1-based) of a character offset. */
function lineColAt(offset: number, text: string): { line: number; col: number } {
  const before = text.slice(0, offset);
  return { line: before.split('\n').length, col: offset - before.lastIndexOf('\n') };
}

/** Line and column of a character offset (JSON.parse's "at position 307"), or null when the message has none. */
function positionOf(message: string, text: string): { line: number; col: number } | null {
  const m = /at position (\d+)/.exec(message);
  return m === null ? null : lineColAt(Number(m[1]), text);
}

/** ` at line L, column C` of a parse error (the YAML parser's position, or JSON's offset), or ''. */
function errorPlace(err: unknown, text: string): string {
  const pos = (err as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0] ?? positionOf(String((err as Error).message), text);
  return pos ? ` at line ${pos.line}, column ${pos.col}` : '';
}

/** Node 20's JSON.parse says only "at position 307": the line and column are added (later Nodes say them). */
function jsonWhere(message: string, text: string): string {
  const pos = /line \d+/.test(message) ? null : positionOf(message, text);
  return pos === null ? message : `${message} (line ${pos.line}, column ${pos.col})`;
}

/** V8's excerpt of the source in a JSON.parse message: `Unexpected token 'h', ..."apiKey": hunter2hun"... is not valid JSON`. */
const JSON_EXCERPT = /^(.*?), (\.\.\.)?"([\s\S]*)"(?:\.\.\.)? is not valid JSON$/;

/**
 * JSON.parse's message on one line, with where it failed. Its excerpt of the source (20
 * characters around the error, which may show a key's value without the key) is replaced by the
 * whole source line, its credentials redacted ({@link sourceLine}).
 */
function jsonMessage(err: unknown, text: string): string {
  const message = String((err as Error).message);
  const m = JSON_EXCERPT.exec(message);
  if (m === null) return jsonWhere(scrub(message.split('\n')[0]!), text);
  const [, head, cut, excerpt] = m as unknown as [string, string, string | undefined, string];
  const at = excerpt === '' ? -1 : text.indexOf(excerpt);
  if (at < 0) return `${scrub(head)} in JSON`;
  // The excerpt starts 10 characters before the error when cut ("..."), else it is the whole text: its unexpected character.
  const token = /^Unexpected token '(.)'/.exec(head)?.[1];
  const offset = at + (cut ? Math.min(10, excerpt.length) : Math.max(0, token === undefined ? 0 : excerpt.indexOf(token)));
  const pos = lineColAt(offset, text);
  const lines = text.split('\n');
  return `${scrub(head)} in JSON at line ${pos.line}, column ${pos.col}: ${JSON.stringify(sourceLine(lines, pos.line - 1, pos.col))}`;
}

/** The longest source line quoted in an error; a longer one is cut around the error's column. */
const MAX_QUOTED_LINE = 120;
/** What a line that is all a credential's value is quoted as. */
const REDACTED_LINE = '[redacted]';

/**
 * Line `index` (0-based) of a config file, fit to quote in an error: every credential's value in it
 * redacted ({@link redactSourceLine}; the whole line when a line above leaves it a credential's
 * value: `apiKey:` then the key on the next line), trimmed, cut to {@link MAX_QUOTED_LINE}
 * characters around `col`. The error goes to the reload's HTTP answer, check-config's output and
 * the log alike: redacted here, once, every one of them gets the same.
 */
function sourceLine(lines: readonly string[], index: number, col: number): string {
  const raw = (lines[index] ?? '').replace(/\r$/, '');
  const line = (continuesCredential(lines, index) ? REDACTED_LINE : redactSourceLine(raw)).trim();
  if (line.length <= MAX_QUOTED_LINE) return line;
  // Redaction shortens the line: the column is an estimate there, and the cut shows no more than the redacted line has.
  const start = Math.max(0, Math.min(col - 1 - MAX_QUOTED_LINE / 2, line.length - MAX_QUOTED_LINE));
  return `${start > 0 ? '…' : ''}${line.slice(start, start + MAX_QUOTED_LINE)}${start + MAX_QUOTED_LINE < line.length ? '…' : ''}`;
}

/**
 * Whether line `index` is part of a credential's value begun above it: the nearest line above it
 * that is less indented (its parent; blank and comment lines skipped) leaves a credential's value
 * open ({@link opensCredentialValue}: `apiKey:`, `apiKey: |`, an unclosed `apiKey: "…`, a plain
 * value that a more indented line continues).
 */
function continuesCredential(lines: readonly string[], index: number): boolean {
  const line = lines[index] ?? '';
  if (line.trim() === '') return false;
  const indent = /^[ \t]*/.exec(line)![0].length;
  for (let i = index - 1; i >= 0; i--) {
    const above = lines[i]!.replace(/\r$/, '');
    if (above.trim() === '' || above.trim().startsWith('#')) continue;
    const own = /^[ \t]*/.exec(above)![0].length;
    // Lines as indented (or more) are siblings, or earlier lines of the same value: the parent says.
    if (own < indent) return opensCredentialValue(above);
  }
  return false;
}

/**
 * A parser's message on one line: the YAML parser's first line ends "at line 3, column 1:" before
 * an excerpt on the next lines; the line the excerpt shows is quoted instead of leaving the colon
 * dangling, taken whole from the file with its credentials redacted ({@link sourceLine}): the
 * parser's excerpt cuts a long line around the error, which may leave a value without its key.
 */
function parseMessage(err: unknown, text: string): string {
  const lines = String((err as Error).message).split('\n');
  const first = scrub(lines[0]!);
  if (!first.endsWith(':')) return first;
  // The excerpt's line the caret (^) points at, else its last line.
  const rest = lines.slice(1).filter((l) => l.trim() !== '');
  const caret = rest.findIndex((l) => /^\s*\^+\s*$/.test(l));
  const excerpt = caret > 0 ? rest[caret - 1] : caret < 0 ? rest.at(-1) : undefined;
  if (excerpt === undefined) return first.slice(0, -1);
  return `${first.slice(0, -1)}: ${JSON.stringify(excerptLine(err, text, excerpt))}`;
}

/**
 * The file's line a YAML excerpt shows (the error's line, or the one before it when the error is at
 * the start of a line), quoted by {@link sourceLine}; the excerpt itself, redacted, when it is
 * neither.
 */
function excerptLine(err: unknown, text: string, excerpt: string): string {
  const pos = (err as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
  // The parser marks a cut with "…"; what is left is a part of the line.
  const part = excerpt.trim().replace(/^…/, '').replace(/…$/, '');
  if (pos !== undefined && part !== '') {
    const lines = text.split('\n');
    for (const index of [pos.line - 1, pos.line - 2])
      if (lines[index]?.includes(part)) return sourceLine(lines, index, index === pos.line - 1 ? pos.col : lines[index]!.length);
  }
  return redactSourceLine(excerpt.trim()).slice(0, MAX_QUOTED_LINE);
}

/**
 * `./switchyard.yaml` when there is one, else null. A dangling symlink by that name counts (a
 * Kubernetes ConfigMap's file is a link): loading it then fails saying so, instead of the
 * built-in catalogue starting silently without the file's budgets and routes.
 */
export function defaultConfigFile(): string | null {
  try {
    lstatSync('./switchyard.yaml');
    return './switchyard.yaml';
  } catch {
    return null;
  }
}
