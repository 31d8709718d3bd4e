/**
 * Secrets come from environment variables; a value with whitespace or a control character in it
 * (most often the line break a secret read from a file keeps: `kubectl create secret
 * --from-file`, `$(cat key.txt)` keeps none but `export K=$(<key.txt)` in some shells and
 * `.env` tools do) is no key any provider issues, and used as is it fails every request with a
 * misleading transport error (`invalid authorization header`) or never matches a client's key.
 * `serve` refuses to start on one and `check-config` notes it, naming the variable.
 */
import type { Config } from './schema.js';

/** Why `value` cannot be a secret, or null when it can (or is unset: that is another check). */
export function unusableSecret(name: string, value: string | undefined): string | null {
  if (value === undefined || value === '') return null;
  // Keys and tokens are visible ASCII; anything else (a line break, a space, a zero-width space or
  // word joiner pasted with the key) cannot be one and fails as a header.
  if (!/[^\x21-\x7e]/.test(value)) return null;
  const what = /[\r\n]$/.test(value)
    ? 'ends in a line break (a secret read from a file?)'
    : /^\s|\s$/.test(value)
      ? 'begins or ends with whitespace'
      : /\s/.test(value)
        ? 'holds whitespace'
        : 'holds a character that is not visible ASCII (a zero-width or non-ASCII character pasted with it?)';
  return `environment variable ${name} ${what}: no API key or token has one, and it would be sent as is; set it without (e.g. export ${name}="$(printf %s "$${name}" | LC_ALL=C tr -cd '\\041-\\176')")`;
}

/**
 * Why `value` cannot be a header's secret value, or null: as {@link unusableSecret}, but a space
 * inside is fine (`Bearer <token>`, the scheme a gateway's own header often takes).
 */
export function unusableHeaderSecret(name: string, value: string | undefined): string | null {
  if (value === undefined || !/^\s|\s$|[^\x20-\x7e]/.test(value)) return null;
  return unusableSecret(name, value);
}

/** The secret variables a config names (and the admin token and relay key) whose values cannot be secrets, with where each is named. */
export function unusableSecrets(cfg: Config, env: NodeJS.ProcessEnv, opts: { shared?: boolean } = {}): string[] {
  const out: string[] = [];
  for (const [n, p] of Object.entries(cfg.providers)) {
    const why = p.apiKeyEnv ? unusableSecret(p.apiKeyEnv, env[p.apiKeyEnv]) : null;
    if (why) out.push(`providers.${n}.apiKeyEnv: ${why}`);
    for (const [h, v] of Object.entries(p.headersEnv)) {
      const bad = unusableHeaderSecret(v, env[v]);
      if (bad) out.push(`providers.${n}.headersEnv.${h}: ${bad}`);
    }
  }
  for (const k of cfg.auth?.keys ?? []) {
    const why = unusableSecret(k.keyEnv, env[k.keyEnv]);
    if (why) out.push(`auth.keys (${k.id}).keyEnv: ${why}`);
  }
  for (const name of ['SWITCHYARD_ADMIN_TOKEN', 'SWITCHYARD_RELAY_KEY']) {
    const why = unusableSecret(name, env[name]);
    if (why && !out.some((o) => o.includes(`variable ${name} `))) out.push(why);
  }
  if (opts.shared !== false) out.push(...sharedClientKeys(cfg, env));
  return out;
}

/**
 * A client key whose value is another client key's (the first id would take every request, the
 * other's rpm and budgets never apply), a provider key (handed to clients) or the admin token
 * (a client could use the admin routes). Named by id and variable; the value never appears.
 */
export function sharedClientKeys(cfg: Config, env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  const seen = new Map<string, string>();
  const others = new Map<string, string>();
  for (const [n, p] of Object.entries(cfg.providers)) {
    const v = p.apiKeyEnv ? env[p.apiKeyEnv] : undefined;
    if (v) others.set(v, `the key of provider ${n} (${p.apiKeyEnv})`);
    for (const [h, name] of Object.entries(p.headersEnv)) if (env[name]) others.set(env[name], `header ${h} of provider ${n} (${name})`);
  }
  const admin = env.SWITCHYARD_ADMIN_TOKEN;
  if (admin) others.set(admin, 'the admin token (SWITCHYARD_ADMIN_TOKEN)');
  const relay = env.SWITCHYARD_RELAY_KEY;
  if (relay && !others.has(relay)) others.set(relay, 'the relay key (SWITCHYARD_RELAY_KEY)');
  for (const k of cfg.auth?.keys ?? []) {
    const v = env[k.keyEnv];
    if (!v) continue;
    const where = `auth.keys (${k.id}).keyEnv: ${k.keyEnv}`;
    const first = seen.get(v);
    if (first !== undefined) out.push(`${where} has the same value as ${first}: each client key must be its own (requests would all count as the first id)`);
    else seen.set(v, `auth.keys (${k.id}) ${k.keyEnv}`);
    const other = others.get(v);
    if (other !== undefined) out.push(`${where} has the same value as ${other}: a client key must not be a provider key or the admin token`);
  }
  return out;
}
