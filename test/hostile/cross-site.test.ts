/**
 * A web page of another site must not spend on a keyless loopback sidecar: a `text/plain` POST is
 * a CORS "simple request" a browser sends cross-site without a preflight, and a page that re-binds
 * its own name to 127.0.0.1 (DNS rebinding) reaches the loopback socket by that name. SDKs, curl
 * and a dev server on loopback send no such headers, or loopback ones, and are served.
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { crossSiteRefusal } from '../../src/http/cross-site.js';
import { sidecarOnSimulator } from '../integration/harness.js';

const env = sidecarOnSimulator();
const CHAT = JSON.stringify({ model: 'gpt-4.1', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });

/** A POST with exactly these headers (node:http lets the test set Host and Origin, as a browser would). */
function post(path: string, headers: Record<string, string>, body = CHAT): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const u = new URL(env.sc.url);
  return new Promise((resolve, reject) => {
    const r = request({ host: u.hostname, port: u.port, path, method: 'POST', headers: { 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

describe('cross-site requests to a loopback sidecar', () => {
  it.each([
    ['Origin of another site, text/plain (a no-cors fetch)', { origin: 'https://evil.example', 'content-type': 'text/plain;charset=UTF-8' }],
    ['Origin null (a sandboxed frame, a local file)', { origin: 'null', 'content-type': 'text/plain' }],
    ['Sec-Fetch-Site: cross-site without Origin', { 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' }],
    ['a re-bound name (DNS rebinding), same-origin', { host: 'attacker.example:4141', origin: 'http://attacker.example:4141', 'content-type': 'text/plain' }],
    ['a re-bound name, no Origin (a same-origin GET-like request)', { host: 'attacker.example:4141', 'content-type': 'application/json' }],
  ])('%s: 403, nothing sent upstream', async (_name, headers) => {
    await env.sim.clearLog();
    const r = await post('/v1/chat/completions', headers);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ error: { type: 'permission_error', code: 'cross_site_request' } });
    expect(r.headers['x-switchyard-error-code']).toBe('cross_site_request');
    expect(await env.sim.log()).toEqual([]);
  });

  it('the Messages API answers in its own shape', async () => {
    const r = await post('/v1/messages', { origin: 'https://evil.example', 'content-type': 'text/plain' });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
  });

  it.each([
    ['an SDK or curl (no Origin, a loopback Host)', { 'content-type': 'application/json' }],
    ['a dev server on loopback', { origin: 'http://localhost:3000', 'content-type': 'application/json', 'sec-fetch-site': 'same-site' }],
    ['localhost by name', { host: 'localhost:4141', 'content-type': 'application/json' }],
  ])('%s: served', async (_name, headers) => {
    const r = await post('/v1/chat/completions', headers);
    expect(r.status).toBe(200);
  });
});

describe('crossSiteRefusal', () => {
  it('an Origin is another site unless it is loopback or the host the request was sent to', () => {
    expect(crossSiteRefusal({ host: 'myhost:4141', origin: 'http://myhost:4141' }, false)).toBeNull();
    expect(crossSiteRefusal({ host: 'myhost:4141', origin: 'http://other:4141' }, false)).toMatch(/another site/);
    expect(crossSiteRefusal({ host: '[::1]:4141', origin: 'http://[::1]:5173' }, true)).toBeNull();
    expect(crossSiteRefusal({ host: '127.0.0.1:4141', origin: 'http://app.localhost:5173' }, true)).toBeNull();
    expect(crossSiteRefusal({ origin: 'not a url' }, true)).toMatch(/another site/);
  });

  it('off loopback any Host is taken (client keys guard it); on loopback only loopback names, or none', () => {
    expect(crossSiteRefusal({ host: 'sidecar.internal:4141' }, false)).toBeNull();
    expect(crossSiteRefusal({ host: 'sidecar.internal:4141' }, true)).toMatch(/use localhost or 127\.0\.0\.1/);
    expect(crossSiteRefusal({}, true)).toBeNull();
    expect(crossSiteRefusal({ host: '127.0.0.5' }, true)).toBeNull();
    // A name without a dot is no web page's (an /etc/hosts alias, a raw client's `host: x`).
    expect(crossSiteRefusal({ host: 'x' }, true)).toBeNull();
    expect(crossSiteRefusal({ host: '10.0.0.7:4141' }, true)).toMatch(/use localhost/);
  });
});
