/**
 * A reload that adds budget lines while a request is in flight, through the real sidecar and
 * simulator: the lines it adds are rebuilt from the ledger, which does not hold yet what that
 * request has already settled (a cascade writes its steps' rows at its end; a plain request its
 * row once it answers). The new lines count the whole request, as the ledger does once its rows
 * are written and a restart rebuilds them.
 */
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { sleep, startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import { eventually, freshDb, privateRedis } from './replicas.js';

let sim: SimHandle;
let sc: SidecarHandle | undefined;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 0, tokenGapMs: 0, outputTokens: 12 } });
});
afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

const nano = (usd: number): number => Math.round(usd * 1e9);

async function budgets(h: SidecarHandle): Promise<Record<string, number>> {
  const s = await h.state();
  return Object.fromEntries(s.budgets.map((b) => [b.id, nano(b.spentUsd)]));
}

/** Sends a cascaded request whose second step (gpt-4.1) is in flight when `during` runs; its step rows' models and costs. */
async function cascadeAround(h: SidecarHandle, during: () => Promise<void>, rowsOf: (id: string) => Promise<Array<{ model: string; cost: number }>>) {
  // Step 1 (deepseek) answers empty and fails its check; step 2 (gpt-4.1) takes 1.5 s to begin.
  await sim.setFault('deepseek-chat', { kind: 'empty', times: 1 });
  await sim.setFault('gpt-4.1', { kind: 'slow_first_token', delayMs: 1500, times: 1 });
  await sim.clearLog();
  const pending = h.client.chat.completions
    .create({ model: 'auto', messages: [{ role: 'user', content: 'a cascaded question' }] }, { headers: { 'x-switchyard-tier': 'fast_cheap' } })
    .withResponse();
  // Step 2 was sent: step 1 is settled (its row waits for the cascade's end).
  for (let i = 0; i < 200 && !(await sim.log()).some((e) => e.model === 'gpt-4.1'); i++) await sleep(10);
  expect((await sim.log()).map((e) => e.model)).toEqual(['deepseek-chat', 'gpt-4.1']);
  await during();
  const { response } = await pending;
  expect(response.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:empty>gpt-4.1:pass');
  const steps = await rowsOf(response.headers.get('x-request-id')!);
  expect(steps.map((s) => s.model)).toEqual(['deepseek-v3.2', 'gpt-4.1']);
  expect(steps[0]!.cost).toBeGreaterThan(0);
  return steps;
}

const MORE = [
  { scope: 'global', period: 'day', usd: 5 },
  { scope: 'global', period: 'month', usd: 50 },
  { scope: 'model', model: 'deepseek-v3.2', period: 'day', usd: 5 },
  { scope: 'model', model: 'gpt-4.1', period: 'day', usd: 5 },
];

const reloadTo = (h: SidecarHandle, cfg: Record<string, unknown>) => async () => {
  writeFileSync(h.configFile, stringify({ ...cfg, budget: { limits: MORE } }));
  expect((await fetch(`${h.url}/switchyard/reload`, { method: 'POST' })).status).toBe(200);
};

describe('a reload that adds budget lines while a quality cascade is in flight', () => {
  it("the new lines count the steps settled before the reload (their rows are written at the cascade's end), live and after a restart", async () => {
    const cfg = testConfig(sim.url, { budget: { limits: [{ scope: 'global', period: 'day', usd: 5 }] } });
    cfg.routing = { ...(cfg.routing as Record<string, unknown>), cascade: { enabled: true } };
    const ledger = String((cfg.storage as { ledger: string }).ledger).slice('sqlite:'.length);
    sc = await startSidecar(cfg);
    const steps = await cascadeAround(sc, reloadTo(sc, cfg), async (id) => {
      const db = new Database(ledger, { readonly: true });
      const r = db.prepare('select model, cost_nano as cost from ledger where parent_id = ? order by step').all(id) as Array<{ model: string; cost: number }>;
      db.close();
      return r;
    });
    const total = steps[0]!.cost + steps[1]!.cost;
    const want = { 'global:day': total, 'global:month': total, 'model:deepseek-v3.2:day': steps[0]!.cost, 'model:gpt-4.1:day': steps[1]!.cost };
    // Live: the month line missed step 1, deepseek's line missed all of it.
    expect(await budgets(sc)).toEqual(want);
    await sc.stop();
    sc = await startSidecar({ ...cfg, budget: { limits: MORE } }, {}, sc.configFile);
    expect(await budgets(sc)).toEqual(want);
    await sc.stop();
    sc = undefined;
  });

  it('a line it adds holds what a request in flight reserved, and gives it back when the request settles there (it started at nothing reserved: a new limit admitted requests beside those in flight, past it)', async () => {
    const cfg = testConfig(sim.url, { budget: { limits: [{ scope: 'global', period: 'day', usd: 5 }] } });
    sc = await startSidecar(cfg);
    await sim.setFault('gpt-4.1', { kind: 'slow_first_token', delayMs: 1500, times: 1 });
    await sim.clearLog();
    const pending = sc.client.chat.completions.create({ model: 'gpt-4.1', max_tokens: 200, messages: [{ role: 'user', content: 'slow' }] }).withResponse();
    for (let i = 0; i < 200 && !(await sim.log()).some((e) => e.model === 'gpt-4.1'); i++) await sleep(10);
    const before = (await sc.state()).budgets.find((b) => b.id === 'global:day')!;
    expect(before.reservedUsd).toBeGreaterThan(0);
    await reloadTo(sc, cfg)();
    const lines = (await sc.state()).budgets;
    // Each line it adds that applies to gpt-4.1 holds the reservation; deepseek's holds none.
    for (const id of ['global:month', 'model:gpt-4.1:day']) expect(lines.find((b) => b.id === id)!.reservedUsd).toBe(before.reservedUsd);
    expect(lines.find((b) => b.id === 'model:deepseek-v3.2:day')!.reservedUsd).toBe(0);
    const { response } = await pending;
    const cost = Number(response.headers.get('x-switchyard-cost-usd'));
    expect(cost).toBeGreaterThan(0);
    const after = (await sc.state()).budgets;
    for (const id of ['global:day', 'global:month', 'model:gpt-4.1:day'])
      expect(after.find((b) => b.id === id)).toMatchObject({ reservedUsd: 0, spentUsd: cost });
    await sc.stop();
    sc = undefined;
  });

  it('with Redis, a model line counts the part of the earlier steps charged to its model (it counted all of them for the model in flight)', async () => {
    const redis = await privateRedis();
    await redis.start();
    const db = await freshDb();
    try {
      const cfg = testConfig(sim.url, {
        budget: { limits: [{ scope: 'global', period: 'day', usd: 5 }] },
        storage: { ledger: db.url, shared: redis.url, keyPrefix: 'reload-money' },
      });
      cfg.routing = { ...(cfg.routing as Record<string, unknown>), cascade: { enabled: true } };
      sc = await startSidecar(cfg);
      const steps = await cascadeAround(sc, reloadTo(sc, cfg), async (id) =>
        (
          await db.query<{ model: string; cost: string }>('select model, cost_nano as cost from switchyard_ledger where parent_id = $1 order by step', [id])
        ).map((r) => ({ model: r.model, cost: Number(r.cost) })),
      );
      const total = steps[0]!.cost + steps[1]!.cost;
      const want = { 'global:day': total, 'global:month': total, 'model:deepseek-v3.2:day': steps[0]!.cost, 'model:gpt-4.1:day': steps[1]!.cost };
      const h = sc;
      // The state view shows the shared counters as of the replica's last read of them.
      await eventually(async () => ((await budgets(h))['global:month'] === total ? true : undefined), 5_000, 'the shared counters');
      expect(await budgets(sc)).toEqual(want);
    } finally {
      await sc?.stop();
      sc = undefined;
      await redis.dispose();
      await db.drop();
    }
  });
});
