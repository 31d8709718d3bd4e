/**
 * The cascade's opt-in checks and its start at the cheapest tier, through the real sidecar
 * and simulator with the official OpenAI SDK: `confidence` asks for logprobs the client did
 * not ask for and removes them again; `judge` is a step of its own, paid for and recorded.
 */
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CASCADE_CHECKS } from '../../src/config/schema.js';
import { sleep, startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';

const PRICE: Record<string, { input: number; output: number }> = {
  'deepseek-v3.2': { input: 280, output: 420 },
  'gemini-2.5-flash': { input: 300, output: 2_500 },
  'gpt-4.1': { input: 2_000, output: 8_000 },
  'claude-sonnet-4.5': { input: 3_000, output: 15_000 },
};

let sim: SimHandle;
let confident: SidecarHandle;
let judged: SidecarHandle;
let seq = 0;

interface Row {
  request_id: string;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  cost_nano: number;
  step: number;
  quality: string;
  delivered: number;
}

/** Each test's label → the request id switchyard answered with (`x-request-id`, which keys the ledger rows). */
const serverIds = new Map<string, string>();

async function stepsOf(h: SidecarHandle, id: string, count: number): Promise<Row[]> {
  const file = /ledger: sqlite:(\S+)/.exec(readFileSync(h.configFile, 'utf8'))![1]!;
  for (let i = 0; i < 40; i++) {
    const db = new Database(file, { readonly: true });
    const r = db.prepare('select * from ledger where parent_id = ? order by step').all(serverIds.get(id) ?? id) as Row[];
    db.close();
    if (r.length >= count) return r;
    await sleep(25);
  }
  throw new Error(`fewer than ${count} rows for ${id}`);
}
const costOf = (r: Row): number => r.prompt_tokens * PRICE[r.model]!.input + r.completion_tokens * PRICE[r.model]!.output;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 0, tokenGapMs: 0, outputTokens: 10 }, models: { 'gemini-2.5-flash': { fixedAnswer: 'FAIL' } } });
  const routing = { strategy: 'cost' };
  confident = await startSidecar(
    testConfig(sim.url, {
      routing: { ...routing, cascade: { enabled: true, startAt: 'cheapest', checks: [...DEFAULT_CASCADE_CHECKS, 'confidence'], minLogprob: -1 } },
    }),
  );
  judged = await startSidecar(
    testConfig(sim.url, { routing: { ...routing, cascade: { enabled: true, checks: ['empty', 'judge'], judge: { model: 'gemini-2.5-flash' } } } }),
  );
}, 60_000);
afterAll(async () => {
  await Promise.all([confident?.stop(), judged?.stop()]);
  await sim?.stop();
});
beforeEach(async () => {
  await sim.clearFaults();
});

describe('startAt: cheapest', () => {
  it('auto starts at the cheapest adequate model, whatever tier it scored, and stops there when it passes; the dry run says so', async () => {
    const body = { model: 'auto', messages: [{ role: 'user' as const, content: 'Design a distributed rate limiter for a multi-region API gateway' }] };
    const route = async (headers: Record<string, string>) =>
      (await (await fetch(`${confident.url}/switchyard/route`, { method: 'POST', headers, body: JSON.stringify(body) })).json()) as Record<string, unknown>;
    // Scored above fast_cheap (without the cascade it would start there).
    expect((await route({ 'x-switchyard-cascade': 'off' })).tier).not.toBe('fast_cheap');
    const { response } = await confident.client.chat.completions.create(body).withResponse();
    expect(response.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:pass');
    expect(response.headers.get('x-switchyard-reason')).toBe('cascade: cheapest adequate tier fast_cheap');
    expect(await route({})).toMatchObject({
      model: 'deepseek-v3.2',
      reason: 'cascade: cheapest adequate tier fast_cheap',
      cascade: [['deepseek-v3.2', 'gemini-2.5-flash'], ['gpt-4.1'], ['claude-sonnet-4.5']],
    });
  });

  it('a tier the client forced is where it starts, never below (the hint comes first, as with startAt router); the dry run says so', async () => {
    const hq = { 'x-switchyard-tier': 'high_quality' };
    const body = { model: 'auto', messages: [{ role: 'user' as const, content: 'hi' }] };
    const { data, response } = await confident.client.chat.completions.create(body, { headers: hq }).withResponse();
    // The top tier: nothing to escalate to, so it is served as a plain request (no check, no cascade header).
    expect(response.headers.get('x-switchyard-cascade')).toBeNull();
    expect(data.model).toBe('claude-sonnet-4.5');
    expect(response.headers.get('x-switchyard-reason')).toBe('tier forced by x-switchyard-tier: high_quality');
    const dry = (await (await fetch(`${confident.url}/switchyard/route`, { method: 'POST', headers: hq, body: JSON.stringify(body) })).json()) as Record<
      string,
      unknown
    >;
    expect(dry).toMatchObject({ model: 'claude-sonnet-4.5', reason: 'tier forced by x-switchyard-tier: high_quality', cascade: null });
    // One tier below: it starts there, never lower, and may climb.
    const bal = { 'x-switchyard-tier': 'balanced' };
    const { response: r2 } = await confident.client.chat.completions.create(body, { headers: bal }).withResponse();
    expect(r2.headers.get('x-switchyard-cascade')).toBe('gpt-4.1:pass');
    const dry2 = (await (await fetch(`${confident.url}/switchyard/route`, { method: 'POST', headers: bal, body: JSON.stringify(body) })).json()) as Record<
      string,
      unknown
    >;
    expect(dry2).toMatchObject({ model: 'gpt-4.1', reason: 'tier forced by x-switchyard-tier: balanced', cascade: [['gpt-4.1'], ['claude-sonnet-4.5']] });
  });

  it('a request that names a model is served by that model, not the cheapest tier (startAt is for auto)', async () => {
    for (const model of ['gpt-4.1', 'claude-sonnet-4.5']) {
      const { response } = await confident.client.chat.completions
        .create({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 100 })
        .withResponse();
      expect(response.headers.get('x-switchyard-model')).toBe(model);
      expect(response.headers.get('x-switchyard-reason')).toBe(`requested ${model}`);
      expect(response.headers.get('x-switchyard-cascade')).toBe(`${model}:pass`);
    }
  });
});

describe('confidence (opt-in)', () => {
  it("low-logprob answer escalates; the logprobs switchyard asked for are removed, a client's own are kept", async () => {
    for (const clientAsks of [false, true]) {
      for (const stream of [false, true]) {
        await sim.setFault('deepseek-chat', { kind: 'low_logprob', logprob: -2.5, times: 1 });
        const id = `conf-${++seq}`;
        const base = { model: 'auto', messages: [{ role: 'user' as const, content: `q ${id}` }], ...(clientAsks ? { logprobs: true } : {}) };
        const opts = { headers: { 'x-client-request-id': id } };
        let headers: Headers;
        const lps: unknown[] = [];
        if (stream) {
          const { data, response } = await confident.client.chat.completions.create({ ...base, stream: true }, opts).withResponse();
          headers = response.headers;
          serverIds.set(id, response.headers.get('x-request-id')!);
          for await (const c of data) if (c.choices[0]) lps.push(c.choices[0].logprobs ?? null);
        } else {
          const { data, response } = await confident.client.chat.completions.create(base, opts).withResponse();
          headers = response.headers;
          serverIds.set(id, response.headers.get('x-request-id')!);
          lps.push(data.choices[0]!.logprobs ?? null);
        }
        expect(headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:confidence>gpt-4.1:pass');
        const withLp = lps.filter((l) => l !== null);
        if (clientAsks) expect(withLp.length).toBeGreaterThan(0);
        else expect(withLp).toEqual([]);
        expect((await stepsOf(confident, id, 2)).map((r) => r.quality)).toEqual(['confidence', 'pass']);
      }
    }
  });
});

describe('judge (opt-in)', () => {
  it('a judge that says FAIL escalates every tier; each judgement is a paid, recorded step; the last step is not judged (nothing to escalate to); the last answer is delivered', async () => {
    const id = `judge-${++seq}`;
    await sim.clearLog();
    const { data, response } = await judged.client.chat.completions
      .create(
        { model: 'auto', messages: [{ role: 'user', content: 'hello judge' }] },
        { headers: { 'x-client-request-id': id, 'x-switchyard-tier': 'fast_cheap' } },
      )
      .withResponse();
    serverIds.set(id, response.headers.get('x-request-id')!);
    expect(response.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:judge>gpt-4.1:judge>claude-sonnet-4.5:pass');
    expect(response.headers.get('x-switchyard-judge')).toBe('not asked (last step)');
    expect(data.model).toBe('claude-sonnet-4.5');
    const rows = await stepsOf(judged, id, 5);
    expect(rows.map((r) => [r.step, r.model, r.quality, r.delivered])).toEqual([
      [1, 'deepseek-v3.2', 'judge', 0],
      [2, 'gemini-2.5-flash', 'judge:fail', 0],
      [3, 'gpt-4.1', 'judge', 0],
      [4, 'gemini-2.5-flash', 'judge:fail', 0],
      [5, 'claude-sonnet-4.5', 'pass', 1],
    ]);
    // Two judge calls upstream, not three: the last step's would have been paid for and changed nothing.
    const calls = (await sim.log()).map((e) => e.model);
    expect(calls).toEqual(['deepseek-chat', 'gemini-2.5-flash', 'gpt-4.1', 'gemini-2.5-flash', 'claude-sonnet-4-5']);
    expect(calls.filter((m) => m === 'gemini-2.5-flash')).toHaveLength(2);
    const sum = rows.reduce((s, r) => s + costOf(r), 0);
    expect(Math.round(Number(response.headers.get('x-switchyard-cost-usd')) * 1e9)).toBe(sum);
    expect(response.headers.get('x-switchyard-attempts')).toBe('5');
  });

  it('a judge that gives no verdict (its upstream failed) does not escalate, and x-switchyard-judge says no judge approved the answer', async () => {
    await sim.setFault('gemini-2.5-flash', { kind: 'content_policy_violation' });
    try {
      const { response } = await judged.client.chat.completions
        .create({ model: 'auto', messages: [{ role: 'user', content: 'hello unjudged' }] }, { headers: { 'x-switchyard-tier': 'fast_cheap' } })
        .withResponse();
      expect(response.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:pass');
      expect(response.headers.get('x-switchyard-judge')).toMatch(/^unclear \(\S+\)$/);
    } finally {
      await sim.clearFaults();
    }
  });
});

// Last: it leaves confident's fast_cheap endpoints throttled for 30 s.
describe('startAt: cheapest, the cheap tier throttled', () => {
  it('the next step of the ladder answers (the balanced tier), not the tier the request scored (the plain order would jump there)', async () => {
    const body = {
      model: 'auto',
      messages: [{ role: 'user' as const, content: 'Implement a distributed rate limiter for a multi-region API gateway in Python, with unit tests.' }],
    };
    const plain = (await (
      await fetch(`${confident.url}/switchyard/route`, { method: 'POST', headers: { 'x-switchyard-cascade': 'off' }, body: JSON.stringify(body) })
    ).json()) as { tier: string };
    // Scored high_quality: the plain order starts with claude-sonnet-4.5, two tiers up.
    expect(plain.tier).toBe('high_quality');
    await sim.setFault('deepseek-chat', { kind: 'rate_limit', retryAfterSec: 30, times: 1 });
    await sim.setFault('gemini-2.5-flash', { kind: 'rate_limit', retryAfterSec: 30, times: 1 });
    const { response } = await confident.client.chat.completions.create(body, { headers: { 'x-switchyard-timeout-ms': '60000' } }).withResponse();
    expect(response.headers.get('x-switchyard-cascade')).toBe('gemini-2.5-flash:no_endpoint_available>gpt-4.1:pass');
    expect(response.headers.get('x-switchyard-model')).toBe('gpt-4.1');
  });
});
