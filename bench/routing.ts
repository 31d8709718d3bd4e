/**
 * Micro-benchmark of the per-request work that does not touch the network: one routing
 * decision (`resolve`, and `classify` alone), the budget actor's reserve + settle round trip,
 * and counting the tokens of a 2 KB prompt. Run by `npm run bench` first; alone with
 *
 *   node bench/run-ts.js bench/routing.ts
 *
 * BENCH_ROUTING_ITERATIONS (default 200000) sets the iterations per case; slow cases stop
 * early at a time cap so the whole thing stays within a few seconds.
 */
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createActor } from 'xstate';
import { budgetMachine } from '../machines/budget.machine.js';
import { endpointMachine } from '../machines/endpoint.machine.js';
import { InspectionHub } from '../src/observe/hub.js';
import { countPromptTokens } from '../src/accounting/tokens.js';
import { DEFAULT_CONFIG } from '../src/config/defaults.js';
import { validateConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { classify, type ClassifyInput } from '../src/routing/classify.js';
import { resolve, type ResolveInput } from '../src/routing/resolve.js';
import { scoreRequest } from '../src/routing/scorer.js';
import { ActorBudgetStore } from '../src/runtime/budget.js';
import { recordOn } from '../src/runtime/endpoints.js';

export interface MicroResult {
  name: string;
  iterations: number;
  nsPerOp: number;
}

/** A case stops after this long even if its iterations are not done (the tokenizer is slow). */
const MAX_CASE_MS = 500;
const BATCH = 500;

/** Keeps results observable so the optimiser cannot drop the measured call. */
let _sink = 0;

export function measure(name: string, iterations: number, op: (i: number) => number): MicroResult {
  const warm = Math.max(BATCH, Math.floor(iterations / 10));
  const warmStart = performance.now();
  for (let i = 0; i < warm && performance.now() - warmStart < MAX_CASE_MS / 3; i++) _sink += op(i);
  let done = 0;
  const start = performance.now();
  while (done < iterations && performance.now() - start < MAX_CASE_MS) {
    for (let j = 0; j < BATCH; j++) _sink += op(done + j);
    done += BATCH;
  }
  const ns = ((performance.now() - start) * 1e6) / done;
  return { name, iterations: done, nsPerOp: ns };
}

async function measureAsync(name: string, iterations: number, op: (i: number) => Promise<number>): Promise<MicroResult> {
  const warm = Math.max(BATCH, Math.floor(iterations / 10));
  for (let i = 0; i < warm; i++) _sink += await op(i);
  let done = 0;
  const start = performance.now();
  while (done < iterations && performance.now() - start < MAX_CASE_MS) {
    for (let j = 0; j < BATCH; j++) _sink += await op(done + j);
    done += BATCH;
  }
  return { name, iterations: done, nsPerOp: ((performance.now() - start) * 1e6) / done };
}

/** A German analysis request (it used to be decided by four complexity keywords; now the scorer decides). */
const GERMAN_COMPLEX =
  'Analysiere bitte die Architektur unseres Bestellsystems und vergleiche sie mit einer ereignisgesteuerten Lösung. ' +
  'Evaluiere dabei Konsistenz, Latenz und Betriebskosten, und entwickle einen schrittweisen Migrationsplan mit Risiken.';

/** About 2 KB of mixed English prose and code, the size of a typical chat turn with context. */
function prompt2k(): string {
  const para =
    'The service reads orders from the queue, validates each line item against the catalogue, ' +
    'and writes the result to the ledger. function total(items) { return items.reduce((s, i) => s + i.price * i.qty, 0); } ' +
    'Please review this for correctness, naming and error handling. ';
  let s = '';
  while (s.length < 2048) s += para;
  return s.slice(0, 2048);
}

function routingConfig(): Config {
  const res = validateConfig(DEFAULT_CONFIG);
  if (!res.ok) throw new Error(`DEFAULT_CONFIG does not validate:\n${res.errors.join('\n')}`);
  return res.config;
}

function resolveInput(model: string, text: string, promptTokens: number): ResolveInput {
  const classifyInput: ClassifyInput = { task: null, tier: null, text, promptTokens, turns: 1 };
  return {
    model,
    body: { messages: [{ content: text }] },
    classify: classifyInput,
    promptTokens,
    expectedOutputTokens: 512,
    liveStats: () => ({ latencyMs: 500, inFlight: 0 }),
  };
}

function sliceTimes(op: () => number, slices = 1000, per = 20): { median: number; min: number; calls: number } {
  for (let i = 0; i < 3000; i++) _sink += op();
  const ns: number[] = [];
  for (let r = 0; r < slices; r++) {
    const t = performance.now();
    for (let i = 0; i < per; i++) _sink += op();
    ns.push(((performance.now() - t) * 1e6) / per);
  }
  ns.sort((a, b) => a - b);
  return { median: ns[slices >> 1]!, min: ns[0]!, calls: slices * per };
}

function budgetActor() {
  const now = Date.now();
  const actor = createActor(budgetMachine, {
    input: { now, limits: [{ id: 'global:day', scope: 'global', key: null, model: null, period: 'day', limit: 1e15 }] },
  }).start();
  actor.send({ type: 'budget.restored', at: now, spent: {} });
  return actor;
}

export async function runRoutingBench(iterations = Number(process.env.BENCH_ROUTING_ITERATIONS ?? 200_000)): Promise<MicroResult[]> {
  const cfg = routingConfig();
  const germanTokens = countPromptTokens([{ role: 'user', content: GERMAN_COMPLEX }]);
  const autoIn = resolveInput('auto', GERMAN_COMPLEX, germanTokens);
  const routeIn = resolveInput('route/code', 'Write fizzbuzz in TypeScript.', 14);
  const idIn = resolveInput('gpt-4.1', 'Hello there.', 10);
  const autoPlan = resolve(cfg, autoIn);
  if (autoPlan.score === null) throw new Error(`expected the scorer to decide the German prompt: ${autoPlan.reason}`);

  const results: MicroResult[] = [];
  results.push(measure('resolve auto (German, scorer)', iterations, () => resolve(cfg, autoIn).candidates.length));
  // Issue 11: the scorer alone on a 2 KB prompt must stay ≤ 20 µs median. Timed in 1,000 slices
  // of 20 calls (a slice is short enough to fit between preemptions on a shared machine), so
  // the median is per-call latency and the minimum what an idle core gives.
  const twoK = { messages: [{ role: 'user', content: prompt2k() }] };
  const slices = sliceTimes(() => scoreRequest(twoK).score);
  results.push({ name: 'auto scorer, 2 KB prompt (median of 1,000 slices)', iterations: slices.calls, nsPerOp: slices.median });
  results.push({ name: 'auto scorer, 2 KB prompt (fastest slice)', iterations: slices.calls, nsPerOp: slices.min });
  const deTwoK = {
    messages: [
      { role: 'system', content: 'Du bist ein hilfreicher Assistent.' },
      { role: 'user', content: (GERMAN_COMPLEX + ' ').repeat(8).slice(0, 2048) },
    ],
  };
  results.push(measure('auto scorer, 2 KB German prompt + system', Math.max(1000, iterations / 10), () => scoreRequest(deTwoK).score));
  results.push(measure('resolve route/code', iterations, () => resolve(cfg, routeIn).candidates.length));
  results.push(measure('resolve gpt-4.1 (catalogue id)', iterations, () => resolve(cfg, idIn).candidates.length));
  results.push(measure('classify alone (German prompt)', iterations, () => classify(autoIn.classify, cfg.routing.classifier).keywordHits.length));

  const actor = budgetActor();
  let granted = 0;
  actor.on('budget.granted', () => void granted++);
  const budgets = ['global:day'];
  results.push(
    measure('budget actor reserve+settle (send)', iterations, (i) => {
      const at = Date.now();
      const requestId = `r${i}`;
      actor.send({ type: 'budget.reserve', at, requestId, budgets, amount: 2_000 });
      actor.send({ type: 'budget.settle', at, requestId, budgets, reserved: 2_000, actual: 1_000 });
      return granted;
    }),
  );
  actor.stop();
  if (granted === 0) throw new Error('the budget actor granted nothing');

  const storeActor = budgetActor();
  const store = new ActorBudgetStore(storeActor);
  results.push(
    await measureAsync('budget store reserve+settle (awaited)', iterations, async (i) => {
      const at = Date.now();
      const id = `s${i}`;
      const r = await store.reserve(id, null, 'gpt-4.1', 2_000, at);
      if (!r.ok) throw new Error(`refused: ${r.budget}`);
      await store.settle(id, r.budgets, 2_000, 1_000, at);
      return r.budgets.length;
    }),
  );

  // A running budget actor keeps its period-roll timer armed: stop it, or the process stays up.
  storeActor.stop();

  // The same, decided in one step in place (what the runtime does while nobody inspects every event).
  const quietActor = budgetActor();
  const quietStore = new ActorBudgetStore(quietActor, { quiet: () => true });
  results.push(
    await measureAsync('budget store reserve+settle in place (awaited)', iterations, async (i) => {
      const at = Date.now();
      const id = `q${i}`;
      const r = await quietStore.reserve(id, null, 'gpt-4.1', 2_000, at);
      if (!r.ok) throw new Error(`refused: ${r.budget}`);
      await quietStore.settle(id, r.budgets, 2_000, 1_000, at);
      return r.budgets.length;
    }),
  );
  if (quietActor.getSnapshot().context.granted === 0) throw new Error('the in-place store granted nothing');
  quietActor.stop();

  // The inspection hub on the hot path: the same endpoint events with and without it.
  for (const withHub of [false, true]) {
    const hub = new InspectionHub(500);
    const settings = {
      rpm: null,
      tpm: null,
      maxConcurrent: 1_000_000,
      failureThreshold: 5,
      recoveryMs: 60_000,
      halfOpenProbes: 1,
      latencyWindow: 100,
      latencyPriorMs: 100,
    };
    const ep = createActor(endpointMachine, {
      input: { id: 'e', model: 'm', provider: 'p', settings, now: Date.now() },
      ...(withHub ? { inspect: hub.observe } : {}),
    }).start();
    results.push(
      measure(`endpoint dispatched+succeeded ${withHub ? 'with' : 'without'} inspection hub`, iterations, () => {
        const at = Date.now();
        ep.send({ type: 'request.dispatched', at, estTokens: 100 });
        ep.send({ type: 'upstream.succeeded', at, latencyMs: 20, ttftMs: null, tokens: 100, estTokens: 100 });
        return ep.getSnapshot().context.inFlight;
      }),
    );
    ep.stop();
  }
  // The same two events as per-request bookkeeping applied in place (what the runtime does while nobody inspects every event).
  {
    const settings = {
      rpm: null,
      tpm: null,
      maxConcurrent: 1_000_000,
      failureThreshold: 5,
      recoveryMs: 60_000,
      halfOpenProbes: 1,
      latencyWindow: 100,
      latencyPriorMs: 100,
    };
    const ep = createActor(endpointMachine, { input: { id: 'e', model: 'm', provider: 'p', settings, now: Date.now() } }).start();
    results.push(
      measure('endpoint dispatched+succeeded in place (recordOn)', iterations, () => {
        const at = Date.now();
        recordOn(ep, { type: 'request.dispatched', at, estTokens: 100 }, true);
        recordOn(ep, { type: 'upstream.succeeded', at, latencyMs: 20, ttftMs: null, tokens: 100, estTokens: 100 }, true);
        return ep.getSnapshot().context.inFlight;
      }),
    );
    if (ep.getSnapshot().context.requests === 0) throw new Error('recordOn counted nothing');
    ep.stop();
  }

  const big = [{ role: 'user', content: prompt2k() }];
  results.push(measure('countPromptTokens 2 KB prompt', iterations, () => countPromptTokens(big)));
  return results;
}

export function formatMicro(results: readonly MicroResult[]): string {
  const w = Math.max(...results.map((r) => r.name.length));
  const lines = results.map((r) => `  ${r.name.padEnd(w)}  ${fmtNs(r.nsPerOp).padStart(10)}/op  (${r.iterations.toLocaleString('en-US')} iterations)`);
  return ['routing micro-benchmark (per-request work off the network)', ...lines].join('\n');
}

export function fmtNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e4) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${ns.toFixed(0)} ns`;
}

const isMain = process.argv[1] !== undefined && resolvePath(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  console.log(formatMicro(await runRoutingBench()));
}
