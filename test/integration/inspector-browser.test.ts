/**
 * The inspector page in a real headless Chromium against a real sidecar: one card per
 * endpoint, a simulator fault turns a card circuit-open without a reload, nothing is fetched
 * from anywhere but the sidecar, and with `?token=` (non-loopback bind) every request the
 * page makes carries the admin token. Saves test-artifacts/inspector.png.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { stringify } from 'yaml';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { ROOT, startProc, startSidecar, testConfig, TEST_KEYS, type Proc, type SidecarHandle } from './harness.js';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// With a `+` and a `/`, as a base64 token has (`openssl rand -base64`), written unencoded in the page's URL as a user pastes it.
const ADMIN_TOKEN = 'admin+token/for-the+inspector=test';

let sim: Simulator; // in-process: one process start less
let sc: SidecarHandle;
let guarded: Proc; // bound to 0.0.0.0: /switchyard/* needs the admin token
let browser: Browser;

function config(): Record<string, unknown> {
  const cfg = testConfig(sim.url, {
    resilience: { failureThreshold: 2, recoveryMs: 60_000, retry: { maxAttempts: 1, baseDelayMs: 10, maxDelayMs: 10 } },
    budget: { limits: [{ scope: 'global', period: 'day', usd: 1 }] },
  });
  const models = cfg.models as Record<string, { fallbacks: string[]; endpoints: Array<Record<string, unknown>> }>;
  models['gpt-4.1']!.fallbacks = [];
  models['claude-sonnet-4.5']!.endpoints[0]!.rpm = 2;
  return cfg;
}

beforeAll(async () => {
  const launching = chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
  sim = await startSimulator({ profile: { defaults: { ttftMs: 20, tokenGapMs: 2, outputTokens: 16 } } });
  const file = join(mkdtempSync(join(tmpdir(), 'sy-insp-')), 'switchyard.yaml');
  writeFileSync(file, stringify(config()));
  // Settled one by one: when the browser cannot start (no /usr/bin/chromium), the sidecars that
  // did start are still kept, so afterAll stops them instead of leaving them orphaned.
  const [b, s, g] = await Promise.allSettled([
    launching,
    startSidecar(config()),
    startProc(['serve', '--config', file, '--host', '0.0.0.0', '--port', '0'], /switchyard (http:\/\/\S+)\/v1/, {
      ...TEST_KEYS,
      SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN,
    }),
  ]);
  if (s.status === 'fulfilled') sc = s.value;
  if (g.status === 'fulfilled') guarded = g.value;
  for (const r of [b, s, g]) if (r.status === 'rejected') throw r.reason;
  if (b.status === 'fulfilled') browser = b.value;
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([sc?.stop(), guarded?.stop()]);
  await sim?.close();
});

const chat = (base: string, model: string) =>
  fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello inspector' }] }),
  }).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });

/** Requests the page makes, and any error it reports. */
function watch(page: Page) {
  const requests: Array<{ url: string; auth: string | undefined }> = [];
  const errors: string[] = [];
  /** Answers to the page's /switchyard/state polls, counted as they reach the page. */
  const responses: string[] = [];
  page.on('request', (r) => requests.push({ url: r.url(), auth: r.headers().authorization }));
  page.on('requestfinished', (r) => {
    if (new URL(r.url()).pathname.endsWith('/switchyard/state')) responses.push(r.url());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  return { requests, errors, responses };
}

describe.concurrent('/switchyard/inspect in Chromium', () => {
  it('shows one card per endpoint and turns a card circuit-open live when a fault opens its circuit', async ({ expect }) => {
    for (const m of ['deepseek-v3.2', 'gemini-2.5-flash', 'claude-sonnet-4.5', 'claude-sonnet-4.5', 'claude-sonnet-4.5']) await chat(sc.url, m);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const seen = watch(page);
    await page.goto(`${sc.url}/switchyard/inspect`);
    const state = await sc.state();
    const cards = page.locator('article.card[data-endpoint][data-state]');
    await expect.poll(() => cards.count(), { timeout: 5000 }).toBe(state.endpoints.length);
    for (const e of state.endpoints) await page.waitForSelector(`article[data-endpoint="${e.id}"]`, { timeout: 2000 });
    await page.waitForSelector('#conn[data-conn="live"]', { timeout: 5000 });
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    // A card whose endpoint did not change is not rebuilt by the next state polls (each was rebuilt every second).
    const marked = '[data-endpoint="deepseek-v3.2@deepseek"]';
    await page.locator(marked).evaluate((el) => el.setAttribute('data-test-mark', '1'));
    const polls = seen.responses.length;
    await expect.poll(() => seen.responses.length - polls, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    await page.evaluate('new Promise((r) => requestAnimationFrame(r))'); // the page has handled the answers
    expect(await page.locator(`${marked}[data-test-mark="1"]`).count()).toBe(1);

    sim.setFault('gpt-4.1', { kind: 'http_error', status: 500 });
    expect([await chat(sc.url, 'gpt-4.1'), await chat(sc.url, 'gpt-4.1')]).toEqual([502, 502]);
    await page.waitForSelector('[data-endpoint="gpt-4.1@openai"][data-state="circuit-open"]', { timeout: 3000 });
    await page.waitForSelector('#timeline li[data-actor="endpoint:gpt-4.1@openai"][data-to="circuit-open"]', { timeout: 1000 });
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42); // no reload
    await expect.poll(() => page.locator('article[data-endpoint="gpt-4.1@openai"] .retry').textContent(), { timeout: 2000 }).toMatch(/half-open in \d/);
    await page.waitForSelector('[data-budget="global:day"]', { timeout: 2000 });
    await page.waitForSelector('#spend-chart polyline[data-model="deepseek-v3.2"]', { state: 'attached', timeout: 4000 });

    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-artifacts/inspector.png'), fullPage: true });
    const origin = new URL(sc.url).origin;
    expect(seen.requests.filter((r) => !r.url.startsWith(origin))).toEqual([]);
    expect(seen.errors).toEqual([]);
    await page.close();
  });

  it('with ?token= sends the admin token on every request, reading the event stream with fetch', async ({ expect }) => {
    const base = guarded.url.replace('0.0.0.0', '127.0.0.1');
    // The start-up banner of a sidecar bound beyond loopback says the page needs the token.
    expect(guarded.stderr()).toMatch(/inspector: http:\/\/0\.0\.0\.0:\d+\/switchyard\/inspect\?token=<SWITCHYARD_ADMIN_TOKEN> /);
    expect((await fetch(`${base}/switchyard/state`)).status).toBe(401);
    // The page by its ?token= alone, the token's `+` unencoded as a user pastes it (it was read as a space: 401).
    expect((await fetch(`${base}/switchyard/inspect?token=${ADMIN_TOKEN}`)).status).toBe(200);
    expect(await chat(base, 'deepseek-v3.2')).toBe(200);
    const page = await browser.newPage();
    const seen = watch(page);
    // The page route itself sits behind the admin check: the test adds the header to the
    // document request only (see the reply: the route should be exempt or accept ?token=).
    await page.route('**/switchyard/inspect?*', (route) =>
      route.continue({ headers: { ...route.request().headers(), authorization: `Bearer ${ADMIN_TOKEN}` } }),
    );
    await page.goto(`${base}/switchyard/inspect?token=${ADMIN_TOKEN}`);
    await expect.poll(() => page.locator('article.card').count(), { timeout: 5000 }).toBe(4);
    await page.waitForSelector('#conn[data-conn="live"]', { timeout: 5000 });
    await page.waitForSelector('#spend-table tr[data-model="deepseek-v3.2"]', { timeout: 5000 });
    const api = seen.requests.filter((r) => /\/switchyard\/(state|events|spend)/.test(r.url));
    expect(api.map((r) => new URL(r.url).pathname)).toEqual(expect.arrayContaining(['/switchyard/state', '/switchyard/events', '/switchyard/spend']));
    expect(api.every((r) => r.auth === `Bearer ${ADMIN_TOKEN}`)).toBe(true);
    expect(seen.errors).toEqual([]);
    await page.close();
  });

  it("a replaced actor's record leaves its endpoint's card alone, budgets a reload removed leave the page, and a refused token is said as such", async ({
    expect,
  }) => {
    const id = (await sc.state()).endpoints.find((e) => e.model === 'gemini-2.5-flash')!.id;
    const page = await browser.newPage();
    let budgetsGone = false;
    let refuse = false;
    await page.route('**/switchyard/state', async (route) => {
      if (refuse)
        return route.fulfill({
          status: 401,
          contentType: 'application/json',
          body: '{"error":{"message":"admin token required","code":"admin_token_required"}}',
        });
      const res = await route.fetch();
      const j = (await res.json()) as { budgets: unknown[] };
      if (budgetsGone) j.budgets = [];
      return route.fulfill({ response: res, json: j });
    });
    // The draining actor of an endpoint a reload replaced opens its own circuit (its attempts in flight failed).
    const rec = {
      seq: 7,
      at: Date.now(),
      kind: 'transition',
      actor: `endpoint:${id}`,
      from: 'healthy',
      to: 'circuit-open',
      event: { type: 'upstream.failed' },
      context: { reason: 'timeout', retryAt: Date.now() + 60_000 },
      replaced: true,
    };
    await page.route('**/switchyard/events', (route) =>
      route.fulfill({ status: 200, contentType: 'text/event-stream', body: `id: 7\nevent: transition\ndata: ${JSON.stringify(rec)}\n\n` }),
    );
    await page.goto(`${sc.url}/switchyard/inspect`);
    const line = page.locator(`#timeline li[data-actor="endpoint:${id}"][data-to="circuit-open"]`);
    await line.first().waitFor({ timeout: 5000 });
    expect(await page.locator(`article[data-endpoint="${id}"]`).getAttribute('data-state')).toBe('healthy');
    expect(await line.first().textContent()).toContain('(replaced, draining)');
    await page.waitForSelector('[data-budget="global:day"]', { timeout: 3000 });
    budgetsGone = true;
    await expect.poll(() => page.locator('[data-budget]').count(), { timeout: 3000 }).toBe(0);
    refuse = true;
    await page.waitForSelector('#conn[data-conn="refused"]', { timeout: 3000 });
    expect(await page.locator('#conn').textContent()).toContain('refused the admin token (HTTP 401)');
    await page.close();
  });

  it('with ?token=, a reconnect of the event stream sends Last-Event-ID, as EventSource does', async ({ expect }) => {
    const base = guarded.url.replace('0.0.0.0', '127.0.0.1');
    const page = await browser.newPage();
    await page.route('**/switchyard/inspect?*', (route) =>
      route.continue({ headers: { ...route.request().headers(), authorization: `Bearer ${ADMIN_TOKEN}` } }),
    );
    const eventRequests: Array<string | null> = [];
    await page.route('**/switchyard/events', async (route) => {
      eventRequests.push(route.request().headers()['last-event-id'] ?? null);
      // The first stream ends after one record with id 41; the page reconnects (after ~2 s).
      if (eventRequests.length === 1) await route.fulfill({ status: 200, contentType: 'text/event-stream', body: 'id: 41\nevent: budget\ndata: {}\n\n' });
      else await route.continue();
    });
    await page.goto(`${base}/switchyard/inspect?token=${ADMIN_TOKEN}`);
    await expect.poll(() => eventRequests.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    expect(eventRequests.slice(0, 2)).toEqual([null, '41']);
    await page.close();
  });
});
