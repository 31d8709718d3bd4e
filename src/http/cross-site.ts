/**
 * Requests a browser makes on behalf of another site. A sidecar on loopback with no client keys
 * trusts whoever reaches it, and a web page the user opens is not that: a `text/plain` POST is a
 * CORS "simple request" that a browser sends cross-site without asking first, and a page whose
 * name was re-bound to 127.0.0.1 (DNS rebinding) reads the answers as its own. So:
 *
 * - a request whose `Origin` is another site (not loopback, not the name the request was sent to)
 *   is refused, whatever the route (`Origin: null` too: a sandboxed frame or a local file);
 * - a browser's `Sec-Fetch-Site: cross-site` is refused the same way;
 * - on a loopback sidecar, a request sent to a domain name (one with a dot) that is not loopback's
 *   (`localhost`, 127.x.x.x, `[::1]`) is refused: only a re-bound name reaches a loopback socket
 *   by another name, and a web page's name is a public domain. A name without a dot (an
 *   `/etc/hosts` alias, what a raw client writes) is taken.
 *
 * SDKs, curl and servers send neither header and use the address they were given, so they are not
 * touched; a browser app served from loopback itself (a dev server on `localhost:3000`) is not
 * either. switchyard answers no CORS preflight (see the README's "Limits and hostile input").
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';

/** The host name of a Host header or an origin's authority, without port and brackets, lower case; null if unreadable. */
function hostName(authority: string): string | null {
  const a = authority.trim().toLowerCase();
  if (a === '') return null;
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    return end > 0 ? a.slice(1, end) : null;
  }
  const colon = a.indexOf(':');
  return colon === -1 ? a : a.slice(0, colon);
}

function loopbackName(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** A Host a loopback socket may be reached by: a loopback name or address, or a name without a dot (no web page's). */
function localHost(host: string): boolean {
  return loopbackName(host) || (!host.includes('.') && !host.includes(':'));
}

/** Why a request must be refused as another site's, or null. `loopbackOnly`: the sidecar listens on a loopback address only. */
export function crossSiteRefusal(headers: IncomingHttpHeaders, loopbackOnly: boolean): string | null {
  const origin = headers.origin;
  const host = typeof headers.host === 'string' ? hostName(headers.host) : null;
  if (typeof origin === 'string') {
    const o = origin.trim().toLowerCase();
    const scheme = o.indexOf('://');
    const from = scheme === -1 ? null : hostName(o.slice(scheme + 3).split('/', 1)[0]!);
    const sameHost = from !== null && host !== null && from === host;
    if (from === null || (!loopbackName(from) && !sameHost))
      return `a browser request from another site (Origin: ${o.slice(0, 100)}) is refused: switchyard answers SDKs and servers, not web pages of other sites (a page can spend on your provider keys)`;
  }
  if (headers['sec-fetch-site'] === 'cross-site') return 'a browser request from another site (Sec-Fetch-Site: cross-site) is refused';
  if (loopbackOnly && host !== null && !localHost(host))
    return `this sidecar listens on loopback and was reached as "${(headers.host ?? '').slice(0, 100)}": use localhost or 127.0.0.1 (another name reaching a loopback address is how a web page re-binds its own name to it), or set server.host to listen beyond loopback`;
  return null;
}
