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
  // eslint-disable-next-line no-control-regex
  if (!/[\s\x00-\x1f\x7f]/.test(value)) return null;
  const what = /[\r\n]$/.test(value)
    ? 'ends in a line break (a secret read from a file?)'
    : /^\s|\s$/.test(value)
      ? 'begins or ends with whitespace'
      : 'holds whitespace or a control character';
  return `environment variable ${name} ${what}: no API key or token has one, and it would be sent as is; set it without (e.g. export ${name}="$(printf %s "$${name}" | tr -d '[:space:]')")`;
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
