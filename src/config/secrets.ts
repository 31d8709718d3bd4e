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

/** The secret variables a config names (and the admin token and relay key) whose values cannot be secrets, with where each is named. */
export function unusableSecrets(cfg: Config, env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const [n, p] of Object.entries(cfg.providers)) {
    const why = p.apiKeyEnv ? unusableSecret(p.apiKeyEnv, env[p.apiKeyEnv]) : null;
    if (why) out.push(`providers.${n}.apiKeyEnv: ${why}`);
  }
  for (const k of cfg.auth?.keys ?? []) {
    const why = unusableSecret(k.keyEnv, env[k.keyEnv]);
    if (why) out.push(`auth.keys (${k.id}).keyEnv: ${why}`);
  }
  for (const name of ['SWITCHYARD_ADMIN_TOKEN', 'SWITCHYARD_RELAY_KEY']) {
    const why = unusableSecret(name, env[name]);
    if (why && !out.some((o) => o.includes(`variable ${name} `))) out.push(why);
  }
  return out;
}
