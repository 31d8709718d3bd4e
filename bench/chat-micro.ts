/**
 * In-process CPU of the whole chat path of a successful JSON request: `rt.chat(call, sink)` on a
 * real Runtime (memory ledger, real scheduler, a global budget so reserve and settle do work)
 * whose endpoint answers through a socketless stand-in for undici's Pool a turn later. Builds are
 * compared side by side (`--dist A,B`: built dist/ directories) in short alternating rounds.
 *
 *   npx esbuild bench/chat-micro.ts --bundle --packages=external --format=esm --platform=node --outfile=bench/results/cm.mjs
 *   node bench/results/cm.mjs --dist OLD/dist,dist --n 100000 --conns 16
 *
 * (Bundled, and inside the repository so that its packages resolve; bench/results is ignored by git.)
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { alternatingRounds, runConcurrent } from './lib/rounds.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
};

const JSON_BODY = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-up123',
    object: 'chat.completion',
    created: 1_764_000_000,
    model: 'up-a',
    choices: [
      { index: 0, message: { role: 'assistant', content: 'Hello benchmark, nice to meet you.', refusal: null }, logprobs: null, finish_reason: 'stop' },
    ],
    usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 },
    system_fingerprint: 'fp_1',
  }),
);

interface H {
  onRequestStart(c: unknown, ctx: unknown): void;
  onResponseStart(c: unknown, s: number, h: unknown, m: string): void;
  onResponseData(c: unknown, b: Buffer): void;
  onResponseEnd(c: unknown, t: unknown): void;
}
const fakePool = {
  dispatch(_opts: unknown, h: H): boolean {
    const c = { paused: false, aborted: false, reason: null, pause() {}, resume() {}, abort() {} };
    setImmediate(() => {
      h.onRequestStart(c, {});
      h.onResponseStart(
        c,
        200,
        { 'content-type': 'application/json', 'content-length': String(JSON_BODY.length), 'x-ratelimit-remaining-requests': '100' },
        'OK',
      );
      h.onResponseData(c, JSON_BODY.subarray(0));
      h.onResponseEnd(c, {});
    });
    return true;
  },
  close: () => Promise.resolve(),
  destroy: () => Promise.resolve(),
};

async function main(): Promise<void> {
  const dists = arg('dist', 'dist')
    .split(',')
    .map((d) => resolve(d));
  const n = Number(arg('n', '100000'));
  const conns = Number(arg('conns', '16'));
  const rounds = Number(arg('rounds', '10'));
  const { default: pino } = await import('pino');
  const log = pino({ level: 'warn' }, { write() {} } as unknown as NodeJS.WritableStream);
  let served = 0;
  const load = async (dist: string): Promise<() => Promise<void>> => {
    const imp = (p: string) => import(pathToFileURL(`${dist}/${p}`).href);
    const { configSchema } = await imp('src/config/schema.js');
    const { openLedger } = await imp('src/accounting/ledger.js');
    const { Runtime } = await imp('src/runtime/runtime.js');
    const cfg = configSchema.parse({
      providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
      models: {
        a: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100_000, endpoints: [{ provider: 'p', upstreamModel: 'up-a' }] },
      },
      budget: { limits: [{ scope: 'global', period: 'day', usd: 1_000_000 }] },
    });
    const ledger = await openLedger('memory');
    // Rows are not kept (the memory ledger's growth would be the GC's work, not the path's): committed at once.
    ledger.insert = () => Promise.resolve('inserted');
    const rt = new Runtime({ cfg, ledger, log, env: { ...process.env } });
    await rt.restoreBudgets();
    for (const hs of rt.byModel.values()) for (const h of hs) h.pool = fakePool;
    let k = 0;
    const tag = Math.random().toString(36).slice(2, 8);
    return async (): Promise<void> => {
      const ac = new AbortController();
      let status = 0;
      const sink = {
        signal: ac.signal,
        json(s: number) {
          status = s;
        },
        startStream() {},
        write: () => true,
        drain: () => Promise.resolve(),
        end() {},
        fail(e: unknown) {
          throw e;
        },
      };
      const call = {
        requestId: `${tag}-${++k}`,
        body: { model: 'a', messages: [{ role: 'user', content: 'Say hello to the benchmark in a few words, please.' }], max_tokens: 64 },
        hints: { task: null, tier: null, maxLatencyMs: null, maxCostUsd: null, timeoutMs: null },
        keyId: null,
        receivedAt: Date.now(),
        log,
      };
      await rt.chat(call, sink);
      if (status !== 200) throw new Error(`status ${status}`);
      served++;
    };
  };
  const run = (one: () => Promise<void>, count: number): Promise<void> => runConcurrent(one, count, conns);
  const ones = [];
  for (const d of dists) ones.push(await load(d));
  for (const one of ones) await run(one, Math.max(5000, n / 4));
  if (process.argv.includes('--count')) {
    // Async resources each build creates per request (promises, timers, immediates), exactly: async_hooks counts them.
    const { createHook } = await import('node:async_hooks');
    for (let k = 0; k < ones.length; k++) {
      const seen: Record<string, number> = {};
      const hook = createHook({ init: (_id, type) => void (seen[type] = (seen[type] ?? 0) + 1) });
      const count = 1600;
      hook.enable();
      await run(ones[k]!, count);
      hook.disable();
      const per = Object.fromEntries(Object.entries(seen).map(([t, c]) => [t, +(c / count).toFixed(2)]));
      console.log(JSON.stringify({ dist: dists[k], per }));
    }
  }
  const { each, perOp } = await alternatingRounds(ones, n, rounds, conns);
  for (let k = 0; k < dists.length; k++) {
    const res = perOp[k]!;
    console.log(JSON.stringify({ dist: dists[k], n: each * rounds, conns, min: +res[0]!.toFixed(2), median: +res[Math.floor(res.length / 2)]!.toFixed(2) }));
  }
  void served;
  process.exit(0);
}

await main();
