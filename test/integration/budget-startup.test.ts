/**
 * A budget limit at or below what its period has already spent, at start-up: every request it
 * covers is refused until it resets. A reload said so; a start on the same file said nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';

let sim: SimHandle;
let sc: SidecarHandle | null = null;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 1, tokenGapMs: 0, outputTokens: 5 } });
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

describe('start-up with a budget already spent', () => {
  it('warns that every request it covers is refused until it resets', async () => {
    const cfg = testConfig(sim.url, { budget: { limits: [{ scope: 'global', period: 'day', usd: 100 }] } });
    sc = await startSidecar(cfg);
    await sc.client.chat.completions.create({ model: 'gpt-4.1', max_tokens: 5, messages: [{ role: 'user', content: 'hello' }] });
    expect(await sc.stop()).toBe(0);
    cfg.budget = { limits: [{ scope: 'global', period: 'day', usd: 0.000000001 }] };
    sc = await startSidecar(cfg, {}, sc.configFile);
    await sc.waitForOutput(
      /budget global:day: its limit \(\$1e-9\) is at or below what its period has spent \(\$[0-9.e-]+\): every request it covers is refused/,
    );
  });
});
