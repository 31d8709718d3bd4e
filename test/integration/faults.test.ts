/**
 * Every fault the simulator can inject, streaming and not, through the official OpenAI SDK
 * against the real sidecar and simulator processes. For each: what the client gets (the whole
 * answer, or a clean bounded error where nothing can rescue it) and, from the simulator's
 * request log, that the upstreams were not hammered (bounded attempts, spaced retries).
 *
 * One simulator and one sidecar for the file. The failure threshold is out of reach here so no
 * circuit opens between tests (circuit breaking has its own sidecar in state.test.ts), and
 * every test starts with every endpoint healthy and idle (throttles set by 429s run out).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import { apiError, ask, contentOf, endpoint, expectedAnswer, expectNoHammering, gaps, hits, ledgerRow, logLines, rawStream, stateOf, waitFor, type Reply } from './fault-helpers.js';

const OUTPUT_TOKENS = 20;
const RETRY = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 400, maxTotalAttempts: 6 };
const RESILIENCE = {
  failureThreshold: 1000,
  recoveryMs: 60_000,
  requestTimeoutMs: 15_000,
  headersTimeoutMs: 800,
  firstTokenTimeoutMs: 800,
  idleTimeoutMs: 600,
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
const EP = { gpt: 'gpt-4.1@openai', claude: 'claude-sonnet-4.5@anthropic', deepseek: 'deepseek-v3.2@deepseek', gemini: 'gemini-2.5-flash@gemini' };

/** A requested model and the fallback the test config gives it. */
interface Pair { model: string; up: string; ep: string; fallback: string; fallbackUp: string; fallbackEp: string }
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
    tier: 'balanced', price: { inputPerMTok: 2, outputPerMTok: 8 }, contextWindow: 1_047_576, capabilities: ['chat'], latencyPriorMs: 600,
    fallbacks: [CLAUDE], endpoints: [{ provider: 'openai-nokey', upstreamModel: LOCKED_UP }],
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
  await waitFor(`${ids.join(', ')} healthy`, () => stateOf(sc), (s) => ids.every((id) => s.endpoints.some((e) => e.id === id && e.state === 'healthy' && e.inFlight === 0)));
  await sim.clearLog();
}

const MODES = [
  { stream: false, name: 'non-streaming' },
  { stream: true, name: 'streaming' },
] as const;

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

describe('http_error', () => {
  for (const { stream, name } of MODES) {
    it(`500 once: one quick retry on the same endpoint succeeds (${name})`, async () => {
      await sim.setFault(GPT, { kind: 'http_error', status: 500, times: 1 });
      const p = prompt('500 once');
      const r = await ask(sc, GPT, p, { stream });
      expectWhole(r, p, GPT);
      expect(r.headers?.get('x-switchyard-attempts')).toBe('2');
      const log = await bounded(MIN_BACKOFF);
      expect(hits(log, GPT).map((e) => e.status)).toEqual([500, 200]);
      expect(log).toHaveLength(2);
    });

    for (const status of [500, 503, 529] as const) {
      it(`${status} persistent: one quick retry, then the fallback model answers (${name})`, async () => {
        await sim.setFault(GPT, { kind: 'http_error', status });
        const p = prompt(`${status} persistent`);
        const r = await ask(sc, GPT, p, { stream });
        expectWhole(r, p, CLAUDE);
        expect(r.headers?.get('x-switchyard-endpoint')).toBe('claude-sonnet-4.5@anthropic');
        expect(r.headers?.get('x-switchyard-attempts')).toBe('3');
        const log = await bounded(MIN_BACKOFF);
        expect(hits(log, GPT).map((e) => e.status)).toEqual([status, status]);
        expect(hits(log, CLAUDE_UP).map((e) => e.status)).toEqual([200]);
      });
    }
  }

  it('503 with a retry-after over maxRetryAfterMs: straight to the fallback, no quick retry', async () => {
    await sim.setFault(GPT, { kind: 'http_error', status: 503, retryAfterSec: 5 });
    const p = prompt('503 long retry-after');
    const r = await ask(sc, GPT, p, { stream: true });
    expectWhole(r, p, CLAUDE);
    const log = await bounded();
    expect(hits(log, GPT).map((e) => e.status)).toEqual([503]);
    expect(hits(log, CLAUDE_UP)).toHaveLength(1);
  });

  it('every upstream failing on a long candidate chain: at most maxTotalAttempts in all', async () => {
    await sim.setFault('*', { kind: 'http_error', status: 500 });
    const r = await ask(sc, 'auto', prompt('everything down'), { stream: false });
    const e = apiError(r.error);
    expect(e.status).toBe(502);
    expect(e.code).toBe('upstream_error');
    expect(e.headers?.get('x-switchyard-attempts')).toBe(String(RETRY.maxTotalAttempts));
    const log = await bounded(MIN_BACKOFF);
    expect(log).toHaveLength(RETRY.maxTotalAttempts);
    // Several endpoints were tried, none more than twice (one quick retry).
    expect(new Set(log.map((x) => x.model)).size).toBeGreaterThanOrEqual(3);
    for (const m of new Set(log.map((x) => x.model))) expect(hits(log, m).length).toBeLessThanOrEqual(2);
  });

  it('every candidate failing: a bounded 502 upstream_error', async () => {
    await sim.setFault(GPT, { kind: 'http_error', status: 503 });
    await sim.setFault(CLAUDE_UP, { kind: 'http_error', status: 500 });
    const r = await ask(sc, GPT, prompt('all 5xx'), { stream: true });
    const e = apiError(r.error);
    expect(e.status).toBe(502);
    expect(e.code).toBe('upstream_error');
    const log = await bounded(MIN_BACKOFF);
    expect(hits(log, GPT)).toHaveLength(2);
    expect(hits(log, CLAUDE_UP)).toHaveLength(2);
  });
});

describe('reset (connection closed before headers)', () => {
  for (const { stream, name } of MODES) {
    it(`one quick retry on the same endpoint (${name})`, async () => {
      await sim.setFault(GPT, { kind: 'reset', times: 1 });
      const p = prompt('reset');
      const r = await ask(sc, GPT, p, { stream });
      expectWhole(r, p, GPT);
      expect(r.headers?.get('x-switchyard-attempts')).toBe('2');
      const log = await bounded(MIN_BACKOFF);
      expect(hits(log, GPT).map((e) => e.fault)).toEqual(['reset', null]);
    });
  }
});

describe('hang (no response headers)', () => {
  for (const { stream, name } of MODES) {
    it(`cut by the time limit, failed over, never retried on the same endpoint (${name})`, async () => {
      await sim.setFault(GPT, { kind: 'hang' });
      const p = prompt('hang');
      const sent = Date.now();
      const r = await ask(sc, GPT, p, { stream });
      expectWhole(r, p, CLAUDE);
      const log = await bounded();
      expect(hits(log, GPT)).toHaveLength(1);
      expect(hits(log, CLAUDE_UP)).toHaveLength(1);
      // The fallback was asked only once the time limit cut the hung attempt (the limit runs
      // from dispatch, so it is measured from when the client sent the request).
      expect(hits(log, CLAUDE_UP)[0]!.at - sent).toBeGreaterThanOrEqual(Math.min(RESILIENCE.headersTimeoutMs, RESILIENCE.firstTokenTimeoutMs));
    });
  }
});

describe('slow_first_token', () => {
  it('beyond firstTokenTimeoutMs (streaming): failed over invisibly, one clean whole answer', async () => {
    await sim.setFault(GPT, { kind: 'slow_first_token', delayMs: 5000 });
    const p = prompt('slow first token');
    const raw = await rawStream(sc, { model: GPT, messages: [{ role: 'user', content: p }] });
    expect(raw.status).toBe(200);
    expect(contentOf(raw.events)).toBe(expectedAnswer(p, OUTPUT_TOKENS));
    // One role chunk only: nothing of the abandoned attempt leaked.
    expect(raw.events.filter((e) => e.includes('"role"'))).toHaveLength(1);
    expect(raw.events.at(-1)).toBe('[DONE]');
    expect(raw.headers.get('x-switchyard-model')).toBe(CLAUDE);
    const log = await bounded();
    expect(hits(log, GPT)).toHaveLength(1);
    expect(hits(log, CLAUDE_UP)).toHaveLength(1);
  });

  it('beyond headersTimeoutMs (non-streaming): failed over', async () => {
    await sim.setFault(GPT, { kind: 'slow_first_token', delayMs: 5000 });
    const p = prompt('slow json');
    const r = await ask(sc, GPT, p, { stream: false });
    expectWhole(r, p, CLAUDE);
    const log = await bounded();
    expect(hits(log, GPT)).toHaveLength(1);
  });

  it('within the limits: answered by the slow endpoint itself', async () => {
    await sim.setFault(GPT, { kind: 'slow_first_token', delayMs: 300, times: 1 });
    const p = prompt('slow but fine');
    const r = await ask(sc, GPT, p, { stream: true });
    expectWhole(r, p, GPT);
    expect(await sim.log()).toHaveLength(1);
  });
});

describe('cut', () => {
  it('mid-stream: continued on a prefill-capable model, the client gets exactly the whole answer once', async () => {
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

    // On the wire: one role chunk, one finish, one [DONE] at the end, nothing twice.
    await sim.setFault(GPT, { kind: 'cut', afterTokens: 6 });
    const raw = await rawStream(sc, { model: GPT, messages: [{ role: 'user', content: p }] });
    expect(contentOf(raw.events)).toBe(expectedAnswer(p, OUTPUT_TOKENS));
    expect(raw.events.filter((e) => e.includes('"role"'))).toHaveLength(1);
    expect(raw.events.filter((e) => /"finish_reason":"/.test(e))).toHaveLength(1);
    expect(raw.events.filter((e) => e === '[DONE]')).toHaveLength(1);
    expect(raw.events.at(-1)).toBe('[DONE]');
  });

  it('before the first token (streaming): invisible fail-over', async () => {
    await sim.setFault(GPT, { kind: 'cut', afterTokens: 0 });
    const p = prompt('cut before commit');
    const r = await ask(sc, GPT, p, { stream: true });
    expectWhole(r, p, CLAUDE);
    const log = await bounded();
    expect(hits(log, CLAUDE_UP)[0]!.prefill).toBe(false);
  });

  it('mid-stream with no prefill-capable candidate: the stream ends with an in-band error, never a clean finish', async () => {
    await sim.setFault(DEEPSEEK_UP, { kind: 'cut', afterTokens: 6 });
    const p = prompt('cut no prefill');
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
    await sim.setFault(DEEPSEEK_UP, { kind: 'cut', afterTokens: 6 });
    const raw = await rawStream(sc, { model: DEEPSEEK, messages: [{ role: 'user', content: p }] });
    expect(raw.events).not.toContain('[DONE]');
    const last = JSON.parse(raw.events.at(-1)!) as { error?: { code?: string } };
    expect(last.error?.code).toBe('upstream_error');
    expect(raw.raw).not.toContain('"finish_reason":"stop"');
  });

  it('non-streaming body cut short: failed over, whole answer', async () => {
    await sim.setFault(GPT, { kind: 'cut', afterTokens: 6 });
    const p = prompt('cut json');
    const r = await ask(sc, GPT, p, { stream: false });
    expectWhole(r, p, CLAUDE);
    const log = await bounded();
    expect(hits(log, GPT)).toHaveLength(1);
    expect(hits(log, CLAUDE_UP)).toHaveLength(1);
  });
});

describe('stall', () => {
  it('mid-stream: the idle limit cuts it, continued like a cut', async () => {
    await sim.setFault(GPT, { kind: 'stall', afterTokens: 6 });
    const p = prompt('stall');
    const r = await ask(sc, GPT, p, { stream: true });
    expectWhole(r, p, GPT);
    const log = await bounded();
    expect(hits(log, GPT)).toHaveLength(1);
    expect(hits(log, CLAUDE_UP).map((e) => e.prefill)).toEqual([true]);
    expect(hits(log, CLAUDE_UP)[0]!.at - hits(log, GPT)[0]!.at).toBeGreaterThanOrEqual(RESILIENCE.idleTimeoutMs);
  });

  it('non-streaming body stalls: the idle limit cuts it, failed over', async () => {
    await sim.setFault(GPT, { kind: 'stall', afterTokens: 6 });
    const p = prompt('stall json');
    const r = await ask(sc, GPT, p, { stream: false });
    expectWhole(r, p, CLAUDE);
    const log = await bounded();
    expect(hits(log, GPT)).toHaveLength(1);
    expect(hits(log, CLAUDE_UP)).toHaveLength(1);
  });
});

describe('malformed_chunk', () => {
  it('streaming: the broken event is dropped, not forwarded, the answer is complete', async () => {
    await sim.setFault(GPT, { kind: 'malformed_chunk', afterTokens: 5 });
    const p = prompt('malformed');
    const raw = await rawStream(sc, { model: GPT, messages: [{ role: 'user', content: p }] });
    expect(raw.status).toBe(200);
    expect(raw.raw).not.toContain('this is not json');
    for (const e of raw.events) if (e !== '[DONE]') expect(() => JSON.parse(e) as unknown).not.toThrow();
    expect(contentOf(raw.events)).toBe(expectedAnswer(p, OUTPUT_TOKENS));
    expect(raw.events.at(-1)).toBe('[DONE]');
    const log = await bounded();
    expect(log.map((e) => e.fault)).toEqual(['malformed_chunk']);

    await sim.setFault(GPT, { kind: 'malformed_chunk', afterTokens: 5 });
    const p2 = prompt('malformed sdk');
    expectWhole(await ask(sc, GPT, p2, { stream: true }), p2, GPT);
  });

  it('non-streaming: the fault does not apply, the answer is fine', async () => {
    await sim.setFault(GPT, { kind: 'malformed_chunk', afterTokens: 5 });
    const p = prompt('malformed json');
    expectWhole(await ask(sc, GPT, p, { stream: false }), p, GPT);
    expect((await sim.log()).map((e) => e.fault)).toEqual([null]);
  });
});

describe('no_done', () => {
  it('streaming: finalised with usage, the client gets [DONE]', async () => {
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
  });

  it('streaming without [DONE] and without usage: finalised with an estimate', async () => {
    await sim.setFault(GPT, { kind: 'no_done', omitUsage: true });
    const p = prompt('no done no usage');
    const raw = await rawStream(sc, { model: GPT, messages: [{ role: 'user', content: p }] });
    expect(contentOf(raw.events)).toBe(expectedAnswer(p, OUTPUT_TOKENS));
    expect(raw.events.at(-1)).toBe('[DONE]');
    expect(ledgerRow(ledgerFile, raw.headers.get('x-request-id')!)?.estimated).toBe(1);
  });

  it('non-streaming: the fault does not apply', async () => {
    await sim.setFault(GPT, { kind: 'no_done' });
    const p = prompt('no done json');
    expectWhole(await ask(sc, GPT, p, { stream: false }), p, GPT);
    expect((await sim.log()).map((e) => e.fault)).toEqual([null]);
  });
});

describe('no_usage', () => {
  for (const { stream, name } of MODES) {
    it(`the answer is fine, the ledger row is estimated (${name})`, async () => {
      await sim.setFault(GPT, { kind: 'no_usage' });
      const p = prompt('no usage');
      const r = await ask(sc, GPT, p, { stream });
      expectWhole(r, p, GPT);
      const row = ledgerRow(ledgerFile, r.headers!.get('x-request-id')!);
      expect(row).toBeDefined();
      expect(row!.estimated).toBe(1);
      expect(row!.completion_tokens).toBeGreaterThan(0);
      expect(row!.cost_nano).toBeGreaterThan(0);
      expect((await bounded()).map((e) => e.fault)).toEqual(['no_usage']);
    });
  }
});

describe('context_length_exceeded', () => {
  for (const { stream, name } of MODES) {
    it(`fails over to a model with a larger context window (${name})`, async () => {
      await sim.setFault(DEEPSEEK_UP, { kind: 'context_length_exceeded' });
      const p = prompt('context larger');
      const r = await ask(sc, DEEPSEEK, p, { stream });
      expectWhole(r, p, GEMINI);
      const log = await bounded();
      expect(hits(log, DEEPSEEK_UP).map((e) => e.status)).toEqual([400]);
      expect(hits(log, GEMINI)).toHaveLength(1);
    });

    it(`no larger model: the provider's 400 context_length_exceeded (${name})`, async () => {
      await sim.setFault(GPT, { kind: 'context_length_exceeded' });
      const r = await ask(sc, GPT, prompt('context none larger'), { stream });
      const e = apiError(r.error);
      expect(e.status).toBe(400);
      expect(e.code).toBe('context_length_exceeded');
      expect(e.message).toMatch(/maximum context length/);
      const log = await bounded();
      expect(log).toHaveLength(1);
      // A client-side error says nothing about the endpoint's health.
      const ep = await endpoint(sc, 'gpt-4.1@openai');
      expect(ep.state).toBe('healthy');
      expect(ep.consecutiveFailures).toBe(0);
    });
  }
});

describe('content_policy_violation', () => {
  for (const { stream, name } of MODES) {
    it(`no retry: the provider's message and code reach the client (${name})`, async () => {
      await sim.setFault(GPT, { kind: 'content_policy_violation' });
      const r = await ask(sc, GPT, prompt('policy'), { stream });
      const e = apiError(r.error);
      expect(e).toBeInstanceOf(OpenAI.BadRequestError);
      expect(e.status).toBe(400);
      expect(e.code).toBe('content_policy_violation');
      expect(e.message).toMatch(/rejected as a result of our safety system/);
      const log = await bounded();
      expect(log).toHaveLength(1);
      expect(hits(log, CLAUDE_UP)).toHaveLength(0);
    });
  }
});

describe('stream_error_event (OpenAI wire)', () => {
  it('before the first token: invisible fail-over', async () => {
    await sim.setFault(GPT, { kind: 'stream_error_event', afterTokens: 0 });
    const p = prompt('stream error before');
    const r = await ask(sc, GPT, p, { stream: true });
    expectWhole(r, p, CLAUDE);
    const log = await bounded();
    expect(hits(log, GPT)).toHaveLength(1);
    expect(hits(log, CLAUDE_UP).map((e) => e.prefill)).toEqual([false]);
  });

  it('after the first token: continued on a prefill-capable model, exactly the whole answer', async () => {
    await sim.setFault(GPT, { kind: 'stream_error_event', afterTokens: 7 });
    const p = prompt('stream error after');
    const r = await ask(sc, GPT, p, { stream: true });
    expectWhole(r, p, GPT);
    const log = await bounded();
    expect(hits(log, GPT)).toHaveLength(1);
    expect(hits(log, CLAUDE_UP).map((e) => e.prefill)).toEqual([true]);
  });

  it('after the first token, no prefill-capable candidate: in-band error', async () => {
    await sim.setFault(DEEPSEEK_UP, { kind: 'stream_error_event', afterTokens: 7 });
    const p = prompt('stream error no prefill');
    const r = await ask(sc, DEEPSEEK, p, { stream: true });
    expect(r.ok).toBe(false);
    apiError(r.error);
    expect(r.finish).toBeNull();
    expect(r.text).not.toBe(expectedAnswer(p, OUTPUT_TOKENS));
    const log = await bounded();
    expect(hits(log, DEEPSEEK_UP)).toHaveLength(1);
    expect(hits(log, GEMINI)).toHaveLength(0);
  });

  it('non-streaming: the fault does not apply', async () => {
    await sim.setFault(GPT, { kind: 'stream_error_event', afterTokens: 3 });
    const p = prompt('stream error json');
    expectWhole(await ask(sc, GPT, p, { stream: false }), p, GPT);
    expect((await sim.log()).map((e) => e.fault)).toEqual([null]);
  });
});

describe('401 from an upstream (provider without a key)', () => {
  for (const { stream, name } of MODES) {
    it(`fails over and logs an error naming the endpoint (${name})`, async () => {
      const p = prompt('401');
      const r = await ask(sc, 'locked-gpt', p, { stream });
      expectWhole(r, p, CLAUDE);
      const log = await bounded();
      expect(hits(log, LOCKED_UP).map((e) => [e.status, e.authPresent])).toEqual([[401, false]]);
      expect(hits(log, CLAUDE_UP)).toHaveLength(1);
      const requestId = r.headers!.get('x-request-id');
      const loud = logLines(sc).filter((l) => l.requestId === requestId && l.level === 50);
      expect(loud).toHaveLength(1);
      expect(String(loud[0]!.msg)).toContain('locked-gpt@openai-nokey');
      expect(loud[0]!.endpoint).toBe('locked-gpt@openai-nokey');
    });
  }
});

// 429s leave their endpoint throttled for a while: each test names the endpoints it needs
// healthy (`ready`), and the order lets one throttle run out while other endpoints are tested.
describe('ratelimit_headers_exhausted', () => {
  const cases = [
    { stream: false, name: 'non-streaming', pair: PAIRS.gpt },
    { stream: true, name: 'streaming', pair: PAIRS.deepseek },
  ];
  for (const { stream, name, pair } of cases) {
    it(`x-ratelimit-remaining 0 throttles the endpoint before any 429 (${name})`, async () => {
      await ready(pair.ep, pair.fallbackEp);
      await sim.setFault(pair.up, { kind: 'ratelimit_headers_exhausted', resetSec: 2, times: 1 });
      const p = prompt('exhausted');
      const sent = Date.now();
      const r = await ask(sc, pair.model, p, { stream });
      expectWhole(r, p, pair.model);
      const ep = await endpoint(sc, pair.ep);
      expect(ep.state).toBe('throttled');
      expect(ep.retryAt).not.toBeNull();
      expect(Date.parse(ep.retryAt!)).toBeGreaterThanOrEqual(sent + 2000);
      // The next request goes to the fallback without touching the exhausted endpoint.
      await sim.clearLog();
      const r2 = await ask(sc, pair.model, p, { stream });
      expectWhole(r2, p, pair.fallback);
      const log = await sim.log();
      expect(hits(log, pair.up)).toHaveLength(0);
      expect(log.some((e) => e.status === 429)).toBe(false);
    });
  }
});

describe('rate_limit (429)', () => {
  // Timing on both modes, a persistent 429 and a 503's retry-after run on a simulated clock
  // in test/runtime/request-driver.test.ts; one real-process test per wire fact stays here.
  const short = [{ stream: false, name: 'non-streaming, Anthropic wire', pair: PAIRS.claude }];
  for (const { stream, name, pair } of short) {
    it(`short retry-after: retried on the same endpoint after that time (${name})`, async () => {
      await ready(pair.ep);
      await sim.setFault(pair.up, { kind: 'rate_limit', retryAfterSec: 1, times: 1 });
      const p = prompt('429 short');
      const r = await ask(sc, pair.model, p, { stream });
      expectWhole(r, p, pair.model);
      expect(r.headers?.get('x-switchyard-attempts')).toBe('2');
      const log = await bounded(1000);
      expect(hits(log, pair.up).map((e) => e.status)).toEqual([429, 200]);
      expect(hits(log, pair.fallbackUp)).toHaveLength(0);
    });
  }

  const dated = [{ stream: true, name: 'streaming', pair: PAIRS.gpt }];
  for (const { stream, name, pair } of dated) {
    it(`retry-after as an HTTP-date: retried on the same endpoint, not before that date (${name})`, async () => {
      await ready(pair.ep);
      // retryAfterSec 0 as a date: the next whole second (an HTTP-date has no milliseconds).
      await sim.setFault(pair.up, { kind: 'rate_limit', retryAfterSec: 0, retryAfterDate: true, times: 1 });
      const p = prompt('429 date');
      const r = await ask(sc, pair.model, p, { stream });
      expectWhole(r, p, pair.model);
      const g = hits(await bounded(), pair.up);
      expect(g.map((e) => e.status)).toEqual([429, 200]);
      expect(g[1]!.at).toBeGreaterThanOrEqual(Math.ceil(g[0]!.at / 1000) * 1000);
    });
  }

  const none = [
    { stream: false, name: 'non-streaming', pair: PAIRS.gemini },
    { stream: true, name: 'streaming', pair: PAIRS.gpt },
  ];
  for (const { stream, name, pair } of none) {
    it(`no retry-after: immediate fail-over, the endpoint is throttled (${name})`, async () => {
      await ready(pair.ep, pair.fallbackEp);
      await sim.setFault(pair.up, { kind: 'rate_limit' });
      const p = prompt('429 none');
      const r = await ask(sc, pair.model, p, { stream });
      expectWhole(r, p, pair.fallback);
      const log = await bounded();
      expect(hits(log, pair.up).map((e) => e.status)).toEqual([429]);
      expect(hits(log, pair.fallbackUp)).toHaveLength(1);
      const ep = await endpoint(sc, pair.ep);
      expect(ep.state).toBe('throttled');
      expect(ep.retryAt).not.toBeNull();
    });
  }

  const long = [
    { stream: false, name: 'non-streaming', pair: PAIRS.deepseek },
    { stream: true, name: 'streaming', pair: PAIRS.claude },
  ];
  for (const { stream, name, pair } of long) {
    it(`long retry-after: immediate fail-over, the endpoint is left alone until then (${name})`, async () => {
      await ready(pair.ep, pair.fallbackEp);
      await sim.setFault(pair.up, { kind: 'rate_limit', retryAfterSec: 2 });
      const p = prompt('429 long');
      const before = Date.now();
      const r = await ask(sc, pair.model, p, { stream });
      expectWhole(r, p, pair.fallback);
      const log = await bounded();
      expect(hits(log, pair.up).map((e) => e.status)).toEqual([429]);
      expect(hits(log, pair.fallbackUp)).toHaveLength(1);
      const ep = await endpoint(sc, pair.ep);
      expect(ep.state).toBe('throttled');
      expect(Date.parse(ep.retryAt!)).toBeGreaterThanOrEqual(before + 2000);
      // While throttled, a new request does not touch it.
      await sim.clearLog();
      const r2 = await ask(sc, pair.model, p, { stream });
      expectWhole(r2, p, pair.fallback);
      expect(hits(await sim.log(), pair.up)).toHaveLength(0);
    });
  }
});

describe('the no-hammering check itself', () => {
  it('notices a retry sooner than the backoff and too many attempts on one endpoint', () => {
    // Guard for the helper itself: it must notice a retry that came too soon.
    const at = Date.now();
    const fake = [
      { seq: 1, at, provider: 'openai', wire: 'openai' as const, model: GPT, stream: false, fault: 'http_error', status: 500, prefill: false, authPresent: true },
      { seq: 2, at: at + 5, provider: 'openai', wire: 'openai' as const, model: GPT, stream: false, fault: null, status: 200, prefill: false, authPresent: true },
    ];
    expect(gaps(fake)).toEqual([5]);
    expect(() => expectNoHammering(fake, RETRY, MIN_BACKOFF)).toThrow();
    expect(() => expectNoHammering([...fake, { ...fake[1]!, seq: 3, at: at + 500 }, { ...fake[1]!, seq: 4, at: at + 1000 }], RETRY)).toThrow();
  });
});
