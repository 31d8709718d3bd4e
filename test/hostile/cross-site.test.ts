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
    [
      'a re-bound name (DNS rebinding), same-origin',
      {
        host: 'attacker.example:4141',
        origin: 'http://attacker.example:4141',
        'content-type': 'text/plain',
        'sec-fetch-site': 'same-origin',
        'sec-fetch-mode': 'cors',
      },
    ],
    // Over plain http a browser sends no Sec-Fetch-*: a re-bound page's POST has its Origin, its GET only its User-Agent.
    [
      'a re-bound name over plain http: POST with its own Origin, no Sec-Fetch',
      { host: 'evil.test:4141', origin: 'http://evil.test:4141', 'content-type': 'application/json' },
    ],
    [
      'a re-bound name over plain http: no Origin, a browser User-Agent',
      {
        host: 'evil.test:4141',
        'content-type': 'application/json',
        'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36',
      },
    ],
    [
      'a re-bound name, no Origin (a same-origin GET-like request)',
      { host: 'attacker.example:4141', 'content-type': 'application/json', 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' },
    ],
  ])('%s: 403, nothing sent upstream', async (_name, headers) => {
    await env.sim.clearLog();
    const r = await post('/v1/chat/completions', headers);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ error: { type: 'permission_error', code: 'cross_site_request' } });
    expect(r.headers['x-switchyard-error-code']).toBe('cross_site_request');
    expect(await env.sim.log()).toEqual([]);
  });

  it('is counted and logged as a refusal before routing (there was no trace of it)', async () => {
    const count = async () => {
      const text = await (await fetch(`${env.sc.url}/metrics`)).text();
      return [...text.matchAll(/^switchyard_requests_total\{[^}]*status="403"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const before = await count();
    expect((await post('/v1/chat/completions', { origin: 'https://evil.example', 'content-type': 'text/plain' })).status).toBe(403);
    expect(await count()).toBe(before + 1);
    expect(await env.sc.waitForOutput('request refused: a browser request from another site (Origin: https://evil.example)')).toContain('"status":403');
  });

  it('the Messages API answers in its own shape', async () => {
    const r = await post('/v1/messages', { origin: 'https://evil.example', 'content-type': 'text/plain' });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    // With the id the Anthropic SDK reads (`requestID`: the request-id header), in the body too (an SDK round: it had only x-request-id).
    expect(r.headers['request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(r.body).request_id).toBe(r.headers['request-id']);
    expect(r.headers['x-request-id']).toBe(r.headers['request-id']);
    // Anthropic's SDK (anthropic-version) on a path that is not an OpenAI API route: its shape too; on one, OpenAI's.
    const models = await post('/v1/models', { origin: 'https://evil.example', 'content-type': 'text/plain', 'anthropic-version': '2023-06-01' });
    expect(models.status).toBe(403);
    expect(JSON.parse(models.body)).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    const chat = await post('/v1/chat/completions', { origin: 'https://evil.example', 'content-type': 'text/plain', 'anthropic-version': '2023-06-01' });
    expect(JSON.parse(chat.body)).toMatchObject({ error: { type: 'permission_error', code: 'cross_site_request' } });
  });

  it.each([
    ['an SDK or curl (no Origin, a loopback Host)', { 'content-type': 'application/json' }],
    ['a dev server on loopback', { origin: 'http://localhost:3000', 'content-type': 'application/json', 'sec-fetch-site': 'same-site' }],
    ['localhost by name', { host: 'localhost:4141', 'content-type': 'application/json' }],
    // No browser's: an SDK behind nginx (`proxy_set_header Host $host`) or Caddy, with the public name.
    [
      'an SDK through a reverse proxy that forwards its public Host',
      { host: 'api.example.com', 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.7', 'user-agent': 'OpenAI/JS 6.9.0' },
    ],
  ])('%s: served', async (_name, headers) => {
    const r = await post('/v1/chat/completions', headers);
    expect(r.status).toBe(200);
  });
});

describe('crossSiteRefusal', () => {
  const r = (headers: Record<string, string>, extra: { method?: string; local?: string } = {}) => ({
    headers,
    method: extra.method ?? 'POST',
    socket: extra.local === undefined ? null : { localAddress: extra.local },
  });

  it('an Origin is another site unless it is loopback or the host the request was sent to', () => {
    expect(crossSiteRefusal(r({ host: 'myhost:4141', origin: 'http://myhost:4141' }), false)).toBeNull();
    expect(crossSiteRefusal(r({ host: 'myhost:4141', origin: 'http://other:4141' }), false)).toMatch(/another site/);
    expect(crossSiteRefusal(r({ host: '[::1]:4141', origin: 'http://[::1]:5173' }), true)).toBeNull();
    expect(crossSiteRefusal(r({ host: '127.0.0.1:4141', origin: 'http://app.localhost:5173' }), true)).toBeNull();
    expect(crossSiteRefusal(r({ origin: 'not a url' }), true)).toMatch(/another site/);
    // A loopback page calling 127.0.0.1 from localhost is "cross-site" to the browser, but its Origin is loopback: served.
    expect(crossSiteRefusal(r({ host: '127.0.0.1:4141', origin: 'http://localhost:3000', 'sec-fetch-site': 'cross-site' }), true)).toBeNull();
    expect(crossSiteRefusal(r({ host: '127.0.0.1:4141', origin: 'http://0.0.0.0:3000' }), true)).toBeNull();
  });

  it('without an Origin, Sec-Fetch-Site: cross-site is refused, except a link followed to a page (a GET navigation)', () => {
    expect(crossSiteRefusal(r({ 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' }), true)).toMatch(/Sec-Fetch-Site/);
    expect(crossSiteRefusal(r({ 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' }, { method: 'GET' }), true)).toBeNull();
    expect(crossSiteRefusal(r({ 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' }, { method: 'POST' }), true)).toMatch(/Sec-Fetch-Site/);
  });

  it("a browser's request on loopback: only loopback names, addresses written any way, or a name without a dot; off loopback any Host, unless the connection came in on loopback; no browser's request is judged by its Host", () => {
    const b = (host: string | undefined) => ({ ...(host === undefined ? {} : { host }), 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' });
    expect(crossSiteRefusal(r(b('sidecar.internal:4141')), false)).toBeNull();
    expect(crossSiteRefusal(r(b('sidecar.internal:4141')), true)).toMatch(/use localhost or 127\.0\.0\.1/);
    expect(crossSiteRefusal(r(b(undefined)), true)).toBeNull();
    for (const host of ['127.0.0.5', '127.1:4141', 'localhost.:4141', '[0:0:0:0:0:0:0:1]:4141', '[::ffff:7f00:1]:4141', '[::ffff:127.0.0.1]:4141', 'x'])
      expect(crossSiteRefusal(r(b(host)), true), host).toBeNull();
    expect(crossSiteRefusal(r(b('10.0.0.7:4141')), true)).toMatch(/use localhost/);
    // Bound to every address: a browser's request that came in on 127.0.0.1 by a re-bound name is refused too; one on the LAN address is not.
    expect(crossSiteRefusal(r(b('attacker.example:4141'), { local: '127.0.0.1' }), false)).toMatch(/use localhost/);
    expect(crossSiteRefusal(r(b('attacker.example:4141'), { local: '::ffff:127.0.0.1' }), false)).toMatch(/use localhost/);
    expect(crossSiteRefusal(r(b('sidecar.internal:4141'), { local: '10.0.0.7' }), false)).toBeNull();
    // A reverse proxy (nginx, Caddy) forwarding an SDK's request with its public Host, Docker Desktop's host.docker.internal: no browser, served.
    for (const host of ['api.example.com', 'host.docker.internal:4141', '10.0.0.7:4141'])
      expect(crossSiteRefusal(r({ host }, { local: '127.0.0.1' }), true), host).toBeNull();
  });
});
