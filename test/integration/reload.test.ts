/**
 * Client keys and config reload, end to end: the official OpenAI SDK against one real sidecar
 * process (client keys in its environment, named by `auth.keys[].keyEnv`) in front of the
 * real simulator process. One file, one sidecar: each sidecar start costs seconds.
 *
 * Client keys (spec §3, §6): no or a wrong key → 401 invalid_api_key; a valid key works; a key
 * over its own rpm → 429 rate_limited with retry-after (other keys unaffected); the key id is
 * in the ledger (column key_id); keys never reach the logs.
 *
 * Reload (spec §3 `POST /switchyard/reload` and SIGHUP): while 20 slow streams are in flight
 * the config file is rewritten (a route added, one endpoint's rpm changed, a model's tier
 * changed) and reloaded. Every stream completes; the unchanged endpoint actor keeps its
 * counters and serves with the new model config; the changed one is replaced (its in-flight
 * streams finish on the old actor); the new route serves; client-key rpm windows survive. An
 * invalid file is refused with 400 listing the errors and the running config keeps serving.
 * SIGHUP reloads too (and applies key changes).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { sleep, startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import { freshDb } from './replicas.js';
import { startPgRelay } from '../accounting/pg-relay.js';

const KEY_A = 'sk-sy-team-a-7f3c9e1d5b';
const KEY_B = 'sk-sy-team-b-0a8e4d2c6f';
const KEY_C = 'sk-sy-team-c-93b1e07a4d';
const WORDS = 20;

let sim: SimHandle;
let sc: SidecarHandle;
let base: Record<string, unknown>;
let ledgerFile: string;

beforeAll(async () => {
  sim = await startSimulatorProc({
    defaults: { ttftMs: 2, tokenGapMs: 1, outputTokens: 5 },
    // The streams of the reload test: 20 words, 80 ms apart, in flight for over 1.5 s.
    models: { 'deepseek-chat': { tokenGapMs: 80, outputTokens: WORDS }, 'gemini-2.5-flash': { tokenGapMs: 80, outputTokens: WORDS } },
  });
  base = testConfig(sim.url, {
    auth: {
      keys: [
        { id: 'team-a', keyEnv: 'SY_TEST_TEAM_A_KEY', rpm: 2 },
        { id: 'team-b', keyEnv: 'SY_TEST_TEAM_B_KEY' },
      ],
    },
  });
  ledgerFile = String((base.storage as { ledger: string }).ledger).slice('sqlite:'.length);
  sc = await startSidecar(base, { SY_TEST_TEAM_A_KEY: KEY_A, SY_TEST_TEAM_B_KEY: KEY_B, SY_TEST_TEAM_C_KEY: KEY_C });
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

const client = (apiKey: string) => new OpenAI({ baseURL: `${sc.url}/v1`, apiKey, maxRetries: 0, timeout: 10_000 });
const ask = (c: OpenAI) => c.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }).withResponse();

async function apiError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  throw new Error('expected the request to fail');
}

const post = (headers: Record<string, string>) =>
  fetch(`${sc.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }),
  });

const requestIds: Record<string, string[]> = { 'team-a': [], 'team-b': [] };

describe('client keys (auth.keys)', () => {
  it('no key, or not a Bearer key → 401 invalid_api_key, OpenAI-shaped, nothing sent upstream', async () => {
    await sim.clearLog();
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{}, /^missing client key: send "authorization: Bearer <key>"/],
      [{ authorization: `Basic ${KEY_A}` }, /not "Bearer <key>"/],
      [{ authorization: 'Bearer ' }, /not "Bearer <key>"/],
    ];
    for (const [headers, message] of cases) {
      const r = await post(headers);
      expect(r.status).toBe(401);
      const body = (await r.json()) as { error: { code: string; type: string; message: string } };
      expect(body.error.code).toBe('invalid_api_key');
      expect(body.error.type).toBe('authentication_error');
      expect(body.error.message).toMatch(message);
    }
    expect(await sim.log()).toEqual([]);
  });

  it('a wrong key → 401 invalid_api_key (also one that only extends or truncates a valid key)', async () => {
    for (const key of ['sk-nope', `${KEY_A}x`, KEY_A.slice(0, -1), KEY_B.toUpperCase()]) {
      const e = await apiError(ask(client(key)));
      expect(e.status, key).toBe(401);
      expect(e.code).toBe('invalid_api_key');
    }
    expect(await sim.log()).toEqual([]);
  });

  it('GET /v1/models needs a client key too (401 without, the list with one, bearer or x-api-key)', async () => {
    const none = await fetch(`${sc.url}/v1/models`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
    expect((await fetch(`${sc.url}/v1/models`, { headers: { authorization: 'Bearer sk-nope' } })).status).toBe(401);
    const ids = (await client(KEY_B).models.list()).data.map((m) => m.id);
    expect(ids).toContain('gpt-4.1');
    expect((await fetch(`${sc.url}/v1/models`, { headers: { 'x-api-key': KEY_B } })).status).toBe(200);
  });

  it('a valid key is served; a key without rpm is not limited', async () => {
    for (let i = 0; i < 4; i++) {
      const { data, response } = await ask(client(KEY_B));
      expect(data.choices[0]!.message.content).toBeTruthy();
      requestIds['team-b']!.push(response.headers.get('x-request-id')!);
    }
  });

  it('a key over its own rpm → 429 rate_limited with retry-after; other keys are unaffected', async () => {
    const a = client(KEY_A);
    for (let i = 0; i < 2; i++) requestIds['team-a']!.push((await ask(a)).response.headers.get('x-request-id')!);
    const e = await apiError(ask(a));
    expect(e.status).toBe(429);
    expect(e.code).toBe('rate_limited');
    expect(e.message).toContain('team-a');
    const retryAfter = Number(e.headers?.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(30);
    // Not the budget's 429: a client may retry this one.
    expect(e.headers?.get('x-should-retry')).not.toBe('false');
    const { response } = await ask(client(KEY_B));
    expect(response.status).toBe(200);
    requestIds['team-b']!.push(response.headers.get('x-request-id')!);
  });

  it('records the key id of every served request in the ledger (column key_id)', () => {
    const db = new Database(ledgerFile, { readonly: true });
    try {
      const rows = db.prepare('select request_id, key_id from ledger').all() as Array<{ request_id: string; key_id: string | null }>;
      const byId = new Map(rows.map((r) => [r.request_id, r.key_id]));
      for (const [key, ids] of Object.entries(requestIds)) {
        expect(ids.length).toBeGreaterThan(0);
        for (const id of ids) expect(byId.get(id), id).toBe(key);
      }
      expect(rows.filter((r) => r.key_id === 'team-a')).toHaveLength(2);
    } finally {
      db.close();
    }
  });

  it('never logs a client key', () => {
    const logs = sc.stdout() + sc.stderr();
    expect(logs.length).toBeGreaterThan(0);
    for (const k of [KEY_A, KEY_B]) expect(logs).not.toContain(k);
  });
});

/** The base config with changes (deep-copied, so `base` stays as it was). */
type Cfg = {
  models: Record<string, { endpoints: Array<Record<string, unknown>> }>;
  routing: { routes: Record<string, string[]> };
  auth: { keys: Array<Record<string, unknown>> };
};
function variant(change: (c: Cfg) => void): Record<string, unknown> {
  const c = structuredClone(base) as Cfg & Record<string, unknown>;
  change(c);
  return c;
}

/** The config after the first reload: a route added, gemini's rpm changed, deepseek's tier changed (not its endpoint). */
const reloaded = () =>
  variant((c) => {
    c.routing.routes.fresh = ['gemini-2.5-flash'];
    c.models['gemini-2.5-flash']!.endpoints[0]!.rpm = 1000;
    (c.models['deepseek-v3.2'] as unknown as { tier: string }).tier = 'balanced';
  });

async function reload(): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${sc.url}/switchyard/reload`, { method: 'POST' });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

async function models(): Promise<string[]> {
  return ((await (await fetch(`${sc.url}/v1/models`, { headers: { authorization: `Bearer ${KEY_A}` } })).json()) as { data: Array<{ id: string }> }).data.map(
    (m) => m.id,
  );
}

/** One short gpt-4.1 request to `sc` (expected served): its answer's headers. */
async function servedHi(sc: SidecarHandle): Promise<Headers> {
  const r = await fetch(`${sc.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4.1', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await r.text();
  expect(r.status).toBe(200);
  return r.headers;
}

/**
 * A sidecar of its own on a fresh PostgreSQL database reached through a relay the test can cut or
 * hold (`extra`: more of its config); stopped, and the database dropped, after `body`.
 */
async function withPgSidecar(
  name: string,
  extra: Record<string, unknown>,
  body: (h: { sc: SidecarHandle; relay: Awaited<ReturnType<typeof startPgRelay>>; cfg: Record<string, unknown> }) => Promise<void>,
): Promise<void> {
  const db = await freshDb();
  const relay = await startPgRelay(db.url);
  const cfg = testConfig(sim.url, { storage: { ledger: relay.url, journal: join(mkdtempSync(join(tmpdir(), `sy-${name}-`)), 'inflight') }, ...extra });
  const sc = await startSidecar(cfg);
  try {
    await body({ sc, relay, cfg });
  } finally {
    relay.release();
    await sc.stop();
    relay.close();
    await db.drop();
  }
}

const teamB = () => client(KEY_B);
const quick = (model: string, c = teamB()) => c.chat.completions.create({ model, max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] }).withResponse();

describe('reload', () => {
  it('POST /switchyard/reload under load: no failed request, unchanged actors keep counters, the new route works', async () => {
    const before = await sc.state();
    const ds0 = before.endpoints.find((e) => e.id === 'deepseek-v3.2@deepseek')!.requests;
    const gm0 = before.endpoints.find((e) => e.id === 'gemini-2.5-flash@gemini')!;
    expect(gm0.requests).toBe(0);

    // 10 streams on an endpoint that stays, 10 on one whose rpm changes.
    const b = teamB();
    let firstChunks = 0;
    let finished = 0;
    const streams = Array.from({ length: 20 }, async (_, i) => {
      const model = i % 2 === 0 ? 'deepseek-v3.2' : 'gemini-2.5-flash';
      const s = await b.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: `stream ${i}` }] });
      let text = '';
      let finish: string | null = null;
      let seen = false;
      for await (const c of s) {
        if (!seen && c.choices[0]?.delta.content) {
          seen = true;
          firstChunks++;
        }
        text += c.choices[0]?.delta.content ?? '';
        finish = c.choices[0]?.finish_reason ?? finish;
      }
      finished++;
      return { model, words: text.trim().split(/\s+/).length, finish };
    });
    while (firstChunks < 20) await sleep(20);

    writeFileSync(sc.configFile, stringify(reloaded()));
    // Requests arriving around the reload are served too.
    const around = Array.from({ length: 6 }, (_, i) => quick(i % 2 === 0 ? 'gemini-2.5-flash' : 'deepseek-v3.2'));
    const r = await reload();
    // The reload did not wait for the streams.
    expect(finished).toBe(0);
    expect(r.status).toBe(200);
    expect(r.body.kept).toContain('deepseek-v3.2@deepseek');
    // gemini's rpm changed: a fresh actor for a running id is `replaced`, not `added`.
    expect(r.body.added).toEqual([]);
    expect(r.body.replaced).toEqual(['gemini-2.5-flash@gemini']);
    expect(r.body.removed).toEqual([]);
    expect(await models()).toContain('route/fresh');

    // The new route serves now.
    const fresh = await quick('route/fresh');
    expect(fresh.response.headers.get('x-switchyard-model')).toBe('gemini-2.5-flash');
    // The kept deepseek actor serves with its model's new config.
    const ds1 = await quick('deepseek-v3.2');
    expect(ds1.response.headers.get('x-switchyard-tier')).toBe('balanced');
    for (const a of await Promise.all(around)) expect(a.response.status).toBe(200);

    const done = await Promise.all(streams);
    for (const d of done) expect(d).toMatchObject({ words: WORDS, finish: 'stop' });

    // The client-key rpm window survived the reload: team-a is still over its limit.
    expect((await apiError(ask(client(KEY_A)))).code).toBe('rate_limited');

    const after = await sc.state();
    const ds = after.endpoints.find((e) => e.id === 'deepseek-v3.2@deepseek')!;
    // 10 streams + 3 around the reload + 1 after it, all on the same actor.
    expect(ds.requests).toBe(ds0 + 14);
    const gm = after.endpoints.filter((e) => e.model === 'gemini-2.5-flash');
    expect(gm).toHaveLength(1);
    // The replacement actor: the new rpm; the streams were counted on the old one.
    expect((gm[0] as unknown as { rpm: { limit: number } }).rpm.limit).toBe(1000);
    expect(gm[0]!.requests).toBeLessThanOrEqual(4);
    expect(gm[0]!.requests).toBeGreaterThanOrEqual(1);
    // Attempts before and after the replacement are one series, by the contract's endpoint id (not the actor's key, `…#2`).
    const metrics = await (await fetch(`${sc.url}/metrics`)).text();
    const series = metrics.split('\n').filter((l) => l.startsWith('switchyard_attempts_total{') && l.includes('gemini-2.5-flash'));
    expect(series.length).toBeGreaterThan(0);
    for (const l of series) expect(l).toContain('endpoint="gemini-2.5-flash@gemini"');
  });

  it('an invalid config is refused with 400 listing every error; the running one keeps serving', async () => {
    const good = reloaded();
    const bad = structuredClone(good) as Record<string, Record<string, Record<string, unknown>>>;
    bad.routing!.routes!.broken = ['no-such-model'];
    (bad.models!['gpt-4.1'] as { price: Record<string, unknown> }).price.outputPerMTok = 'eight';
    writeFileSync(sc.configFile, stringify(bad));
    const r = await reload();
    expect(r.status).toBe(400);
    expect((r.body.error as { code: string }).code).toBe('invalid_config');
    const errors = r.body.errors as string[];
    expect(errors.some((e) => e.includes('routing.routes.broken') && e.includes('no-such-model'))).toBe(true);
    expect(errors.some((e) => e.includes('models.gpt-4.1.price.outputPerMTok'))).toBe(true);
    // Each names the file it was read from, as check-config's do (a sidecar may be one of several on a host).
    for (const e of errors) expect(e.startsWith(`${sc.configFile}: `)).toBe(true);
    // Logged, as a SIGHUP's refusal is (the HTTP answer alone left no trace in the log).
    expect(await sc.waitForOutput('POST /switchyard/reload refused, the running config stays')).toMatch(/models\.gpt-4\.1\.price\.outputPerMTok/);

    // A key whose variable the process was not started with: refused, saying a restart is what adds it.
    const newKey = structuredClone(good) as { auth: { keys: Array<Record<string, unknown>> } };
    newKey.auth.keys.push({ id: 'team-c', keyEnv: 'SY_TEST_TEAM_C_KEY_NEVER_SET' });
    writeFileSync(sc.configFile, stringify(newKey));
    const k = await reload();
    expect(k.status).toBe(400);
    // Starting with the file's path as every refusal does (it had none), with the line of the key (it had none either: a reload round).
    const keyLine =
      readFileSync(sc.configFile, 'utf8')
        .split('\n')
        .findIndex((l) => l.includes('keyEnv: SY_TEST_TEAM_C_KEY_NEVER_SET')) + 1;
    expect(keyLine).toBeGreaterThan(0);
    expect(k.body.errors).toEqual([
      `${sc.configFile}: auth.keys (team-c).keyEnv: environment variable SY_TEST_TEAM_C_KEY_NEVER_SET is not set (line ${keyLine}) (a running switchyard sees only the environment it was started with: restart it with the variable set; nothing was reloaded)`,
    ]);

    // A client key on a provider key's variable: refused, and a restart is not what it needs.
    const shared = structuredClone(good) as { auth: { keys: Array<Record<string, unknown>> } };
    shared.auth.keys.push({ id: 'team-d', keyEnv: 'SY_TEST_OPENAI_KEY' });
    writeFileSync(sc.configFile, stringify(shared));
    const d = await reload();
    expect(d.status).toBe(400);
    expect(d.body.errors).toEqual([
      expect.stringMatching(
        /^.*switchyard\.yaml: auth\.keys \(team-d\)\.keyEnv: SY_TEST_OPENAI_KEY has the same value as the key of provider openai \(SY_TEST_OPENAI_KEY\): .*; nothing was reloaded$/,
      ),
    ]);
    expect(JSON.stringify(d.body)).not.toMatch(/restart it with the variable set|sk-test-openai-SECRET/);

    writeFileSync(sc.configFile, 'models: [unclosed');
    const y = await reload();
    expect(y.status).toBe(400);
    expect((y.body.errors as string[]).length).toBeGreaterThan(0);

    expect(await models()).not.toContain('route/broken');
    const still = await quick('route/fresh');
    expect(still.response.headers.get('x-switchyard-model')).toBe('gemini-2.5-flash');
    const { response } = await quick('gpt-4.1');
    expect(response.headers.get('x-switchyard-cost-usd')).not.toBeNull();
    writeFileSync(sc.configFile, stringify(good));
  });

  it('start-up-only keys: another storage.ledger is refused (400, the ledger stays); logging.level and server.requestTimeoutMs are named in restartRequired', async () => {
    const good = reloaded();
    const ledgerNow = (good.storage as { ledger: string }).ledger;
    writeFileSync(sc.configFile, stringify({ ...good, storage: { ...(good.storage as object), ledger: `${ledgerNow}.other` } }));
    const moved = await reload();
    expect(moved.status).toBe(400);
    expect((moved.body.errors as string[]).join('\n')).toContain('storage.ledger');
    writeFileSync(sc.configFile, stringify({ ...good, logging: { level: 'debug' }, server: { requestTimeoutMs: 20_000 } }));
    const r = await reload();
    expect(r.status).toBe(200);
    expect(r.body.restartRequired).toEqual(['server.requestTimeoutMs', 'logging.level']);
    writeFileSync(sc.configFile, stringify(good));
    expect((await reload()).body.restartRequired).toEqual([]);
    // The ledger in use is still the first one: a request after the refused move lands there.
    const { response } = await quick('gpt-4.1');
    const id = response.headers.get('x-request-id')!;
    const db = new Database(ledgerFile, { readonly: true });
    try {
      expect(db.prepare('select count(*) as n from ledger where request_id = ?').get(id)).toEqual({ n: 1 });
    } finally {
      db.close();
    }
  });

  /**
   * A deepseek-v3.2 request that waits (for its window, or out a 429), then a reload that removes
   * the model: the request is answered 503 saying so.
   */
  async function removedWhileWaiting(): Promise<void> {
    const waiting = fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY_B}`, 'x-switchyard-timeout-ms': '90000' },
      body: JSON.stringify({ model: 'deepseek-v3.2', max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const depth = async () => ((await (await fetch(`${sc.url}/switchyard/state`)).json()) as { supervisor: { queueDepth: number } }).supervisor.queueDepth;
    for (let i = 0; i < 200 && (await depth()) === 0; i++) await sleep(20);
    expect(await depth()).toBe(1);
    const without = variant((c) => {
      delete c.models['deepseek-v3.2'];
      for (const m of Object.values(c.models) as Array<{ fallbacks?: string[] }>) m.fallbacks = (m.fallbacks ?? []).filter((f) => f !== 'deepseek-v3.2');
      for (const [name, chain] of Object.entries(c.routing.routes)) c.routing.routes[name] = chain.filter((m) => m !== 'deepseek-v3.2');
    });
    writeFileSync(sc.configFile, stringify(without));
    expect((await reload()).status).toBe(200);
    const r = await waiting;
    expect(r.status).toBe(503);
    expect(((await r.json()) as { error: { message: string } }).error.message).toBe(
      'no endpoint available for deepseek-v3.2: a config reload removed it while this request waited; it is no longer served (asking again is refused as an unknown model): name another model',
    );
    // The model was named by the client: asking again is a 400, so the SDKs are told not to retry (a bare 503 they retried, twice).
    expect([r.headers.get('x-should-retry'), r.headers.get('retry-after')]).toEqual(['false', null]);
  }

  it('a request waiting for an endpoint a reload removes fails at once and says so (it waited for the removed window, then blamed a circuit)', async () => {
    const good = reloaded();
    // deepseek alone behind a window of one request a minute, no fallback: a second request waits.
    const limited = variant((c) => {
      c.models['deepseek-v3.2']!.endpoints[0]!.rpm = 1;
      (c.models['deepseek-v3.2'] as unknown as { fallbacks: string[] }).fallbacks = [];
    });
    writeFileSync(sc.configFile, stringify(limited));
    expect((await reload()).status).toBe(200);
    await quick('deepseek-v3.2');
    const sent = Date.now();
    await removedWhileWaiting();
    // At once, not when the removed endpoint's window would have freed (a minute) or the deadline (90 s).
    expect(Date.now() - sent).toBeLessThan(10_000);
    writeFileSync(sc.configFile, stringify(good));
    expect((await reload()).status).toBe(200);
  });

  it('an endpoint a reload replaces keeps its maxConcurrent over the attempts still in flight on the old actor (the fresh one started at 0: twice the cap ran on the upstream)', async () => {
    const good = reloaded();
    const capped = (rpm: number) =>
      variant((c) => {
        const gm = c.models['gemini-2.5-flash']!;
        Object.assign(gm.endpoints[0]!, { maxConcurrent: 1, rpm });
        (gm as unknown as { fallbacks: string[] }).fallbacks = [];
      });
    writeFileSync(sc.configFile, stringify(capped(1000)));
    expect((await reload()).status).toBe(200);
    const state = async () =>
      (await (await fetch(`${sc.url}/switchyard/state`)).json()) as { supervisor: { queueDepth: number }; endpoints: Array<{ id: string; inFlight: number }> };
    const gemini = async () => (await state()).endpoints.find((e) => e.id === 'gemini-2.5-flash@gemini')!.inFlight;
    // One stream (20 words, 80 ms apart) takes the one slot.
    const stream = await teamB().chat.completions.create({ model: 'gemini-2.5-flash', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    expect(await gemini()).toBe(1);
    // Its rpm changes: the endpoint's actor is replaced while the stream runs on the old one.
    writeFileSync(sc.configFile, stringify(capped(999)));
    const r = await reload();
    expect(r.body.replaced).toContain('gemini-2.5-flash@gemini');
    // The stream still counts: in the state, and against the cap, so a second request waits for it.
    expect(await gemini()).toBe(1);
    let secondDone = false;
    const second = quick('gemini-2.5-flash').then((x) => {
      secondDone = true;
      return x;
    });
    for (let i = 0; i < 100 && (await state()).supervisor.queueDepth === 0 && !secondDone; i++) await sleep(10);
    expect([(await state()).supervisor.queueDepth, secondDone]).toEqual([1, false]);
    let words = 1;
    for (let x = await it.next(); !x.done; x = await it.next()) words++;
    expect(words).toBeGreaterThan(WORDS / 2);
    expect((await second).response.status).toBe(200);
    writeFileSync(sc.configFile, stringify(good));
    expect((await reload()).status).toBe(200);
  });

  it("one waiting out a 429's retry-after when a reload removes its model says the reload removed it (it blamed the 429)", async () => {
    const good = reloaded();
    const alone = variant((c) => {
      (c.models['deepseek-v3.2'] as unknown as { fallbacks: string[] }).fallbacks = [];
    });
    writeFileSync(sc.configFile, stringify(alone));
    expect((await reload()).status).toBe(200);
    await sim.setFault('deepseek-chat', { kind: 'rate_limit', retryAfterSec: 20, times: 1 });
    await removedWhileWaiting();
    await sim.clearFaults();
    writeFileSync(sc.configFile, stringify(good));
    expect((await reload()).status).toBe(200);
  });

  it('SIGHUP reloads the config file, key changes included', async () => {
    writeFileSync(
      sc.configFile,
      stringify(
        variant((c) => {
          c.routing.routes.fresh = ['gemini-2.5-flash'];
          c.routing.routes.hup = ['deepseek-v3.2'];
          c.auth.keys = [
            { id: 'team-a', keyEnv: 'SY_TEST_TEAM_A_KEY', rpm: 2 },
            { id: 'team-c', keyEnv: 'SY_TEST_TEAM_C_KEY' },
          ];
        }),
      ),
    );
    sc.child.kill('SIGHUP');
    const t0 = Date.now();
    while (!(await models()).includes('route/hup')) {
      if (Date.now() - t0 > 5000) throw new Error('SIGHUP did not reload within 5 s');
      await sleep(50);
    }
    const c = client(KEY_C);
    const { response } = await quick('route/hup', c);
    expect(response.headers.get('x-switchyard-model')).toBe('deepseek-v3.2');
    expect((await apiError(quick('route/hup'))).status).toBe(401);
    expect(sc.child.exitCode).toBeNull();
    // gemini's rpm went back to none: replaced again, and the state says so.
    const gm = (await sc.state()).endpoints.find((e) => e.id === 'gemini-2.5-flash@gemini') as unknown as { rpm: { limit: number | null } };
    expect(gm.rpm.limit).toBeNull();
  });

  it('a SIGHUP with an invalid file logs the refusal at error level with every problem; the running config stays', async () => {
    const before = await models();
    const good = readFileSync(sc.configFile, 'utf8');
    const bad = parse(good) as Cfg;
    bad.routing.routes.hupbad = ['no-such-model'];
    writeFileSync(sc.configFile, stringify(bad));
    const logged = sc.stdout().length;
    sc.child.kill('SIGHUP');
    const t0 = Date.now();
    let line: Record<string, unknown> | undefined;
    while (!line) {
      if (Date.now() - t0 > 5000) throw new Error(`no log line for the SIGHUP reload within 5 s:\n${sc.stdout().slice(logged)}`);
      await sleep(50);
      line = sc
        .stdout()
        .slice(logged)
        .split('\n')
        .filter((l) => l.includes('SIGHUP reload'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)[0];
    }
    expect(line.level).toBe(50);
    expect(String(line.msg)).toContain('routing.routes.hupbad[0]: unknown model "no-such-model"');
    expect(String(line.msg)).toContain('the running config stays');
    expect(await models()).toEqual(before);
    writeFileSync(sc.configFile, good);
  });

  it('a reload that takes away the auth section or a budget limit applies it and says so, in its answer and the log (it was an info line: a half-written file without auth opened /v1/*)', async () => {
    const good = readFileSync(sc.configFile, 'utf8');
    const withBudget = parse(good) as Record<string, Record<string, unknown>>;
    withBudget.budget = { limits: [{ scope: 'global', period: 'day', usd: 100 }] };
    writeFileSync(sc.configFile, stringify(withBudget));
    const added = await reload();
    expect(added.status).toBe(200);
    expect(added.body.warnings).toEqual([]);
    const open = parse(good) as Record<string, unknown>;
    delete open.auth;
    writeFileSync(sc.configFile, stringify(open));
    const r = await reload();
    expect(r.status).toBe(200);
    expect(r.body.warnings).toEqual([
      expect.stringMatching(
        /^this reload removes the auth section: client keys are no longer checked, so \/v1\/\* answers every request without a key \(it needed one of \d+\)/,
      ),
      'this reload removes the budget limit global per day (100 USD): what it limited is no longer limited',
    ]);
    await sc.waitForOutput(/"level":40.*this reload removes the auth section/);
    // Applied, as the file says: a request without a key is served.
    const anon = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gemini-2.5-flash', max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(anon.status).toBe(200);
    writeFileSync(sc.configFile, good);
    expect((await reload()).status).toBe(200);
    expect((await apiError(quick('gemini-2.5-flash', client('sk-sy-not-a-key')))).status).toBe(401);
  });

  it('a reload that puts a budget at or below what its period spent says every request it covers is refused until it resets (it said nothing)', async () => {
    const good = readFileSync(sc.configFile, 'utf8');
    const withBudget = parse(good) as Record<string, Record<string, unknown>>;
    withBudget.budget = { limits: [{ scope: 'global', period: 'day', usd: 100 }] };
    writeFileSync(sc.configFile, stringify(withBudget));
    expect((await reload()).body.warnings).toEqual([]);
    // The file's keys since the SIGHUP test: team-a and team-c.
    await quick('gemini-2.5-flash', client(KEY_C));
    withBudget.budget = { limits: [{ scope: 'global', period: 'day', usd: 0.000000001 }] };
    writeFileSync(sc.configFile, stringify(withBudget));
    const r = await reload();
    expect(r.status).toBe(200);
    expect(r.body.warnings).toContainEqual(
      expect.stringMatching(
        /^budget global:day: its limit \(\$1e-9\) is at or below what its period has spent \(\$[0-9.e-]+\): every request it covers is refused \(429 budget_exceeded\) until it resets at \d{4}-\d\d-\d\dT00:00:00\.000Z$/,
      ),
    );
    expect((await apiError(quick('gemini-2.5-flash', client(KEY_C)))).status).toBe(429);
    writeFileSync(sc.configFile, good);
    expect((await reload()).status).toBe(200);
  });

  it("a reload says what start-up says of the config's values: observe.publicMetrics turned on while bound to loopback does nothing (only check-config and start-up said so)", async () => {
    const good = readFileSync(sc.configFile, 'utf8');
    const on = parse(good) as Record<string, Record<string, unknown>>;
    on.observe = { ...(on.observe ?? {}), publicMetrics: true };
    writeFileSync(sc.configFile, stringify(on));
    const logged = sc.stdout().length;
    expect((await reload()).status).toBe(200);
    await sc.waitForOutput(/observe\.publicMetrics: true does nothing on a loopback bind \(127\.0\.0\.1\)/);
    expect(sc.stdout().slice(0, logged)).not.toMatch(/observe\.publicMetrics: true does nothing/);
    writeFileSync(sc.configFile, good);
    expect((await reload()).status).toBe(200);
  });
});

describe('two reloads at once', () => {
  it('run one after the other, each reading the file in its turn: the last file written is the config that runs (the one that read the older file could finish last and leave it running)', async () => {
    await withPgSidecar('reload-twice', {}, async ({ sc: pgSc, relay, cfg }) => {
      // The first adds a budget line, so it reads the ledger, which is held: it waits there.
      writeFileSync(pgSc.configFile, stringify({ ...cfg, budget: { limits: [{ scope: 'global', period: 'day', usd: 50 }] } }));
      relay.hold();
      const first = fetch(`${pgSc.url}/switchyard/reload`, { method: 'POST' });
      await relay.held();
      // The file changes again (no budget line, a route added): a second reload (a SIGHUP, a retry).
      writeFileSync(pgSc.configFile, stringify({ ...cfg, routing: { ...(cfg.routing as object), routes: { newest: ['gpt-4.1'] } } }));
      const second = fetch(`${pgSc.url}/switchyard/reload`, { method: 'POST' });
      // Let the ledger answer once the second has had every chance to finish first.
      await Promise.race([second, sleep(1000)]);
      relay.release();
      expect((await first).status).toBe(200);
      expect((await second).status).toBe(200);
      // What runs is the file as it is now: the route, and no budget line.
      const models = (await (await fetch(`${pgSc.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
      expect(models.data.map((m) => m.id)).toContain('route/newest');
      expect((await pgSc.state()).budgets).toEqual([]);
    });
  });
});

describe('shutdown while a PostgreSQL ledger cannot be reached', () => {
  it('logs the ledger rows it could not write, by request id (they went nowhere: a replicas round found 3 of 3 rows lost without a line)', async () => {
    await withPgSidecar('stop-pg', {}, async ({ sc: pgSc, relay }) => {
      relay.cut();
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) ids.push((await servedHi(pgSc)).get('x-request-id')!);
      await pgSc.stop();
      const line = pgSc
        .stdout()
        .split('\n')
        .find((l) => l.includes('ledger rows could not be written'));
      expect(line, pgSc.stdout().slice(-2000)).toBeDefined();
      expect(JSON.parse(line!)).toMatchObject({ level: 50 });
      for (const id of ids) expect(line).toContain(id);
    });
  });
});

describe('reload on a PostgreSQL ledger that cannot be reached', () => {
  it('is a 503 storage_unavailable that applies nothing (it was a 500 "switchyard bug" with the new prices in force and the new budget line missing)', async () => {
    await withPgSidecar('reload-pg', { budget: { limits: [{ scope: 'global', period: 'day', usd: 50 }] } }, async ({ sc: pgSc, relay, cfg }) => {
      const cost = async (): Promise<string | null> => (await servedHi(pgSc)).get('x-switchyard-cost-usd');
      const before = await cost();
      // A reload that adds a budget line (rebuilt from the ledger) and raises a price, while PostgreSQL cannot be reached.
      const next = structuredClone(cfg) as {
        models: Record<string, { price: { inputPerMTok: number; outputPerMTok: number } }>;
        budget: { limits: unknown[] };
      };
      next.models['gpt-4.1']!.price = { inputPerMTok: 20, outputPerMTok: 80 };
      next.budget.limits.push({ scope: 'model', model: 'gpt-4.1', period: 'month', usd: 5 });
      writeFileSync(pgSc.configFile, stringify(next));
      relay.cut();
      const r = await fetch(`${pgSc.url}/switchyard/reload`, { method: 'POST' });
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('1');
      expect(body.error.code).toBe('storage_unavailable');
      expect(body.error.message).toMatch(/model:gpt-4\.1:month.*nothing was reloaded/);
      // Nothing applied: the old prices, the old budget lines.
      expect(await cost()).toBe(before);
      expect((await pgSc.state()).budgets.map((b) => b.id)).toEqual(['global:day']);
      // Once PostgreSQL answers again, the same reload applies whole.
      relay.restore();
      const ok = await fetch(`${pgSc.url}/switchyard/reload`, { method: 'POST' });
      expect(ok.status).toBe(200);
      expect((await pgSc.state()).budgets.map((b) => b.id)).toEqual(['global:day', 'model:gpt-4.1:month']);
      expect(await cost()).not.toBe(before);
    });
  });
});
