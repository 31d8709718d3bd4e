/**
 * Spend survives the process: a real sidecar serves requests, is killed with SIGKILL right
 * after the last response, and a new process on the same config file and SQLite ledger
 * reports the same spent totals and spend rows. Rows of earlier periods (written into the
 * ledger before the first start) show how each period is rebuilt: `total` never resets,
 * `day` and `month` count from their UTC start.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerRow } from '../../src/accounting/ledger.js';
import { SqliteLedger } from '../../src/accounting/sqlite-ledger.js';
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import { eventually, freshDb, type TestDb } from './replicas.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DAY_MS = 86_400_000;
const KEYS = { SY_TEAM_A_KEY: 'team-a-client-key', SY_TEAM_B_KEY: 'team-b-client-key' };

interface BudgetJson {
  id: string;
  period: string;
  limitUsd: number;
  spentUsd: number;
  reservedUsd: number;
  resetsAt: string | null;
}

let sim: SimHandle;
let sc: SidecarHandle;
let cfg: Record<string, unknown>;
let ledgerFile = '';
const startedAt = Date.now();
const dayStart = Math.floor(startedAt / DAY_MS) * DAY_MS;
const monthStart = Date.UTC(new Date(startedAt).getUTCFullYear(), new Date(startedAt).getUTCMonth(), 1);

function seeded(requestId: string, at: number, keyId: string, model: string, costNano: number): LedgerRow {
  return {
    requestId,
    at,
    keyId,
    model,
    endpoint: `${model}@seed`,
    attempts: 1,
    promptTokens: 10,
    completionTokens: 10,
    cachedTokens: 0,
    costNano,
    estimated: false,
    status: 200,
    latencyMs: 5,
    ttftMs: null,
    stream: false,
    errorCode: null,
  };
}
/** Forty days back is always an earlier month; the last millisecond of yesterday an earlier day. */
const OLD = seeded('seed-old', startedAt - 40 * DAY_MS, 'team-a', 'deepseek-v3.2', 3_000_000_000);
const YESTERDAY = seeded('seed-yesterday', dayStart - 1, 'team-b', 'deepseek-v3.2', 1_250_000_000);

const nano = (usd: number): number => Math.round(usd * 1e9);
const clientFor = (h: SidecarHandle, key: string): OpenAI => new OpenAI({ baseURL: `${h.url}/v1`, apiKey: key, maxRetries: 0, timeout: 30_000 });

async function budgets(h: SidecarHandle): Promise<Record<string, BudgetJson>> {
  const s = (await (await fetch(`${h.url}/switchyard/state`)).json()) as { budgets: BudgetJson[] };
  return Object.fromEntries(s.budgets.map((b) => [b.id, b]));
}

const SPEND_QUERIES = [
  'group_by=model',
  'group_by=day',
  'group_by=key',
  'group_by=endpoint',
  `group_by=model&from=${new Date(dayStart).toISOString()}`,
  `group_by=key&to=${new Date(dayStart).toISOString()}`,
  `group_by=day&from=${new Date(startedAt - 41 * DAY_MS).toISOString()}&to=${new Date(startedAt - 39 * DAY_MS).toISOString()}`,
];

async function spendReport(h: SidecarHandle): Promise<unknown[]> {
  return Promise.all(SPEND_QUERIES.map(async (q) => (await fetch(`${h.url}/switchyard/spend?${q}`)).json()));
}

/**
 * A request to a hanging upstream, and the sidecar killed (SIGKILL) once the attempt reached the
 * upstream: the client sees its connection cut. The upstream's faults are cleared afterwards.
 */
async function killMidRequest(h: SidecarHandle, client: OpenAI, headers: Record<string, string> = {}): Promise<void> {
  await sim.setFault('deepseek-chat', { kind: 'hang' });
  await sim.clearLog();
  const pending = client.chat.completions
    .create({ model: 'deepseek-v3.2', messages: [{ role: 'user', content: 'in flight at the kill' }], max_tokens: 20 }, { headers })
    .then(
      () => 'answered',
      () => 'cut',
    );
  // The attempt reached the upstream (it hangs there): kill the sidecar before it gives up on it.
  await eventually(async () => ((await sim.log()).length > 0 ? true : undefined), 5000, 'the attempt reached the upstream');
  expect(await h.stop('SIGKILL')).toBeNull();
  expect(await pending).toBe('cut');
  await sim.clearFaults();
}

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 2, tokenGapMs: 0, outputTokens: 30 } });
  cfg = testConfig(sim.url, {
    auth: {
      keys: [
        { id: 'team-a', keyEnv: 'SY_TEAM_A_KEY' },
        { id: 'team-b', keyEnv: 'SY_TEAM_B_KEY' },
      ],
    },
    budget: {
      limits: [
        { scope: 'global', period: 'day', usd: 50 },
        { scope: 'global', period: 'month', usd: 50 },
        { scope: 'global', period: 'total', usd: 50 },
        { scope: 'key', key: 'team-a', period: 'month', usd: 20 },
        { scope: 'key', key: 'team-b', period: 'total', usd: 20 },
        { scope: 'model', model: 'deepseek-v3.2', period: 'total', usd: 20 },
      ],
    },
  });
  ledgerFile = String((cfg.storage as { ledger: string }).ledger).slice('sqlite:'.length);
  const ledger = SqliteLedger.open(ledgerFile);
  await ledger.insert(OLD);
  await ledger.insert(YESTERDAY);
  await ledger.close();
  sc = await startSidecar(cfg, KEYS);
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

describe('budget periods rebuilt from the ledger at start', () => {
  it('counts every row in a total budget, only the current UTC day or month in the others', async () => {
    const b = await budgets(sc);
    const yesterdayThisMonth = YESTERDAY.at >= monthStart ? YESTERDAY.costNano : 0;
    expect(nano(b['global:total']!.spentUsd)).toBe(OLD.costNano + YESTERDAY.costNano);
    expect(b['global:total']!.resetsAt).toBeNull();
    expect(nano(b['global:day']!.spentUsd)).toBe(0);
    expect(nano(b['global:month']!.spentUsd)).toBe(yesterdayThisMonth);
    expect(nano(b['key:team-a:month']!.spentUsd)).toBe(0);
    expect(nano(b['key:team-b:total']!.spentUsd)).toBe(YESTERDAY.costNano);
    expect(nano(b['model:deepseek-v3.2:total']!.spentUsd)).toBe(OLD.costNano + YESTERDAY.costNano);
  });
});

interface Report {
  group_by: string;
  total: { requests: number; usd: number };
  groups: Array<{ requests: number; promptTokens: number; completionTokens: number; usd: number } & Record<string, unknown>>;
}

/** A spend report with one more request in group `name` (every query here keeps an existing group). */
function plusRow(r: Report, name: string, costNano: number, prompt: number, completion: number): Report {
  const add = (usd: number): number => (nano(usd) + costNano) / 1e9;
  const groups = r.groups.map((g) =>
    g[r.group_by] === name
      ? { ...g, requests: g.requests + 1, promptTokens: g.promptTokens + prompt, completionTokens: g.completionTokens + completion, usd: add(g.usd) }
      : g,
  );
  expect(groups).not.toEqual(r.groups);
  return { ...r, total: { requests: r.total.requests + 1, usd: add(r.total.usd) }, groups };
}

describe('durability across SIGKILL', () => {
  it('reports the same spent totals and spend rows after a kill and a restart on the same ledger', async () => {
    const a = clientFor(sc, KEYS.SY_TEAM_A_KEY);
    const b = clientFor(sc, KEYS.SY_TEAM_B_KEY);
    const msg = (t: string) => [{ role: 'user' as const, content: t }];
    let served = 0;
    for (const [client, model, i] of [
      [a, 'deepseek-v3.2', 1],
      [a, 'gpt-4.1', 2],
      [b, 'gemini-2.5-flash', 3],
      [b, 'deepseek-v3.2', 4],
    ] as const) {
      const { response } = await client.chat.completions.create({ model, messages: msg(`question ${i}`), max_tokens: 20 }).withResponse();
      served += nano(Number(response.headers.get('x-switchyard-cost-usd')));
    }
    for (const [client, model] of [
      [a, 'claude-sonnet-4.5'],
      [b, 'deepseek-v3.2'],
    ] as const) {
      const stream = await client.chat.completions.create({ model, messages: msg(`stream for ${model}`), stream: true });
      let text = '';
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      expect(text.split(' ')).toHaveLength(30);
    }
    const before = await budgets(sc);
    const reportBefore = (await spendReport(sc)) as Report[];
    const today = nano(before['global:day']!.spentUsd);
    // Today's spend: the non-streamed costs plus the two streams.
    expect(today).toBeGreaterThan(served);
    expect(nano(before['global:total']!.spentUsd)).toBe(OLD.costNano + YESTERDAY.costNano + today);
    expect(reportBefore[0]!.total.requests).toBe(2 + 6);

    // One more request, then the kill at once: its row was committed before its response ended.
    const last = await a.chat.completions.create({ model: 'deepseek-v3.2', messages: msg('the last one before the kill'), max_tokens: 20 }).withResponse();
    expect(await sc.stop('SIGKILL')).toBeNull();
    expect(sc.child.signalCode).toBe('SIGKILL');
    const lastCost = nano(Number(last.response.headers.get('x-switchyard-cost-usd')));
    const { prompt_tokens: lastPrompt, completion_tokens: lastCompletion } = last.data.usage!;
    expect(lastCost).toBeGreaterThan(0);

    sc = await startSidecar(cfg, KEYS, sc.configFile);
    const after = await budgets(sc);
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    const hit = new Set(['global:day', 'global:month', 'global:total', 'key:team-a:month', 'model:deepseek-v3.2:total']);
    for (const id of Object.keys(before)) {
      expect([id, nano(after[id]!.spentUsd)]).toEqual([id, nano(before[id]!.spentUsd) + (hit.has(id) ? lastCost : 0)]);
      expect([id, after[id]!.reservedUsd, after[id]!.limitUsd]).toEqual([id, 0, before[id]!.limitUsd]);
    }
    const today10 = new Date(dayStart).toISOString().slice(0, 10);
    const lastGroup = ['deepseek-v3.2', today10, 'team-a', 'deepseek-v3.2@deepseek', 'deepseek-v3.2'];
    const reportAfter = (await spendReport(sc)) as Report[];
    reportAfter.forEach((r, i) => {
      const expected = i < lastGroup.length ? plusRow(reportBefore[i]!, lastGroup[i]!, lastCost, lastPrompt, lastCompletion) : reportBefore[i];
      expect([SPEND_QUERIES[i], r]).toEqual([SPEND_QUERIES[i], expected]);
    });
    // The windows in the past hold exactly the seeded rows.
    expect(reportAfter[5]!.groups.map((g) => [g.key, g.requests])).toEqual([
      ['team-a', 1],
      ['team-b', 1],
    ]);
    expect(reportAfter[6]!.groups.map((g) => [g.day, nano(g.usd)])).toEqual([[new Date(OLD.at).toISOString().slice(0, 10), OLD.costNano]]);
  });

  it('counts a request in flight at the kill at what it reserved, after the restart (the lone process journal)', async () => {
    const before = await budgets(sc);
    await killMidRequest(sc, clientFor(sc, KEYS.SY_TEAM_A_KEY));

    sc = await startSidecar(cfg, KEYS, sc.configFile);
    const db = new Database(ledgerFile, { readonly: true });
    const rows = db.prepare("select * from ledger where error_code = 'reservation_reclaimed'").all() as Array<Record<string, unknown>>;
    db.close();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ key_id: 'team-a', model: 'deepseek-v3.2', endpoint: 'deepseek-v3.2@deepseek', estimated: 1, status: 0 });
    expect(statSync(`${ledgerFile}-inflight-0`).size + statSync(`${ledgerFile}-inflight-1`).size).toBe(0);
    // What it reserved: at least its 20 output tokens at $0.42/MTok and some prompt at $0.28/MTok.
    const held = Number(rows[0]!.cost_nano);
    expect(held).toBeGreaterThan(20 * 420);
    const after = await budgets(sc);
    const hit = new Set(['global:day', 'global:month', 'global:total', 'key:team-a:month', 'model:deepseek-v3.2:total']);
    for (const id of Object.keys(before)) {
      expect([id, nano(after[id]!.spentUsd)]).toEqual([id, nano(before[id]!.spentUsd) + (hit.has(id) ? held : 0)]);
    }
    expect(await sc.waitForOutput('counted at their reserved amount')).toContain('counted at their reserved amount');
  });

  it('a cascade step in flight at the kill is still a step of its request after the restart (feedback finds it)', async () => {
    await killMidRequest(sc, clientFor(sc, KEYS.SY_TEAM_A_KEY), { 'x-switchyard-cascade': 'on' });

    sc = await startSidecar(cfg, KEYS, sc.configFile);
    const db = new Database(ledgerFile, { readonly: true });
    const rows = db
      .prepare(
        "select request_id, parent_id, step, quality, delivered, status from ledger where error_code = 'reservation_reclaimed' and parent_id is not null",
      )
      .all() as Array<{ request_id: string; parent_id: string }>;
    db.close();
    expect(rows).toHaveLength(1);
    const parent = rows[0]!.parent_id;
    expect(rows[0]).toEqual({ request_id: `${parent}#1`, parent_id: parent, step: 1, quality: 'reservation_reclaimed', delivered: 0, status: 0 });
    const fb = await fetch(`${sc.url}/switchyard/feedback`, { method: 'POST', body: JSON.stringify({ request_id: parent, good: false }) });
    expect(fb.status).toBe(200);
  });
  it('a cascade killed in its second step counts its settled first step at what it cost, not at its reservation', async () => {
    const client = clientFor(sc, KEYS.SY_TEAM_A_KEY);
    const messages = [{ role: 'user' as const, content: 'an empty first answer, then the kill' }];
    // What the first step's empty answer costs, as a plain request.
    await sim.setFault('deepseek-chat', { kind: 'empty', times: 1 });
    const plain = await client.chat.completions.create({ model: 'deepseek-v3.2', messages, max_tokens: 20 }).withResponse();
    const emptyCost = Math.round(Number(plain.response.headers.get('x-switchyard-cost-usd')) * 1e9);
    // The cascade: deepseek answers empty (its check fails), gpt-4.1 hangs; the kill comes in step 2.
    await sim.setFault('deepseek-chat', { kind: 'empty', times: 1 });
    await sim.setFault('gpt-4.1', { kind: 'hang' });
    await sim.clearLog();
    const pending = client.chat.completions.create({ model: 'route/code', messages, max_tokens: 20 }, { headers: { 'x-switchyard-cascade': 'on' } }).then(
      () => 'answered',
      () => 'cut',
    );
    await eventually(async () => ((await sim.log()).some((e) => e.model === 'gpt-4.1') ? true : undefined), 5000, 'step 2 reached its upstream');
    expect(await sc.stop('SIGKILL')).toBeNull();
    expect(await pending).toBe('cut');
    await sim.clearFaults();

    sc = await startSidecar(cfg, KEYS, sc.configFile);
    const db = new Database(ledgerFile, { readonly: true });
    const rows = db
      .prepare(
        "select request_id, model, step, cost_nano from ledger where error_code = 'reservation_reclaimed' and model in ('deepseek-v3.2', 'gpt-4.1') and step is not null order by step",
      )
      .all() as Array<{ request_id: string; model: string; step: number; cost_nano: number }>;
    db.close();
    const last = rows.slice(-2);
    expect(last.map((r) => [r.model, r.step])).toEqual([
      ['deepseek-v3.2', 1],
      ['gpt-4.1', 2],
    ]);
    expect(last[0]!.request_id.split('#')[0]).toBe(last[1]!.request_id.split('#')[0]);
    expect(emptyCost).toBeGreaterThan(0);
    expect(last[0]!.cost_nano).toBe(emptyCost);
    expect(last[1]!.cost_nano).toBeGreaterThan(emptyCost);
  });
});

describe('a lone sidecar on PostgreSQL (no Redis) keeps the in-flight journal too', () => {
  let db: TestDb;
  let pgSc: SidecarHandle | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'sy-pg-journal-'));
  afterAll(async () => {
    await pgSc?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts a request in flight at the kill at what it reserved, after the restart', async () => {
    db = await freshDb();
    const journal = join(dir, 'inflight');
    const pgCfg = testConfig(sim.url, {
      storage: { ledger: db.url, journal },
      budget: { limits: [{ scope: 'global', period: 'total', usd: 50 }] },
    });
    pgSc = await startSidecar(pgCfg);
    await killMidRequest(pgSc, new OpenAI({ baseURL: `${pgSc.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 30_000 }));

    pgSc = await startSidecar(pgCfg, {}, pgSc.configFile);
    const rows = await db.query<{ model: string; endpoint: string; cost_nano: string; estimated: boolean; status: number }>(
      "select model, endpoint, cost_nano, estimated, status from switchyard_ledger where error_code = 'reservation_reclaimed'",
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ model: 'deepseek-v3.2', endpoint: 'deepseek-v3.2@deepseek', estimated: true, status: 0 });
    const held = Number(rows[0]!.cost_nano);
    expect(held).toBeGreaterThan(20 * 420); // at least its 20 output tokens at $0.42/MTok
    expect(statSync(`${journal}-0`).size + statSync(`${journal}-1`).size).toBe(0);
    expect(nano((await budgets(pgSc))['global:total']!.spentUsd)).toBe(held);
    expect(await pgSc.waitForOutput('counted at their reserved amount')).toContain('counted at their reserved amount');
  });
});

describe('a stream continued on another model after a cut', () => {
  let cSc: SidecarHandle | undefined;
  afterAll(async () => {
    await cSc?.stop();
  });

  /**
   * gpt-4.1 is cut after 5 tokens: the stream committed to it and is continued on
   * claude-sonnet-4.5 (prefill). Each model's budget is charged its own part, and the ledger's
   * per-model sums say the same after a restart (they said all of it was gpt-4.1's: its line was
   * rebuilt at both parts, claude's at nothing).
   */
  async function continuedAcrossRestart(
    cCfg: Record<string, unknown>,
    rowOf: (id: string) => Promise<Record<string, unknown>>,
    spend: (h: SidecarHandle) => Promise<Array<{ group: string; costNano: number }>>,
  ): Promise<void> {
    cSc = await startSidecar(cCfg);
    await sim.setFault('gpt-4.1', { kind: 'cut', afterTokens: 5, times: 1 });
    const { data, response } = await cSc.client.chat.completions
      .create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'a stream that is cut' }], stream: true })
      .withResponse();
    let text = '';
    for await (const c of data) text += c.choices[0]?.delta.content ?? '';
    await sim.clearFaults();
    expect(text.split(' ')).toHaveLength(30);
    expect(response.headers.get('x-switchyard-model')).toBe('gpt-4.1');
    // One row: it names the model the stream started on, with the cost of both parts.
    const row = await rowOf(response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ model: 'gpt-4.1', endpoint: 'gpt-4.1@openai', attempts: 2 });
    const total = Number(row.cost_nano);
    const before = await budgets(cSc);
    expect(nano(before['global:day']!.spentUsd)).toBe(total);
    const gptPart = nano(before['model:gpt-4.1:day']!.spentUsd);
    const claudePart = nano(before['model:claude-sonnet-4.5:day']!.spentUsd);
    // Each model its own part: claude's own limit saw the part it served, gpt-4.1's did not take it too.
    expect(gptPart).toBeGreaterThan(0);
    expect(claudePart).toBeGreaterThan(0);
    expect(gptPart + claudePart).toBe(total);
    const bySpend = async (h: SidecarHandle) => Object.fromEntries((await spend(h)).map((t) => [t.group, t.costNano]));
    expect(await bySpend(cSc)).toEqual({ 'gpt-4.1': gptPart, 'claude-sonnet-4.5': claudePart });

    await cSc.stop();
    cSc = await startSidecar(cCfg, {}, cSc.configFile);
    const after = await budgets(cSc);
    for (const id of ['global:day', 'model:gpt-4.1:day', 'model:claude-sonnet-4.5:day'])
      expect([id, nano(after[id]!.spentUsd)]).toEqual([id, nano(before[id]!.spentUsd)]);
    expect(await bySpend(cSc)).toEqual({ 'gpt-4.1': gptPart, 'claude-sonnet-4.5': claudePart });
    await cSc.stop();
    cSc = undefined;
  }

  const LIMITS = {
    limits: [
      { scope: 'global', period: 'day', usd: 5 },
      { scope: 'model', model: 'gpt-4.1', period: 'day', usd: 1 },
      { scope: 'model', model: 'claude-sonnet-4.5', period: 'day', usd: 1 },
    ],
  };
  const spendByModel = async (h: SidecarHandle) =>
    ((await (await fetch(`${h.url}/switchyard/spend?group_by=model`)).json()) as { groups: Array<{ model: string; usd: number }> }).groups.map((t) => ({
      group: t.model,
      costNano: nano(t.usd),
    }));

  it('charges each model its own part (the ledger row names the model the stream committed to); a restart rebuilds the same per-model spend (SQLite)', async () => {
    const cCfg = testConfig(sim.url, { budget: LIMITS });
    const cLedger = String((cCfg.storage as { ledger: string }).ledger).slice('sqlite:'.length);
    await continuedAcrossRestart(
      cCfg,
      async (id) => {
        const db = new Database(cLedger, { readonly: true });
        const row = db.prepare('select model, endpoint, attempts, cost_nano from ledger where request_id = ?').get(id) as Record<string, unknown>;
        db.close();
        return row;
      },
      spendByModel,
    );
  });

  it("a stream failed over before its first content: the prompt billed on gpt-4.1 stays gpt-4.1's after a restart (the row names claude)", async () => {
    const cfg = testConfig(sim.url, { budget: LIMITS });
    const sc = await startSidecar(cfg);
    let restarted: SidecarHandle | undefined;
    try {
      // gpt-4.1 sends nothing for longer than firstTokenTimeoutMs (2 s): cut, its prompt billed, failed over to claude.
      await sim.setFault('gpt-4.1', { kind: 'slow_first_token', delayMs: 2500, times: 1 });
      const { data, response } = await sc.client.chat.completions
        .create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'a stream that never begins' }], stream: true })
        .withResponse();
      for await (const _ of data);
      await sim.clearFaults();
      expect(response.headers.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
      const before = await budgets(sc);
      const gptPart = nano(before['model:gpt-4.1:day']!.spentUsd);
      expect(gptPart).toBeGreaterThan(0);
      expect(gptPart + nano(before['model:claude-sonnet-4.5:day']!.spentUsd)).toBe(nano(before['global:day']!.spentUsd));
      // /metrics splits it alike (it put all of it on claude-sonnet-4.5, the model the row names).
      const metrics = await (await fetch(`${sc.url}/metrics`)).text();
      const metricCost = (model: string) =>
        nano(Number(new RegExp(`^switchyard_cost_usd_total\\{model="${model.replace(/\./g, '\\.')}"\\} (\\S+)$`, 'm').exec(metrics)?.[1]));
      expect(metricCost('gpt-4.1')).toBe(gptPart);
      expect(metricCost('claude-sonnet-4.5')).toBe(nano(before['model:claude-sonnet-4.5:day']!.spentUsd));
      await sc.stop();
      restarted = await startSidecar(cfg, {}, sc.configFile);
      const after = await budgets(restarted);
      for (const id of ['global:day', 'model:gpt-4.1:day', 'model:claude-sonnet-4.5:day'])
        expect([id, nano(after[id]!.spentUsd)]).toEqual([id, nano(before[id]!.spentUsd)]);
    } finally {
      await sc.stop();
      await restarted?.stop();
    }
  });

  it('the same on PostgreSQL', async () => {
    const db = await freshDb();
    try {
      await continuedAcrossRestart(
        testConfig(sim.url, { budget: LIMITS, storage: { ledger: db.url } }),
        async (id) =>
          (await db.query<Record<string, unknown>>('select model, endpoint, attempts, cost_nano from switchyard_ledger where request_id = $1', [id]))[0]!,
        spendByModel,
      );
    } finally {
      await cSc?.stop();
      cSc = undefined;
      await db.drop();
    }
  });

  it("a continuation the continuing model's own budget refuses is not sent: the stream ends with an error event, nothing billed to it", async () => {
    const dCfg = testConfig(sim.url, {
      budget: {
        limits: [
          { scope: 'global', period: 'day', usd: 5 },
          // Less than any continuation's worst case on claude.
          { scope: 'model', model: 'claude-sonnet-4.5', period: 'day', usd: 0.000001 },
        ],
      },
    });
    const dLedger = String((dCfg.storage as { ledger: string }).ledger).slice('sqlite:'.length);
    const dSc = await startSidecar(dCfg);
    try {
      await sim.clearLog();
      await sim.setFault('gpt-4.1', { kind: 'cut', afterTokens: 5, times: 1 });
      const r = await fetch(`${dSc.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4.1', stream: true, max_tokens: 40, messages: [{ role: 'user', content: 'a stream that is cut' }] }),
      });
      const body = await r.text();
      await sim.clearFaults();
      expect(r.status).toBe(200);
      expect(body).toContain('"error"');
      // The cut ends it; its message says claude was refused for money.
      expect(body).toContain('another model was refused for money: budget model:claude-sonnet-4.5:day would be exceeded');
      expect(body).not.toContain('[DONE]');
      // claude was never asked to continue it (it was, past its own limit).
      expect((await sim.log()).filter((e) => e.prefill)).toHaveLength(0);
      const b = await budgets(dSc);
      expect(nano(b['model:claude-sonnet-4.5:day']!.spentUsd)).toBe(0);
      expect(nano(b['model:claude-sonnet-4.5:day']!.reservedUsd)).toBe(0);
      const db = new Database(dLedger, { readonly: true });
      const row = db.prepare('select model, cost_nano, error_code from ledger where request_id = ?').get(r.headers.get('x-request-id')) as Record<
        string,
        unknown
      >;
      db.close();
      expect(row).toMatchObject({ model: 'gpt-4.1', error_code: 'upstream_error' });
      expect(Number(row.cost_nano)).toBe(nano(b['global:day']!.spentUsd));
    } finally {
      await dSc.stop();
    }
  });
});
