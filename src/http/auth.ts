/**
 * Client keys (`auth.keys`): `authorization: Bearer <key>` compared in constant time against
 * each key's value from its environment variable, and a per-key RPM window (GCRA).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { gcraAdmits, gcraConsume, gcraFreeAt, gcraUsed } from '../../machines/gcra.js';
import type { Config } from '../config/schema.js';
import { SwitchyardError } from '../errors.js';

interface KeyEntry {
  id: string;
  digest: Buffer;
  rpm: number | null;
  tat: number;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Compares two secrets in constant time (over their digests, so lengths tell nothing either). */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * The client key a request presents, as an `authorization` value: `authorization` as given, else
 * the Anthropic SDK's `x-api-key` as a bearer key. One rule for every route (chat took only
 * `authorization`, though its 401 told Anthropic clients to send `x-api-key`).
 */
/**
 * `s` without trailing spaces and tabs. Not `/[ \t]+$/`: on a run of spaces followed by anything
 * else it tries every start and fails at the end, quadratic in the run (16 KB of spaces in a key:
 * 100 ms a request, sent by anyone without a key).
 */
export function trimEndSpaceTab(s: string): string {
  let end = s.length;
  while (end > 0 && (s.charCodeAt(end - 1) === 32 || s.charCodeAt(end - 1) === 9)) end--;
  return end === s.length ? s : s.slice(0, end);
}

export function clientAuthorization(req: { headers: IncomingHttpHeaders }): string | undefined {
  const { authorization, 'x-api-key': apiKey } = req.headers;
  // An empty authorization is none, as an empty x-api-key is: it must not hide a key sent in the other.
  if ((authorization === undefined || authorization === '') && typeof apiKey === 'string' && apiKey !== '') return `Bearer ${apiKey}`;
  return authorization;
}

export class ClientKeys {
  private keys: KeyEntry[] = [];

  constructor(cfg: Config, env: NodeJS.ProcessEnv) {
    this.configure(cfg, env);
  }

  /** Throws when a configured key's variable is missing. Keeps rpm windows of unchanged keys. */
  configure(cfg: Config, env: NodeJS.ProcessEnv): void {
    const next: KeyEntry[] = [];
    for (const k of cfg.auth?.keys ?? []) {
      const value = env[k.keyEnv];
      if (!value) throw new Error(`auth.keys "${k.id}": environment variable ${k.keyEnv} is not set`);
      const old = this.keys.find((o) => o.id === k.id);
      next.push({ id: k.id, digest: digest(value), rpm: k.rpm ?? null, tat: old?.tat ?? 0 });
    }
    this.keys = next;
  }

  get enabled(): boolean {
    return this.keys.length > 0;
  }

  /** The key entry for this request, or null when auth is off; no rpm is counted. Throws 401. */
  private find(authorization: string | undefined): KeyEntry | null {
    if (this.keys.length === 0) return null;
    // Spaces and tabs only (HTTP's own whitespace): JS's \s and trim() also took a no-break space around a key.
    const m = /^Bearer[ \t]+(.+)$/i.exec(authorization ?? '');
    if (!m) {
      throw new SwitchyardError(
        'invalid_api_key',
        authorization === undefined || authorization.trim() === ''
          ? 'missing client key: send "authorization: Bearer <key>" (Anthropic clients: "x-api-key: <key>") with a key from auth.keys'
          : 'the authorization header is not "Bearer <key>": send "authorization: Bearer <key>" with a key from auth.keys',
      );
    }
    const d = digest(trimEndSpaceTab(m[1]!));
    let found: KeyEntry | undefined;
    // Compare against every key so timing does not tell which one matched.
    for (const k of this.keys) if (timingSafeEqual(k.digest, d)) found ??= k;
    if (!found) throw new SwitchyardError('invalid_api_key', 'invalid client key');
    return found;
  }

  /** 401 unless auth is off or the key is known; for reads that are not requests to a model (`/v1/models`). */
  authenticate(authorization: string | undefined): void {
    this.find(authorization);
  }

  /** The key id of a read (no rpm counted), or null when auth is off. Throws 401. */
  keyIdOf(authorization: string | undefined): string | null {
    return this.find(authorization)?.id ?? null;
  }

  /**
   * The key id for this request, or null when auth is off. Throws 401 / 429. A key with an rpm
   * gets OpenAI's request-window headers (`x-ratelimit-limit-requests`, `-remaining-requests`,
   * `-reset-requests`) on its answer (put in `headers`) and on its 429, which also says
   * `retry-after` (whole seconds, as the contract says) and `retry-after-ms` (what the OpenAI
   * SDKs read first).
   */
  check(authorization: string | undefined, now: number, headers?: Record<string, string>, anthropic = false): string | null {
    const found = this.find(authorization);
    if (found === null) return null;
    const rpm = found.rpm;
    if (rpm !== null) {
      if (!gcraAdmits(found.tat, now, 1, rpm)) {
        const waitMs = Math.max(1, Math.ceil(gcraFreeAt(found.tat, now, 1, rpm) - now));
        throw new SwitchyardError('rate_limited', `client key "${found.id}" is over its limit of ${rpm} requests per minute`, {
          headers: {
            'retry-after': String(Math.ceil(waitMs / 1000)),
            'retry-after-ms': String(waitMs),
            ...windowHeaders(found.tat, now, rpm, anthropic),
          },
        });
      }
      found.tat = gcraConsume(found.tat, now, 1, rpm);
      if (headers !== undefined) Object.assign(headers, windowHeaders(found.tat, now, rpm, anthropic));
    }
    return found.id;
  }
}

/** `1m30s`, `2.5s`, `20ms`: the duration form of OpenAI's `x-ratelimit-reset-*` headers. */
export function resetDuration(ms: number): string {
  const whole = Math.max(0, Math.ceil(ms));
  if (whole < 1000) return `${whole}ms`;
  const minutes = Math.floor(whole / 60_000);
  const seconds = String((whole % 60_000) / 1000);
  return minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
}

/**
 * A key's request window as OpenAI says its own: the limit, the requests left now, and when the
 * window is whole again; on the Messages API under Anthropic's names, the reset as an RFC 3339
 * time (a dashboard reading `anthropic-ratelimit-*` saw nothing there).
 */
function windowHeaders(tat: number, now: number, rpm: number, anthropic: boolean): Record<string, string> {
  const remaining = String(Math.max(0, Math.floor(rpm - gcraUsed(tat, now, rpm) + 1e-9)));
  if (anthropic)
    return {
      'anthropic-ratelimit-requests-limit': String(rpm),
      'anthropic-ratelimit-requests-remaining': remaining,
      'anthropic-ratelimit-requests-reset': new Date(Math.ceil((Date.now() + Math.max(0, tat - now)) / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
    };
  return {
    'x-ratelimit-limit-requests': String(rpm),
    'x-ratelimit-remaining-requests': remaining,
    'x-ratelimit-reset-requests': resetDuration(tat - now),
  };
}
