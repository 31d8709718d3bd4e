/**
 * An upstream that answers a redirect (3xx) is not the API: most often a base URL on http://
 * whose host moves everything to https://, or a path that moved. switchyard does not follow it
 * (a POST with a key must not be sent where a header points); the fault names where it pointed,
 * so the operator can fix the provider's `baseUrl`.
 */
type Headers = Record<string, string | string[] | undefined>;

/** Where a `location` header points, as an absolute URL without credentials or query (which may carry a token), or null. */
export function redirectTarget(headers: Headers, from: string): string | null {
  const v = headers.location;
  const loc = Array.isArray(v) ? v[0] : v;
  if (loc === undefined || loc.trim() === '') return null;
  try {
    const u = new URL(loc.trim(), from);
    return `${u.protocol}//${u.host}${u.pathname}`.slice(0, 300);
  } catch {
    return null;
  }
}

/** The message of an upstream's error status: a 1xx/3xx says what it was instead of quoting its page. */
export function statusMessage(status: number, headers: Headers, from: string, bodyMessage: string): string {
  if (status >= 400 || status < 100) return `upstream answered ${status}: ${bodyMessage}`;
  if (status < 300) return `upstream answered ${status}, not an answer of the API: check the provider's baseUrl`;
  const to = redirectTarget(headers, from);
  return `upstream answered ${status} (a redirect${to === null ? '' : ` to ${to}`}, not followed): check the provider's baseUrl`;
}
