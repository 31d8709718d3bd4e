/**
 * The inspector document and route: self-contained (no external URL, CSP admits exactly the
 * inlined script and style), served with the right headers over a real server on port 0.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildInspectorDocument, inspectorPage } from '../../src/http/inspector-page.js';
import { demoConfig } from '../../src/cli/demo.js';
import { validateConfig } from '../../src/config/load.js';

const PAGE_DIR = join(import.meta.dirname, '../../src/observe/page');

describe('inspector document', () => {
  const doc = buildInspectorDocument();

  it('inlines the stylesheet and the script, with nothing loaded from elsewhere', () => {
    const js = readFileSync(join(PAGE_DIR, 'inspector.js'), 'utf8');
    expect(doc.html).toContain(js);
    expect(doc.html).toContain(readFileSync(join(PAGE_DIR, 'inspector.css'), 'utf8'));
    expect(doc.html).not.toMatch(/\/\*(STYLE|SCRIPT)\*\//);
    expect(doc.html).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(doc.html).not.toMatch(/@import|url\(\s*["']?https?:/i);
    // The only absolute URL is the SVG namespace, which is a name, not a fetch.
    expect([...doc.html.matchAll(/https?:\/\/[^\s'")]+/g)].map((m) => m[0])).toEqual(['http://www.w3.org/2000/svg']);
    expect(doc.html).toContain("EventSource(base + 'events')");
  });

  it('writes amounts under a micro-dollar as decimals, as switchyard status does (a spend gauge showed "$6.00e-8")', () => {
    const js = readFileSync(join(PAGE_DIR, 'inspector.js'), 'utf8');
    const src = /^ {2}function usd\(x\) \{.*\}$/m.exec(js)?.[0];
    expect(src).toBeDefined();
    const usd = new Function(`${src!}; return usd;`)() as (x: number) => string;
    expect([0, 6e-8, 1e-9, 1.234e-7, 0.000084, 2.5, 1234.4].map(usd)).toEqual([
      '$0',
      '$0.00000006',
      '$0.000000001',
      '$0.000000123',
      '$0.0000840',
      '$2.50',
      '$1234',
    ]);
  });

  it('listens on the EventSource for every kind of record its timeline shows (a cascade escalation too)', () => {
    // On loopback without ?token= the page reads the stream with EventSource, which hands a named
    // event (`event: escalation`) only to a listener of that name.
    const js = readFileSync(join(PAGE_DIR, 'inspector.js'), 'utf8');
    const src = /^ {2}function viaEventSource\(\) \{[\s\S]*?^ {2}\}$/m.exec(js)?.[0];
    expect(src).toBeDefined();
    const listened: string[] = [];
    class FakeEventSource {
      onopen: unknown = null;
      onerror: unknown = null;
      addEventListener(type: string): void {
        listened.push(type);
      }
    }
    const make = new Function('EventSource', 'base', 'handle', 'setConn', 'streaming', `${src!}; return viaEventSource;`) as (...a: unknown[]) => () => void;
    make(
      FakeEventSource,
      '/switchyard/',
      () => undefined,
      () => undefined,
      false,
    )();
    const shown = [...js.matchAll(/r\.kind === '([a-z]+)'/g)].map((m) => m[1]!);
    expect(new Set(shown)).toEqual(new Set(['transition', 'budget', 'escalation']));
    for (const kind of shown) expect(listened).toContain(kind);
  });

  it('has a CSP that admits exactly the inlined script and style', () => {
    const js = readFileSync(join(PAGE_DIR, 'inspector.js'), 'utf8');
    const hash = `'sha256-${createHash('sha256').update(js).digest('base64')}'`;
    expect(doc.csp).toContain(`script-src ${hash}`);
    expect(doc.csp).toContain("default-src 'none'");
    expect(doc.csp).toContain("connect-src 'self'");
    expect(doc.csp).not.toContain('unsafe-inline');
  });
});

describe('GET /switchyard/inspect', () => {
  it('serves the page with no-store, nosniff and the CSP; HEAD has no body; POST is refused', async () => {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      try {
        inspectorPage(req, res);
      } catch (err) {
        res.writeHead(405).end((err as Error).message);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/switchyard/inspect`;
    try {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'none'; script-src 'sha256-/);
      expect(await res.text()).toMatch(/^<!doctype html>/);
      const head = await fetch(url, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe('');
      const post = await fetch(url, { method: 'POST' });
      expect(post.status).toBe(405);
      expect(await post.text()).toContain('use GET /switchyard/inspect');
    } finally {
      server.close();
    }
  });
});

describe('demo config', () => {
  it('is a valid switchyard config on the simulator with the demo settings', () => {
    const res = validateConfig(demoConfig('http://127.0.0.1:9'));
    expect(res.ok, res.ok ? '' : res.errors.join('\n')).toBe(true);
    if (!res.ok) return;
    const c = res.config;
    expect(Object.keys(c.models).sort()).toEqual(['claude-sonnet-4.5', 'deepseek-v3.2', 'gemini-2.5-flash', 'gpt-4.1']);
    expect(c.resilience.failureThreshold).toBe(2);
    expect(c.resilience.recoveryMs).toBe(8000);
    expect(c.models['claude-sonnet-4.5']!.endpoints[0]!.rpm).toBe(6);
    expect(Object.values(c.providers).every((p) => p.baseUrl.startsWith('http://127.0.0.1:9/') && p.apiKeyEnv === undefined)).toBe(true);
    expect(c.storage.ledger).toBe('memory');
  });
});
