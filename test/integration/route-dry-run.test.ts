/**
 * `POST /switchyard/route` through the real process (issue 11): the routing decision as JSON,
 * without an upstream call or a ledger row; the chat route's 400s for bad bodies; the admin
 * rule of the other `/switchyard/*` routes when bound off loopback.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { parse, stringify } from 'yaml';
import { endpoint, waitFor } from './fault-helpers.js';
import { startProc, startSidecar, startSimulatorProc, testConfig, TEST_KEYS, type Proc, type SidecarHandle, type SimHandle } from './harness.js';

let sim: SimHandle;
let sc: SidecarHandle;
let guarded: Proc;
const ADMIN = 'route-admin-token-123';

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: 8 } });
  const cfg = testConfig(sim.url);
  sc = await startSidecar(cfg);
  const dir = mkdtempSync(join(tmpdir(), 'sy-route-'));
  const file = join(dir, 'switchyard.yaml');
  // A ledger of its own: one sidecar per ledger file (the journal's lock).
  writeFileSync(file, stringify({ ...cfg, storage: { ...(cfg.storage as object), ledger: `sqlite:${join(dir, 'guarded.db')}` } }));
  guarded = await startProc(['serve', '--config', file, '--host', '0.0.0.0', '--port', '0'], /switchyard (http:\/\/\S+)\/v1/, {
    ...TEST_KEYS,
    SWITCHYARD_ADMIN_TOKEN: ADMIN,
  });
});

afterAll(async () => {
  await guarded?.stop();
  await sc?.stop();
  await sim?.stop();
});

const route = (base: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}/switchyard/route`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

interface RouteJson {
  model: string;
  endpoint: string | null;
  tier: string;
  score: number | null;
  reason: string;
  cascade: string[][] | null;
}

describe('POST /switchyard/route', () => {
  it('answers the decision of auto with its score and reason, and calls no upstream', async () => {
    await sim.clearLog();
    const r = await route(sc.url, { model: 'auto', messages: [{ role: 'user', content: 'Berechne 17 * 23 und erkläre den Rechenweg Schritt für Schritt.' }] });
    expect(r.status).toBe(200);
    const j = (await r.json()) as RouteJson;
    expect(Object.keys(j).sort()).toEqual(['cascade', 'endpoint', 'model', 'reason', 'score', 'terms', 'tier']);
    expect(j.cascade).toBeNull(); // the quality cascade is off in this config
    expect(j.score).toBeGreaterThan(0);
    expect(j.score).toBeLessThan(1);
    // Every term of the score (the reason shows three): they sum, through the sigmoid, to the score.
    const terms = (j as unknown as { terms: Record<string, number> }).terms;
    expect(Object.keys(terms)[0]).toBe('(bias)');
    expect(Object.keys(terms).length).toBeGreaterThan(4);
    const z = Object.values(terms).reduce((a, b) => a + b, 0);
    expect(1 / (1 + Math.exp(-z))).toBeCloseTo(j.score!, 3);
    const shown = [...j.reason.matchAll(/([a-z_]+:[a-z_[\]0-9+-]+) ([+-]\d\.\d\d)/g)];
    expect(shown.length).toBeGreaterThan(0);
    for (const [, name, value] of shown) expect(terms[name!]!.toFixed(2), name).toBe(Number(value).toFixed(2));
    expect(j.reason).toMatch(/^score 0\.\d{2,6} (>=|<) 0\.\d{2,6} -> (fast_cheap|balanced|high_quality): /);
    expect(j.endpoint).toMatch(new RegExp(`^${j.model}@`));
    expect(['fast_cheap', 'balanced', 'high_quality']).toContain(j.tier);
    expect(await sim.log()).toEqual([]);
  });

  it('score is null when a hint or an explicit model decides; hints keep their meaning', async () => {
    const forced = (await (
      await route(sc.url, { model: 'auto', messages: [{ role: 'user', content: 'hi' }] }, { 'x-switchyard-tier': 'high_quality' })
    ).json()) as RouteJson;
    expect(forced).toMatchObject({ tier: 'high_quality', score: null, terms: null, reason: 'tier forced by x-switchyard-tier: high_quality' });
    const task = (await (
      await route(sc.url, { model: 'auto', messages: [{ role: 'user', content: 'hi' }] }, { 'x-switchyard-task': 'greeting' })
    ).json()) as RouteJson;
    expect(task).toMatchObject({ tier: 'fast_cheap', score: null });
    const named = (await (await route(sc.url, { model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] })).json()) as RouteJson;
    expect(named).toMatchObject({ model: 'gpt-4.1', score: null, reason: 'requested gpt-4.1' });
    const unknown = (await (
      await route(sc.url, { model: 'auto', messages: [{ role: 'user', content: 'hi' }] }, { 'x-switchyard-task': 'astrology' })
    ).json()) as RouteJson;
    expect(unknown.reason).toMatch(/^unknown task "astrology" ignored; score /);
    expect(unknown.score).not.toBeNull();
  });

  it('writes no ledger row and reserves nothing', async () => {
    for (let i = 0; i < 3; i++) expect((await route(sc.url, { model: 'auto', messages: [{ role: 'user', content: `q ${i}` }] })).status).toBe(200);
    const spend = (await (await fetch(`${sc.url}/switchyard/spend?group_by=model`)).json()) as { total: { requests: number } };
    expect(spend.total.requests).toBe(0);
  });

  it('bad bodies get the same 400s as the chat route', async () => {
    for (const bad of [
      '{not json',
      { model: 'auto' },
      { model: 'auto', messages: 'x' },
      { model: 'nope', messages: [{ role: 'user', content: 'x' }] },
      // A named Anthropic-kind model with a field it has no form for: the attempt's 400, not a decision.
      { model: 'claude-sonnet-4.5', seed: 1, messages: [{ role: 'user', content: 'x' }] },
    ]) {
      const a = await route(sc.url, bad);
      const b = await fetch(`${sc.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: typeof bad === 'string' ? bad : JSON.stringify(bad),
      });
      expect(a.status).toBe(400);
      expect(b.status).toBe(400);
      const ea = ((await a.json()) as { error: { code: string; message: string } }).error;
      const eb = ((await b.json()) as { error: { code: string; message: string } }).error;
      expect(ea).toEqual(eb);
    }
    const slow = (await (
      await route(sc.url, { model: 'auto', messages: [{ role: 'user', content: 'Thanks!' }] }, { 'x-switchyard-max-latency-ms': '1' })
    ).json()) as RouteJson;
    expect(slow.endpoint).toBeNull();
    // Every candidate named, as a real request's reason names them, and what a real request gets.
    expect(slow.reason).toContain(
      'deepseek-v3.2, gemini-2.5-flash, gpt-4.1, claude-sonnet-4.5 over x-switchyard-max-latency-ms 1 ms: nothing served now (a real request gets 503 no_endpoint_available)',
    );
    const badHeader = await route(sc.url, { model: 'auto', messages: [{ role: 'user', content: 'x' }] }, { 'x-switchyard-tier': 'ultra' });
    expect(badHeader.status).toBe(400);
    expect((await fetch(`${sc.url}/switchyard/route`)).status).toBe(405);
  });

  it('a real auto request keeps its score in the ledger (route_score), a hinted one none', async () => {
    const content = 'Schreibe eine Python-Funktion, die Primzahlen bis 1000 findet.';
    const dry = (await (await route(sc.url, { model: 'auto', messages: [{ role: 'user', content }] })).json()) as RouteJson;
    const real = await sc.client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content }] }).withResponse();
    const hinted = await sc.client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content }] }, { headers: { 'x-switchyard-tier': 'balanced' } })
      .withResponse();
    const cfgLedger = parse(readFileSync(sc.configFile, 'utf8')) as { storage: { ledger: string } };
    const db = new Database(cfgLedger.storage.ledger.slice('sqlite:'.length), { readonly: true });
    try {
      const score = (id: string | null) =>
        db.prepare<[string], { route_score: number | null }>('SELECT route_score FROM ledger WHERE request_id = ?').get(id!)?.route_score;
      expect(score(real.response.headers.get('x-request-id'))).toBeCloseTo(dry.score!, 12);
      expect(score(hinted.response.headers.get('x-request-id'))).toBeNull();
      // A served request's row is found by its id's time: no index entry of its own (ledger-span.ts).
      const marks = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM ledger WHERE at_in_id = 0').get();
      expect(marks?.n).toBe(0);
      expect(db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM ledger').get()?.n).toBeGreaterThanOrEqual(2);
    } finally {
      db.close();
    }
  });

  it('a real request names the models left out for a field they cannot take, as the dry run does', async () => {
    const body = {
      model: 'auto',
      response_format: { type: 'json_object' as const },
      messages: [{ role: 'user' as const, content: 'List three fruits as JSON.' }],
    };
    const dry = (await (await route(sc.url, body)).json()) as RouteJson;
    // Naming the field, as the 400 of a model the client named would (it said only "fields").
    expect(dry.reason).toContain("; skipped claude-sonnet-4.5 (cannot take this request's fields: response_format)");
    const real = await sc.client.chat.completions.create(body).withResponse();
    // The same text, byte for byte: the dry run writes the header's ASCII (-> and >=).
    expect(real.response.headers.get('x-switchyard-reason')).toBe(dry.reason);
  });

  it("a route's members skipped for a capability are named, in the dry run and the real request's header alike", async () => {
    const image = { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } };
    for (const body of [
      { model: 'route/code', messages: [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'What is this?' }, image] }] },
      { model: 'route/chatbot', messages: [{ role: 'user' as const, content: [image] }] },
    ]) {
      const dry = (await (await route(sc.url, body)).json()) as RouteJson;
      const real = await sc.client.chat.completions.create(body as never).withResponse();
      expect(real.response.headers.get('x-switchyard-model')).toBe(dry.model);
      expect(real.response.headers.get('x-switchyard-reason')).toBe(dry.reason);
    }
    const dry = (await (await route(sc.url, { model: 'route/chatbot', messages: [{ role: 'user', content: [image] }] })).json()) as RouteJson;
    expect(dry).toMatchObject({ model: 'gemini-2.5-flash', reason: 'route chatbot: deepseek-v3.2 -> gemini-2.5-flash; skipped deepseek-v3.2 (no vision)' });
  });

  it('x-switchyard-max-cost-usd: passes over the models a real request passes over, and says so', async () => {
    // claude's worst case at 1,000 output tokens is ~$0.015, its fallback gpt-4.1's ~$0.008.
    const body = { model: 'claude-sonnet-4.5', max_tokens: 1000, messages: [{ role: 'user', content: 'hi' }] };
    const cap = { 'x-switchyard-max-cost-usd': '0.012' };
    const j = (await (await route(sc.url, body, cap)).json()) as RouteJson;
    expect(j.model).toBe('gpt-4.1');
    expect(j.endpoint).toMatch(/^gpt-4\.1@/);
    expect(j.reason).toContain('claude-sonnet-4.5 over x-switchyard-max-cost-usd');
    const real = await sc.client.chat.completions.create(body as never, { headers: cap }).withResponse();
    expect(real.response.headers.get('x-switchyard-model')).toBe(j.model);
    expect(real.response.headers.get('x-switchyard-reason')).toContain('claude-sonnet-4.5 over x-switchyard-max-cost-usd');
    const streamed = await sc.client.chat.completions.create({ ...body, stream: true } as never, { headers: cap }).withResponse();
    expect(streamed.response.headers.get('x-switchyard-reason')).toContain('claude-sonnet-4.5 over x-switchyard-max-cost-usd');
    for await (const _ of streamed.data as unknown as AsyncIterable<unknown>) void _;

    const none = (await (await route(sc.url, body, { 'x-switchyard-max-cost-usd': '0.000001' })).json()) as RouteJson;
    expect(none.endpoint).toBeNull();
    expect(none.reason).toContain("every candidate's worst-case cost is over x-switchyard-max-cost-usd (a real request gets 429 budget_exceeded)");
    // Which models, as the real request's reason names them.
    expect(none.reason).toMatch(/; [^;]*gpt-4\.1[^;]* over x-switchyard-max-cost-usd; every candidate/);
    // The model the real 429 names: the one nearest to fitting (it named the first candidate).
    const refused = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-switchyard-max-cost-usd': '0.000001' },
      body: JSON.stringify(body),
    });
    expect(refused.status).toBe(429);
    expect(none.model).not.toBe('claude-sonnet-4.5');
    expect([none.model, none.tier]).toEqual([refused.headers.get('x-switchyard-model'), refused.headers.get('x-switchyard-tier')]);
  });

  it("a candidate whose endpoints cannot take it now is named as the real request's header names it (X circuit-open: served by Y)", async () => {
    const body = { model: 'claude-sonnet-4.5', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] };
    await sim.setFault('claude-sonnet-4-5', { kind: 'http_error', status: 503, times: 1000 });
    try {
      // Each request fails on claude and is served by its fallback, until claude's circuit opens.
      await waitFor(
        "claude's circuit to open",
        async () => {
          await sc.client.chat.completions.create(body as never);
          return (await endpoint(sc, 'claude-sonnet-4.5@anthropic')).state;
        },
        (s) => s === 'circuit-open',
        15_000,
        0,
      );
      const j = (await (await route(sc.url, body)).json()) as RouteJson;
      expect(j.model).toBe('gpt-4.1');
      expect(j.reason).toBe('requested claude-sonnet-4.5; claude-sonnet-4.5 circuit-open: served by gpt-4.1');
      const real = await sc.client.chat.completions.create(body as never).withResponse();
      expect(real.response.headers.get('x-switchyard-reason')).toBe(j.reason);
    } finally {
      await sim.clearFaults();
    }
  });

  it("reads a Messages or a Responses body as its own route does, and names the real request's model and reason (it read every body as chat)", async () => {
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${sc.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const text = 'Prove that the square root of 2 is irrational, step by step.';
    const messages = { model: 'auto', max_tokens: 200, system: 'Be rigorous.', messages: [{ role: 'user', content: [{ type: 'text', text }] }] };
    const responses = { model: 'auto', instructions: 'Be rigorous.', input: [{ role: 'user', content: [{ type: 'input_text', text }] }] };
    const cases: Array<[string, unknown, Record<string, string>, string]> = [
      ['/v1/messages', messages, { 'anthropic-version': '2023-06-01' }, ''],
      ['/v1/messages', messages, {}, ''],
      ['/v1/messages', messages, {}, '?api=messages'],
      // The Messages API requires max_tokens: the scorer does not read it there, in the dry run either (it scored +0.20 for it).
      [
        '/v1/messages',
        { ...messages, max_tokens: 8000, system: undefined, messages: [{ role: 'user', content: 'What is the capital of France?' }] },
        { 'anthropic-version': '2023-06-01' },
        '',
      ],
      ['/v1/responses', responses, {}, ''],
      ['/v1/responses', responses, {}, '?api=responses'],
    ];
    for (const [path, body, headers, query] of cases) {
      const dry = await fetch(`${sc.url}/switchyard/route${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
      expect(dry.status, `${path} ${query}`).toBe(200);
      const j = (await dry.json()) as RouteJson;
      expect(j.reason).not.toContain('skipped');
      expect(j.reason).not.toContain('max_tokens');
      expect(j.score).not.toBeNull();
      const real = await post(path, body, headers);
      expect(real.status).toBe(200);
      expect(real.headers.get('x-switchyard-model'), `${path} ${query}`).toBe(j.model);
      expect(real.headers.get('x-switchyard-reason'), `${path} ${query}`).toBe(j.reason);
      await real.text();
    }
    // As on their own routes: cascaded on request (the steps listed), previous_response_id needs a client key's store, an unknown api is named.
    for (const body of [responses, messages]) {
      const cascaded = await route(sc.url, body, { 'x-switchyard-cascade': 'on', 'x-switchyard-tier': 'fast_cheap' });
      expect(cascaded.status).toBe(200);
      expect(((await cascaded.json()) as RouteJson).cascade?.length).toBeGreaterThanOrEqual(2);
    }
    const prev = await route(sc.url, { ...responses, previous_response_id: 'resp_1' });
    expect(prev.status).toBe(400);
    expect(((await prev.json()) as { error: { param: string } }).error.param).toBe('previous_response_id');
    const bad = await fetch(`${sc.url}/switchyard/route?api=embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(responses),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('is not one of chat, messages, responses');
  });

  it('a Messages body no candidate can take answers the 400 the real request answers at routing (a thinking budget none fits names the budget)', async () => {
    const headers = { 'anthropic-version': '2023-06-01' };
    const thinking = { type: 'enabled', budget_tokens: 1024 };
    for (const body of [
      { model: 'auto', max_tokens: 500, thinking, messages: [{ role: 'user', content: 'hi' }] },
      { model: 'gpt-4.1', max_tokens: 500, top_k: 3, messages: [{ role: 'user', content: 'hi' }] },
    ]) {
      const dry = await route(sc.url, body, headers);
      expect(dry.status).toBe(400);
      const real = await fetch(`${sc.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
      expect(real.status).toBe(400);
      const said = ((await real.json()) as { error: { message: string } }).error.message;
      // The dry run said 'thinking has no chat-completions form … (deepseek-v3.2 is OpenAI-kind)' for the first.
      expect(((await dry.json()) as { error: { message: string } }).error.message).toBe(said);
    }
  });

  it('bound off loopback it needs the admin token, like the other /switchyard routes', async () => {
    const base = guarded.url.replace('0.0.0.0', '127.0.0.1');
    const body = { model: 'auto', messages: [{ role: 'user', content: 'hi' }] };
    expect((await route(base, body)).status).toBe(401);
    expect((await route(base, body, { authorization: `Bearer ${ADMIN}` })).status).toBe(200);
  });

  it('bound off loopback without an admin token, the banner offers no inspector URL: it says the routes are closed (it printed ?token=<SWITCHYARD_ADMIN_TOKEN>)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-route-open-'));
    const file = join(dir, 'switchyard.yaml');
    const cfg = testConfig(sim.url);
    writeFileSync(file, stringify({ ...cfg, storage: { ...(cfg.storage as object), ledger: `sqlite:${join(dir, 'open.db')}` } }));
    const open = await startProc(['serve', '--config', file, '--host', '0.0.0.0', '--port', '0'], /switchyard (http:\/\/\S+)\/v1/, { ...TEST_KEYS });
    try {
      await open.waitForOutput(/inspector and state: closed/);
      expect(open.stderr()).not.toContain('?token=<SWITCHYARD_ADMIN_TOKEN>');
      expect((await fetch(`${open.url.replace('0.0.0.0', '127.0.0.1')}/switchyard/state`)).status).toBe(401);
    } finally {
      await open.stop();
    }
  });
});
