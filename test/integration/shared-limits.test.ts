/**
 * Issue 13: an endpoint's rate window and a provider's 429 cooldown are shared by every
 * replica (three sidecar processes on one Redis key prefix, one simulator).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import OpenAI from 'openai';
import { parse, stringify } from 'yaml';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import { Keys } from '../../src/shared-state/keys.js';
import { dropPrefix, eventually, freshDb, SHARED_REDIS, startReplicas, uniq, type Replicas, type TestDb } from './replicas.js';

let sim: SimHandle;
/** A database per set of replicas: replicas on another key prefix are refused on a ledger that others marked lately. */
const dbs: TestDb[] = [];
let reps: Replicas | null = null;
const prefixes: string[] = [];

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 2, tokenGapMs: 0, outputTokens: 10 } });
});

afterEach(async () => {
  await reps?.stop();
  reps = null;
});

afterAll(async () => {
  await sim?.stop();
  for (const d of dbs) await d.drop();
  for (const p of prefixes) await dropPrefix(SHARED_REDIS, p);
});

async function replicas(over: Record<string, unknown>, n = 3): Promise<Replicas> {
  const keyPrefix = uniq('sy-limits');
  prefixes.push(keyPrefix);
  const db = await freshDb();
  dbs.push(db);
  reps = await startReplicas(n, sim.url, { ledger: db.url, shared: SHARED_REDIS, keyPrefix }, over);
  return reps;
}

type Outcome = { ok: true } | { ok: false; status: number; code: string; retryAfter: string | null };
const outcome = (p: Promise<unknown>): Promise<Outcome> =>
  p.then(
    () => ({ ok: true as const }),
    (e: unknown) => {
      if (!(e instanceof OpenAI.APIError)) throw e;
      return {
        ok: false as const,
        status: e.status ?? 0,
        code: String((e.error as { code?: string } | undefined)?.code),
        retryAfter: e.headers?.get('retry-after') ?? null,
      };
    },
  );

/** A small chat request to deepseek-v3.2 on one replica: the endpoint these tests throttle and break. */
const askDeepseek = (s: SidecarHandle) =>
  s.client.chat.completions.create({ model: 'deepseek-v3.2', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }).withResponse();
/** deepseek-v3.2's endpoint as one replica's /switchyard/state shows it. */
const deepseekOn = async (s: SidecarHandle) => (await s.state()).endpoints.find((e) => e.id === 'deepseek-v3.2@deepseek')!;
/** The circuit tests' resilience: one failure opens the circuit, half-open 1.5 s later, one attempt per endpoint. */
const circuit = (over: Record<string, unknown> = {}) => ({
  resilience: {
    failureThreshold: 1,
    recoveryMs: 1500,
    requestTimeoutMs: 15_000,
    headersTimeoutMs: 5_000,
    retry: { maxAttempts: 1, baseDelayMs: 50, maxDelayMs: 400 },
    ...over,
  },
});

describe('shared endpoint windows', () => {
  it('tpm: a finished request gives back what its estimate charged beyond its real count, as the lone sidecar does (a max_tokens of 600 that used ~20 tokens held 600 of a 1,000 tpm window for the minute)', async () => {
    const models = testConfig(sim.url).models as Record<string, Record<string, unknown>>;
    const deepseek = { ...models['deepseek-v3.2']!, fallbacks: [], endpoints: [{ provider: 'deepseek', upstreamModel: 'deepseek-chat', tpm: 1000 }] };
    const r = await replicas({ models: { 'deepseek-v3.2': deepseek }, routing: { strategy: 'cost', routes: {} } }, 2);
    const ask = (s: SidecarHandle) =>
      outcome(
        s.client.chat.completions.create(
          { model: 'deepseek-v3.2', messages: [{ role: 'user', content: 'hi' }], max_tokens: 600 },
          { headers: { 'x-switchyard-timeout-ms': '2000' } },
        ),
      );
    // Each is charged ~600 tokens when admitted and uses ~20 (the simulator answers 10 words).
    expect(await ask(r.all[0]!)).toEqual({ ok: true });
    // The refund goes out after the answer: wait until the shared window shows it.
    // The correction goes out after the answer: wait until the shared window (the GCRA tat in Redis) shows it.
    const redis = new Redis(SHARED_REDIS);
    try {
      const key = new Keys(prefixes.at(-1)!).window('deepseek-v3.2@deepseek', 'tpm');
      const used = async (): Promise<number> => {
        const [tat, [sec, usec]] = await Promise.all([redis.get(key), redis.time()]);
        return Math.max(0, ((Number(tat) - (Number(sec) * 1000 + Number(usec) / 1000)) / 60_000) * 1000);
      };
      await eventually(async () => ((await used()) < 100 ? true : undefined), 5000, 'the shared tpm window corrected to the real count').catch(() => undefined);
    } finally {
      redis.disconnect();
    }
    expect(await ask(r.all[1]!)).toEqual({ ok: true });
  });

  it('rpm 30 with three replicas offered 30 requests each: the upstream sees one window, not three', async () => {
    const models = testConfig(sim.url).models as Record<string, Record<string, unknown>>;
    const deepseek = { ...models['deepseek-v3.2']!, fallbacks: [], endpoints: [{ provider: 'deepseek', upstreamModel: 'deepseek-chat', rpm: 30 }] };
    const r = await replicas({
      models: { 'deepseek-v3.2': deepseek },
      routing: { strategy: 'cost', routes: {} },
      resilience: { requestTimeoutMs: 8_000, headersTimeoutMs: 5_000, retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 400 } },
    });
    await sim.clearLog();
    const started = Date.now();
    const all = await Promise.all(
      r.all.flatMap((s) =>
        Array.from({ length: 30 }, () =>
          outcome(s.client.chat.completions.create({ model: 'deepseek-v3.2', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 })),
        ),
      ),
    );
    const elapsedS = (Date.now() - started) / 1000;
    const log = (await sim.log()).filter((e) => e.model === 'deepseek-chat');
    const served = all.filter((o) => o.ok).length;
    // GCRA: a burst of 30, then one every 2 s.
    const allowed = 30 + Math.floor(elapsedS / 2) + 1;
    console.log(
      `rpm 30 × 3 replicas: ${served} served, upstream saw ${log.length} in ${elapsedS.toFixed(1)} s (one shared window allows ≤ ${allowed}; three would allow 90)`,
    );
    // What the provider saw is bounded by one shared window; a request sent close to its deadline
    // can reach the upstream and still end in a 504 for the client, so served ≤ seen.
    expect(log.length).toBeLessThanOrEqual(allowed);
    expect(served).toBeLessThanOrEqual(log.length);
    expect(served).toBeGreaterThanOrEqual(30);
    for (const o of all) {
      if (o.ok) continue;
      // Refused with retry-after (no capacity before the deadline), or queued until the deadline.
      if (o.status === 503) expect({ code: o.code, retryAfter: o.retryAfter !== null }).toEqual({ code: 'no_endpoint_available', retryAfter: true });
      else expect({ status: o.status, code: o.code }).toEqual({ status: 504, code: 'timeout' });
    }
  }, 30_000);

  it('/switchyard/state on any replica shows the shared window fill (rpm used), not only its own requests', async () => {
    const models = testConfig(sim.url).models as Record<string, Record<string, unknown>>;
    const deepseek = { ...models['deepseek-v3.2']!, fallbacks: [], endpoints: [{ provider: 'deepseek', upstreamModel: 'deepseek-chat', rpm: 60 }] };
    const r = await replicas({ models: { 'deepseek-v3.2': deepseek }, routing: { strategy: 'cost', routes: {} } });
    const [busy, idle] = [r.all[0]!, r.all[2]!];
    for (let i = 0; i < 20; i++)
      await busy.client.chat.completions.create({ model: 'deepseek-v3.2', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
    const rpmUsed = async (s: typeof busy): Promise<number> => ((await deepseekOn(s)) as unknown as { rpm: { used: number } }).rpm.used;
    // GCRA at 60 rpm leaks one request a second: 20 sent just now leave well over 6 in the window for several seconds.
    expect(await rpmUsed(busy)).toBeGreaterThanOrEqual(6);
    const deadline = Date.now() + 4_000;
    let seen = await rpmUsed(idle);
    while (seen < 6 && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 100));
      seen = await rpmUsed(idle);
    }
    expect(seen).toBeGreaterThanOrEqual(6);
  }, 30_000);

  it('a 429 with retry-after 20 seen by one replica: the others send nothing to that endpoint', async () => {
    const r = await replicas({});
    await sim.clearLog();
    await sim.setFault('deepseek-chat', { kind: 'rate_limit', retryAfterSec: 20, times: 1 });
    const ask = (i: number) => askDeepseek(r.all[i]!);
    const first = await ask(0);
    // Failed over to its fallback after the 429.
    expect(first.response.headers.get('x-switchyard-model')).toBe('gemini-2.5-flash');
    const later = await Promise.all([1, 2, 1, 2, 0, 1, 2].map((i) => ask(i)));
    for (const l of later) expect(l.response.headers.get('x-switchyard-model')).toBe('gemini-2.5-flash');
    const toDeepseek = (await sim.log()).filter((e) => e.model === 'deepseek-chat');
    expect(toDeepseek.map((e) => e.status)).toEqual([429]);
    // Every replica shows the endpoint throttled until the provider's deadline.
    const deadline = toDeepseek[0]!.at + 20_000;
    for (const s of r.all) {
      const ep = await deepseekOn(s);
      expect(ep.state).toBe('throttled');
      expect(Math.abs(Date.parse(ep.retryAt!) - deadline)).toBeLessThan(1500);
    }
  }, 30_000);

  it('a replica that sent nothing shows the cooldown another replica shared (state, retryAt, reason), read on its lease tick', async () => {
    const r = await replicas({}, 2);
    await sim.clearLog();
    await sim.setFault('deepseek-chat', { kind: 'rate_limit', retryAfterSec: 20, times: 1 });
    const first = await askDeepseek(r.all[0]!);
    expect(first.response.headers.get('x-switchyard-model')).toBe('gemini-2.5-flash');
    const deadline = (await sim.log()).find((e) => e.model === 'deepseek-chat')!.at + 20_000;
    const idle = r.all[1]!;
    const ep = await eventually(
      async () => {
        const e = await deepseekOn(idle);
        return e.state === 'throttled' ? e : undefined;
      },
      8_000,
      'the idle replica to show the shared cooldown',
    );
    expect(Math.abs(Date.parse(ep.retryAt!) - deadline)).toBeLessThan(1500);
    expect((ep as unknown as { reason: string }).reason).toMatch(/cooldown shared by the replicas/);
    // It sent nothing: what it shows is the shared deadline, not its own throttle.
    expect((await sim.log()).filter((e) => e.model === 'deepseek-chat')).toHaveLength(1);
  }, 30_000);

  it("a 429's throttle ends in one probe across the replicas: its second 429 throttles them all again before anything else is sent", async () => {
    // One model, no fallback: every request waits for the endpoint.
    const solo = {
      tier: 'fast_cheap',
      price: { inputPerMTok: 0.28, outputPerMTok: 0.42 },
      contextWindow: 128_000,
      capabilities: ['chat'],
      maxOutputTokens: 8192,
      endpoints: [{ provider: 'deepseek', upstreamModel: 'deepseek-chat' }],
    };
    const r = await replicas({ models: { solo }, routing: { strategy: 'cost', routes: {} } }, 2);
    await sim.clearLog();
    await sim.setFault('deepseek-chat', { kind: 'rate_limit', retryAfterSec: 2, times: 2 });
    const ask = (i: number) => r.all[i]!.client.chat.completions.create({ model: 'solo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 });
    const first = ask(0);
    // The first 429 seen, then ten more requests over both replicas while the endpoint is throttled.
    await eventually(async () => ((await sim.log()).some((e) => e.status === 429) ? true : undefined), 5000, 'the first 429');
    const rest = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1].map((i) => ask(i));
    const served = await Promise.all([first, ...rest]);
    expect(served).toHaveLength(11);
    const log = (await sim.log()).filter((e) => e.model === 'deepseek-chat');
    expect(log.map((e) => e.status)).toEqual([429, 429, ...Array<number>(11).fill(200)]);
    // The second call is the probe, alone; after its 429 nothing is sent until that throttle ends (2 s).
    const [, second, third] = log;
    expect(third!.at - second!.at).toBeGreaterThan(1500);
  }, 40_000);

  it('a shared cooldown longer than any upstream wait (24 days, from an older replica) is clamped to one hour for every replica', async () => {
    const r = await replicas({}, 1);
    const redis = new Redis(SHARED_REDIS, { lazyConnect: true });
    try {
      const key = `{${prefixes.at(-1)!}}:cd:deepseek-v3.2@deepseek`;
      const DAYS_24 = 24 * 86_400_000;
      await redis.set(key, String(Date.now() + DAYS_24), 'PX', DAYS_24);
      const res = await r.all[0]!.client.chat.completions.create({
        model: 'deepseek-v3.2',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 10,
      }).withResponse();
      // Honoured (failed over), but for an hour at most: the key itself is clamped.
      expect(res.response.headers.get('x-switchyard-model')).toBe('gemini-2.5-flash');
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3_600_000);
      expect(Number(await redis.get(key))).toBeLessThanOrEqual(Date.now() + 3_600_000 + 1_000);
      const ep = await deepseekOn(r.all[0]!);
      expect(Date.parse(ep.retryAt!)).toBeLessThanOrEqual(Date.now() + 3_600_000 + 1_000);
    } finally {
      redis.disconnect();
    }
  }, 30_000);

  it('circuits stay per replica, but only one replica at a time sends the half-open probe', async () => {
    const r = await replicas(circuit());
    await sim.setFault('deepseek-chat', { kind: 'http_error', status: 500 });
    const ask = (i: number) => askDeepseek(r.all[i]!);
    // One 5xx each: every replica opens its own circuit (a 5xx can be local, so nothing is shared).
    for (const i of [0, 1, 2]) await ask(i);
    for (const s of r.all) expect((await deepseekOn(s)).state).toMatch(/^(circuit-open|half-open)$/);
    // The upstream holds its answers for a while: the probe is still in flight when the others ask.
    await sim.clearFaults();
    await sim.setFault('deepseek-chat', { kind: 'slow_first_token', delayMs: 1500 });
    await sim.clearLog();
    const open = r.all.map(() => true);
    while (open.some(Boolean)) {
      for (const [i, s] of r.all.entries()) open[i] = (await deepseekOn(s)).state !== 'half-open';
      await new Promise((res) => setTimeout(res, 50));
    }
    const answers = await Promise.all([0, 1, 2].map((i) => ask(i)));
    const probes = (await sim.log()).filter((e) => e.model === 'deepseek-chat');
    expect(probes).toHaveLength(1);
    // The others failed over instead of probing too.
    expect(answers.map((a) => a.response.headers.get('x-switchyard-model')).sort()).toEqual(['deepseek-v3.2', 'gemini-2.5-flash', 'gemini-2.5-flash']);

    // A reload cannot move the shared store: refused, the running config stays.
    const s0 = r.all[0]!;
    const cfg = parse(readFileSync(s0.configFile, 'utf8')) as { storage: Record<string, unknown> };
    writeFileSync(s0.configFile, stringify({ ...cfg, storage: { ...cfg.storage, keyPrefix: 'elsewhere' } }));
    const reload = await fetch(`${s0.url}/switchyard/reload`, { method: 'POST' });
    expect(reload.status).toBe(400);
    expect(await reload.text()).toContain('storage.keyPrefix is read at start-up: restart switchyard to change it');
  }, 30_000);
  it("when one replica's half-open probe succeeds, a replica refused the probe slot serves again within seconds, not after requestTimeoutMs", async () => {
    // requestTimeoutMs is the probe slot's TTL: the wait the refused replica had before the fix.
    const r = await replicas(circuit({ requestTimeoutMs: 60_000 }));
    await sim.setFault('deepseek-chat', { kind: 'http_error', status: 500 });
    const ask = (i: number) => askDeepseek(r.all[i]!);
    const stateOf = async (i: number): Promise<string> => (await deepseekOn(r.all[i]!)).state;
    for (const i of [0, 1]) await ask(i);
    await sim.clearFaults();
    await sim.setFault('deepseek-chat', { kind: 'slow_first_token', delayMs: 1500 });
    while ((await stateOf(0)) !== 'half-open' || (await stateOf(1)) !== 'half-open') await new Promise((res) => setTimeout(res, 50));
    // Replica 0 takes the shared probe slot; replica 1, asked while that probe is in flight, is refused it and fails over.
    const probe = ask(0);
    await new Promise((res) => setTimeout(res, 400));
    expect((await ask(1)).response.headers.get('x-switchyard-model')).toBe('gemini-2.5-flash');
    expect((await probe).response.headers.get('x-switchyard-model')).toBe('deepseek-v3.2');
    await sim.clearFaults();
    // The probe succeeded and freed the slot: replica 1 goes to deepseek again within a few seconds.
    const ended = Date.now();
    let model: string | null = null;
    while (Date.now() - ended < 8_000) {
      model = (await ask(1)).response.headers.get('x-switchyard-model');
      if (model === 'deepseek-v3.2') break;
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(model).toBe('deepseek-v3.2');
  }, 30_000);

  it("a replica's own requests racing for the shared probe slot leave its circuit half-open: the probe's failure opens it again (it closed without a verdict)", async () => {
    // failureThreshold above 1: a single failure while wrongly closed would not reopen the circuit.
    const r = await replicas(circuit({ failureThreshold: 2, headersTimeoutMs: 1_000 }), 1);
    const s0 = r.all[0]!;
    const ask = () => askDeepseek(s0);
    const stateOf = async (): Promise<string> => (await deepseekOn(s0)).state;
    await sim.setFault('deepseek-chat', { kind: 'http_error', status: 500 });
    for (let i = 0; i < 2; i++) await ask();
    expect(await stateOf()).toBe('circuit-open');
    // Still broken, now slowly: the probe fails at the headers limit (1 s).
    await sim.clearFaults();
    await sim.setFault('deepseek-chat', { kind: 'hang' });
    while ((await stateOf()) !== 'half-open') await new Promise((res) => setTimeout(res, 50));
    // Several requests at once: one is the probe, the others ask for the slot it holds. The
    // endpoint's state is watched meanwhile: it never leaves half-open but for circuit-open.
    const seen = new Set<string>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        seen.add(await stateOf());
        await new Promise((res) => setTimeout(res, 25));
      }
    })();
    const answers = await Promise.all(Array.from({ length: 6 }, () => ask()));
    watching = false;
    await watch;
    for (const a of answers) expect(a.response.headers.get('x-switchyard-model')).toBe('gemini-2.5-flash');
    // The probe failed: the circuit is open again (half-open once the recovery time passes), never closed.
    seen.add(await stateOf());
    expect([...seen].filter((st) => st !== 'half-open' && st !== 'circuit-open')).toEqual([]);
    expect(seen.has('circuit-open')).toBe(true);
    await sim.clearFaults();
  }, 30_000);
});
