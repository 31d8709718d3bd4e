/**
 * A/B of switchyard builds or configs: CPU per request of each variant next to the bare
 * pass-through proxy, interleaved (pass-through, then each variant, every repeat), so a busy
 * neighbour weighs on all of them alike. The config is `npm run bench`'s realistic one (a global
 * budget, the SQLite ledger, logging at warn) unless a variant overrides keys of it.
 *
 *   AB='[{"name":"base","bin":"/tmp/base/dist/src/bin/switchyard.js"},{"name":"new"},{"name":"mem","cfg":{"storage":{"ledger":"memory"}}}]' \
 *   AB_CONNS=16,64 AB_MODES=json,stream AB_REPEATS=5 AB_SECONDS=2 AB_PREWARM=10000 node bench/run-ts.js bench/ab.ts
 *
 * `bin` defaults to this tree's dist; `args` are node flags for that variant's sidecar. Prints the median µs/request and ×pass-through per cell.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { newPool, runCount, runLoad, type Mode, type Target } from './lib/load.js';
import { installCleanup, onCleanup, ROOT, RUN_TS, startChild, SWITCHYARD_BIN, type Child } from './lib/procs.js';
import { realisticConfig, SIM_PROFILE, sqliteStorage } from './lib/config.js';

interface Variant {
  name: string;
  bin?: string;
  cfg?: Record<string, unknown>;
  /** node flags for this variant's sidecar (e.g. ["--single-threaded-gc"]). */
  args?: string[];
}

const variants = JSON.parse(process.env.AB ?? '[{"name":"this"}]') as Variant[];
const CONNS = (process.env.AB_CONNS ?? '16,64').split(',').map(Number);
const MODES = (process.env.AB_MODES ?? 'json,stream').split(',') as Mode[];
const REPEATS = Number(process.env.AB_REPEATS ?? 5);
const SECONDS = Number(process.env.AB_SECONDS ?? 2);
const WARMUP = Number(process.env.AB_WARMUP ?? 0.5);
/** Requests of each mode per process before measuring (V8 compiles the hot path meanwhile). */
const PREWARM = Number(process.env.AB_PREWARM ?? 10_000);

function config(simUrl: string, dir: string, name: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return realisticConfig(simUrl, sqliteStorage(join(dir, `${name}.db`)), { over });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  installCleanup();
  const dir = mkdtempSync(join(tmpdir(), 'sy-ab-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const profile = join(dir, 'sim.json');
  writeFileSync(profile, JSON.stringify(SIM_PROFILE));
  const sim = await startChild({ name: 'sim', args: [SWITCHYARD_BIN, 'simulate', '--port', '0', '--profile', profile], ready: /listening on (http:\/\/\S+)/ });
  const pt = await startChild({
    name: 'passthrough',
    args: [RUN_TS, join(ROOT, 'bench/passthrough.ts'), '--upstream', `${sim.url}/openai`, '--port', '0'],
    ready: /passthrough listening on (http:\/\/\S+)/,
  });
  const procs: Array<{ name: string; child: Child }> = [{ name: 'passthrough', child: pt }];
  for (const v of variants) {
    const file = join(dir, `${v.name}.json`);
    writeFileSync(file, JSON.stringify(config(sim.url, dir, v.name, v.cfg)));
    const child = await startChild({
      name: v.name,
      args: [...(v.args ?? []), v.bin ?? SWITCHYARD_BIN, 'serve', '--config', file, '--port', '0'],
      ready: /switchyard (http:\/\/127\.0\.0\.1:\d+)\/v1/,
      env: { SY_BENCH_OPENAI_KEY: 'sk-bench-upstream' },
    });
    procs.push({ name: v.name, child });
  }
  for (const { name, child } of procs) {
    const target: Target = { name, url: `${child.url}/v1/chat/completions` };
    const pool = newPool(target, 16);
    for (const mode of MODES) await runCount(pool, target, mode, 16, PREWARM);
    await pool.close();
  }
  const load0 = loadavg()[0]!;
  const cpu: Record<string, number[]> = {};
  for (const conns of CONNS)
    for (const mode of MODES)
      for (let rep = 0; rep < REPEATS; rep++)
        for (const { name, child } of procs) {
          const target: Target = { name, url: `${child.url}/v1/chat/completions` };
          const pool = newPool(target, conns);
          let a = child.cpuMicros();
          let b = a;
          const s = await runLoad(pool, target, mode, conns, WARMUP, SECONDS, {
            onStart: () => void (a = child.cpuMicros()),
            onEnd: () => void (b = child.cpuMicros()),
          });
          await pool.close();
          if (s.errors > 0) console.log(`${name} ${mode} ${conns}: ${s.errors} errors: ${s.firstError}`);
          (cpu[`${mode} ${conns} ${name}`] ??= []).push((b - a) / Math.max(1, s.requests));
        }
  console.log(
    `load average ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}; ${REPEATS} repeats of ${SECONDS} s; median µs CPU/request (×pass-through, ratio of medians; per-repeat ratios min–max; the fastest repeat)`,
  );
  for (const conns of CONNS)
    for (const mode of MODES) {
      const base = cpu[`${mode} ${conns} passthrough`]!;
      const parts = procs.map(({ name }) => {
        const xs = cpu[`${mode} ${conns} ${name}`]!;
        const rs = xs.map((x, i) => x / base[i]!);
        return name === 'passthrough'
          ? `${name} ${median(xs).toFixed(0)} (min ${Math.min(...xs).toFixed(0)})`
          : `${name} ${median(xs).toFixed(0)} (${(median(xs) / median(base)).toFixed(2)}×, ${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)}; min ${Math.min(...xs).toFixed(0)})`;
      });
      console.log(`${mode.padEnd(6)} c=${String(conns).padEnd(3)} ${parts.join('  ')}`);
    }
  await Promise.all(procs.map((p) => p.child.stop()));
  await sim.stop();
}

await main();
