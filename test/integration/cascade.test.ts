/**
 * Issue 12 end to end: the quality cascade through the real sidecar process in front of the
 * real simulator, with the official OpenAI SDK. A quality fault on the cheap model's upstream
 * makes its answer fail a check; the request escalates to the next tier up and the client
 * gets that answer, with every step in the ledger and the exact sum as its cost.
 *
 * Costs are computed here from the test catalogue's prices per token (nano-USD), from the
 * tokens each step's ledger row holds; never with the code under test's cost helpers.
 */
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sleep, startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import { waitFor } from './fault-helpers.js';

/** Nano-USD per token (USD per MTok × 1000). */
const PRICE: Record<string, { input: number; output: number }> = {
  'deepseek-v3.2': { input: 280, output: 420 },
  'gemini-2.5-flash': { input: 300, output: 2_500 },
  'gpt-4.1': { input: 2_000, output: 8_000 },
  'claude-sonnet-4.5': { input: 3_000, output: 15_000 },
};
const SCHEMA = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
const TOOLS: OpenAI.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'] } } },
];
const ROUTING = { strategy: 'cost', routes: { chatbot: ['deepseek-v3.2', 'gemini-2.5-flash'], code: ['deepseek-v3.2', 'gpt-4.1'] } };

let sim: SimHandle;
let sc: SidecarHandle;
/** Cascade off by default (on by header), and a global day budget only deepseek-v3.2's worst case fits ($0.0034 of $0.01). */
let tight: SidecarHandle;
let seq = 0;

interface Row {
  request_id: string;
  model: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cost_nano: number;
  status: number;
  parent_id: string | null;
  step: number | null;
  quality: string | null;
  delivered: number | null;
  stream: number;
}

const ledgerFile = (h: SidecarHandle): string => {
  const m = /ledger: sqlite:(\S+)/.exec(readFileSync(h.configFile, 'utf8'));
  return m![1]!;
};

function rows(h: SidecarHandle, sql: string, ...params: unknown[]): Row[] {
  const db = new Database(ledgerFile(h), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as Row[];
  } finally {
    db.close();
  }
}

/** Each test's label → the request id switchyard answered with (`x-request-id`, which keys the ledger rows). */
const serverIds = new Map<string, string>();
const sid = (id: string): string => serverIds.get(id) ?? id;

/** The step rows of a request (written before its response ends; a stream's after its last byte). */
async function stepsOf(h: SidecarHandle, id: string, count: number): Promise<Row[]> {
  for (let i = 0; i < 40; i++) {
    const r = rows(h, 'select * from ledger where parent_id = ? order by step', sid(id));
    if (r.length >= count) return r;
    await sleep(25);
  }
  throw new Error(`fewer than ${count} ledger rows for ${id}`);
}

const costOf = (r: Row): number => r.prompt_tokens * PRICE[r.model!]!.input + r.completion_tokens * PRICE[r.model!]!.output;
const usdToNano = (v: string | null): number => {
  expect(v).toMatch(/^\d+\.\d{9}$/);
  return Math.round(Number(v) * 1e9);
};

interface Got {
  headers: Headers;
  content: string;
  refusal: string | null;
  toolArgs: string | null;
  finish: string | null;
  models: Set<string>;
}

type Params = Omit<OpenAI.ChatCompletionCreateParamsNonStreaming, 'model' | 'messages' | 'stream'>;

async function ask(h: SidecarHandle, id: string, stream: boolean, params: Params = {}, headers: Record<string, string> = {}, model = 'auto'): Promise<Got> {
  const base = { model, messages: [{ role: 'user' as const, content: `question ${id}` }], ...params };
  // auto at fast_cheap: deepseek-v3.2 first (the cheaper of the tier), then balanced (gpt-4.1), then high_quality.
  const tier = model === 'auto' ? { 'x-switchyard-tier': 'fast_cheap' } : {};
  const opts = { headers: { 'x-client-request-id': id, ...tier, ...headers } };
  if (!stream) {
    const { data, response } = await h.client.chat.completions.create({ ...base, stream: false }, opts).withResponse();
    serverIds.set(id, response.headers.get('x-request-id')!);
    const m = data.choices[0]!.message;
    return {
      headers: response.headers,
      content: m.content ?? '',
      refusal: m.refusal ?? null,
      toolArgs: m.tool_calls?.[0]?.type === 'function' ? m.tool_calls[0].function.arguments : null,
      finish: data.choices[0]!.finish_reason,
      models: new Set([data.model]),
    };
  }
  const { data, response } = await h.client.chat.completions.create({ ...base, stream: true }, opts).withResponse();
  serverIds.set(id, response.headers.get('x-request-id')!);
  const got: Got = { headers: response.headers, content: '', refusal: null, toolArgs: null, finish: null, models: new Set() };
  for await (const c of data) {
    got.models.add(c.model);
    const d = c.choices[0]?.delta;
    got.content += d?.content ?? '';
    if (d?.refusal) got.refusal = (got.refusal ?? '') + d.refusal;
    for (const t of d?.tool_calls ?? []) got.toolArgs = (got.toolArgs ?? '') + (t.function?.arguments ?? '');
    if (c.choices[0]?.finish_reason) got.finish = c.choices[0].finish_reason;
  }
  return got;
}

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 0, tokenGapMs: 0, outputTokens: 12 } });
  sc = await startSidecar(testConfig(sim.url, { routing: { ...ROUTING, cascade: { enabled: true } } }));
  tight = await startSidecar(testConfig(sim.url, { routing: ROUTING, budget: { limits: [{ scope: 'global', period: 'day', usd: 0.01 }] } }));
}, 60_000);
afterAll(async () => {
  await Promise.all([sc?.stop(), tight?.stop()]);
  await sim?.stop();
});
beforeEach(async () => {
  await sim.clearFaults();
});

const CASES: Array<{ check: string; fault: string; params: Params; good: (g: Got) => void }> = [
  {
    check: 'invalid_json',
    fault: 'invalid_json',
    params: { response_format: { type: 'json_object' } },
    good: (g) => expect(JSON.parse(g.content)).toEqual({ answer: expect.any(String) }),
  },
  {
    check: 'schema',
    fault: 'json_mismatch',
    params: { response_format: { type: 'json_schema', json_schema: { name: 'a', schema: SCHEMA } } },
    good: (g) => expect(Object.keys(JSON.parse(g.content) as object)).toEqual(['answer']),
  },
  { check: 'refusal', fault: 'refusal', params: {}, good: (g) => expect(g.refusal).toBeNull() },
  { check: 'empty', fault: 'empty', params: {}, good: (g) => expect(g.content.split(' ')).toHaveLength(12) },
  { check: 'truncated', fault: 'length_stop', params: {}, good: (g) => expect(g.finish).toBe('stop') },
  {
    check: 'tool_args',
    fault: 'invalid_tool_args',
    params: { tools: TOOLS },
    good: (g) => expect(JSON.parse(g.toolArgs!)).toEqual({ input: expect.any(String) }),
  },
];

describe('escalation on each deterministic check', () => {
  for (const stream of [false, true]) {
    for (const c of CASES) {
      it(`${c.check} (${stream ? 'streamed' : 'JSON'}): deepseek's answer fails, gpt-4.1's is delivered; two ledger rows, exact cost sum`, async () => {
        await sim.setFault('deepseek-chat', { kind: c.fault, times: 1 });
        const id = `cas-${c.check}-${stream ? 's' : 'j'}-${++seq}`;
        const g = await ask(sc, id, stream, c.params);
        expect(g.headers.get('x-switchyard-cascade')).toBe(`deepseek-v3.2:${c.check}>gpt-4.1:pass`);
        expect(g.headers.get('x-switchyard-model')).toBe('gpt-4.1');
        // Why this model: the step below that failed, then what chose the first tier.
        expect(g.headers.get('x-switchyard-reason')).toBe(`cascade: deepseek-v3.2 ${c.check} -> balanced; tier forced by x-switchyard-tier: fast_cheap`);
        expect([...g.models]).toEqual(['gpt-4.1']); // no byte of the failed step
        c.good(g);
        const steps = await stepsOf(sc, id, 2);
        expect(steps.map((r) => [r.request_id, r.model, r.step, r.quality, r.delivered, r.stream])).toEqual([
          [`${sid(id)}#1`, 'deepseek-v3.2', 1, c.check, 0, stream ? 1 : 0],
          [`${sid(id)}#2`, 'gpt-4.1', 2, 'pass', 1, stream ? 1 : 0],
        ]);
        for (const r of steps) expect(r.cost_nano).toBe(costOf(r));
        expect(usdToNano(g.headers.get('x-switchyard-cost-usd'))).toBe(costOf(steps[0]!) + costOf(steps[1]!));
        expect(g.headers.get('x-switchyard-attempts')).toBe('2');
        if (stream) expect(Number(g.headers.get('x-switchyard-cascade-hold-ms'))).toBeGreaterThanOrEqual(0);
        else expect(g.headers.get('x-switchyard-cascade-hold-ms')).toBeNull();
      });
    }
  }
});

describe('custom tools under the cascade', () => {
  it('a custom tool call (free-form input) passes the checks on the first step, JSON and streamed, billed as output', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'custom', custom: { name: 'shell', description: 'run a shell command' } }, ...TOOLS];
    for (const stream of [false, true]) {
      const id = `cas-custom-${stream ? 's' : 'j'}-${++seq}`;
      const opts = { headers: { 'x-client-request-id': id, 'x-switchyard-tier': 'fast_cheap' } };
      const messages = [{ role: 'user' as const, content: 'list the files here' }];
      let call: { type?: string; name: string; input: string };
      let headers: Headers;
      if (!stream) {
        const { data, response } = await sc.client.chat.completions.create({ model: 'auto', messages, tools }, opts).withResponse();
        headers = response.headers;
        const tc = data.choices[0]!.message.tool_calls![0]!;
        call = tc.type === 'custom' ? { type: tc.type, ...tc.custom } : { name: '', input: '' };
        expect(data.choices[0]!.finish_reason).toBe('tool_calls');
      } else {
        const { data, response } = await sc.client.chat.completions.create({ model: 'auto', messages, tools, stream: true }, opts).withResponse();
        headers = response.headers;
        call = { name: '', input: '' };
        for await (const c of data)
          for (const d of c.choices[0]?.delta.tool_calls ?? []) {
            const x = d as { type?: string; custom?: { name?: string; input?: string } };
            if (x.type !== undefined) call.type = x.type;
            call.name += x.custom?.name ?? '';
            call.input += x.custom?.input ?? '';
          }
      }
      serverIds.set(id, headers.get('x-request-id')!);
      expect(call).toEqual({ type: 'custom', name: 'shell', input: 'list the files here' });
      expect(headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:pass');
      const steps = await stepsOf(sc, id, 1);
      expect(steps.map((r) => [r.model, r.quality, r.delivered])).toEqual([['deepseek-v3.2', 'pass', 1]]);
      expect(steps[0]!.completion_tokens).toBeGreaterThan(0);
      expect(steps[0]!.cost_nano).toBe(costOf(steps[0]!));
    }
  });
});

describe('Messages tool arguments that are not a JSON object', () => {
  it("are the step's tool_args miss (JSON and streamed), not an upstream error, and not counted against the endpoint", async () => {
    const tools = [{ name: 'lookup', input_schema: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'] } }];
    for (const stream of [false, true]) {
      // Both models of the first step (fast_cheap) answer so: the step (named by the last model it tried) has no answer to deliver.
      await sim.setFault('deepseek-chat', { kind: 'invalid_tool_args', times: 1 });
      await sim.setFault('gemini-2.5-flash', { kind: 'invalid_tool_args', times: 1 });
      const r = await fetch(`${sc.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-switchyard-tier': 'fast_cheap' },
        body: JSON.stringify({ model: 'auto', max_tokens: 100, stream, tools, messages: [{ role: 'user', content: `call lookup ${++seq}` }] }),
      });
      const text = await r.text();
      expect(r.status).toBe(200);
      expect(r.headers.get('x-switchyard-cascade')).toBe('gemini-2.5-flash:tool_args>gpt-4.1:pass');
      expect(r.headers.get('x-switchyard-reason')).toMatch(/^cascade: gemini-2\.5-flash tool_args -> balanced/);
      expect(text).toContain('"tool_use"');
      const steps = await stepsOf(sc, r.headers.get('x-request-id')!, 2);
      expect(steps.map((s) => [s.model, s.quality, s.delivered])).toEqual([
        ['gemini-2.5-flash', 'tool_args', 0],
        ['gpt-4.1', 'pass', 1],
      ]);
    }
    // The model's answer, not the endpoint's health: twice in a row, and deepseek's breaker counted nothing.
    const ep = (await (await fetch(`${sc.url}/switchyard/state`)).json()) as {
      endpoints: Array<{ model: string; consecutiveFailures: number; state: string }>;
    };
    expect(ep.endpoints.find((e) => e.model === 'deepseek-v3.2')).toMatchObject({ state: 'healthy', consecutiveFailures: 0 });
  });
});

describe('auto under the cascade', () => {
  it("a cascaded auto request keeps the scorer's score on its first step (route_score, what switchyard calibrate reads), once", async () => {
    for (const stream of [false, true]) {
      const content = 'Hey! How are you doing today?';
      const dry = (await (
        await fetch(`${sc.url}/switchyard/route`, { method: 'POST', body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content }] }) })
      ).json()) as { model: string; score: number };
      expect(dry.model).toBe('deepseek-v3.2'); // fast_cheap: the cheap answer can fail and escalate
      await sim.setFault('deepseek-chat', { kind: 'refusal', times: 1 });
      const id = `cas-auto-${++seq}`;
      const { response } = await sc.client.chat.completions
        .create({ model: 'auto', messages: [{ role: 'user', content }], stream }, { headers: { 'x-client-request-id': id } })
        .withResponse();
      serverIds.set(id, response.headers.get('x-request-id')!);
      if (stream) await response.text();
      expect(response.headers.get('x-switchyard-cascade')).toMatch(/^deepseek-v3\.2:refusal>[^:]+:pass$/);
      expect(response.headers.get('x-switchyard-reason')).toMatch(/^cascade: deepseek-v3\.2 refusal -> balanced; score 0\.\d+ < 0\.\d+ -> fast_cheap: /);
      const steps = await stepsOf(sc, id, 2);
      const scores = rows(sc, 'select route_score from ledger where parent_id = ? order by step', sid(id)) as unknown as Array<{ route_score: number | null }>;
      expect(steps).toHaveLength(2);
      expect(scores[0]!.route_score).toBeCloseTo(dry.score, 12);
      expect(scores[1]!.route_score).toBeNull();
    }
  });

  it('auto on the top tier has nothing to escalate to: served as a plain request (a stream not held, no check, no cascade header), and the dry run says no cascade', async () => {
    const hard = 'Implement a distributed rate limiter for a multi-region API gateway in Python, with unit tests.';
    for (const [content, headers] of [
      [hard, {}],
      ['hi', { 'x-switchyard-tier': 'high_quality' }],
    ] as const) {
      const body = { model: 'auto', messages: [{ role: 'user' as const, content }] };
      const dry = (await (await fetch(`${sc.url}/switchyard/route`, { method: 'POST', headers, body: JSON.stringify(body) })).json()) as {
        tier: string;
        cascade: unknown;
      };
      expect(dry).toMatchObject({ tier: 'high_quality', cascade: null });
      // A refusal the cascade's checks would have caught (and held the stream to catch): a plain request delivers it as it is.
      await sim.setFault('claude-sonnet-4-5', { kind: 'refusal', times: 1 });
      const id = `cas-top-${++seq}`;
      const { data, response } = await sc.client.chat.completions
        .create({ ...body, stream: true }, { headers: { 'x-client-request-id': id, ...headers } })
        .withResponse();
      serverIds.set(id, response.headers.get('x-request-id')!);
      let chunks = 0;
      for await (const c of data) if (c.choices[0]?.delta) chunks++;
      expect(chunks).toBeGreaterThan(1);
      expect(response.headers.get('x-switchyard-cascade-hold-ms')).toBeNull();
      expect(response.headers.get('x-switchyard-cascade')).toBeNull();
      expect(response.headers.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
      // One plain ledger row, no step rows.
      const row = await waitFor(
        'its ledger row',
        async () => rows(sc, 'select * from ledger where request_id = ?', sid(id)),
        (r) => r.length > 0,
      );
      expect(row.map((r) => [r.model, r.parent_id])).toEqual([['claude-sonnet-4.5', null]]);
    }
  });
});

describe('counted once per client request', () => {
  const chatCount = async (h: SidecarHandle): Promise<{ state: number; metric: number }> => {
    const state = (await (await fetch(`${h.url}/switchyard/state`)).json()) as { apis: { chat: number } };
    const text = await (await fetch(`${h.url}/metrics`)).text();
    const metric = text
      .split('\n')
      .filter((l) => l.startsWith('switchyard_api_requests_total{api="chat"'))
      .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
    return { state: state.apis.chat, metric };
  };

  it('an escalated request (two upstream steps) adds 1 to apis.chat and to switchyard_api_requests_total, with status 200', async () => {
    for (const stream of [false, true]) {
      const before = await chatCount(sc);
      await sim.setFault('deepseek-chat', { kind: 'invalid_json', times: 1 });
      const g = await ask(sc, `cas-count-${++seq}`, stream, { response_format: { type: 'json_object' } });
      expect(g.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:invalid_json>gpt-4.1:pass');
      // No wait: a cascade counts its request once, before the chosen answer is replayed to the client.
      const after = await chatCount(sc);
      expect(after.state - before.state).toBe(1);
      expect(after.metric - before.metric).toBe(1);
    }
    const text = await (await fetch(`${sc.url}/metrics`)).text();
    expect(text).toMatch(/^switchyard_api_requests_total\{api="chat",status="200"\} \d+$/m);
  });

  it('a cascaded request whose client went away before an answer counts once too, as 499', async () => {
    const before = await chatCount(sc);
    await sim.setFault('deepseek-chat', { kind: 'hang', times: 1 });
    try {
      const ac = new AbortController();
      const sent = fetch(`${sc.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-switchyard-tier': 'fast_cheap', 'x-switchyard-cascade': 'on' },
        body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: `question cas-gone-${++seq}` }] }),
        signal: ac.signal,
      }).catch(() => null);
      await waitFor(
        'the hung step to go out',
        async () => (await sim.log()).some((e) => e.model === 'deepseek-chat' && e.fault === 'hang'),
        (x) => x,
        10_000,
      );
      ac.abort();
      await sent;
      const after = await waitFor(
        'the request to be counted',
        () => chatCount(sc),
        (c) => c.state > before.state,
        10_000,
      );
      expect([after.state - before.state, after.metric - before.metric]).toEqual([1, 1]);
      const text = await (await fetch(`${sc.url}/metrics`)).text();
      expect(text).toMatch(/^switchyard_api_requests_total\{api="chat",status="499"\} \d+$/m);
    } finally {
      await sim.clearFaults();
    }
  });
});

describe('no escalation, refusals and switches', () => {
  it("the client's own max_tokens caused the length stop: delivered as it is, one step", async () => {
    for (const stream of [false, true]) {
      const id = `cas-max-${++seq}`;
      const g = await ask(sc, id, stream, { max_tokens: 3 });
      expect(g.finish).toBe('length');
      expect(g.content.split(' ')).toHaveLength(3);
      expect(g.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:pass');
      expect((await stepsOf(sc, id, 1)).map((r) => r.quality)).toEqual(['pass']);
    }
  });

  it("with both max_tokens and max_completion_tokens, the smaller one is the client's cap: its length stop is delivered, one step", async () => {
    for (const stream of [false, true]) {
      const id = `cas-both-${++seq}`;
      const g = await ask(sc, id, stream, { max_tokens: 1000, max_completion_tokens: 3 });
      expect(g.finish).toBe('length');
      expect(g.content.split(' ')).toHaveLength(3);
      expect(g.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:pass');
    }
  });

  it('when no tier passes, the last answer comes back with the failed checks named (never an error)', async () => {
    await sim.setFault('*', { kind: 'empty', times: 3 });
    const id = `cas-none-${++seq}`;
    const g = await ask(sc, id, false);
    expect(g.content).toBe('');
    expect(g.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:empty>gpt-4.1:empty>claude-sonnet-4.5:empty');
    const steps = await stepsOf(sc, id, 3);
    expect(steps.map((r) => r.delivered)).toEqual([0, 0, 1]);
    expect(usdToNano(g.headers.get('x-switchyard-cost-usd'))).toBe(steps.reduce((s, r) => s + costOf(r), 0));
  });

  it("when every step fails upstream, the 502 says the whole cascade failed and counts its attempts as x-switchyard-attempts does (it gave the last step's count alone)", async () => {
    await sim.setFault('*', { kind: 'http_error', status: 500, times: 100 });
    const id = `cas-allfail-${++seq}`;
    const res = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-client-request-id': id, 'x-switchyard-tier': 'fast_cheap' },
      body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: `question ${id}` }] }),
    });
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(res.status).toBe(502);
    const attempts = res.headers.get('x-switchyard-attempts')!;
    const cascade = res.headers.get('x-switchyard-cascade')!;
    expect(cascade.split('>').length).toBeGreaterThan(1);
    expect(body.error.code).toBe('upstream_error');
    expect(body.error.message).toContain(`every step of the cascade failed (${cascade}; ${attempts} attempts in all); step `);
    expect(body.error.message).toMatch(/upstream failed on every attempt \(\d+\)/);
  });

  it('an empty answer is never delivered over one with content that failed a check (it ranks last, whatever the step)', async () => {
    for (const stream of [false, true]) {
      await sim.setFault('deepseek-chat', { kind: 'length_stop', times: 1 });
      await sim.setFault('gpt-4.1', { kind: 'empty', times: 1 });
      await sim.setFault('claude-sonnet-4-5', { kind: 'empty', times: 1 });
      const id = `cas-empty-last-${++seq}`;
      const g = await ask(sc, id, stream);
      expect(g.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:truncated>gpt-4.1:empty>claude-sonnet-4.5:empty');
      expect(g.content).not.toBe('');
      expect(g.finish).toBe('length');
      expect(g.headers.get('x-switchyard-model')).toBe('deepseek-v3.2');
      // The reason says the later steps were tried (it read as if deepseek had been the only one).
      expect(g.headers.get('x-switchyard-reason')).toMatch(/; escalated to gpt-4\.1 empty, then claude-sonnet-4\.5 empty: step 1's answer delivered$/);
      expect((await stepsOf(sc, id, 3)).map((r) => r.delivered)).toEqual([1, 0, 0]);
    }
  });

  it('a held stream whose deadline passes with no answer is a clean 504, not a 200 with part of the failed step (the client had no byte yet)', async () => {
    await sim.setFault('deepseek-chat', { kind: 'stall', afterTokens: 3, times: 1 });
    const id = `cas-deadline-${++seq}`;
    const res = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-switchyard-timeout-ms': '600', 'x-client-request-id': id },
      body: JSON.stringify({ model: 'deepseek-v3.2', stream: true, messages: [{ role: 'user', content: `question ${id}` }] }),
    });
    const text = await res.text();
    expect(res.status).toBe(504);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect((JSON.parse(text) as { error: { code: string } }).error.code).toBe('timeout');
    expect(res.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:timeout');
    // The client waited from the stream's first content to the deadline: that is the time the hold added.
    expect(Number(res.headers.get('x-switchyard-cascade-hold-ms'))).toBeGreaterThanOrEqual(300);
    serverIds.set(id, res.headers.get('x-request-id')!);
    const [row] = await stepsOf(sc, id, 1);
    expect(row).toMatchObject({ status: 504, delivered: 1, quality: 'timeout' });
    // The cascade's own log line says it failed, with the status and code the client got (it said "cascade served").
    const out = await sc.waitForOutput(new RegExp(`"requestId":"${sid(id)}".*"msg":"cascade `));
    const line = out.split('\n').find((l) => l.includes(`"requestId":"${sid(id)}"`) && l.includes('"msg":"cascade '))!;
    expect(JSON.parse(line)).toMatchObject({ status: 504, error: 'timeout', msg: expect.stringMatching(/^cascade failed: /) });
  });

  it('a held stream cut after its first content fails over afresh within its tier, not continued on a prefill model (the client saw none of it)', async () => {
    await sim.setFault('deepseek-chat', { kind: 'cut', afterTokens: 3, times: 1 });
    await sim.clearLog();
    const id = `cas-cut-${++seq}`;
    const g = await ask(sc, id, true);
    expect(g.content.split(' ')).toHaveLength(12);
    expect(g.finish).toBe('stop');
    const sent = (await sim.log()).filter((e) => e.model !== 'deepseek-chat' || e.fault === null);
    // The next attempt is gemini-2.5-flash (the tier's other model) with no prefill; claude (the only `prefill` model) is never asked.
    expect(sent.map((e) => [e.model, e.prefill])).toEqual([['gemini-2.5-flash', false]]);
    expect(g.models).toEqual(new Set(['gemini-2.5-flash']));
    const [row, ...more] = await stepsOf(sc, id, 1);
    expect(more).toEqual([]);
    // The row is the model that answered; its cost is both attempts' (the cut one's 3 words billed at deepseek's price).
    expect(row).toMatchObject({ model: 'gemini-2.5-flash', status: 200, delivered: 1 });
    expect(row!.completion_tokens).toBeGreaterThan(12);
    expect(row!.cost_nano).toBeGreaterThan(costOf({ ...row!, prompt_tokens: 0, completion_tokens: 12 }));
    // The usage chunk is the answer's own (12 words), as a JSON answer's body is; the row holds both attempts.
    await sim.setFault('deepseek-chat', { kind: 'cut', afterTokens: 3, times: 1 });
    const stream = await sc.client.chat.completions.create(
      { model: 'auto', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: `question ${id}-usage` }] },
      { headers: { 'x-switchyard-tier': 'fast_cheap' } },
    );
    let usage: OpenAI.CompletionUsage | null | undefined = null;
    for await (const c of stream) usage = c.usage ?? usage;
    expect(usage?.completion_tokens).toBe(12);
  });

  it('a schema switchyard will not use (remote $ref, a pattern that can backtrack) skips the check instead of escalating', async () => {
    const evil = {
      type: 'object',
      properties: { answer: { type: 'string', pattern: '^(a+)+$' }, more: { $ref: 'https://example.com/s.json' } },
      required: ['answer'],
    };
    const id = `cas-evil-${++seq}`;
    const g = await ask(sc, id, false, { response_format: { type: 'json_schema', json_schema: { name: 'evil', schema: evil } } });
    expect(g.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:pass');
    // The reason says the pass was not a validation (a `pass` alone read as if the schema had been checked).
    expect(g.headers.get('x-switchyard-reason')).toMatch(/; deepseek-v3\.2's answer not checked by schema: /);
    // That such a pattern cannot hang the process on a matching-length answer: test/quality/checks.test.ts.
  });

  it("a step's 400 context_length_exceeded goes on to the next step (its models may have larger windows), as a plain request fails over", async () => {
    for (const stream of [false, true]) {
      // Both fast_cheap models (the step fails over from one to the other first).
      await sim.setFault('deepseek-chat', { kind: 'context_length_exceeded', times: 1 });
      await sim.setFault('gemini-2.5-flash', { kind: 'context_length_exceeded', times: 1 });
      const id = `cas-ctx-${++seq}`;
      const g = await ask(sc, id, stream);
      expect(g.headers.get('x-switchyard-cascade')).toMatch(/^[a-z0-9.-]+:context_length_exceeded>gpt-4\.1:pass$/);
      expect(g.content.split(' ')).toHaveLength(12);
    }
  });

  it('x-switchyard-cascade: off answers as before: the broken JSON, one plain ledger row', async () => {
    await sim.setFault('deepseek-chat', { kind: 'invalid_json', times: 1 });
    const id = `cas-off-${++seq}`;
    const g = await ask(sc, id, false, { response_format: { type: 'json_object' } }, { 'x-switchyard-cascade': 'off' });
    expect(() => JSON.parse(g.content)).toThrow();
    expect(g.headers.get('x-switchyard-cascade')).toBeNull();
    expect(g.headers.get('x-switchyard-model')).toBe('deepseek-v3.2');
    // No wait: a request's rows (a cascade's steps too) are committed before its response ends.
    expect(rows(sc, 'select * from ledger where request_id = ?', sid(id)).map((r) => [r.model, r.parent_id])).toEqual([['deepseek-v3.2', null]]);
    expect(rows(sc, 'select * from ledger where parent_id = ?', sid(id))).toEqual([]);
  });

  it('a bad x-switchyard-cascade value is a 400 naming the header', async () => {
    const err = await ask(sc, `cas-bad-${++seq}`, false, {}, { 'x-switchyard-cascade': 'maybe' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).message).toMatch(/x-switchyard-cascade/);
  });

  it('budget refusal mid-cascade (on by header): the best answer so far, the refused step recorded at no cost', async () => {
    for (const stream of [false, true]) {
      await sim.setFault('deepseek-chat', { kind: 'invalid_json', times: 1 });
      const id = `cas-budget-${++seq}`;
      const g = await ask(tight, id, stream, { response_format: { type: 'json_object' } }, { 'x-switchyard-cascade': 'on' });
      expect(g.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:invalid_json>gpt-4.1:budget_exceeded');
      expect(g.headers.get('x-switchyard-model')).toBe('deepseek-v3.2');
      expect(() => JSON.parse(g.content)).toThrow();
      const steps = await stepsOf(tight, id, 2);
      expect(steps.map((r) => [r.model, r.status, r.quality, r.delivered, r.cost_nano === 0])).toEqual([
        ['deepseek-v3.2', 200, 'invalid_json', 1, false],
        ['gpt-4.1', 429, 'budget_exceeded', 0, true], // no endpoint was reached: the row names the model refused
      ]);
      expect(usdToNano(g.headers.get('x-switchyard-cost-usd'))).toBe(costOf(steps[0]!));
    }
  });
});

describe('a later step over x-switchyard-max-cost-usd', () => {
  it('the best answer so far is delivered, its reason names the model the cap refused, and the dry run lists no step after the refused one', async () => {
    const params: Params = { max_tokens: 100, response_format: { type: 'json_object' } };
    // deepseek-v3.2's worst case (~$0.00005) fits $0.0002; gpt-4.1's (~$0.0009) and claude's do not.
    const cap = { 'x-switchyard-max-cost-usd': '0.0002' };
    for (const stream of [false, true]) {
      await sim.setFault('deepseek-chat', { kind: 'invalid_json', times: 1 });
      const id = `cas-later-cap-${++seq}`;
      const g = await ask(sc, id, stream, params, cap);
      expect(g.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:invalid_json>gpt-4.1:budget_exceeded');
      expect(g.headers.get('x-switchyard-model')).toBe('deepseek-v3.2');
      expect(g.headers.get('x-switchyard-reason')).toBe('tier forced by x-switchyard-tier: fast_cheap; gpt-4.1 over x-switchyard-max-cost-usd');
    }
    const dry = (await (
      await fetch(`${sc.url}/switchyard/route`, {
        method: 'POST',
        headers: { 'x-switchyard-tier': 'fast_cheap', ...cap },
        body: JSON.stringify({ model: 'auto', ...params, messages: [{ role: 'user', content: 'question dry' }] }),
      })
    ).json()) as { model: string; cascade: string[][] };
    // The gpt-4.1 step is refused for the cap, which ends the cascade: claude-sonnet-4.5's step never runs.
    expect(dry.model).toBe('deepseek-v3.2');
    expect(dry.cascade.map((st) => st[0])).toEqual(['deepseek-v3.2', 'gpt-4.1']);
  });
});

describe('refused for money before any answer: the cheaper candidates, as a plain request', () => {
  it('a budget refuses the whole first step: it falls back to a cheaper model instead of a 429, and the reason says why', async () => {
    // auto at balanced: the first step is gpt-4.1 alone, which tight's global budget refuses; a plain request falls back to deepseek.
    const balanced = { 'x-switchyard-tier': 'balanced' };
    const plain = await ask(tight, `cas-cheaper-plain-${++seq}`, false, {}, balanced);
    expect(plain.headers.get('x-switchyard-model')).toBe('deepseek-v3.2');
    for (const stream of [false, true]) {
      const id = `cas-cheaper-${++seq}`;
      const g = await ask(tight, id, stream, {}, { ...balanced, 'x-switchyard-cascade': 'on' });
      expect(g.headers.get('x-switchyard-cascade')).toBe('gpt-4.1:budget_exceeded>deepseek-v3.2:pass');
      expect(g.headers.get('x-switchyard-model')).toBe('deepseek-v3.2');
      expect(g.headers.get('x-switchyard-reason')).toBe(
        'cascade: gpt-4.1 over budget global:day -> cheaper models; tier forced by x-switchyard-tier: balanced',
      );
      expect(g.content).not.toBe('');
      const steps = await stepsOf(tight, id, 2);
      expect(steps.map((r) => [r.model, r.status, r.quality, r.delivered, r.cost_nano === 0])).toEqual([
        ['gpt-4.1', 429, 'budget_exceeded', 0, true],
        ['deepseek-v3.2', 200, 'pass', 1, false],
      ]);
      expect(usdToNano(g.headers.get('x-switchyard-cost-usd'))).toBe(costOf(steps[1]!));
    }
  });

  it('x-switchyard-max-cost-usd over the whole first step: the cheaper models under the cap, as the dry run says', async () => {
    const hq = { 'x-switchyard-tier': 'balanced', 'x-switchyard-max-cost-usd': '0.01' };
    const id = `cas-cap-${++seq}`;
    const g = await ask(sc, id, false, {}, hq);
    expect(g.headers.get('x-switchyard-cascade')).toBe('gpt-4.1:budget_exceeded>deepseek-v3.2:pass');
    const reason = 'cascade: gpt-4.1 over x-switchyard-max-cost-usd -> cheaper models; tier forced by x-switchyard-tier: balanced';
    expect(g.headers.get('x-switchyard-reason')).toBe(reason);
    const dry = (await (
      await fetch(`${sc.url}/switchyard/route`, {
        method: 'POST',
        headers: hq,
        body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: `question ${id}` }] }),
      })
    ).json()) as { model: string; reason: string; cascade: string[][] };
    expect(dry).toMatchObject({ model: 'deepseek-v3.2', reason });
    // The steps: the refused one, then the cheaper models, the one that serves among them (it listed the first only).
    expect(dry.cascade).toHaveLength(2);
    expect(dry.cascade[0]).toEqual(['gpt-4.1']);
    expect(dry.cascade[1]).toContain('deepseek-v3.2');
  });

  it('x-switchyard-max-cost-usd over the first step, and the cheaper answer fails a check: the next cheaper model under the cap is tried (the failed answer was delivered)', async () => {
    // auto at balanced, max_tokens 2000: gpt-4.1's worst case (~$0.016) is over the $0.01 cap, claude-sonnet-4.5's too; the
    // cheaper models under it are deepseek-v3.2 (~$0.0008), then gemini-2.5-flash (~$0.005).
    const params: Params = { max_tokens: 2000 };
    const cap = { 'x-switchyard-tier': 'balanced', 'x-switchyard-max-cost-usd': '0.01' };
    for (const stream of [false, true]) {
      await sim.setFault('deepseek-chat', { kind: 'empty', times: 1 });
      const id = `cas-cap-next-${stream ? 's' : 'j'}-${++seq}`;
      const g = await ask(sc, id, stream, params, cap);
      expect(g.headers.get('x-switchyard-cascade')).toBe('gpt-4.1:budget_exceeded>deepseek-v3.2:empty>gemini-2.5-flash:pass');
      expect(g.headers.get('x-switchyard-model')).toBe('gemini-2.5-flash');
      expect(g.headers.get('x-switchyard-reason')).toBe('cascade: deepseek-v3.2 empty -> gemini-2.5-flash; tier forced by x-switchyard-tier: balanced');
      expect(g.content).not.toBe('');
      const steps = await stepsOf(sc, id, 3);
      expect(steps.map((r) => [r.model, r.status, r.quality, r.delivered])).toEqual([
        ['gpt-4.1', 429, 'budget_exceeded', 0],
        ['deepseek-v3.2', 200, 'empty', 0],
        ['gemini-2.5-flash', 200, 'pass', 1],
      ]);
      expect(usdToNano(g.headers.get('x-switchyard-cost-usd'))).toBe(costOf(steps[1]!) + costOf(steps[2]!));
    }
  });

  it('x-switchyard-max-cost-usd under every model: only cheaper models are tried after the first refusal, and the 429 names the cheapest worst case, not a dearer one', async () => {
    const err = await sc.client.chat.completions
      .create(
        { model: 'auto', messages: [{ role: 'user', content: `question cas-cap-all-${++seq}` }] },
        { headers: { 'x-switchyard-tier': 'balanced', 'x-switchyard-max-cost-usd': '0.0000001' } },
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const e = err as InstanceType<typeof OpenAI.APIError>;
    expect([e.status, e.code]).toEqual([429, 'budget_exceeded']);
    // balanced (gpt-4.1) refused first; the cheaper fallback is deepseek-v3.2 alone, never claude (dearer).
    expect(e.headers?.get('x-switchyard-cascade')).toBe('gpt-4.1:budget_exceeded>deepseek-v3.2:budget_exceeded');
    // Nothing was spent: no cost header, as a plain request's refusal has none (it said 0.000000000).
    expect(e.headers?.get('x-switchyard-cost-usd')).toBeNull();
    expect(e.message).toMatch(/deepseek-v3\.2/);
    expect(e.message).not.toMatch(/claude|gemini/);
    // Each step row names the model the cap refused (they were NULL: '(none):budget_exceeded' in the spend report).
    const steps = await stepsOf(sc, e.headers!.get('x-request-id')!, 2);
    expect(steps.map((r) => [r.model, r.status])).toEqual([
      ['gpt-4.1', 429],
      ['deepseek-v3.2', 429],
    ]);
    // The dry run says the same refusal (it answered 500: no model was left to try after the first step).
    const dry = await fetch(`${sc.url}/switchyard/route`, {
      method: 'POST',
      headers: { 'x-switchyard-tier': 'balanced', 'x-switchyard-max-cost-usd': '0.0000001' },
      body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(dry.status).toBe(200);
    expect(((await dry.json()) as { endpoint: string | null; reason: string }).reason).toMatch(/a real request gets 429 budget_exceeded/);
  });

  it("a cascade step never goes to a model that cannot take the request's fields (seed on the Anthropic-kind claude): the dry run's steps leave it out", async () => {
    const body = { model: 'auto', seed: 5, messages: [{ role: 'user', content: `question cas-seed-${++seq}` }] };
    const dry = (await (
      await fetch(`${sc.url}/switchyard/route`, { method: 'POST', headers: { 'x-switchyard-tier': 'fast_cheap' }, body: JSON.stringify(body) })
    ).json()) as { cascade: string[][] };
    expect(dry.cascade.flat()).not.toContain('claude-sonnet-4.5');
    expect(dry.cascade.flat()).toContain('gpt-4.1');
    const plain = (await (
      await fetch(`${sc.url}/switchyard/route`, {
        method: 'POST',
        headers: { 'x-switchyard-tier': 'fast_cheap' },
        body: JSON.stringify({ ...body, seed: undefined }),
      })
    ).json()) as { cascade: string[][] };
    expect(plain.cascade.flat()).toContain('claude-sonnet-4.5');
  });

  it("models' own budgets refusing a whole step do not end the cascade: the next step's models have budgets of their own", async () => {
    // Both fast_cheap models' day budgets are below their worst cases; nothing caps gpt-4.1.
    const capped = await startSidecar(
      testConfig(sim.url, {
        routing: { ...ROUTING, cascade: { enabled: true } },
        budget: {
          limits: [
            { scope: 'global', period: 'day', usd: 5 },
            { scope: 'model', model: 'deepseek-v3.2', period: 'day', usd: 0.000001 },
            { scope: 'model', model: 'gemini-2.5-flash', period: 'day', usd: 0.000001 },
          ],
        },
      }),
    );
    try {
      const g = await ask(capped, `cas-model-budgets-${++seq}`, false);
      expect(g.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:budget_exceeded>gpt-4.1:pass');
      expect(g.headers.get('x-switchyard-model')).toBe('gpt-4.1');
      // A plain request goes on past the fast_cheap models to the next candidate, which no budget refused.
      const plain = await ask(capped, `cas-model-budgets-plain-${++seq}`, false, {}, { 'x-switchyard-cascade': 'off' });
      expect(plain.headers.get('x-switchyard-model')).not.toMatch(/deepseek|gemini/);
    } finally {
      await capped.stop();
    }
  });

  it('refused by a model cap and by the global budget: the 429 names the refusal nearest to fitting (the global one a lower max_tokens gets under)', async () => {
    const two = await startSidecar(
      testConfig(sim.url, {
        routing: ROUTING,
        budget: {
          limits: [
            { scope: 'global', period: 'day', usd: 0.0004 },
            { scope: 'model', model: 'gpt-4.1', period: 'day', usd: 0.000001 },
          ],
        },
      }),
    );
    try {
      // gpt-4.1 (worst case ~$0.00036) is refused by its own cap of $0.000001; claude (~$0.0005) by the global $0.0004.
      const err = (await two.client.chat.completions
        .create({ model: 'gpt-4.1', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] })
        .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err.status).toBe(429);
      expect(err.message).toMatch(/^429 budget global:day would be exceeded/);
      expect(err.message).toMatch(/a lower max_tokens lowers it/);
      expect(err.headers?.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
    } finally {
      await two.stop();
    }
  });

  it('plain: the models a budget refusal passes over untried are named too', async () => {
    const g = await ask(tight, `cas-untried-${++seq}`, false, {}, { 'x-switchyard-tier': 'balanced' });
    expect(g.headers.get('x-switchyard-model')).toBe('deepseek-v3.2');
    // claude's worst case is above gpt-4.1's, which the budget refused: not tried, and said so.
    expect(g.headers.get('x-switchyard-reason')).toMatch(
      /^tier forced by x-switchyard-tier: balanced; gpt-4\.1 over budget global:day; claude-sonnet-4\.5 not tried \(worst case >= \$0\.\d+ refused by budget global:day\)$/,
    );
  });
});

describe('a named model or route: the cascade stays inside what was named', () => {
  it('a route escalates along its own chain, in order, never to a model outside it', async () => {
    await sim.setFault('*', { kind: 'empty', times: 2 });
    const g = await ask(sc, `cas-route-${++seq}`, false, {}, {}, 'route/chatbot');
    expect(g.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:empty>gemini-2.5-flash:empty');
    await sim.clearFaults();
    await sim.setFault('deepseek-chat', { kind: 'invalid_json', times: 1 });
    const id = `cas-route-code-${++seq}`;
    const h = await ask(sc, id, true, { response_format: { type: 'json_object' } }, {}, 'route/code');
    expect(h.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:invalid_json>gpt-4.1:pass');
    expect(h.headers.get('x-switchyard-reason')).toBe('cascade: deepseek-v3.2 invalid_json -> gpt-4.1; route code: deepseek-v3.2 -> gpt-4.1');
    const dry = (await (
      await fetch(`${sc.url}/switchyard/route`, { method: 'POST', body: JSON.stringify({ model: 'route/code', messages: [{ role: 'user', content: 'hi' }] }) })
    ).json()) as { model: string; reason: string; cascade: string[][] };
    expect(dry).toMatchObject({ model: 'deepseek-v3.2', reason: 'route code: deepseek-v3.2 -> gpt-4.1', cascade: [['deepseek-v3.2'], ['gpt-4.1']] });
  });
});

describe('seen and learned from', () => {
  it('metrics, spend by escalation, the inspector timeline and feedback', async () => {
    await sim.setFault('deepseek-chat', { kind: 'refusal', times: 1 });
    const id = `cas-seen-${++seq}`;
    await ask(sc, id, false);
    const metrics = await (await fetch(`${sc.url}/metrics`)).text();
    expect(metrics).toMatch(/switchyard_cascade_steps_total\{from="deepseek-v3.2",to="gpt-4.1",reason="refusal"\} [1-9]/);
    expect(metrics).toMatch(/switchyard_cascade_steps_total\{from="gpt-4.1",to="client",reason="pass"\} [1-9]/);
    expect(metrics).toMatch(/switchyard_cascade_hold_seconds_count [1-9]/);
    const spend = (await (await fetch(`${sc.url}/switchyard/spend?group_by=escalation`)).json()) as {
      total: { requests: number };
      groups: Array<Record<string, unknown>>;
    };
    expect(spend.groups.map((g) => g.escalation)).toEqual(expect.arrayContaining(['deepseek-v3.2:refusal', 'gpt-4.1:pass']));
    // total.requests counts client requests (a cascade once), not its step rows; the groups count rows.
    const counted = new Database(ledgerFile(sc), { readonly: true });
    const clientRequests = (counted.prepare('select count(*) as n from ledger where parent_id is null or step = 1').get() as { n: number }).n;
    counted.close();
    expect(spend.total.requests).toBe(clientRequests);
    expect(spend.groups.reduce((n, g) => n + (g.requests as number), 0)).toBeGreaterThan(clientRequests);
    const events = await readEvents(`${sc.url}/switchyard/events`);
    expect(events).toContainEqual(expect.objectContaining({ kind: 'escalation', actor: `request:${sid(id)}`, from: 'deepseek-v3.2', to: 'gpt-4.1' }));
    const fb = (body: unknown) => fetch(`${sc.url}/switchyard/feedback`, { method: 'POST', body: JSON.stringify(body) });
    expect((await fb({ request_id: sid(id), good: false })).status).toBe(200);
    expect((await fb({ request_id: 'never-seen', good: true })).status).toBe(404);
    expect((await fb({ request_id: sid(id), good: 'yes' })).status).toBe(400);
    const db = new Database(ledgerFile(sc), { readonly: true });
    try {
      expect(db.prepare('select good from feedback where request_id = ?').get(sid(id))).toEqual({ good: 0 });
    } finally {
      db.close();
    }
  });
});

/** The replayed history of `/switchyard/events` (read until it goes quiet). */
async function readEvents(url: string): Promise<Array<Record<string, unknown>>> {
  const ac = new AbortController();
  const res = await fetch(url, { signal: ac.signal });
  const reader = res.body!.getReader();
  let text = '';
  const until = Date.now() + 500;
  while (Date.now() < until) {
    const next = await Promise.race([reader.read(), sleep(150).then(() => null)]);
    if (next === null || next.done) break;
    text += new TextDecoder().decode(next.value);
  }
  ac.abort();
  return text
    .split('\n')
    .filter((l) => l.startsWith('data:'))
    .map((l) => JSON.parse(l.slice(5)) as Record<string, unknown>);
}

describe('a client that leaves', () => {
  it('a cascade whose client left before any answer: no step row says it was delivered', async () => {
    await sim.setFault('deepseek-chat', { kind: 'slow_first_token', delayMs: 1500, times: 1 });
    const t0 = Date.now();
    const ac = new AbortController();
    const sent = fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-switchyard-tier': 'fast_cheap' },
      body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'question the client will not wait for' }] }),
      signal: ac.signal,
    }).catch(() => null);
    await sleep(300);
    ac.abort();
    await sent;
    let steps: Row[] = [];
    for (let i = 0; i < 80 && steps.length === 0; i++) {
      await sleep(50);
      steps = rows(sc, 'select * from ledger where parent_id is not null and at >= ? order by step', t0);
    }
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.map((r) => r.delivered)).not.toContain(1);
  });
});
