/**
 * The wire-level fault table: one real-process test per fault class the simulator can inject,
 * through the official OpenAI SDK against the real sidecar and simulator processes. For each:
 * what the client gets on the wire (the whole answer, or a clean bounded error where nothing can
 * rescue it) and, from the simulator's request log, that the upstreams were not hammered
 * (bounded attempts, spaced retries). The variants of each class (the other mode, other
 * statuses, retry-after timing, attempt limits, faults that do not apply to a mode) run in
 * process on a simulated clock in test/runtime/request-driver.test.ts.
 *
 * One simulator and one sidecar for the file. The failure threshold is out of reach here so no
 * circuit opens between tests (circuit breaking has its own sidecar in state.test.ts), and
 * every test starts with every endpoint healthy and idle (throttles set by 429s run out).
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import {
  apiError,
  ask,
  contentOf,
  endpoint,
  expectedAnswer,
  expectNoHammering,
  gaps,
  hits,
  ledgerRow,
  logLines,
  rawStream,
  stateOf,
  waitFor,
  type Reply,
} from './fault-helpers.js';

const OUTPUT_TOKENS = 20;
const RETRY = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 400, maxTotalAttempts: 6 };
const RESILIENCE = {
  failureThreshold: 1000,
  recoveryMs: 60_000,
  requestTimeoutMs: 15_000,
  // Short, so the stall tests are quick; not so short that a healthy answer on a loaded CI host
  // trips them (800 ms did once: a 429 test's retried request was failed over as a stall).
  headersTimeoutMs: 1500,
  firstTokenTimeoutMs: 1500,
  idleTimeoutMs: 1000,
  maxRetryAfterMs: 1000,
  retry: RETRY,
};
/** The smallest delay of the first quick retry (equal jitter: half of baseDelayMs at least). */
const MIN_BACKOFF = RETRY.baseDelayMs / 2;

// Upstream model names (fault keys) and the endpoints / catalogue models they belong to.
const GPT = 'gpt-4.1';
const CLAUDE_UP = 'claude-sonnet-4-5';
const CLAUDE = 'claude-sonnet-4.5';
const DEEPSEEK_UP = 'deepseek-chat';
const DEEPSEEK = 'deepseek-v3.2';
const GEMINI = 'gemini-2.5-flash';
const LOCKED_UP = 'gpt-locked';
const SOLO = 'solo';
const SOLO_UP = 'solo-up';
const EP = { gpt: 'gpt-4.1@openai', claude: 'claude-sonnet-4.5@anthropic', deepseek: 'deepseek-v3.2@deepseek', gemini: 'gemini-2.5-flash@gemini' };

/** A requested model and the fallback the test config gives it. */
interface Pair {
  model: string;
  up: string;
  ep: string;
  fallback: string;
  fallbackUp: string;
  fallbackEp: string;
}
const PAIRS: Record<'gpt' | 'claude' | 'deepseek' | 'gemini', Pair> = {
  gpt: { model: GPT, up: GPT, ep: EP.gpt, fallback: CLAUDE, fallbackUp: CLAUDE_UP, fallbackEp: EP.claude },
  claude: { model: CLAUDE, up: CLAUDE_UP, ep: EP.claude, fallback: GPT, fallbackUp: GPT, fallbackEp: EP.gpt },
  deepseek: { model: DEEPSEEK, up: DEEPSEEK_UP, ep: EP.deepseek, fallback: GEMINI, fallbackUp: GEMINI, fallbackEp: EP.gemini },
  gemini: { model: GEMINI, up: GEMINI, ep: EP.gemini, fallback: DEEPSEEK, fallbackUp: DEEPSEEK_UP, fallbackEp: EP.deepseek },
};

let sim: SimHandle;
let sc: SidecarHandle;
let ledgerFile: string;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 2, outputTokens: OUTPUT_TOKENS }, models: { [LOCKED_UP]: { requireAuth: true } } });
  const cfg = testConfig(sim.url, { resilience: RESILIENCE });
  // An endpoint whose provider has no key: the upstream answers 401.
  (cfg.providers as Record<string, unknown>)['openai-nokey'] = { kind: 'openai', baseUrl: `${sim.url}/openai/v1` };
  (cfg.models as Record<string, unknown>)['locked-gpt'] = {
    tier: 'balanced',
    price: { inputPerMTok: 2, outputPerMTok: 8 },
    contextWindow: 1_047_576,
    capabilities: ['chat'],
    latencyPriorMs: 600,
    fallbacks: [CLAUDE],
    endpoints: [{ provider: 'openai-nokey', upstreamModel: LOCKED_UP }],
  };
  // A model with one endpoint and no fallback.
  (cfg.models as Record<string, unknown>)[SOLO] = {
    tier: 'balanced',
    price: { inputPerMTok: 0.28, outputPerMTok: 0.42 },
    contextWindow: 128_000,
    capabilities: ['chat'],
    latencyPriorMs: 100,
    endpoints: [{ provider: 'deepseek', upstreamModel: SOLO_UP }],
  };
  ledgerFile = String((cfg.storage as { ledger: string }).ledger).slice('sqlite:'.length);
  sc = await startSidecar(cfg);
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

beforeEach(async () => {
  await sim.clearFaults();
  await sim.clearLog();
});

/** Wait until these endpoints are healthy and idle (a 429 of an earlier test throttles one for a while). */
async function ready(...ids: string[]): Promise<void> {
  await waitFor(
    `${ids.join(', ')} healthy`,
    () => stateOf(sc),
    (s) => ids.every((id) => s.endpoints.some((e) => e.id === id && e.state === 'healthy' && e.inFlight === 0)),
  );
  await sim.clearLog();
}

let n = 0;
/** A prompt of its own for every request (answers are deterministic per prompt). */
const prompt = (what: string): string => `resilience test ${++n}: ${what}`;

function expectWhole(r: Reply, p: string, model: string): void {
  expect(r.error, String(r.error)).toBeNull();
  expect(r.ok).toBe(true);
  expect(r.text).toBe(expectedAnswer(p, OUTPUT_TOKENS));
  expect(r.finish).toBe('stop');
  expect(new Set(r.models)).toEqual(new Set([model]));
  expect(new Set(r.ids).size).toBe(1);
  expect(r.headers?.get('x-switchyard-model')).toBe(model);
}

const bounded = async (minGapMs = 0) => {
  const log = await sim.log();
  expectNoHammering(log, RETRY, minGapMs);
  return log;
};

/** A Prometheus sample's value from /metrics (0 when absent). */
async function counter(sample: string): Promise<number> {
  const text = await (await fetch(`${sc.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

interface Row {
  fault: string;
  name: string;
  run: () => Promise<void>;
}

const TABLE: Row[] = [
  {
    fault: 'http_error',
    name: '503 persistent (streaming): one quick retry after the backoff, then the fallback model answers',
    run: async () => {
      const before = await counter(`switchyard_failovers_total{endpoint="${EP.gpt}"}`);
      await sim.setFault(GPT, { kind: 'http_error', status: 503 });
      const p = prompt('503 persistent');
      const r = await ask(sc, GPT, p, { stream: true });
      expectWhole(r, p, CLAUDE);
      expect(r.headers?.get('x-switchyard-endpoint')).toBe(EP.claude);
      expect(r.headers?.get('x-switchyard-attempts')).toBe('3');
      // Why another model answered: the reason names the fail-over, not only "requested gpt-4.1".
      expect(r.headers?.get('x-switchyard-reason')).toBe(`requested ${GPT}; failed over from ${GPT}: served by ${CLAUDE}`);
      const log = await bounded(MIN_BACKOFF);
      expect(hits(log, GPT).map((e) => e.status)).toEqual([503, 503]);
      expect(hits(log, CLAUDE_UP).map((e) => e.status)).toEqual([200]);
      // One fail-over (the quick retry on the same endpoint is not one).
      expect((await counter(`switchyard_failovers_total{endpoint="${EP.gpt}"}`)) - before).toBe(1);
    },
  },
  {
    fault: 'http_error',
    name: '503 on the model and its fallback (JSON): 502, and the reason names the fail-over without calling the last candidate the one that served',
    run: async () => {
      await sim.setFault(GPT, { kind: 'http_error', status: 503 });
      await sim.setFault(CLAUDE_UP, { kind: 'http_error', status: 503 });
      const r = await ask(sc, GPT, prompt('503 everywhere'), { stream: false });
      expect(r.error).toBeInstanceOf(OpenAI.APIError);
      const e = r.error as InstanceType<typeof OpenAI.APIError>;
      expect([e.status, e.code]).toEqual([502, 'upstream_error']);
      expect(e.headers?.get('x-switchyard-model')).toBe(CLAUDE);
      expect(e.headers?.get('x-switchyard-reason')).toBe(`requested ${GPT}; failed over from ${GPT}: nothing served (last candidate ${CLAUDE})`);
    },
  },
  {
    fault: 'http_error',
    name: '503 on a model with no fallback, and on the one model a cost cap leaves: the reason says nothing served it',
    run: async () => {
      await sim.setFault(SOLO_UP, { kind: 'http_error', status: 503 });
      const solo = (await ask(sc, SOLO, prompt('503 alone'), { stream: false })).error as InstanceType<typeof OpenAI.APIError>;
      expect([solo.status, solo.code]).toEqual([502, 'upstream_error']);
      expect(solo.headers?.get('x-switchyard-reason')).toBe(`requested ${SOLO}; nothing served (last candidate ${SOLO})`);
      // Claude's worst case (64,000 output tokens at $15/M: ~$0.96) is over the cap, gpt-4.1's (~$0.26) is not.
      await sim.setFault(GPT, { kind: 'http_error', status: 503 });
      const capped = (await ask(sc, CLAUDE, prompt('503 under a cap'), { stream: false, headers: { 'x-switchyard-max-cost-usd': '0.5' } }))
        .error as InstanceType<typeof OpenAI.APIError>;
      expect([capped.status, capped.code]).toEqual([502, 'upstream_error']);
      expect(capped.headers?.get('x-switchyard-reason')).toBe(
        `requested ${CLAUDE}; ${CLAUDE} over x-switchyard-max-cost-usd; nothing served (last candidate ${GPT})`,
      );
    },
  },
  {
    fault: 'reset',
    name: 'connection closed before headers (streaming): one quick retry on the same endpoint',
    run: async () => {
      await sim.setFault(GPT, { kind: 'reset', times: 1 });
      const p = prompt('reset');
      const r = await ask(sc, GPT, p, { stream: true });
      expectWhole(r, p, GPT);
      expect(r.headers?.get('x-switchyard-attempts')).toBe('2');
      const log = await bounded(MIN_BACKOFF);
      expect(hits(log, GPT).map((e) => e.fault)).toEqual(['reset', null]);
    },
  },
  {
    fault: 'hang',
    name: 'no response headers: cut by the time limit, failed over, never retried on the same endpoint',
    run: async () => {
      await sim.setFault(GPT, { kind: 'hang' });
      const p = prompt('hang');
      const sent = Date.now();
      const r = await ask(sc, GPT, p, { stream: true });
      expectWhole(r, p, CLAUDE);
      const log = await bounded();
      expect(hits(log, GPT)).toHaveLength(1);
      expect(hits(log, CLAUDE_UP)).toHaveLength(1);
      // The fallback was asked only once the time limit cut the hung attempt (the limit runs
      // from dispatch, so it is measured from when the client sent the request).
      expect(hits(log, CLAUDE_UP)[0]!.at - sent).toBeGreaterThanOrEqual(Math.min(RESILIENCE.headersTimeoutMs, RESILIENCE.firstTokenTimeoutMs));
    },
  },
  {
    fault: 'slow_first_token',
    name: 'beyond firstTokenTimeoutMs (streaming) and headersTimeoutMs (JSON): failed over invisibly, one clean whole answer',
    run: async () => {
      await sim.setFault(GPT, { kind: 'slow_first_token', delayMs: 5000 });
      const p = prompt('slow first token');
      const raw = await rawStream(sc, { model: GPT, messages: [{ role: 'user', content: p }] });
      expect(raw.status).toBe(200);
      expect(contentOf(raw.events)).toBe(expectedAnswer(p, OUTPUT_TOKENS));
      // One role chunk only: nothing of the abandoned attempt leaked.
      expect(raw.events.filter((e) => e.includes('"role"'))).toHaveLength(1);
      expect(raw.events.at(-1)).toBe('[DONE]');
      expect(raw.headers.get('x-switchyard-model')).toBe(CLAUDE);
      expect(hits(await bounded(), GPT)).toHaveLength(1);

      await sim.clearLog();
      const p2 = prompt('slow json');
      expectWhole(await ask(sc, GPT, p2, { stream: false }), p2, CLAUDE);
      const log = await bounded();
      expect(hits(log, GPT)).toHaveLength(1);
      expect(hits(log, CLAUDE_UP)).toHaveLength(1);
    },
  },
  {
    fault: 'cut',
    name: 'mid-stream: continued on a prefill-capable model, the client gets exactly the whole answer once',
    run: async () => {
      await sim.setFault(GPT, { kind: 'cut', afterTokens: 6 });
      const p = prompt('cut mid-stream');
      const r = await ask(sc, GPT, p, { stream: true, includeUsage: true });
      expect(r.error, String(r.error)).toBeNull();
      expect(r.text).toBe(expectedAnswer(p, OUTPUT_TOKENS));
      expect(r.finish).toBe('stop');
      // The stream committed on gpt-4.1: its headers and every chunk (the usage chunk included)
      // keep naming the model that started it; one id throughout.
      expect(r.headers?.get('x-switchyard-model')).toBe(GPT);
      expect(new Set(r.models)).toEqual(new Set([GPT]));
      expect(new Set(r.ids).size).toBe(1);
      expect(r.usage?.completion_tokens).toBeGreaterThanOrEqual(OUTPUT_TOKENS);
      const log = await bounded();
      expect(hits(log, GPT)).toHaveLength(1);
      const cont = hits(log, CLAUDE_UP);
      expect(cont).toHaveLength(1);
      expect(cont[0]!.prefill).toBe(true);
      expect(cont[0]!.status).toBe(200);
      // The prompt went upstream twice (the cut attempt and the continuation) and both were
      // billed: the row's prompt tokens are both parts', as its cost is (it kept the last part's).
      await sim.clearFaults();
      const whole = await ask(sc, GPT, p, { stream: true });
      expect(hits(await sim.log(), CLAUDE_UP)).toHaveLength(1);
      const once = Number(ledgerRow(ledgerFile, whole.headers!.get('x-request-id')!)?.prompt_tokens);
      const twice = Number(ledgerRow(ledgerFile, r.headers!.get('x-request-id')!)?.prompt_tokens);
      expect(once).toBeGreaterThan(0);
      expect(twice).toBeGreaterThanOrEqual(2 * once - 2);
      expect(r.usage?.prompt_tokens).toBe(twice);

      // On the wire: one role chunk, one finish, one [DONE] at the end, nothing twice.
      await sim.setFault(GPT, { kind: 'cut', afterTokens: 6 });
      const raw = await rawStream(sc, { model: GPT, messages: [{ role: 'user', content: p }] });
      expect(contentOf(raw.events)).toBe(expectedAnswer(p, OUTPUT_TOKENS));
      expect(raw.events.filter((e) => e.includes('"role"'))).toHaveLength(1);
      expect(raw.events.filter((e) => /"finish_reason":"/.test(e))).toHaveLength(1);
      expect(raw.events.filter((e) => e === '[DONE]')).toHaveLength(1);
      expect(raw.events.at(-1)).toBe('[DONE]');
    },
  },
  {
    fault: 'cut',
    name: 'mid-stream, with the continuation over x-switchyard-max-cost-usd: the in-band error names the refusal for money, not only the cut',
    run: async () => {
      const p = prompt('cut under a cap');
      // gpt-4.1's own worst case, from the refusal of a cap it cannot meet; claude's continuation costs more than 1.05 × it.
      const refused = await ask(sc, GPT, p, { stream: true, headers: { 'x-switchyard-max-cost-usd': '0.000000001' } });
      const worst = Number(/on gpt-4\.1 \(\$([0-9.]+)\)/.exec(String((refused.error as Error).message))![1]);
      await sim.setFault(GPT, { kind: 'cut', afterTokens: 6 });
      const r = await ask(sc, GPT, p, { stream: true, headers: { 'x-switchyard-max-cost-usd': (worst * 1.05).toFixed(9) } });
      expect(r.error).toBeInstanceOf(OpenAI.APIError);
      const message = String((r.error as Error).message);
      expect(message).toMatch(
        /upstream failed on every attempt \(1\); last: stream_cut: .*; another model was refused for money: worst-case cost of this request on claude-sonnet-4\.5, earlier attempts included \(\$[0-9.]+\) exceeds x-switchyard-max-cost-usd/,
      );
      expect(hits(await sim.log(), CLAUDE_UP)).toHaveLength(0);
    },
  },
  {
    fault: 'stall',
    name: 'mid-stream the idle limit cuts it and it is continued; a stalled JSON body is failed over',
    run: async () => {
      await sim.setFault(GPT, { kind: 'stall', afterTokens: 6 });
      const p = prompt('stall');
      expectWhole(await ask(sc, GPT, p, { stream: true }), p, GPT);
      let log = await bounded();
      expect(hits(log, GPT)).toHaveLength(1);
      expect(hits(log, CLAUDE_UP).map((e) => e.prefill)).toEqual([true]);
      expect(hits(log, CLAUDE_UP)[0]!.at - hits(log, GPT)[0]!.at).toBeGreaterThanOrEqual(RESILIENCE.idleTimeoutMs);

      await sim.clearLog();
      const p2 = prompt('stall json');
      expectWhole(await ask(sc, GPT, p2, { stream: false }), p2, CLAUDE);
      log = await bounded();
      expect(hits(log, GPT)).toHaveLength(1);
      expect(hits(log, CLAUDE_UP)).toHaveLength(1);
    },
  },
  {
    fault: 'malformed_chunk',
    name: 'the broken event is dropped, not forwarded, the answer is complete',
    run: async () => {
      await sim.setFault(GPT, { kind: 'malformed_chunk', afterTokens: 5 });
      const p = prompt('malformed');
      const raw = await rawStream(sc, { model: GPT, messages: [{ role: 'user', content: p }] });
      expect(raw.status).toBe(200);
      expect(raw.raw).not.toContain('this is not json');
      for (const e of raw.events) if (e !== '[DONE]') expect(() => JSON.parse(e) as unknown).not.toThrow();
      expect(contentOf(raw.events)).toBe(expectedAnswer(p, OUTPUT_TOKENS));
      expect(raw.events.at(-1)).toBe('[DONE]');
      expect((await bounded()).map((e) => e.fault)).toEqual(['malformed_chunk']);
    },
  },
  {
    fault: 'no_done',
    name: 'a stream without [DONE]: finalised with usage, the client gets [DONE], the ledger row exact',
    run: async () => {
      await sim.setFault(GPT, { kind: 'no_done' });
      const p = prompt('no done');
      const raw = await rawStream(sc, { model: GPT, messages: [{ role: 'user', content: p }], stream_options: { include_usage: true } });
      expect(raw.status).toBe(200);
      expect(contentOf(raw.events)).toBe(expectedAnswer(p, OUTPUT_TOKENS));
      expect(raw.events.at(-1)).toBe('[DONE]');
      const usage = JSON.parse(raw.events.at(-2)!) as { usage?: { completion_tokens: number } };
      expect(usage.usage?.completion_tokens).toBe(OUTPUT_TOKENS);
      const row = ledgerRow(ledgerFile, raw.headers.get('x-request-id')!);
      expect(row?.estimated).toBe(0);
      expect(row?.completion_tokens).toBe(OUTPUT_TOKENS);
      expect((await bounded()).map((e) => e.fault)).toEqual(['no_done']);
    },
  },
  {
    fault: 'no_usage',
    name: 'the answer is fine, the ledger row is estimated (streaming)',
    run: async () => {
      await sim.setFault(GPT, { kind: 'no_usage' });
      const p = prompt('no usage');
      const r = await ask(sc, GPT, p, { stream: true });
      expectWhole(r, p, GPT);
      const row = ledgerRow(ledgerFile, r.headers!.get('x-request-id')!);
      expect(row).toBeDefined();
      expect(row!.estimated).toBe(1);
      expect(row!.completion_tokens).toBeGreaterThan(0);
      expect(row!.cost_nano).toBeGreaterThan(0);
      expect((await bounded()).map((e) => e.fault)).toEqual(['no_usage']);
    },
  },
  {
    fault: 'context_length_exceeded',
    name: 'fails over to a model with a larger context window; the endpoint stays healthy',
    run: async () => {
      await sim.setFault(DEEPSEEK_UP, { kind: 'context_length_exceeded' });
      const p = prompt('context larger');
      expectWhole(await ask(sc, DEEPSEEK, p, { stream: true }), p, GEMINI);
      const log = await bounded();
      expect(hits(log, DEEPSEEK_UP).map((e) => e.status)).toEqual([400]);
      expect(hits(log, GEMINI)).toHaveLength(1);
      // A client-side error says nothing about the endpoint's health.
      const ep = await endpoint(sc, EP.deepseek);
      expect(ep.state).toBe('healthy');
      expect(ep.consecutiveFailures).toBe(0);
    },
  },
  {
    fault: 'content_policy_violation',
    name: "no retry (streaming): the provider's message and code reach the client",
    run: async () => {
      await sim.setFault(GPT, { kind: 'content_policy_violation' });
      const r = await ask(sc, GPT, prompt('policy'), { stream: true });
      const e = apiError(r.error);
      expect(e).toBeInstanceOf(OpenAI.BadRequestError);
      expect(e.status).toBe(400);
      expect(e.code).toBe('content_policy_violation');
      expect(e.message).toMatch(/rejected as a result of our safety system/);
      const log = await bounded();
      expect(log).toHaveLength(1);
      expect(hits(log, CLAUDE_UP)).toHaveLength(0);
    },
  },
  {
    fault: 'stream_error_event',
    name: 'after the first token with no prefill-capable candidate: an in-band error event, no [DONE], never a clean finish',
    run: async () => {
      await sim.setFault(DEEPSEEK_UP, { kind: 'stream_error_event', afterTokens: 7 });
      const p = prompt('stream error no prefill');
      const r = await ask(sc, DEEPSEEK, p, { stream: true });
      expect(r.ok).toBe(false);
      apiError(r.error);
      expect(r.finish).toBeNull();
      const full = expectedAnswer(p, OUTPUT_TOKENS);
      expect(r.text.length).toBeGreaterThan(0);
      expect(full.startsWith(r.text)).toBe(true);
      expect(r.text).not.toBe(full);
      const log = await bounded();
      expect(hits(log, DEEPSEEK_UP)).toHaveLength(1);
      // gemini-2.5-flash cannot take a prefill: it is not asked to continue.
      expect(hits(log, GEMINI)).toHaveLength(0);

      // On the wire: an error event and no [DONE].
      await sim.setFault(DEEPSEEK_UP, { kind: 'stream_error_event', afterTokens: 7 });
      const raw = await rawStream(sc, { model: DEEPSEEK, messages: [{ role: 'user', content: p }] });
      expect(raw.events).not.toContain('[DONE]');
      const last = JSON.parse(raw.events.at(-1)!) as { error?: { code?: string } };
      expect(last.error?.code).toBe('upstream_error');
      expect(raw.raw).not.toContain('"finish_reason":"stop"');
      // The ledger's status is the status line the client got (200), the failure its error_code (README "Money").
      expect(raw.status).toBe(200);
      expect(ledgerRow(ledgerFile, raw.headers.get('x-request-id')!)).toMatchObject({ status: 200, error_code: 'upstream_error', stream: 1 });
    },
  },
  {
    fault: 'http 401',
    name: 'a provider without a key: fails over and logs one error naming the endpoint',
    run: async () => {
      const p = prompt('401');
      const r = await ask(sc, 'locked-gpt', p, { stream: true });
      expectWhole(r, p, CLAUDE);
      const log = await bounded();
      expect(hits(log, LOCKED_UP).map((e) => [e.status, e.authPresent])).toEqual([[401, false]]);
      expect(hits(log, CLAUDE_UP)).toHaveLength(1);
      const requestId = r.headers!.get('x-request-id');
      // Log lines reach stdout asynchronously: wait for the line, then check there is one.
      const loudOf = () => logLines(sc).filter((l) => l.requestId === requestId && l.level === 50);
      await waitFor(
        'the error line of the 401',
        async () => loudOf().length,
        (n) => n >= 1,
      );
      const loud = loudOf();
      expect(loud).toHaveLength(1);
      expect(String(loud[0]!.msg)).toContain('locked-gpt@openai-nokey');
      expect(loud[0]!.endpoint).toBe('locked-gpt@openai-nokey');
    },
  },
  {
    fault: 'ratelimit_headers_exhausted',
    name: 'x-ratelimit-remaining 0 throttles the endpoint before any 429',
    run: async () => {
      const pair = PAIRS.gpt;
      await ready(pair.ep, pair.fallbackEp);
      await sim.setFault(pair.up, { kind: 'ratelimit_headers_exhausted', resetSec: 2, times: 1 });
      const p = prompt('exhausted');
      const sent = Date.now();
      expectWhole(await ask(sc, pair.model, p, { stream: false }), p, pair.model);
      const ep = await endpoint(sc, pair.ep);
      expect(ep.state).toBe('throttled');
      expect(ep.retryAt).not.toBeNull();
      expect(Date.parse(ep.retryAt!)).toBeGreaterThanOrEqual(sent + 2000);
      // The next request goes to the fallback without touching the exhausted endpoint.
      await sim.clearLog();
      const skipped = await ask(sc, pair.model, p, { stream: false });
      expectWhole(skipped, p, pair.fallback);
      expect(skipped.headers?.get('x-switchyard-reason')).toBe(
        `requested ${pair.model}; ${pair.model} throttled (x-ratelimit-remaining 0): served by ${pair.fallback}`,
      );
      const log = await sim.log();
      expect(hits(log, pair.up)).toHaveLength(0);
      expect(log.some((e) => e.status === 429)).toBe(false);
    },
  },
  {
    fault: 'rate_limit',
    name: 'a 429 with only retry-after-ms (OpenAI, Azure), JSON: the same endpoint is asked again after it, no fail-over',
    run: async () => {
      const pair = PAIRS.gpt;
      await ready(pair.ep, pair.fallbackEp);
      await sim.setFault(pair.up, { kind: 'rate_limit', retryAfterMs: 300, times: 1 });
      const p = prompt('429 retry-after-ms');
      const r = await ask(sc, pair.model, p, { stream: false });
      expectWhole(r, p, pair.model);
      expect(r.headers?.get('x-switchyard-attempts')).toBe('2');
      expect(ledgerRow(ledgerFile, r.headers!.get('x-request-id')!)?.attempts).toBe(2);
      const log = await bounded();
      const mine = hits(log, pair.up);
      expect(mine.map((e) => e.status)).toEqual([429, 200]);
      expect(gaps(mine)[0]).toBeGreaterThanOrEqual(300);
      expect(hits(log, pair.fallbackUp)).toHaveLength(0);
    },
  },
  {
    fault: 'rate_limit',
    name: 'a 429 with a long retry-after on a model with nothing to fail over to (streaming): it waits for the throttle, then the same endpoint answers',
    run: async () => {
      await ready(`${SOLO}@deepseek`);
      await sim.setFault(SOLO_UP, { kind: 'rate_limit', retryAfterSec: 2, times: 1 });
      const p = prompt('429 long solo');
      const r = await ask(sc, SOLO, p, { stream: true });
      expectWhole(r, p, SOLO);
      expect(r.headers?.get('x-switchyard-attempts')).toBe('2');
      expect(ledgerRow(ledgerFile, r.headers!.get('x-request-id')!)?.attempts).toBe(2);
      const mine = hits(await bounded(), SOLO_UP);
      expect(mine.map((e) => e.status)).toEqual([429, 200]);
      expect(gaps(mine)[0]).toBeGreaterThanOrEqual(2000);
    },
  },
  {
    fault: 'rate_limit',
    name: 'a 429 with a long retry-after (Anthropic wire, streaming): immediate fail-over, the endpoint left alone until then',
    run: async () => {
      const pair = PAIRS.claude;
      await ready(pair.ep, pair.fallbackEp);
      await sim.setFault(pair.up, { kind: 'rate_limit', retryAfterSec: 2 });
      const p = prompt('429 long');
      const before = Date.now();
      expectWhole(await ask(sc, pair.model, p, { stream: true }), p, pair.fallback);
      const log = await bounded();
      expect(hits(log, pair.up).map((e) => e.status)).toEqual([429]);
      expect(hits(log, pair.fallbackUp)).toHaveLength(1);
      const ep = await endpoint(sc, pair.ep);
      expect(ep.state).toBe('throttled');
      expect(Date.parse(ep.retryAt!)).toBeGreaterThanOrEqual(before + 2000);
      // While throttled, a new request does not touch it.
      await sim.clearLog();
      expectWhole(await ask(sc, pair.model, p, { stream: true }), p, pair.fallback);
      expect(hits(await sim.log(), pair.up)).toHaveLength(0);
    },
  },
  ...(['gpt', 'claude'] as const).map((which) => ({
    fault: 'http_error',
    name: `a ${which === 'gpt' ? "503 'slow down' (OpenAI wire)" : '529 overloaded_error (Anthropic wire)'} with a long retry-after: fail-over, the endpoint held back (throttled) until then, as after a 429`,
    run: async () => {
      const pair = PAIRS[which];
      await ready(pair.ep, pair.fallbackEp);
      await sim.setFault(pair.up, { kind: 'http_error', status: which === 'gpt' ? 503 : 529, retryAfterSec: 2 });
      const p = prompt(`overloaded long ${which}`);
      const before = Date.now();
      expectWhole(await ask(sc, pair.model, p, { stream: false }), p, pair.fallback);
      expect(hits(await bounded(), pair.up)).toHaveLength(1);
      const ep = await endpoint(sc, pair.ep);
      expect(ep.state).toBe('throttled');
      expect(Date.parse(ep.retryAt!)).toBeGreaterThanOrEqual(before + 2000);
      // While held back, a new request does not touch it (it met the overloaded upstream again, every time).
      await sim.clearLog();
      const again = await ask(sc, pair.model, p, { stream: true });
      expectWhole(again, p, pair.fallback);
      expect(hits(await sim.log(), pair.up)).toHaveLength(0);
      expect(again.headers?.get('x-switchyard-reason')).toContain(`${pair.model} throttled (upstream overloaded)`);
    },
  })),
];

describe('the wire-level fault table (one real-process test per fault class)', () => {
  for (const row of TABLE) it(`${row.fault}: ${row.name}`, row.run);
});

describe("Anthropic's overloaded_error as a stream's first event (its 529, in a 200)", () => {
  for (const api of ['messages', 'chat'] as const)
    it(`gets the 529's one quick retry on the endpoint, not a fail-over at once (${api}; it went to the fallback, or with none a 502)`, async () => {
      await ready(EP.claude, EP.gpt);
      await sim.setFault(CLAUDE_UP, { kind: 'stream_error_event', afterTokens: 0, times: 1 });
      let model: string;
      let text: string;
      if (api === 'messages') {
        const client = new Anthropic({ baseURL: sc.url, apiKey: 'x', maxRetries: 0 });
        const msg = await client.messages.stream({ model: CLAUDE, max_tokens: 100, messages: [{ role: 'user', content: 'hello there' }] }).finalMessage();
        model = msg.model;
        text = msg.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
      } else {
        const r = await ask(sc, CLAUDE, 'hello there', { stream: true });
        expect(r.error).toBeNull();
        model = r.models[0]!;
        text = r.text;
      }
      expect(model).toBe(CLAUDE);
      expect(text).toBe(expectedAnswer('hello there', OUTPUT_TOKENS));
      expect(hits(await sim.log(), CLAUDE_UP).map((e) => e.fault)).toEqual(['stream_error_event', null]);
      expect(hits(await sim.log(), GPT)).toEqual([]);
    });
});

describe('the state view after an overload throttle (a 503 with retry-after) ends', () => {
  it('says why one request probes first without calling it a 429', async () => {
    const id = `${SOLO}@deepseek`;
    await ready(id);
    await sim.setFault(SOLO_UP, { kind: 'http_error', status: 503, retryAfterMs: 1500, times: 1 });
    // A deadline before the overload's end: the 502 at once (with time for it, the request would wait and be served).
    const r = await ask(sc, SOLO, prompt('overload state'), { stream: false, headers: { 'x-switchyard-timeout-ms': '1200' } });
    expect(apiError(r.error).status).toBe(502);
    expect(await endpoint(sc, id)).toMatchObject({ state: 'throttled', reason: 'upstream overloaded' });
    const after = await waitFor(
      'healthy after the overload',
      () => endpoint(sc, id),
      (e) => e.state === 'healthy',
    );
    // It said 'after upstream 429: one request probes first': no 429 was ever answered.
    expect(after.reason).toBe('after an upstream 429 or overload: one request probes first');
  });
});

describe("an OpenAI-kind upstream's 503 overload on /v1/messages", () => {
  it("is Anthropic's 529 overloaded_error (the SDK's OverloadedError), JSON and stream; chat keeps its 502 upstream_error", async () => {
    await ready(`${SOLO}@deepseek`);
    await sim.setFault(SOLO_UP, { kind: 'http_error', status: 503, message: 'Slow Down' });
    const client = new Anthropic({ baseURL: sc.url, apiKey: 'x', maxRetries: 0 });
    const asks = [
      () => client.messages.create({ model: SOLO, max_tokens: 50, messages: [{ role: 'user', content: prompt('overload messages') }] }),
      () => client.messages.stream({ model: SOLO, max_tokens: 50, messages: [{ role: 'user', content: prompt('overload messages stream') }] }).finalMessage(),
    ];
    for (const send of asks) {
      const err: unknown = await send().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Anthropic.APIError);
      const e = err as InstanceType<typeof Anthropic.APIError>;
      // It was a 502 typed api_error: the SDK's InternalServerError, with nothing saying overload.
      expect(e.status).toBe(529);
      expect(e).toBeInstanceOf(Anthropic.OverloadedError);
      expect(e.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
      expect(e.headers?.get('x-switchyard-error-code')).toBe('upstream_error');
    }
    const chat = apiError((await ask(sc, SOLO, prompt('overload chat'), { stream: false })).error);
    expect([chat.status, chat.code]).toEqual([502, 'upstream_error']);
  });
});

describe('/v1/messages while its endpoint is held back after an overload (a 503 or 529 with retry-after)', () => {
  it("the next request is Anthropic's 529 overloaded_error too, as the one that met the overload (it was a 503: the SDK's ServiceUnavailableError); chat keeps its 503", async () => {
    const id = `${SOLO}@deepseek`;
    await ready(id);
    await sim.setFault(SOLO_UP, { kind: 'http_error', status: 503, message: 'Slow Down', retryAfterSec: 3, times: 1 });
    // A deadline shorter than the throttle: the request does not wait it out.
    const client = new Anthropic({ baseURL: sc.url, apiKey: 'x', maxRetries: 0, defaultHeaders: { 'x-switchyard-timeout-ms': '1000' } });
    const failed = (p: Promise<unknown>) =>
      p.then(
        () => null,
        (e: unknown) => e as InstanceType<typeof Anthropic.APIError>,
      );
    const first = await failed(client.messages.create({ model: SOLO, max_tokens: 50, messages: [{ role: 'user', content: prompt('overload held 1') }] }));
    expect(first).toBeInstanceOf(Anthropic.OverloadedError);
    expect(await endpoint(sc, id)).toMatchObject({ state: 'throttled', reason: 'upstream overloaded' });
    const again = [
      await failed(client.messages.create({ model: SOLO, max_tokens: 50, messages: [{ role: 'user', content: prompt('overload held 2') }] })),
      await failed(client.messages.stream({ model: SOLO, max_tokens: 50, messages: [{ role: 'user', content: prompt('overload held 3') }] }).finalMessage()),
    ];
    for (const e of again) {
      expect(e).toBeInstanceOf(Anthropic.OverloadedError);
      expect(e?.status).toBe(529);
      expect(e?.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
      expect(e?.headers?.get('x-switchyard-error-code')).toBe('no_endpoint_available');
      expect(Number(e?.headers?.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(hits(await sim.log(), SOLO_UP)).toHaveLength(1);
    const chat = apiError((await ask(sc, SOLO, prompt('overload held chat'), { stream: false, headers: { 'x-switchyard-timeout-ms': '1000' } })).error);
    expect([chat.status, chat.code]).toEqual([503, 'no_endpoint_available']);
  });
});

describe("a continued stream keeps the client's max_tokens", () => {
  it('the continuation is asked only for what is left, so the whole answer stays within max_tokens', async () => {
    await ready(EP.gpt, EP.claude);
    const MAX = 10;
    await sim.setFault(GPT, { kind: 'cut', afterTokens: 6 });
    const p = prompt('cut under max_tokens');
    const raw = await rawStream(sc, { model: GPT, max_tokens: MAX, messages: [{ role: 'user', content: p }] });
    expect(raw.status).toBe(200);
    const cont = hits(await sim.log(), CLAUDE_UP);
    expect(cont.map((e) => e.prefill)).toEqual([true]);
    const text = contentOf(raw.events);
    // One simulator token per word: the answer so far plus the continuation, at most MAX of them.
    const words = text.split(/\s+/).filter((w) => w.length > 0);
    expect(words.length).toBeGreaterThan(6);
    expect(words.length).toBeLessThanOrEqual(MAX);
    expect(expectedAnswer(p, OUTPUT_TOKENS).startsWith(text)).toBe(true);
    expect(raw.events.filter((e) => /"finish_reason":"length"/.test(e))).toHaveLength(1);
    expect(raw.events.at(-1)).toBe('[DONE]');
  });
});

describe('a stream held to a JSON format, cut mid-answer', () => {
  it('is not continued without its format (a prefill holds to no schema): it ends with its error, never a clean finish on JSON that does not close', async () => {
    await ready(EP.gpt, EP.claude);
    await sim.setFault(GPT, { kind: 'cut', afterTokens: 3 });
    const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false };
    const raw = await rawStream(sc, {
      model: GPT,
      max_tokens: 100,
      response_format: { type: 'json_schema', json_schema: { name: 'x', strict: true, schema } },
      messages: [{ role: 'user', content: prompt('json cut') }],
    });
    expect(raw.status).toBe(200);
    // No continuation was asked for (it went to Claude as a prefill, without output_config, and ended 'stop').
    expect(hits(await sim.log(), CLAUDE_UP)).toEqual([]);
    expect(raw.events.filter((e) => /"finish_reason":"(length|stop)"/.test(e))).toHaveLength(0);
    expect(raw.events.at(-1)).not.toBe('[DONE]');
    const err = raw.events.find((e) => /"error"/.test(e)) ?? '{}';
    expect(JSON.parse(err)).toMatchObject({ error: { code: 'upstream_error' } });
    expect(err).toContain('held to a JSON format (response_format)');
    // The Responses API alike: no response.completed on the cut JSON.
    await sim.setFault(GPT, { kind: 'cut', afterTokens: 3 });
    const client = new OpenAI({ baseURL: `${sc.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const events: string[] = [];
    const stream = await client.responses.create({
      model: GPT,
      input: prompt('responses json cut'),
      stream: true,
      text: { format: { type: 'json_schema', name: 'x', strict: true, schema } },
    });
    let failedWith = '';
    await expect(
      (async () => {
        for await (const e of stream) {
          events.push(e.type);
          if (e.type === 'response.failed') failedWith = e.response.error?.message ?? '';
        }
      })(),
    ).resolves.toBeUndefined();
    expect(events).not.toContain('response.completed');
    expect(events.at(-1)).toBe('response.failed');
    // It names the field the client sent (it said response_format on every API).
    expect(failedWith).toContain('held to a JSON format (text.format)');
    expect(hits(await sim.log(), CLAUDE_UP)).toEqual([]);
    // Cut before any of its text was shown, it is still given whole by another model (nothing to continue).
    await sim.setFault(GPT, { kind: 'cut', afterTokens: 0 });
    const fresh = await rawStream(sc, {
      model: GPT,
      max_tokens: 100,
      response_format: { type: 'json_schema', json_schema: { name: 'x', strict: true, schema } },
      messages: [{ role: 'user', content: prompt('json cut before content') }],
    });
    expect(JSON.parse(contentOf(fresh.events))).toHaveProperty('a');
  });
});

describe('a Messages stream continued on Claude that stops at a stop sequence', () => {
  it("ends with stop_reason stop_sequence and the sequence, as Claude said (it was end_turn: the chat form's finish 'stop' lost it)", async () => {
    await ready(EP.gpt, EP.claude);
    const p = prompt('cut then stop sequence');
    const words = expectedAnswer(p, OUTPUT_TOKENS).split(/(?= )/);
    // A word past the cut that does not come before it: the continuation meets it, the cut part does not.
    const at = words.findIndex((w, i) => i >= 6 && !words.slice(0, i).includes(w));
    const stop = words[at]!;
    await sim.setFault(GPT, { kind: 'cut', afterTokens: 3 });
    const client = new Anthropic({ baseURL: sc.url, apiKey: 'x', maxRetries: 0 });
    const msg = await client.messages.stream({ model: GPT, max_tokens: 100, stop_sequences: [stop], messages: [{ role: 'user', content: p }] }).finalMessage();
    expect(hits(await sim.log(), CLAUDE_UP).map((e) => e.prefill)).toEqual([true]);
    expect(msg.content.map((b) => (b.type === 'text' ? b.text : '')).join('')).toBe(words.slice(0, at).join(''));
    expect([msg.stop_reason, msg.stop_sequence]).toEqual(['stop_sequence', stop]);
  });
});

describe('a stream cut, then continued by a model that adds nothing', () => {
  it('never ends with a clean finish on the cut answer (it ended stop and [DONE] after 6 of 20 words): the continuation is a cut too, and the stream ends with its error event', async () => {
    await ready(EP.gpt, EP.claude);
    await sim.setFault(GPT, { kind: 'cut', afterTokens: 6 });
    await sim.setFault(CLAUDE_UP, { kind: 'empty' });
    const p = prompt('cut then an empty continuation');
    const raw = await rawStream(sc, { model: GPT, max_tokens: 100, messages: [{ role: 'user', content: p }] });
    expect(raw.status).toBe(200);
    expect(hits(await sim.log(), CLAUDE_UP).every((e) => e.prefill)).toBe(true);
    expect(hits(await sim.log(), CLAUDE_UP).length).toBeGreaterThan(0);
    const words = contentOf(raw.events)
      .split(/\s+/)
      .filter((w) => w.length > 0);
    expect(words).toHaveLength(6);
    expect(raw.events.filter((e) => /"finish_reason":"(length|stop)"/.test(e))).toHaveLength(0);
    expect(raw.events.at(-1)).not.toBe('[DONE]');
    expect(JSON.parse(raw.events.find((e) => /"error"/.test(e)) ?? '{}')).toMatchObject({ error: { code: 'upstream_error' } });
    // On the Messages API alike: no end_turn and message_stop on the cut answer, the SDK gets the error.
    const client = new Anthropic({ baseURL: sc.url, apiKey: 'x', maxRetries: 0 });
    const m = client.messages.stream({ model: GPT, max_tokens: 100, messages: [{ role: 'user', content: prompt('messages: cut then empty') }] });
    let stopped = false;
    m.on('message', () => (stopped = true));
    await expect(m.finalMessage()).rejects.toThrow(/continuation added nothing/);
    expect(stopped).toBe(false);
  });
});

describe('a stream cut when it had delivered all of max_tokens', () => {
  it('is not continued for a token more (billed its prompt again, over the cap): it ends with its error, with no second upstream call', async () => {
    await ready(EP.gpt, EP.claude);
    const MAX = 6;
    await sim.setFault(GPT, { kind: 'cut', afterTokens: MAX });
    const p = prompt('cut at max_tokens');
    const raw = await rawStream(sc, { model: GPT, max_tokens: MAX, stream_options: { include_usage: true }, messages: [{ role: 'user', content: p }] });
    expect(raw.status).toBe(200);
    expect(hits(await sim.log(), CLAUDE_UP)).toEqual([]);
    const words = contentOf(raw.events)
      .split(/\s+/)
      .filter((w) => w.length > 0);
    expect(words).toHaveLength(MAX);
    // Never a clean end on a cut answer: the error event, no finish, no [DONE].
    // The upstream's fault, not the client's: upstream_error, saying why it was not continued.
    const err = raw.events.find((e) => /"error"/.test(e)) ?? '';
    expect(JSON.parse(err)).toMatchObject({ error: { code: 'upstream_error', type: 'upstream_error' } });
    expect(err).toContain(`delivered all of max_tokens (${MAX})`);
    expect(raw.events.filter((e) => /"finish_reason":"(length|stop)"/.test(e))).toHaveLength(0);
    expect(raw.events.at(-1)).not.toBe('[DONE]');
  });
});

describe('the no-hammering check itself', () => {
  it('notices a retry sooner than the backoff and too many attempts on one endpoint', () => {
    // Guard for the helper itself: it must notice a retry that came too soon.
    const at = Date.now();
    const fake = [
      {
        seq: 1,
        at,
        provider: 'openai',
        wire: 'openai' as const,
        model: GPT,
        stream: false,
        fault: 'http_error',
        status: 500,
        prefill: false,
        authPresent: true,
      },
      {
        seq: 2,
        at: at + 5,
        provider: 'openai',
        wire: 'openai' as const,
        model: GPT,
        stream: false,
        fault: null,
        status: 200,
        prefill: false,
        authPresent: true,
      },
    ];
    expect(gaps(fake)).toEqual([5]);
    expect(() => expectNoHammering(fake, RETRY, MIN_BACKOFF)).toThrow();
    expect(() => expectNoHammering([...fake, { ...fake[1]!, seq: 3, at: at + 500 }, { ...fake[1]!, seq: 4, at: at + 1000 }], RETRY)).toThrow();
  });
});
