/**
 * True CPU samples of a warm sidecar under load, attributed to the JavaScript that caused them.
 * `perf record` (Linux perf) samples the sidecar's threads, kernel included; the sidecar runs with
 * `--perf-prof`, so V8 writes a jitdump and `perf inject --jit` names every JIT frame by the code
 * that was live when the sample was taken (a `--perf-basic-prof` map names reused code addresses
 * after the code that first held them: a JSON run then showed stream functions). Each sample is
 * charged to its innermost JavaScript frame, so a syscall or a V8 builtin counts for the function
 * that called it; samples of other threads (GC helpers, the compiler) are one line.
 *
 *   node bench/run-ts.js bench/perf-profile.ts            # JSON, 16 connections, 10 s
 *   PERF_TARGET=passthrough node bench/run-ts.js bench/perf-profile.ts   # the bare proxy, to compare
 *   PERF_MODE=stream PERF_CONNS=64 PERF_SECONDS=10 PERF_TOP=60 node bench/run-ts.js bench/perf-profile.ts
 *
 * The config is `npm run bench`'s realistic one; the sidecar is warmed with 10,000 requests of each
 * mode first. Needs `perf` (Debian: linux-perf) and permission to attach to a process. The
 * profiler itself costs CPU: compare the shares, not the µs/request it prints.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { newPool, runCount, runLoad, type Mode } from './lib/load.js';
import { installCleanup } from './lib/procs.js';
import { startProbe } from './lib/probe-target.js';

installCleanup();
const mode = (process.env.PERF_MODE ?? 'json') as Mode;
if (mode !== 'json' && mode !== 'stream') throw new Error(`PERF_MODE: json or stream, got ${String(mode)}`);
const conns = Number(process.env.PERF_CONNS ?? 16);
const secs = Number(process.env.PERF_SECONDS ?? 10);
const top = Number(process.env.PERF_TOP ?? 40);
// The jitdump goes to the working directory: the probe's fresh one, removed afterwards.
const probe = await startProbe('sy-perf-', {
  passthrough: process.env.PERF_TARGET === 'passthrough',
  nodeArgs: ['--perf-prof', '--interpreted-frames-native-stack'],
  cwdInDir: true,
});
const { dir, proxy: sy, target } = probe;
const pool = newPool(target, conns);
await runCount(pool, target, 'json', 16, 10_000);
await runCount(pool, target, 'stream', 16, 10_000);
const data = join(dir, 'perf.data');
const perf = spawn('perf', ['record', '-k', 'mono', '-F', '999', '-g', '-p', String(sy.pid), '-o', data], { stdio: ['ignore', 'ignore', 'inherit'] });
await new Promise((r) => setTimeout(r, 500));
let a = 0;
let b = 0;
const s = await runLoad(pool, target, mode, conns, 0.5, secs, { onStart: () => void (a = sy.cpuMicros()), onEnd: () => void (b = sy.cpuMicros()) });
perf.kill('SIGINT');
await new Promise((r) => perf.once('exit', r));
await pool.close();
await probe.stop();
console.log(`${mode}, ${conns} connections: ${s.requests} requests, ${((b - a) / Math.max(1, s.requests)).toFixed(0)} µs CPU/request (under the profiler)`);

const jitted = join(dir, 'perf.jit.data');
const inject = spawnSync('perf', ['inject', '--jit', '-i', data, '-o', jitted], { cwd: dir, encoding: 'utf8' });
if (inject.status !== 0) throw new Error(`perf inject failed: ${inject.stderr}`);
const script = spawnSync('perf', ['script', '-i', jitted, '-F', 'tid,ip,sym'], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 30 });
for (const f of readdirSync(dir)) if (f.startsWith('jitted-') || f.startsWith('jit-')) rmSync(join(dir, f), { force: true });

const byFile = new Map<string, number>();
const byFn = new Map<string, number>();
/** Inclusive: each JavaScript function once per sample whose stack holds it (PERF_INCLUSIVE=1). */
const inclusive = new Map<string, number>();
const fnName = (sym: string): string => sym.replace(/file:\/\/\S*\/dist\//, 'dist/').replace(/\S*node_modules\//, '');
const add = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);
const samples = script.stdout.split('\n\n').filter((x) => x.trim() !== '');
const tids = new Map<string, number>();
for (const x of samples) add(tids, x.trim().split(/\s+/, 1)[0]!);
const main = [...tids.entries()].sort((p, q) => q[1] - p[1])[0]?.[0];
for (const x of samples) {
  const lines = x.trim().split('\n');
  if (lines[0]!.trim().split(/\s+/, 1)[0] !== main) {
    add(byFile, '(other threads: GC helpers, compiler)');
    continue;
  }
  const js = lines.slice(1).find((l) => l.includes('JS:'));
  const seen = new Set<string>();
  for (const l of lines.slice(1)) if (l.includes('JS:')) seen.add(fnName(l.slice(l.indexOf('JS:') + 3).trim()));
  for (const f of seen) add(inclusive, f);
  if (js === undefined) {
    add(byFile, `(no JS frame) ${lines[1]?.trim().split(/\s+/).slice(1).join(' ').slice(0, 60) ?? ''}`);
    continue;
  }
  const sym = js.slice(js.indexOf('JS:') + 3).trim();
  const where = sym.split(' ').pop() ?? sym;
  const file = where.includes('/dist/')
    ? where.slice(where.indexOf('/dist/') + 6).replace(/:\d+:\d+$/, '')
    : where.includes('node_modules/')
      ? `dep:${where.split('node_modules/')[1]!.split('/')[0]!}`
      : where.startsWith('node:')
        ? where.replace(/:\d+:\d+$/, '')
        : where.slice(0, 50);
  add(byFile, file);
  add(byFn, fnName(sym));
}
const n = samples.length;
const print = (title: string, m: Map<string, number>): void => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m.entries()].sort((p, q) => q[1] - p[1]).slice(0, top)) console.log(`${((100 * v) / n).toFixed(1).padStart(5)}%  ${k}`);
};
const areas = new Map<string, number>();
for (const [k, v] of byFile) {
  const area =
    k.startsWith('src/') || k.startsWith('machines/')
      ? `switchyard ${k
          .split('/')
          .slice(0, k.startsWith('src/') ? 2 : 1)
          .join('/')}`
      : k.startsWith('dep:')
        ? k
        : k.startsWith('node:')
          ? 'node internals'
          : k.startsWith('(other')
            ? k
            : 'native (no JS frame, wasm)';
  areas.set(area, (areas.get(area) ?? 0) + v);
}
print('samples by area', areas);
print(`samples by file of the innermost JavaScript frame (${n} samples)`, byFile);
print('by function', byFn);
if (process.env.PERF_INCLUSIVE === '1') print('inclusive (samples whose stack holds the function)', inclusive);
