/**
 * `GET /switchyard/inspect` — the live inspector page: one self-contained HTML document (the
 * CSS and the script inlined), read from `observe/page/` once at startup. No CDN, no fonts, no
 * external request: the Content-Security-Policy only admits this document's own inline
 * style and script (by hash) and connections back to this origin.
 *
 * The page itself holds no data. It reads `/switchyard/state` (1 s poll),
 * `/switchyard/spend?group_by=model` (3 s poll) and the `/switchyard/events` stream. With
 * `?token=T` in its URL it sends `authorization: Bearer T` on every one of those requests and
 * reads the event stream with `fetch()` (EventSource cannot send headers).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { SwitchyardError } from '../errors.js';

// The page's files stay with the rest of the inspector in observe/ (copied next to the build).
const PAGE_DIR = join(import.meta.dirname, '../observe/page');

export interface InspectorDocument {
  html: string;
  /** The Content-Security-Policy header that admits exactly this document's inline assets. */
  csp: string;
}

const sha256 = (s: string): string => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

/** Inline the stylesheet and the script into the HTML shell. */
export function buildInspectorDocument(dir = PAGE_DIR): InspectorDocument {
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  const css = read('inspector.css');
  const js = read('inspector.js');
  if (js.includes('</script')) throw new Error('inspector.js must not contain "</script"');
  // Function replacers: the script contains `$` sequences that a string replacement would expand.
  const html = read('inspector.html')
    .replace('/*STYLE*/', () => css)
    .replace('/*SCRIPT*/', () => js);
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(js)}`,
    `style-src ${sha256(css)}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}

const DOC = buildInspectorDocument();
const BODY = Buffer.from(DOC.html, 'utf8');

export function inspectorPage(req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new SwitchyardError('method_not_allowed', 'use GET /switchyard/inspect');
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': BODY.length,
    'cache-control': 'no-store',
    'content-security-policy': DOC.csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(req.method === 'HEAD' ? undefined : BODY);
}
