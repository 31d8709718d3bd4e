/**
 * Which methods each route serves (405 with `Allow` for the others), and a request-target
 * parser that never throws: `new URL()` throws on targets like `//[` or `//x:abc/`, and a
 * throw there once took the whole process down.
 */
import { SwitchyardError } from '../errors.js';

const GET = ['GET', 'HEAD'] as const;

/** Methods per path. A path that is not listed here is not method-checked (its handler decides). */
const METHODS = new Map<string, readonly string[]>([
  ['/v1/chat/completions', ['POST']],
  ['/chat/completions', ['POST']],
  ['/v1/responses', ['POST']],
  ['/responses', ['POST']],
  ['/v1/responses/input_tokens', ['POST']],
  ['/responses/input_tokens', ['POST']],
  ['/v1/messages', ['POST']],
  ['/v1/messages/count_tokens', ['POST']],
  ['/v1/completions', ['POST']],
  ['/completions', ['POST']],
  ['/v1/embeddings', ['POST']],
  ['/embeddings', ['POST']],
  ['/v1/models', GET],
  ['/models', GET],
  ['/healthz', GET],
  ['/readyz', GET],
  ['/metrics', GET],
  ['/switchyard/state', GET],
  ['/switchyard/spend', GET],
  ['/switchyard/events', GET],
  ['/switchyard/inspect', GET],
  ['/switchyard/reload', ['POST']],
  ['/switchyard/feedback', ['POST']],
  ['/switchyard/route', ['POST']],
]);

/** Methods per path prefix: routes whose last segments are an id (`/v1/models/{model}`; a route id has a `/`). */
const PREFIX_METHODS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['/v1/models/', GET],
  ['/models/', GET],
  // `/v1/responses/{id}` and its sub-resources (`input_items`, `cancel`) differ: responses-route.ts checks their methods.
];

/** The route a method-checked path belongs to (`/v1/models/{model}` for an id), for traces; null for another path. */
export function routeOf(path: string): string | null {
  if (METHODS.has(path)) return path;
  const prefix = PREFIX_METHODS.find(([p]) => path.startsWith(p))?.[0];
  return prefix === undefined ? null : `${prefix}{model}`;
}

/** The methods `path` is served for, or null when it is no method-checked route. */
export function allowedMethods(path: string): readonly string[] | null {
  return METHODS.get(path) ?? PREFIX_METHODS.find(([prefix]) => path.startsWith(prefix))?.[1] ?? null;
}

/** Throws 405 with an `Allow` header when `path` is served but not for `method`. */
export function checkMethod(path: string, method: string | undefined): void {
  const allowed = allowedMethods(path);
  if (allowed === null || (method !== undefined && allowed.includes(method))) return;
  throw new SwitchyardError('method_not_allowed', `use ${allowed.filter((m) => m !== 'HEAD').join(' or ')} for ${path}`, {
    headers: { allow: allowed.join(', ') },
  });
}

/** The parsed request-target and its normalised path; 400 for a target that is not a URL. */
export function parseTarget(target: string | undefined): { url: URL; path: string } {
  let url: URL;
  try {
    // Only the path and query matter: a leading `//` would otherwise be read as an authority.
    const t = target ?? '/';
    url = new URL(t.startsWith('/') ? `http://switchyard${t.replace(/^\/+/, '/')}` : t, 'http://switchyard');
  } catch {
    throw new SwitchyardError('invalid_request', 'the request-target is not a valid URL path');
  }
  return { url, path: withoutTrailingSlashes(url.pathname) || '/' };
}

/** `p` without its trailing slashes. Not `/\/+$/`: a run of slashes followed by anything else made it quadratic (16 KB of them in a target: ~100 ms). */
function withoutTrailingSlashes(p: string): string {
  let end = p.length;
  while (end > 0 && p.charCodeAt(end - 1) === 47) end--;
  return end === p.length ? p : p.slice(0, end);
}
