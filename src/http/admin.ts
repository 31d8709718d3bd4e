/**
 * The admin rule for operations routes: on loopback everything is open; bound off loopback,
 * `/switchyard/*` (the inspector page included) and `/metrics` need
 * `authorization: Bearer $SWITCHYARD_ADMIN_TOKEN`, compared in constant time. The inspector
 * page may carry the token as `?token=` (a browser cannot add a header to a page load), and
 * `observe.publicMetrics: true` opens `/metrics` to a scraper.
 */
import type { IncomingMessage } from 'node:http';
import { SwitchyardError } from '../errors.js';
import { sameSecret } from './auth.js';

export interface AdminRule {
  loopbackOnly: boolean;
  adminToken: () => string | null;
  publicMetrics: () => boolean;
}

/** Whether `path` is an operations route that needs the admin token off loopback. */
function isProtected(rule: AdminRule, path: string): boolean {
  if (path.startsWith('/switchyard/')) return true;
  return path === '/metrics' && !rule.publicMetrics();
}

function presented(req: IncomingMessage, url: URL, path: string): string | null {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (m) return m[1]!.trim();
  // A token holds no space (one is refused at start): a `+` in a pasted URL is read as a space by the
  // query's form decoding (`openssl rand -base64` tokens have them), so it is put back.
  return path === '/switchyard/inspect' ? (url.searchParams.get('token')?.replace(/ /g, '+') ?? null) : null;
}

/**
 * How to present the token, as the 401 says it. Every error message is scrubbed of what looks
 * like a credential, and `Bearer $SWITCHYARD_ADMIN_TOKEN` does (the hint came out as
 * `Bearer [redacted]`); a placeholder (`<token>`: neither a credential's characters nor its
 * length) passes as it is.
 */
const SEND_TOKEN = 'send "authorization: Bearer <token>" with the token set in SWITCHYARD_ADMIN_TOKEN';

/** Throws 401 when `path` needs the admin token and the request does not carry it. */
export function checkAdmin(rule: AdminRule, req: IncomingMessage, url: URL, path: string): void {
  if (rule.loopbackOnly || !isProtected(rule, path)) return;
  const token = rule.adminToken();
  const given = presented(req, url, path);
  if (token && given !== null && sameSecret(given, token)) return;
  if (!token) {
    // No header can open it: say what the operator has to do.
    throw new SwitchyardError(
      'admin_token_required',
      `this sidecar is bound to a non-loopback address and has no SWITCHYARD_ADMIN_TOKEN: set it in the sidecar's environment and restart, then ${SEND_TOKEN}`,
    );
  }
  // A token was sent but is not the sidecar's: said so (the plain hint told a user who had set
  // SWITCHYARD_ADMIN_TOKEN, a wrong one, to set it, and `switchyard status` printed that hint).
  if (given !== null)
    throw new SwitchyardError(
      'admin_token_required',
      `this sidecar is bound to a non-loopback address and the admin token sent is not this sidecar's SWITCHYARD_ADMIN_TOKEN: ${SEND_TOKEN} it was started with`,
    );
  throw new SwitchyardError('admin_token_required', `this sidecar is bound to a non-loopback address: ${SEND_TOKEN}`);
}
