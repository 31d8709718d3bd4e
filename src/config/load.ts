/**
 * Reading a config file (YAML or JSON), validating it, and turning zod's issues into lines a
 * person can act on: `models.gpt-4.1.price.outputPerMTok: expected number, got string`.
 */
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';

export type LoadResult = { ok: true; config: Config } | { ok: false; errors: string[] };

/** Validate an already-parsed value. */
export function validateConfig(raw: unknown): LoadResult {
  const res = configSchema.safeParse(raw ?? {}, { reportInput: true });
  if (res.success) return { ok: true, config: res.data };
  return { ok: false, errors: res.error.issues.map(formatIssue) };
}

/** Read, parse and validate a file; never throws for a user's mistake. */
export async function loadConfigFile(file: string): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, errors: [`${file}: cannot read the file (${code ?? String(err)})`] };
  }
  let raw: unknown;
  try {
    // YAML is loaded only when a file is read: `serve` on the built-in catalogue never needs it.
    raw = /\.json$/i.test(file) ? JSON.parse(text) : (await import('yaml')).parse(text);
  } catch (err) {
    return { ok: false, errors: [`${file}: not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`] };
  }
  return validateConfig(raw);
}

/** `a.b[0].c` from a zod path; dots inside model names (gpt-4.1) are kept as they are. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? '(root)' : out;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** One line per problem: where, and what was expected. */
export function formatIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path);
  switch (issue.code) {
    case 'invalid_type': {
      const got = 'input' in issue ? typeName(issue.input) : undefined;
      if (got === 'undefined') return `${where}: required (expected ${issue.expected})`;
      return `${where}: expected ${issue.expected}${got ? `, got ${got}` : ''}`;
    }
    case 'unrecognized_keys': {
      const secret = issue.keys.find((k) => /^(api_?key|key|secret|token|password)$/i.test(k));
      if (secret) return `${where}: inline secret "${secret}" is not allowed; name an environment variable instead (apiKeyEnv / keyEnv)`;
      return `${where}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    }
    case 'invalid_value':
      return `${where}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    // `inclusive: false` is a strict bound (`positive()` is `> 0`): `>= 0` would call 0 valid.
    case 'too_small':
      if (issue.origin === 'array') return `${where}: expected at least ${String(issue.minimum)} item(s)`;
      if (issue.origin === 'string')
        return `${where}: ${Number(issue.minimum) === 1 ? 'expected a non-empty string' : `expected at least ${String(issue.minimum)} characters`}`;
      return `${where}: expected ${issue.inclusive === false ? '>' : '>='} ${String(issue.minimum)}`;
    case 'too_big':
      if (issue.origin === 'array') return `${where}: expected at most ${String(issue.maximum)} item(s)`;
      if (issue.origin === 'string') return `${where}: expected at most ${String(issue.maximum)} characters`;
      return `${where}: expected ${issue.inclusive === false ? '<' : '<='} ${String(issue.maximum)}`;
    case 'invalid_key':
      // A record key that fails its own schema (a route name with a `/`): that schema's message.
      return `${where}: invalid key: ${issue.issues[0]?.message ?? issue.message}`;
    default:
      return `${where}: ${issue.message}`;
  }
}
