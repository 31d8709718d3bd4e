/**
 * A flapping primary: gpt-4.1 answers 503 for a few seconds while a client sends a request
 * every ~250 ms. Every request must succeed (the fallback serves during the outage), the open
 * circuit lets at most `halfOpenProbes` request per recovery window reach the primary, and
 * traffic is back on the primary about one recoveryMs after it recovered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import { ask, endpoint, expectedAnswer, hits, type Reply } from './fault-helpers.js';

const OUTPUT_TOKENS = 10;
const RECOVERY_MS = 1500;
const OUTAGE_MS = 4000;
const PERIOD_MS = 250;
const RETRY = { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 200, maxTotalAttempts: 6 };
const RESILIENCE = {
  failureThreshold: 2,
  recoveryMs: RECOVERY_MS,
  halfOpenProbes: 1,
  requestTimeoutMs: 10_000,
  // Generous: the outage is 503s, not silence; on a loaded 2-core machine an 800 ms limit cut a slow
  // but healthy answer of the fallback (a full test run with other work beside it).
  headersTimeoutMs: 3000,
  firstTokenTimeoutMs: 3000,
  idleTimeoutMs: 2000,
  maxRetryAfterMs: 1000,
  retry: RETRY,
};
const GPT = 'gpt-4.1';
const CLAUDE = 'claude-sonnet-4.5';

let sim: SimHandle;
let sc: SidecarHandle;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: OUTPUT_TOKENS } });
  sc = await startSidecar(testConfig(sim.url, { resilience: RESILIENCE }));
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

describe('flapping primary', () => {
  it('every request succeeds, the open primary sees at most one probe per recovery window, traffic returns after recovery', async () => {
    const warm = await ask(sc, GPT, 'flap warm-up', { stream: false });
    expect(warm.models).toEqual([GPT]);
    await sim.clearLog();

    const outageFrom = Date.now();
    await sim.setFault(GPT, { kind: 'http_error', status: 503, durationMs: OUTAGE_MS });
    // The simulator started the outage's clock between these two instants.
    const outageEndLatest = Date.now() + OUTAGE_MS;
    const outageEndEarliest = outageFrom + OUTAGE_MS;

    const sent: Array<{ at: number; prompt: string; reply: Promise<Reply> }> = [];
    const until = outageEndLatest + RECOVERY_MS + 1500;
    for (let i = 0; Date.now() < until; i++) {
      const prompt = `flap ${i}`;
      sent.push({ at: Date.now(), prompt, reply: ask(sc, GPT, prompt, { stream: i % 2 === 1 }) });
      await sleep(PERIOD_MS);
    }
    const replies = await Promise.all(sent.map((s) => s.reply));

    // 1. Every request got the whole answer.
    replies.forEach((r, i) => {
      expect(r.error, `request ${i}: ${String(r.error)}`).toBeNull();
      expect(r.text, `request ${i}`).toBe(expectedAnswer(sent[i]!.prompt, OUTPUT_TOKENS));
    });
    // The fallback served during the outage: every request sent while it surely lasted (however
    // many the loop managed to send on a loaded machine) reached the primary's 503 or its open
    // circuit, and was served by claude.
    const duringOutage = sent.filter((s) => s.at >= outageFrom && s.at < outageEndEarliest - 100).length;
    expect(duringOutage).toBeGreaterThan(3);
    expect(replies.filter((r) => r.headers?.get('x-switchyard-model') === CLAUDE).length).toBeGreaterThanOrEqual(duringOutage);

    const log = await sim.log();
    const primary = hits(log, GPT);
    const failed = primary.filter((e) => e.status === 503);
    const firstOk = primary.find((e) => e.status === 200);
    expect(failed.length).toBeGreaterThanOrEqual(RESILIENCE.failureThreshold);
    expect(firstOk).toBeDefined();

    // 2. No hammering of the primary: the first failing request tried it twice (one quick
    // retry) and so opened the circuit; from then on one probe per recovery window at most.
    expect(failed[1]!.at - failed[0]!.at).toBeGreaterThanOrEqual(RETRY.baseDelayMs / 2);
    for (let i = 2; i < failed.length; i++) {
      expect(failed[i]!.at - failed[i - 1]!.at, `probe ${i - 1} after the previous attempt`).toBeGreaterThanOrEqual(RECOVERY_MS);
    }
    expect(firstOk!.at - failed.at(-1)!.at).toBeGreaterThanOrEqual(RECOVERY_MS);
    // Over the whole outage: the opening request's two attempts plus one probe per window.
    expect(failed.length).toBeLessThanOrEqual(2 + Math.ceil(OUTAGE_MS / RECOVERY_MS));

    // 3. Back on the primary soon after it recovered: at the first probe after the outage,
    // which comes at most one recovery window (plus one request period) after it ended.
    expect(firstOk!.at).toBeGreaterThanOrEqual(outageEndEarliest);
    expect(firstOk!.at - outageEndLatest).toBeLessThanOrEqual(RECOVERY_MS + PERIOD_MS + 750);
    // From then on (once that probe has answered) every request went to the primary.
    const settled = firstOk!.at + 500;
    const after = log.filter((e) => e.at > settled);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((e) => e.model === GPT && e.status === 200)).toBe(true);
    sent.forEach((s, i) => {
      if (s.at > settled) expect(replies[i]!.headers?.get('x-switchyard-model'), `request ${i}`).toBe(GPT);
    });
    const e = await endpoint(sc, 'gpt-4.1@openai');
    expect(e).toMatchObject({ state: 'healthy', consecutiveFailures: 0 });
  });
});
