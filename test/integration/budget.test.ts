/**
 * Issue 4 end to end: what a request costs and how budgets hold, through the real sidecar
 * process in front of the real simulator, with the official OpenAI SDK as the client.
 *
 * Expected figures are computed here from the price formula (integer nano-USD per token:
 * 0.28 USD/MTok is 280 nano-USD per token), never with the code under test's cost helpers.
 * Token counts come from the responses' `usage`, or from the tokenizer where the sidecar
 * itself has to count (reservations, estimated rows).
 */
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promptBoundTokens } from '../../src/accounting/reservation.js';
import { countPromptTokens, countTextTokens } from '../../src/accounting/tokens.js';
import { sleep, startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';

/** Nano-USD per token of the test catalogue (USD per MTok × 1000). */
const NANO = {
  gpt41: { input: 2_000, cached: 500, output: 8_000 },
  gemini: { input: 300, output: 2_500 },
  deepseek: { input: 280, output: 420 },
};
/** gpt-4.1's simulated upstream reports this many cached prompt tokens. */
const CACHED = 8;
/** slow-chat streams one token every 50 ms, 200 tokens: 10 s if nobody stops it. */
const SLOW_GAP_MS = 50;
const SLOW_TOKENS = 200;

type Msg = { role: 'user'; content: string };
const user = (content: string): Msg[] => [{ role: 'user', content }];
/**
 * The sidecar's reservation: the prompt's bound (UTF-8 bytes of what the upstream sees, see
 * reservation.test.ts) at the input price + max_tokens at the output price.
 */
const worstCase = (model: string, msgs: Msg[], maxTokens: number, p: { input: number; output: number }): number =>
  promptBoundTokens({ model, messages: msgs, max_tokens: maxTokens } as Parameters<typeof promptBoundTokens>[0]) * p.input + maxTokens * p.output;

const LONGFORM = user('Write a longform piece about harbours');
const LONGFORM_MAX = 50;
const GEMINI_LONGFORM_WORST = worstCase('route/longform', LONGFORM, LONGFORM_MAX, NANO.gemini);

const CROWD = user('crowd request');
const CROWD_MAX = 100;
const CROWD_WORST = worstCase('deepseek-v3.2', CROWD, CROWD_MAX, NANO.deepseek);
const CROWD_FITS = 40;
const CROWD_SIZE = 200;
const CROWD_LIMIT_NANO = CROWD_FITS * CROWD_WORST;

let sim: SimHandle;
/** Budgets that never bind (global day/month/total) plus a per-model one on gemini. */
let sc: SidecarHandle;
/** Only a global day budget that fits CROWD_FITS worst cases. */
let crowd: SidecarHandle;
let ledgerA = '';
let ledgerB = '';

interface BudgetJson {
  id: string;
  scope: string;
  model: string | null;
  period: string;
  limitUsd: number;
  spentUsd: number;
  reservedUsd: number;
  periodStart: string;
  resetsAt: string | null;
}
interface StateFull {
  at: string;
  budgets: BudgetJson[];
  endpoints: Array<{ id: string; inFlight: number }>;
}
interface LedgerRowDb {
  request_id: string;
  model: string | null;
  endpoint: string | null;
  attempts: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cost_nano: number;
  estimated: number;
  status: number;
  latency_ms: number;
  stream: number;
  error_code: string | null;
}

function ledgerFileOf(cfg: Record<string, unknown>): string {
  return String((cfg.storage as { ledger: string }).ledger).slice('sqlite:'.length);
}

function ledgerRows(file: string, sql = 'select * from ledger', ...params: unknown[]): LedgerRowDb[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as LedgerRowDb[];
  } finally {
    db.close();
  }
}

/** The ledger row of a request; the row is committed before the response ends, streams after their last byte. */
async function rowOf(file: string, requestId: string | null, waitMs = 0): Promise<LedgerRowDb> {
  expect(requestId).toBeTruthy();
  const until = Date.now() + waitMs;
  for (;;) {
    const [row] = ledgerRows(file, 'select * from ledger where request_id = ?', requestId);
    if (row) return row;
    if (Date.now() >= until) throw new Error(`no ledger row for request ${requestId}`);
    await sleep(25);
  }
}

async function stateOf(h: SidecarHandle): Promise<StateFull> {
  return (await (await fetch(`${h.url}/switchyard/state`)).json()) as StateFull;
}

async function spendTotalUsd(h: SidecarHandle): Promise<{ usd: number; requests: number }> {
  const j = (await (await fetch(`${h.url}/switchyard/spend?group_by=model`)).json()) as { total: { usd: number; requests: number } };
  return j.total;
}

const usdHeaderToNano = (v: string | null): number => {
  expect(v).toMatch(/^\d+\.\d{9}$/);
  return Math.round(Number(v) * 1e9);
};

async function apiError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OpenAI.APIError);
  return err as InstanceType<typeof OpenAI.APIError>;
}

beforeAll(async () => {
  sim = await startSimulatorProc({
    defaults: { ttftMs: 2, tokenGapMs: 0, outputTokens: 120 },
    models: { 'gpt-4.1': { cachedTokens: CACHED }, 'slow-chat': { ttftMs: 5, tokenGapMs: SLOW_GAP_MS, outputTokens: SLOW_TOKENS } },
  });
  const cfgA = testConfig(sim.url);
  const models = cfgA.models as Record<string, { price: Record<string, number> } & Record<string, unknown>>;
  models['gpt-4.1']!.price.cachedInputPerMTok = 0.5;
  models['slow-model'] = {
    tier: 'fast_cheap',
    price: { inputPerMTok: 0.28, outputPerMTok: 0.42 },
    contextWindow: 128_000,
    maxOutputTokens: 8192,
    endpoints: [{ provider: 'deepseek', upstreamModel: 'slow-chat' }],
  };
  Object.assign((cfgA.routing as { routes: Record<string, string[]> }).routes, {
    longform: ['gemini-2.5-flash', 'deepseek-v3.2'],
    solo: ['gemini-2.5-flash'],
    upward: ['gemini-2.5-flash', 'gpt-4.1'],
  });
  cfgA.budget = {
    limits: [
      { scope: 'global', period: 'day', usd: 100 },
      { scope: 'global', period: 'month', usd: 100 },
      { scope: 'global', period: 'total', usd: 100 },
      // Room for one longform request on gemini (its actual cost is just under the worst case), not two.
      { scope: 'model', model: 'gemini-2.5-flash', period: 'day', usd: (1.5 * GEMINI_LONGFORM_WORST) / 1e9 },
    ],
  };
  const cfgB = testConfig(sim.url, { budget: { limits: [{ scope: 'global', period: 'day', usd: CROWD_LIMIT_NANO / 1e9 }] } });
  ledgerA = ledgerFileOf(cfgA);
  ledgerB = ledgerFileOf(cfgB);
  [sc, crowd] = await Promise.all([startSidecar(cfgA), startSidecar(cfgB)]);
});

afterAll(async () => {
  await Promise.all([sc?.stop(), crowd?.stop()]);
  await sim?.stop();
});

describe('cost of a request', () => {
  it('puts the price formula in x-switchyard-cost-usd, cached prompt tokens at the cached price', async () => {
    const msgs = user('Explain in a few words why the sky looks blue on a clear afternoon');
    const { data, response } = await sc.client.chat.completions.create({ model: 'gpt-4.1', messages: msgs, max_tokens: 30 }).withResponse();
    const u = data.usage!;
    expect(u.prompt_tokens_details?.cached_tokens).toBe(CACHED);
    expect(u.completion_tokens).toBe(30);
    const expected = (u.prompt_tokens - CACHED) * NANO.gpt41.input + CACHED * NANO.gpt41.cached + u.completion_tokens * NANO.gpt41.output;
    // Billing the cached tokens at the full input price would differ by CACHED × 1500 nano-USD.
    expect(usdHeaderToNano(response.headers.get('x-switchyard-cost-usd'))).toBe(expected);
    const row = await rowOf(ledgerA, response.headers.get('x-request-id'));
    expect(row).toMatchObject({
      cost_nano: expected,
      prompt_tokens: u.prompt_tokens,
      completion_tokens: 30,
      cached_tokens: CACHED,
      estimated: 0,
      status: 200,
      stream: 0,
    });
  });

  it('settles a stream from its usage chunk: ledger cost and tokens match, not estimated', async () => {
    const msgs = user('Stream a short answer about tides and the moon please');
    const { data: stream, response } = await sc.client.chat.completions
      .create({ model: 'gpt-4.1', messages: msgs, max_tokens: 40, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    let usage: OpenAI.CompletionUsage | undefined;
    let text = '';
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      if (c.usage) usage = c.usage;
    }
    expect(usage).toBeDefined();
    expect(usage!.completion_tokens).toBe(40);
    expect(text.split(' ')).toHaveLength(40);
    // The upstream's count, not ours: our tokenizer also counts the role, one token more.
    expect(usage!.prompt_tokens).toBe(countPromptTokens(msgs) - 1);
    const row = await rowOf(ledgerA, response.headers.get('x-request-id'), 2000);
    const expected = (usage!.prompt_tokens - CACHED) * NANO.gpt41.input + CACHED * NANO.gpt41.cached + 40 * NANO.gpt41.output;
    expect(row).toMatchObject({
      cost_nano: expected,
      prompt_tokens: usage!.prompt_tokens,
      completion_tokens: 40,
      cached_tokens: CACHED,
      estimated: 0,
      status: 200,
      stream: 1,
    });
  });

  it('a client id reused across requests still gives each request its own id and ledger row (spend stays in the ledger)', async () => {
    const msgs = user('Two requests, one client id');
    const opts = { headers: { 'x-request-id': 'dup-123' } };
    const a = await sc.client.chat.completions.create({ model: 'deepseek-v3.2', messages: msgs, max_tokens: 10 }, opts).withResponse();
    const b = await sc.client.chat.completions
      .create({ model: 'deepseek-v3.2', messages: msgs, max_tokens: 10 }, { headers: { 'x-client-request-id': 'dup-123' } })
      .withResponse();
    const ids = [a.response.headers.get('x-request-id'), b.response.headers.get('x-request-id')];
    expect(new Set(ids).size).toBe(2);
    expect(ids).not.toContain('dup-123');
    expect([a.response.headers.get('x-client-request-id'), b.response.headers.get('x-client-request-id')]).toEqual(['dup-123', 'dup-123']);
    const rows = await Promise.all(ids.map((id) => rowOf(ledgerA, id, 2000)));
    const charged = [a, b].map((r) => Math.round(Number(r.response.headers.get('x-switchyard-cost-usd')) * 1e9));
    expect(rows.map((r) => r.cost_nano)).toEqual(charged);
    expect(charged.every((c) => c > 0)).toBe(true);
  });

  it('estimates a stream whose upstream sent no usage: tokenizer counts, never above the max_tokens sent, estimated 1', async () => {
    await sim.setFault('deepseek-chat', { kind: 'no_usage', times: 1 });
    await sim.clearLog();
    const msgs = user('Stream without usage about lighthouses');
    const { data: stream, response } = await sc.client.chat.completions
      .create({ model: 'deepseek-v3.2', messages: msgs, max_tokens: 25, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    const log = await sim.log();
    expect(log.map((e) => [e.model, e.fault])).toEqual([['deepseek-chat', 'no_usage']]);
    const row = await rowOf(ledgerA, response.headers.get('x-request-id'), 2000);
    const prompt = countPromptTokens(msgs);
    // The simulator's 25 words are more than 25 o200k tokens: the estimate is capped at the 25 the upstream was sent
    // (and reserved for), so an estimate never settles above the reservation.
    expect(countTextTokens(text)).toBeGreaterThan(25);
    const completion = 25;
    expect(row).toMatchObject({
      estimated: 1,
      prompt_tokens: prompt,
      completion_tokens: completion,
      cost_nano: prompt * NANO.deepseek.input + completion * NANO.deepseek.output,
      status: 200,
      stream: 1,
    });
  });
});

describe('x-switchyard-max-cost-usd', () => {
  const msgs = user('How much does this cost');
  const geminiWorst = worstCase('gemini-2.5-flash', msgs, 100, NANO.gemini);
  const deepseekWorst = worstCase('gemini-2.5-flash', msgs, 100, NANO.deepseek);

  it('downgrades to a fallback whose worst case fits under the cap', async () => {
    await sim.clearLog();
    const cap = (geminiWorst + deepseekWorst) / 2 / 1e9;
    const { data, response } = await sc.client.chat.completions
      .create({ model: 'gemini-2.5-flash', messages: msgs, max_tokens: 100 }, { headers: { 'x-switchyard-max-cost-usd': String(cap) } })
      .withResponse();
    expect(data.model).toBe('deepseek-v3.2');
    expect(response.headers.get('x-switchyard-model')).toBe('deepseek-v3.2');
    expect(response.headers.get('x-switchyard-attempts')).toBe('1');
    expect(response.headers.get('x-switchyard-reason')).toContain('gemini-2.5-flash over x-switchyard-max-cost-usd');
    expect((await sim.log()).map((e) => e.model)).toEqual(['deepseek-chat']);
  });

  it('answers 429 budget_exceeded without an upstream call when no candidate fits the cap', async () => {
    await sim.clearLog();
    const cap = (deepseekWorst - 1) / 1e9;
    const err = await apiError(
      sc.client.chat.completions.create(
        { model: 'gemini-2.5-flash', messages: msgs, max_tokens: 100 },
        { headers: { 'x-switchyard-max-cost-usd': String(cap) } },
      ),
    );
    expect(err.status).toBe(429);
    expect(err.code).toBe('budget_exceeded');
    expect(err.message).toMatch(/x-switchyard-max-cost-usd/);
    // Amounts as exact decimals, never exponent notation or float noise.
    expect(err.message).not.toMatch(/\de-\d|\.\d{10,}/);
    expect(err.message).toMatch(/\(\$0\.\d{6,9}\) exceeds x-switchyard-max-cost-usd \(\$0\.\d{6,9}\)/);
    // …and says how to bring the worst case down.
    expect(err.message).toContain('a lower max_tokens lowers it');
    const tiny = await apiError(
      sc.client.chat.completions.create({ model: 'deepseek-v3.2', messages: msgs, max_tokens: 100 }, { headers: { 'x-switchyard-max-cost-usd': '0.0000001' } }),
    );
    expect(tiny.message).toContain('x-switchyard-max-cost-usd ($0.0000001)');
    expect(err.headers?.get('x-should-retry')).toBe('false');
    // A model and its cheaper fallback both over the cap: the 429's message, its headers and its row
    // name the same model, the cheaper one (the message named the first one refused).
    const both = await apiError(
      sc.client.chat.completions.create(
        { model: 'claude-sonnet-4.5', messages: msgs, max_tokens: 50 },
        { headers: { 'x-switchyard-max-cost-usd': '0.0000001' } },
      ),
    );
    expect(both.headers?.get('x-switchyard-model')).toBe('gpt-4.1');
    // No endpoint was reached: none is named (it named the endpoint refused for money), the tier is the model's.
    expect(both.headers?.get('x-switchyard-endpoint')).toBeNull();
    expect([both.headers?.get('x-switchyard-attempts'), both.headers?.get('x-switchyard-tier')]).toEqual(['0', 'balanced']);
    expect(both.message).toMatch(/worst-case cost of this request on gpt-4\.1 \(\$[0-9.]+\) exceeds/);
    // Its row, as its headers: the model refused, no endpoint (it named gpt-4.1@openai, as did /metrics and the spend by endpoint).
    const row = await rowOf(ledgerA, both.headers?.get('x-request-id') ?? null);
    expect([row.model, row.endpoint, row.attempts, row.status]).toEqual(['gpt-4.1', null, 0, 429]);
    const metrics = await (await fetch(`${sc.url}/metrics`)).text();
    expect(metrics).toMatch(/^switchyard_requests_total\{model="gpt-4\.1",endpoint="none",status="429"\} \d+$/m);
    expect(metrics).not.toMatch(/^switchyard_requests_total\{model="gpt-4\.1",endpoint="gpt-4\.1@openai",status="429"\}/m);
    expect(await sim.log()).toEqual([]);
  });

  it("a video part (a relay's video_url, billed by the video's length) is reserved at the model's context window, not its URL's bytes", async () => {
    await sim.clearLog();
    const video = [
      {
        role: 'user' as const,
        content: [
          { type: 'text', text: 'Describe this video' },
          { type: 'video_url', video_url: { url: 'https://example.com/an-hour.mp4' } },
        ],
      },
    ] as unknown as OpenAI.ChatCompletionMessageParam[];
    // deepseek-v3.2 (128,000-token window at $0.28/MTok): about $0.036, far over a cap of a cent.
    const err = await apiError(
      sc.client.chat.completions.create({ model: 'deepseek-v3.2', messages: video, max_tokens: 10 }, { headers: { 'x-switchyard-max-cost-usd': '0.01' } }),
    );
    expect(err.status).toBe(429);
    expect(err.code).toBe('budget_exceeded');
    expect(err.message).toContain('($0.035844');
    // What to do says why: the part's pages are reserved at the whole window, so a lower max_tokens would not help (it said it would).
    expect(err.message).toContain("its prompt is reserved at the model's whole context window: a lower max_tokens hardly lowers it");
    expect(err.message).not.toContain('a lower max_tokens lowers it');
    expect(await sim.log()).toEqual([]);
  });

  it('an image part whose data URL is a PDF (a LiteLLM relay sends it on, billed by its pages) is reserved at the context window; a PNG is not', async () => {
    await sim.clearLog();
    const ask = (url: string) =>
      sc.client.chat.completions.create(
        {
          model: 'deepseek-v3.2',
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'Summarise this' },
                { type: 'image_url', image_url: { url } },
              ],
            },
          ],
          max_tokens: 10,
        },
        { headers: { 'x-switchyard-max-cost-usd': '0.01' } },
      );
    const err = await apiError(ask('data:application/pdf;base64,JVBERi0xLjQK'));
    expect(err.status).toBe(429);
    expect(err.message).toContain('($0.035844');
    expect(await sim.log()).toEqual([]);
    expect((await ask('data:image/png;base64,iVBORw0KGgo=')).choices[0]!.message.content).toBeTruthy();
  });

  it("a Gemini context cache read by name (extra_body.google.cached_content: its tokens are the prompt's) is reserved at the model's context window", async () => {
    await sim.clearLog();
    const err = await apiError(
      sc.client.chat.completions.create(
        {
          model: 'deepseek-v3.2',
          messages: user('Summarise the cached document'),
          max_tokens: 10,
          extra_body: { google: { cached_content: 'cachedContents/a-long-book' } },
        } as OpenAI.ChatCompletionCreateParamsNonStreaming,
        { headers: { 'x-switchyard-max-cost-usd': '0.01' } },
      ),
    );
    expect(err.status).toBe(429);
    expect(err.message).toContain('($0.035844');
    expect(await sim.log()).toEqual([]);
  });
});

describe('budget-aware routing', () => {
  it('falls to the cheaper candidate of a route when the primary model budget is spent', async () => {
    await sim.clearLog();
    const first = await sc.client.chat.completions.create({ model: 'route/longform', messages: LONGFORM, max_tokens: LONGFORM_MAX }).withResponse();
    expect(first.response.headers.get('x-switchyard-model')).toBe('gemini-2.5-flash');
    const firstCost = usdHeaderToNano(first.response.headers.get('x-switchyard-cost-usd'));
    expect(firstCost).toBeLessThanOrEqual(GEMINI_LONGFORM_WORST);
    // spent (≈ one worst case) + another worst case > 1.5 worst cases: gemini is refused.
    const second = await sc.client.chat.completions.create({ model: 'route/longform', messages: LONGFORM, max_tokens: LONGFORM_MAX }).withResponse();
    expect(second.response.status).toBe(200);
    expect(second.response.headers.get('x-switchyard-model')).toBe('deepseek-v3.2');
    expect(second.response.headers.get('x-switchyard-attempts')).toBe('1');
    // The reason says why the route's primary was passed over.
    expect(second.response.headers.get('x-switchyard-reason')).toContain('gemini-2.5-flash over budget model:gemini-2.5-flash:day');
    expect((await sim.log()).map((e) => e.model)).toEqual(['gemini-2.5-flash', 'deepseek-chat']);
    const geminiBudget = (await stateOf(sc)).budgets.find((b) => b.id === 'model:gemini-2.5-flash:day')!;
    expect(Math.round(geminiBudget.spentUsd * 1e9)).toBe(firstCost);
    expect(geminiBudget.reservedUsd).toBe(0);
  });

  it('answers 429 budget_exceeded, naming the budget, when no candidate is left', async () => {
    // gemini's day budget was spent by the test above; route/solo has no other model.
    await sim.clearLog();
    const err = await apiError(sc.client.chat.completions.create({ model: 'route/solo', messages: LONGFORM, max_tokens: LONGFORM_MAX }));
    expect(err.status).toBe(429);
    expect(err.code).toBe('budget_exceeded');
    expect(err.message).toMatch(/model:gemini-2\.5-flash:day/);
    // When the day's budget starts over (UTC midnight), so the client knows whether waiting helps.
    const d = new Date();
    const midnight = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1)).toISOString().replace('.000Z', 'Z');
    expect(err.message).toContain(`this day's budget resets at ${midnight} (UTC)`);
    expect(err.headers?.get('x-should-retry')).toBe('false');
    // A routed request: its headers name the model it was refused for (they named none).
    expect(err.headers?.get('x-switchyard-model')).toBe('gemini-2.5-flash');
    expect(err.headers?.get('x-switchyard-tier')).toBe('fast_cheap');
    expect(err.headers?.get('x-switchyard-attempts')).toBe('0');
    // switchyard's own code, on every error answer whatever the API's shape.
    expect(err.headers?.get('x-switchyard-error-code')).toBe('budget_exceeded');
    expect(await sim.log()).toEqual([]);
  });

  it("a model's own budget refuses that model only: a dearer candidate (no budget of its own spent) still serves", async () => {
    // gemini's day budget is spent (above); gpt-4.1's worst case is larger, but no budget every model shares refused it.
    await sim.clearLog();
    const { response } = await sc.client.chat.completions.create({ model: 'route/upward', messages: LONGFORM, max_tokens: LONGFORM_MAX }).withResponse();
    expect(response.headers.get('x-switchyard-model')).toBe('gpt-4.1');
    const reason = response.headers.get('x-switchyard-reason')!;
    expect(reason).toContain('gemini-2.5-flash over budget model:gemini-2.5-flash:day');
    expect(reason).not.toContain('not tried');
    expect((await sim.log()).map((e) => e.model)).toEqual(['gpt-4.1']);
  });
});

describe('concurrent reservations through the HTTP path', () => {
  it(`admits no more than the global day limit allows out of ${CROWD_SIZE} concurrent requests`, async () => {
    await sim.clearLog();
    const outcomes = await Promise.all(
      Array.from({ length: CROWD_SIZE }, () =>
        crowd.client.chat.completions
          .create({ model: 'deepseek-v3.2', messages: CROWD, max_tokens: CROWD_MAX })
          .withResponse()
          .then(
            ({ response }) => ({
              ok: true as const,
              attempts: Number(response.headers.get('x-switchyard-attempts')),
              cost: usdHeaderToNano(response.headers.get('x-switchyard-cost-usd')),
            }),
            (e: unknown) => ({ ok: false as const, err: e }),
          ),
      ),
    );
    const served = outcomes.filter((o) => o.ok);
    const refused = outcomes.filter((o) => !o.ok);
    for (const r of refused) {
      const e = r.err as InstanceType<typeof OpenAI.APIError>;
      expect(e).toBeInstanceOf(OpenAI.APIError);
      expect([e.status, e.code, e.headers?.get('x-should-retry')]).toEqual([429, 'budget_exceeded', 'false']);
    }
    // Each reservation is CROWD_WORST (a byte bound of the prompt); each settles lower, at the
    // upstream's count. So at least the 40 first reservations fit, and a few more once earlier
    // ones have settled; never so many that the settled total passes the limit.
    expect(served.length).toBeGreaterThanOrEqual(CROWD_FITS);
    expect(served.length).toBeLessThan(CROWD_SIZE);
    const settled = served.reduce((s, o) => s + o.cost, 0);
    expect(settled).toBeLessThanOrEqual(CROWD_LIMIT_NANO);
    // The simulator saw exactly the admitted requests' attempts, nothing for a refused one.
    expect((await sim.log()).length).toBe(served.reduce((s, o) => s + o.attempts, 0));
    const rows = ledgerRows(ledgerB);
    expect(rows).toHaveLength(CROWD_SIZE);
    expect(rows.filter((r) => r.status === 429 && r.error_code === 'budget_exceeded' && r.cost_nano === 0 && r.attempts === 0)).toHaveLength(refused.length);
    const ledgerSum = rows.reduce((s, r) => s + r.cost_nano, 0);
    expect(ledgerSum).toBe(settled);
    const total = await spendTotalUsd(crowd);
    expect(total.requests).toBe(CROWD_SIZE);
    expect(Math.round(total.usd * 1e9)).toBe(ledgerSum);
    const [day] = (await stateOf(crowd)).budgets;
    expect(day).toMatchObject({ id: 'global:day', reservedUsd: 0 });
    expect(Math.round(day!.spentUsd * 1e9)).toBe(ledgerSum);
    expect(day!.spentUsd).toBeLessThanOrEqual(day!.limitUsd);
  });
});

describe('client disconnect mid-stream', () => {
  it('aborts the upstream, settles what was delivered (499, estimated) and frees the reservation', async () => {
    const msgs = user('A slow story please');
    const ac = new AbortController();
    const started = Date.now();
    const { data: stream, response } = await sc.client.chat.completions
      .create({ model: 'slow-model', messages: msgs, stream: true, max_tokens: 1000 }, { signal: ac.signal })
      .withResponse();
    let text = '';
    let chunks = 0;
    try {
      for await (const c of stream) {
        const piece = c.choices[0]?.delta.content ?? '';
        text += piece;
        if (piece && ++chunks === 5) ac.abort();
      }
    } catch (err) {
      expect(err).toBeInstanceOf(OpenAI.APIUserAbortError);
    }
    expect(chunks).toBe(5);
    const row = await rowOf(ledgerA, response.headers.get('x-request-id'), 3000);
    const delivered = countTextTokens(text);
    // The sidecar may have forwarded a token or two more before it saw the socket close.
    expect(row.completion_tokens).toBeGreaterThanOrEqual(delivered);
    expect(row.completion_tokens).toBeLessThanOrEqual(delivered + 6);
    expect(row).toMatchObject({ status: 499, estimated: 1, stream: 1, model: 'slow-model', prompt_tokens: countPromptTokens(msgs) });
    expect(row.cost_nano).toBe(row.prompt_tokens * NANO.deepseek.input + row.completion_tokens * NANO.deepseek.output);
    // The attempt ended with the client, not when the upstream would have finished (10 s).
    expect(row.latency_ms).toBeLessThan((SLOW_TOKENS * SLOW_GAP_MS) / 4);
    expect(Date.now() - started).toBeLessThan((SLOW_TOKENS * SLOW_GAP_MS) / 2);
    const state = await stateOf(sc);
    expect(state.endpoints.find((e) => e.id === 'slow-model@deepseek')!.inFlight).toBe(0);
    for (const b of state.budgets) expect([b.id, b.reservedUsd]).toEqual([b.id, 0]);
  });
});

describe('budget periods in /switchyard/state', () => {
  it('shows limit, spent, reserved, period and resetsAt per budget', async () => {
    const state = await stateOf(sc);
    const at = new Date(state.at);
    const nextMidnight = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate() + 1)).toISOString();
    const nextMonth = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1)).toISOString();
    const total = await spendTotalUsd(sc);
    const byId = Object.fromEntries(state.budgets.map((b) => [b.id, b]));
    expect(Object.keys(byId).sort()).toEqual(['global:day', 'global:month', 'global:total', 'model:gemini-2.5-flash:day']);
    expect(byId['global:day']).toMatchObject({
      scope: 'global',
      period: 'day',
      limitUsd: 100,
      reservedUsd: 0,
      resetsAt: nextMidnight,
      periodStart: new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate())).toISOString(),
    });
    expect(byId['global:month']).toMatchObject({ scope: 'global', period: 'month', limitUsd: 100, reservedUsd: 0, resetsAt: nextMonth });
    expect(byId['global:total']).toMatchObject({ scope: 'global', period: 'total', limitUsd: 100, reservedUsd: 0, resetsAt: null });
    expect(byId['model:gemini-2.5-flash:day']).toMatchObject({ scope: 'model', model: 'gemini-2.5-flash', period: 'day', resetsAt: nextMidnight });
    // Every request of this file ran today, so each global budget has spent the whole ledger.
    expect(total.usd).toBeGreaterThan(0);
    for (const id of ['global:day', 'global:month', 'global:total']) expect(Math.round(byId[id]!.spentUsd * 1e9)).toBe(Math.round(total.usd * 1e9));
  });
});

describe('a refusal for money while a candidate the budget did not refuse is down', () => {
  let down: SidecarHandle | undefined;
  afterAll(async () => {
    await down?.stop();
  });

  it('is a 503 with retry-after, not a 429 budget_exceeded the SDKs never retry (the model asked for fits; it is only circuit-open)', async () => {
    // gpt-4.1's worst case (1,000 output tokens at $8/MTok) fits the $0.012 left; its fallback claude's ($15/MTok) does not.
    const cfg = testConfig(sim.url, {
      budget: { limits: [{ scope: 'global', period: 'day', usd: 0.012 }] },
    });
    (cfg.resilience as Record<string, unknown>).failureThreshold = 1;
    (cfg.resilience as Record<string, unknown>).recoveryMs = 60_000;
    down = await startSidecar(cfg);
    await sim.setFault('gpt-4.1', { kind: 'http_error', status: 500, times: 1 });
    const ask = () =>
      fetch(`${down!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4.1', max_tokens: 1000, messages: [{ role: 'user', content: 'hi' }] }),
      });
    await (await ask()).text(); // its 500 opens gpt-4.1's circuit
    await sim.clearFaults();
    await sim.clearLog();
    const r = await ask();
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect(r.status).toBe(503);
    expect(body.error.code).toBe('no_endpoint_available');
    expect(body.error.message).toMatch(/gpt-4\.1 circuit-open/);
    expect(body.error.message).toMatch(/refused for money \(budget global:day would be exceeded/);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(r.headers.get('x-should-retry')).toBeNull();
    expect(r.headers.get('x-switchyard-error-code')).toBe('no_endpoint_available');
    // The Messages API: Anthropic's shape, which has no code field; the header tells it from a rate limit.
    const m = await fetch(`${down.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'gpt-4.1', max_tokens: 1000, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(m.status).toBe(503);
    expect(((await m.json()) as { type: string }).type).toBe('error');
    expect(m.headers.get('x-switchyard-error-code')).toBe('no_endpoint_available');
    expect(await sim.log()).toEqual([]);
  });

  it("its retry-after is the down candidate's wait, not the 1 s of the candidate refused for money (a 120 s throttle said retry-after: 1)", async () => {
    const h = await startSidecar(testConfig(sim.url, { budget: { limits: [{ scope: 'model', model: 'claude-sonnet-4.5', period: 'day', usd: 0.000001 }] } }));
    try {
      await sim.setFault('gpt-4.1', { kind: 'rate_limit', retryAfterSec: 120, times: 1 });
      const r = await fetch(`${h.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4.1', max_tokens: 1000, messages: [{ role: 'user', content: 'hi' }] }),
      });
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect(r.status).toBe(503);
      expect(body.error.code).toBe('no_endpoint_available');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(100);
      expect(r.headers.get('x-should-retry')).toBe('false');
    } finally {
      await sim.clearFaults();
      await h.stop();
    }
  });
});
