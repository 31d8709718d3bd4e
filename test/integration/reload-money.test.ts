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

describe('a reload that adds budget lines while a quality cascade is in flight', () => {
  it("the new lines count the steps settled before the reload (their rows are written at the cascade's end), live and after a restart", async () => {
    const cfg = testConfig(sim.url, { budget: { limits: [{ scope: 'global', period: 'day', usd: 5 }] } });
    cfg.routing = { ...(cfg.routing as Record<string, unknown>), cascade: { enabled: true } };
    const ledger = String((cfg.storage as { ledger: string }).ledger).slice('sqlite:'.length);
    sc = await startSidecar(cfg);
    // Step 1 (deepseek) answers empty and fails its check; step 2 (gpt-4.1) takes 1.5 s to begin.
    await sim.setFault('deepseek-chat', { kind: 'empty', times: 1 });
    await sim.setFault('gpt-4.1', { kind: 'slow_first_token', delayMs: 1500, times: 1 });
    await sim.clearLog();
    const pending = sc.client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: 'a cascaded question' }] }, { headers: { 'x-switchyard-tier': 'fast_cheap' } })
      .withResponse();
    // Step 2 was sent: step 1 is settled (its row waits for the cascade's end).
    for (let i = 0; i < 200 && !(await sim.log()).some((e) => e.model === 'gpt-4.1'); i++) await sleep(10);
    expect((await sim.log()).map((e) => e.model)).toEqual(['deepseek-chat', 'gpt-4.1']);

    const more = [
      { scope: 'global', period: 'day', usd: 5 },
      { scope: 'global', period: 'month', usd: 50 },
      { scope: 'model', model: 'deepseek-v3.2', period: 'day', usd: 5 },
    ];
    writeFileSync(sc.configFile, stringify({ ...cfg, budget: { limits: more } }));
    const r = await fetch(`${sc.url}/switchyard/reload`, { method: 'POST' });
    expect(r.status).toBe(200);

    const { response } = await pending;
    expect(response.headers.get('x-switchyard-cascade')).toBe('deepseek-v3.2:empty>gpt-4.1:pass');
    const db = new Database(ledger, { readonly: true });
    const steps = db.prepare('select model, cost_nano from ledger where parent_id = ? order by step').all(response.headers.get('x-request-id')) as Array<{
      model: string;
      cost_nano: number;
    }>;
    db.close();
    expect(steps.map((s) => s.model)).toEqual(['deepseek-v3.2', 'gpt-4.1']);
    const total = steps[0]!.cost_nano + steps[1]!.cost_nano;
    expect(steps[0]!.cost_nano).toBeGreaterThan(0);

    const want = { 'global:day': total, 'global:month': total, 'model:deepseek-v3.2:day': steps[0]!.cost_nano };
    // Live: the month line missed step 1, deepseek's line missed all of it.
    expect(await budgets(sc)).toEqual(want);
    await sc.stop();
    sc = await startSidecar({ ...cfg, budget: { limits: more } }, {}, sc.configFile);
    expect(await budgets(sc)).toEqual(want);
  });
});
