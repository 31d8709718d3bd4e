/**
 * Requests a browser makes on behalf of another site. A sidecar on loopback with no client keys
 * trusts whoever reaches it, and a web page the user opens is not that: a `text/plain` POST is a
 * CORS "simple request" that a browser sends cross-site without asking first, and a page whose
 * name was re-bound to 127.0.0.1 (DNS rebinding) reads the answers as its own. So:
 *
 * - a request with an `Origin` of another site (not loopback, not the name the request was sent
 *   to) is refused, whatever the route (`Origin: null` too: a sandboxed frame or a local file);
 *   a loopback `Origin` is served;
 * - without an `Origin`, a browser's `Sec-Fetch-Site: cross-site` is refused, except a link
 *   followed to a page (a GET navigation: the page that linked reads nothing of it);
 * - a browser's request (an `Origin`, `Sec-Fetch-*`, or a browser `User-Agent`: over plain http a
 *   re-bound page sends no `Sec-Fetch-*`) that came in on a loopback address (the sidecar bound to
 *   loopback, or to every address and reached on 127.0.0.1) sent to a domain name (one with a dot)
 *   or an address that is not loopback's is refused: only a re-bound name reaches a loopback
 *   socket by another name, and a web page's name is a public domain. A name without a dot (an
 *   `/etc/hosts` alias) is taken, and so is any name on a request that is no browser's (an SDK,
 *   or a reverse proxy forwarding one with its public Host).
 *
 * SDKs, curl and servers send none of these and are not touched. switchyard answers no CORS preflight (see the README's "Running it as a sidecar").
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** The host name of a Host header or an origin's authority, normalised as a URL reads it (`127.1` is 127.0.0.1), without port and brackets; null if unreadable. */
function hostName(authority: string): string | null {
  const a = authority.trim();
  if (a === '') return null;
  let host: string;
  try {
    host = new URL(`http://${a}`).hostname;
  } catch {
    return null;
  }
  if (host.startsWith('[')) host = host.slice(1, -1);
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

function loopbackName(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost') || host === '0.0.0.0') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  // ::1, and 127.x written as an IPv4-mapped IPv6 address (::ffff:7f00:1 as a URL writes it).
  return host === '::1' || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(host) || /^::ffff:127\./.test(host);
}

/** A Host a loopback socket may be reached by: a loopback name or address, or a name without a dot (no web page's). */
function localHost(host: string): boolean {
  return loopbackName(host) || (!host.includes('.') && !host.includes(':'));
}

/** Every browser's User-Agent starts `Mozilla/5.0` (Chrome, Firefox, Safari, Edge); no SDK's, curl's or a server library's does. */
function isBrowserAgent(ua: string | undefined): boolean {
  return ua !== undefined && ua.startsWith('Mozilla/');
}

/** Whether a connection came in on a loopback address. */
function onLoopback(address: string | undefined): boolean {
  return address !== undefined && (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.'));
}

/** Why a request must be refused as another site's, or null. `loopbackOnly`: the sidecar listens on a loopback address only. */
export function crossSiteRefusal(
  req: Pick<IncomingMessage, 'headers' | 'method'> & { socket?: { localAddress?: string } | null },
  loopbackOnly: boolean,
): string | null {
  const headers = req.headers;
  const origin = headers.origin;
  // What an SDK (or a reverse proxy forwarding one) sends: no Origin, no Sec-Fetch-*, no browser's User-Agent. Nothing to check, no URL parsed on the hot path.
  const browser =
    origin !== undefined || headers['sec-fetch-site'] !== undefined || headers['sec-fetch-mode'] !== undefined || isBrowserAgent(headers['user-agent']);
  if (!browser) return null;
  const host = typeof headers.host === 'string' ? hostName(headers.host) : null;
  if (typeof origin === 'string') {
    const o = origin.trim().toLowerCase();
    const scheme = o.indexOf('://');
    const from = scheme === -1 ? null : hostName(o.slice(scheme + 3).split('/', 1)[0]!);
    const sameHost = from !== null && host !== null && from === host;
    if (from === null || (!loopbackName(from) && !sameHost))
      return `a browser request from another site (Origin: ${o.slice(0, 100)}) is refused: switchyard answers SDKs and servers, not web pages of other sites (a page can spend on your provider keys)`;
  } else if (headers['sec-fetch-site'] === 'cross-site' && !((req.method === 'GET' || req.method === 'HEAD') && headers['sec-fetch-mode'] === 'navigate'))
    return 'a browser request from another site (Sec-Fetch-Site: cross-site) is refused';
  // Only a browser's request (a re-bound page's: over plain http a browser sends no Sec-Fetch-*, but
  // its POSTs carry an Origin and every request its browser User-Agent): an SDK, or a reverse proxy
  // forwarding one with its public Host (nginx's `proxy_set_header Host $host`, Caddy), is none.
  if (host !== null && !localHost(host) && (loopbackOnly || onLoopback(req.socket?.localAddress ?? undefined)))
    return `this sidecar was reached on loopback as "${(headers.host ?? '').slice(0, 100)}": use localhost or 127.0.0.1 (another name reaching a loopback address is how a web page re-binds its own name to it), or set server.host to listen beyond loopback and reach it by that address`;
  return null;
}
