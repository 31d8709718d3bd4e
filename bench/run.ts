/**
 * `npm run bench`: switchyard's overhead, measured against the same upstream reached three
 * ways — the simulator directly, a minimal undici pass-through proxy, and switchyard — at 1, 16
 * and 64 connections, streaming and not. Each cell runs direct → passthrough → switchyard back
 * to back, and the whole cycle repeats, so drift hits all three alike; the median of the
 * repeats is reported. Each run measures a steady-state window after a warm-up: requests that
 * complete inside it, and the proxy process's utime + stime across it, per request.
 *
 * Environment: BENCH_SECONDS (3) per run after BENCH_WARMUP_SECONDS (0.5) of warm-up,
 * BENCH_REPEATS (2), BENCH_CONNS (1,16,64), BENCH_MODES (json,stream),
 * BENCH_CPU_PROF=1 to profile the sidecar (`node --cpu-prof`) and print its top self time.
 * Before the first measured run both proxies are warmed with BENCH_PREWARM_REQUESTS (10000) requests
 * of each mode, so no cell pays for V8 still compiling the hot path (the first cell did).
 * Then memory: a fresh sidecar's RSS idle and after BENCH_RSS_REQUESTS (30000; 0 skips) requests.
 * (bench/memory.ts repeats that measurement with a breakdown: V8's heap spaces, GCs, smaps.)
 * BENCH_SIDECAR_NODE_ARGS: node flags for the measured sidecars (e.g. "--max-semi-space-size=4").
 * Then the shared-store configuration (bench/shared.ts): in-process store vs Redis, BENCH_SHARED=0 to skip.
 * Results go to bench/results/latest.json.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTop, type Window } from './cpu-top.js';
import { newPool, percentile, runCount, runLoad, type Mode, type Target } from './lib/load.js';
import { hostCpu, installCleanup, onCleanup, procRss, ROOT, RUN_TS, startChild, SWITCHYARD_BIN, type Child, type HostCpu } from './lib/procs.js';
import { aggregate, formatTable, ratios, TARGETS, worst, type RunResult, type TargetName } from './lib/report.js';
import { formatMicro, runRoutingBench } from './routing.js';
import { formatShared, runSharedBench } from './shared.js';
import { formatQuality, runQualityBench } from './quality.js';
import { realisticConfig, SIM_PROFILE, sqliteStorage } from './lib/config.js';

function envNumber(name: string, fallback: number, integer = false): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    throw new Error(`${name}: expected a positive ${integer ? 'integer' : 'number'}, got "${raw}"`);
  return n;
}

const isMode = (m: string): m is Mode => m === 'json' || m === 'stream';

const SECONDS = envNumber('BENCH_SECONDS', 3);
const WARMUP_SECONDS = envNumber('BENCH_WARMUP_SECONDS', 0.5);
const REPEATS = envNumber('BENCH_REPEATS', 2, true);
const CONNS = (process.env.BENCH_CONNS ?? '1,16,64').split(',').map((c) => {
  const n = Number(c);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`BENCH_CONNS: expected positive integers separated by commas, got "${c}"`);
  return n;
});
const MODES = (process.env.BENCH_MODES ?? 'json,stream').split(',').map((m) => {
  if (!isMode(m)) throw new Error(`BENCH_MODES: expected json and/or stream, got "${m}"`);
  return m;
});
const CPU_PROF = process.env.BENCH_CPU_PROF === '1';
/**
 * Requests of each mode sent to each proxy (16 connections) before the first measured run.
 * Without it the first cell measured V8 compiling the hot path: switchyard's JSON CPU per request
 * at 16 connections (the first cell) read 2–3× what the same process spent on it once warm.
 */
const PREWARM_REQUESTS = process.env.BENCH_PREWARM_REQUESTS === '0' ? 0 : envNumber('BENCH_PREWARM_REQUESTS', 10_000, true);
/** Requests sent to a fresh sidecar before its RSS is read (half JSON, half streams); 0 skips. */
const RSS_REQUESTS = process.env.BENCH_RSS_REQUESTS === '0' ? 0 : envNumber('BENCH_RSS_REQUESTS', 30_000, true);
/** Node flags for the measured sidecars (both the CPU and the memory one). */
const SIDECAR_NODE_ARGS = (process.env.BENCH_SIDECAR_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
const RESULTS_DIR = join(ROOT, 'bench/results');
const PROF_DIR = join(RESULTS_DIR, 'cpu-prof');

interface Procs {
  sim: Child;
  passthrough: Child;
  switchyard: Child;
}

function sidecarConfig(simUrl: string, dir: string, db = 'bench.db'): Record<string, unknown> {
  return realisticConfig(simUrl, sqliteStorage(join(dir, db)));
}

async function startAll(dir: string): Promise<Procs> {
  const profileFile = join(dir, 'sim-profile.json');
  writeFileSync(profileFile, JSON.stringify(SIM_PROFILE));
  const sim = await startChild({
    name: 'simulator',
    args: [SWITCHYARD_BIN, 'simulate', '--port', '0', '--profile', profileFile],
    ready: /listening on (http:\/\/\S+)/,
  });
  const configFile = join(dir, 'switchyard.json');
  writeFileSync(configFile, JSON.stringify(sidecarConfig(sim.url, dir), null, 2));
  const prof = CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', PROF_DIR] : [];
  const [passthrough, switchyard] = await Promise.all([
    startChild({
      name: 'passthrough',
      args: [RUN_TS, join(ROOT, 'bench/passthrough.ts'), '--upstream', `${sim.url}/openai`, '--port', '0'],
      ready: /passthrough listening on (http:\/\/\S+)/,
    }),
    startChild({
      name: 'switchyard',
      args: [...prof, ...SIDECAR_NODE_ARGS, SWITCHYARD_BIN, 'serve', '--config', configFile, '--port', '0'],
      ready: /switchyard (http:\/\/127\.0\.0\.1:\d+)\/v1/,
      env: { SY_BENCH_OPENAI_KEY: 'sk-bench-upstream' },
    }),
  ]);
  return { sim, passthrough, switchyard };
}

interface MemoryResult {
  requests: number;
  conns: number;
  errors: number;
  firstError: string | null;
  /** RSS of a fresh sidecar once it listens, MB. */
  idleMb: number;
  /** RSS after `requests` requests, and the peak (VmHWM) up to then, MB. */
  afterMb: number;
  peakMb: number;
}

/**
 * Memory of a fresh sidecar with the same realistic config: RSS once it listens, then after
 * RSS_REQUESTS requests (half JSON, half streams, 16 connections), read from /proc.
 */
async function measureMemory(sim: Child, dir: string, n: number): Promise<MemoryResult> {
  const configFile = join(dir, 'switchyard-rss.json');
  writeFileSync(configFile, JSON.stringify(sidecarConfig(sim.url, dir, 'rss.db'), null, 2));
  const sy = await startChild({
    name: 'switchyard-rss',
    args: [...SIDECAR_NODE_ARGS, SWITCHYARD_BIN, 'serve', '--config', configFile, '--port', '0'],
    ready: /switchyard (http:\/\/127\.0\.0\.1:\d+)\/v1/,
    env: { SY_BENCH_OPENAI_KEY: 'sk-bench-upstream' },
  });
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const idle = procRss(sy.pid);
    const conns = 16;
    const target: Target = { name: 'switchyard', url: `${sy.url}/v1/chat/completions` };
    const pool = newPool(target, conns);
    let errors = 0;
    let firstError: string | null = null;
    try {
      for (const [mode, count] of [
        ['json', Math.ceil(n / 2)],
        ['stream', Math.floor(n / 2)],
      ] as const) {
        const r = await runCount(pool, target, mode, conns, count);
        errors += r.errors;
        firstError ??= r.firstError;
      }
    } finally {
      await pool.close();
    }
    const after = procRss(sy.pid);
    return { requests: n, conns, errors, firstError, idleMb: idle.rssMb, afterMb: after.rssMb, peakMb: after.peakMb };
  } finally {
    await sy.stop();
  }
}

function formatMemory(m: MemoryResult): string {
  const mb = (x: number): string => `${x.toFixed(0)} MB`;
  return (
    `memory (fresh sidecar, same config): RSS idle ${mb(m.idleMb)}, after ${m.requests.toLocaleString('en-US')} requests ${mb(m.afterMb)} (peak ${mb(m.peakMb)}; target ≤ 150 MB)` +
    (m.errors > 0 ? ` — ERRORS ${m.errors}: ${m.firstError ?? ''}` : '')
  );
}

function targetOf(name: TargetName, p: Procs): { target: Target; proc: Child | null } {
  if (name === 'direct') return { target: { name, url: `${p.sim.url}/openai/v1/chat/completions` }, proc: null };
  const proc = p[name];
  return { target: { name, url: `${proc.url}/v1/chat/completions` }, proc };
}

const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);

async function measureRun(p: Procs, name: TargetName, mode: Mode, conns: number, rep: number, windows: Window[]): Promise<RunResult> {
  const { target, proc } = targetOf(name, p);
  const pool = newPool(target, conns);
  const read = (): { proxy: { user: number; system: number }; sim: number; self: NodeJS.CpuUsage; mono: number } => ({
    proxy: proc?.cpuTimes() ?? { user: 0, system: 0 },
    sim: p.sim.cpuMicros(),
    self: process.cpuUsage(),
    mono: monoUs(),
  });
  let a = read();
  let b = a;
  try {
    const s = await runLoad(pool, target, mode, conns, WARMUP_SECONDS, SECONDS, { onStart: () => void (a = read()), onEnd: () => void (b = read()) });
    if (name === 'switchyard') windows.push([a.mono, b.mono]);
    const n = Math.max(1, s.requests);
    const self = (b.self.user + b.self.system - a.self.user - a.self.system) / n;
    const proxyUser = b.proxy.user - a.proxy.user;
    const proxySystem = b.proxy.system - a.proxy.system;
    return {
      target: name,
      mode,
      conns,
      rep,
      requests: s.requests,
      errors: s.errors,
      rps: s.requests / s.seconds,
      p50Ms: percentile(s.latencyMs, 50),
      p99Ms: percentile(s.latencyMs, 99),
      ttfbP50Ms: mode === 'stream' ? percentile(s.ttfbMs, 50) : null,
      ttfbP99Ms: mode === 'stream' ? percentile(s.ttfbMs, 99) : null,
      cpuUsPerReq: proc === null ? null : (proxyUser + proxySystem) / n,
      cpuSystemShare: proc === null || proxyUser + proxySystem === 0 ? null : proxySystem / (proxyUser + proxySystem),
      simCpuUsPerReq: (b.sim - a.sim) / n,
      loadCpuUsPerReq: self,
      firstError: s.firstError,
    };
  } finally {
    await pool.close();
  }
}

/** Both proxies through their hot paths (every measured mode) until V8 has compiled them. */
async function prewarm(p: Procs): Promise<void> {
  const t0 = Date.now();
  for (const name of ['passthrough', 'switchyard'] as const) {
    const { target } = targetOf(name, p);
    const pool = newPool(target, 16);
    try {
      for (const mode of MODES) {
        const r = await runCount(pool, target, mode, 16, PREWARM_REQUESTS);
        if (r.errors > 0) console.log(`warm-up ${name} ${mode}: ${r.errors} errors: ${r.firstError ?? ''}`);
      }
    } finally {
      await pool.close();
    }
  }
  console.log(`warm-up: ${PREWARM_REQUESTS} requests of each mode per proxy (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
}

function progress(i: number, total: number, r: RunResult): string {
  const f = (x: number | null, d = 2): string => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));
  const parts = [
    `[${String(i).padStart(2)}/${total}]`,
    `conns=${String(r.conns).padEnd(2)}`,
    r.mode.padEnd(6),
    `rep ${r.rep}`,
    r.target.padEnd(11),
    `${f(r.rps, 0).padStart(6)} req/s`,
    `p50 ${f(r.p50Ms)} ms`,
    `p99 ${f(r.p99Ms)} ms`,
    ...(r.mode === 'stream' ? [`ttfb ${f(r.ttfbP50Ms)} ms`] : []),
    ...(r.cpuUsPerReq !== null ? [`cpu ${f(r.cpuUsPerReq, 0)} µs/req`] : []),
    ...(r.errors > 0 ? [`ERRORS ${r.errors}: ${r.firstError ?? ''}`] : []),
  ];
  return parts.join('  ');
}

/** CPU time of the benchmark's own processes (load generator, simulator, both proxies), µs. */
function ourCpu(p: Procs): number {
  const self = process.cpuUsage();
  return self.user + self.system + p.sim.cpuMicros() + p.passthrough.cpuMicros() + p.switchyard.cpuMicros();
}

/**
 * How busy the host was with other work while the runs went on: every process here shares the
 * same CPUs, so a busy neighbour shows up as noise in every column.
 */
interface HostNoise {
  /** CPU used by processes other than the benchmark's, as a share of all CPUs. */
  otherPercent: number;
  stealPercent: number;
}

function hostNoise(h0: HostCpu, h1: HostCpu, ours: number, elapsedUs: number): HostNoise {
  const capacity = elapsedUs * cpus().length;
  return {
    otherPercent: Math.max(0, ((h1.busy - h0.busy - ours) * 100) / capacity),
    stealPercent: ((h1.steal - h0.steal) * 100) / capacity,
  };
}

function latestProfile(): string | null {
  let files: string[];
  try {
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (the
    // others are loader workers that only compile at start-up).
    files = readdirSync(PROF_DIR).filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  } catch {
    return null;
  }
  const newest = files.map((f) => join(PROF_DIR, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  return newest ?? null;
}

async function main(): Promise<void> {
  installCleanup();
  const started = Date.now();
  const cpuModel = cpus()[0]?.model ?? 'unknown';
  const load0 = loadavg();
  console.log(`switchyard bench — node ${process.version}, ${cpus().length} CPUs (${cpuModel}), load average ${load0.map((x) => x.toFixed(1)).join(' ')}`);
  console.log(
    `${SECONDS} s per run after ${WARMUP_SECONDS} s warm-up, ${REPEATS} repeats, conns ${CONNS.join('/')}, modes ${MODES.join('/')}${CPU_PROF ? ', sidecar under --cpu-prof (numbers perturbed)' : ''}\n`,
  );

  const micro = await runRoutingBench();
  console.log(`${formatMicro(micro)}\n`);
  const quality = runQualityBench();
  console.log(`${formatQuality(quality)}\n`);

  const dir = mkdtempSync(join(tmpdir(), 'sy-bench-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  if (CPU_PROF) rmSync(PROF_DIR, { recursive: true, force: true });
  const procs = await startAll(dir);
  console.log(
    `simulator ${procs.sim.url} (pid ${procs.sim.pid}), passthrough ${procs.passthrough.url} (pid ${procs.passthrough.pid}), switchyard ${procs.switchyard.url} (pid ${procs.switchyard.pid})\n`,
  );

  if (PREWARM_REQUESTS > 0) await prewarm(procs);
  const runs: RunResult[] = [];
  const windows: Window[] = [];
  const total = CONNS.length * MODES.length * REPEATS * TARGETS.length;
  const host0 = hostCpu();
  const ours0 = ourCpu(procs);
  const t0 = monoUs();
  let noise: HostNoise | null = null;
  try {
    for (const conns of CONNS) {
      for (const mode of MODES) {
        for (let rep = 1; rep <= REPEATS; rep++) {
          for (const name of TARGETS) {
            const r = await measureRun(procs, name, mode, conns, rep, windows);
            runs.push(r);
            console.log(progress(runs.length, total, r));
          }
        }
      }
    }
    noise = hostNoise(host0, hostCpu(), ourCpu(procs) - ours0, monoUs() - t0);
  } finally {
    await Promise.all([procs.switchyard.stop(), procs.passthrough.stop()]);
  }
  let shared: Awaited<ReturnType<typeof runSharedBench>>;
  let memory: MemoryResult | null = null;
  try {
    if (RSS_REQUESTS > 0) {
      memory = await measureMemory(procs.sim, dir, RSS_REQUESTS);
      console.log(`\n${formatMemory(memory)}`);
    }
    console.log('');
    shared = await runSharedBench(procs.sim.url, dir, { conns: CONNS.filter((c) => c <= 16), warmup: WARMUP_SECONDS, seconds: SECONDS, repeats: REPEATS });
  } finally {
    await procs.sim.stop();
  }

  const cells = aggregate(runs);
  const rs = ratios(cells);
  console.log(`\nmedian of ${REPEATS} repeats; CPU = utime+stime of the proxy process per request, sys = its kernel share; × = switchyard ÷ passthrough\n`);
  console.log(formatTable(cells, rs));
  if (noise !== null) {
    console.log(
      `\nhost during the runs: other processes used ${noise.otherPercent.toFixed(0)}% of the ${cpus().length} CPUs, hypervisor steal ${noise.stealPercent.toFixed(0)}%` +
        `; load average ${loadavg()
          .map((x) => x.toFixed(1))
          .join(' ')}${noise.otherPercent > 10 ? ' — the numbers are noisy' : ''}`,
    );
  }
  if (memory !== null) console.log(`\n${formatMemory(memory)}`);
  console.log(`\n${'runs' in shared ? formatShared(shared.runs) : `shared store: skipped (${shared.skipped})`}`);
  const w = worst(rs, 'cpu');
  const wt = worst(rs, 'ttfb');
  const wp = worst(rs, 'p50');
  const at = (r: typeof w): string => (r === null ? '' : ` (${r.mode}, ${r.conns} conn${r.conns === 1 ? '' : 's'})`);
  console.log(
    `\nworst CPU/request ratio switchyard ÷ passthrough: ${w?.cpu?.toFixed(2) ?? '-'}×${at(w)} (project goal: within 3×); ` +
      `worst p50 ratio ${wp?.p50.toFixed(2) ?? '-'}×${at(wp)}; worst stream TTFB ratio ${wt?.ttfb?.toFixed(2) ?? '-'}×${at(wt)}`,
  );

  // The checks' CPU next to what switchyard itself spends on a request (cheapest JSON cell).
  const syCpu = cells.filter((c) => c.target === 'switchyard' && c.mode === 'json' && c.cpuUsPerReq !== null).map((c) => c.cpuUsPerReq!);
  if (syCpu.length > 0) console.log(`\n${formatQuality(quality, Math.min(...syCpu))}`);

  mkdirSync(RESULTS_DIR, { recursive: true });
  const out = {
    startedAt: new Date(started).toISOString(),
    durationSeconds: (Date.now() - started) / 1000,
    node: process.version,
    cpus: { count: cpus().length, model: cpuModel },
    hostNoise: noise,
    loadAverageAtStart: load0,
    settings: {
      seconds: SECONDS,
      warmupSeconds: WARMUP_SECONDS,
      repeats: REPEATS,
      conns: CONNS,
      modes: MODES,
      simulatorProfile: SIM_PROFILE,
      cpuProf: CPU_PROF,
      sidecarNodeArgs: SIDECAR_NODE_ARGS,
    },
    routing: micro,
    quality,
    cells,
    ratios: rs,
    worstCpuRatio: w,
    memory,
    runs,
    shared,
  };
  writeFileSync(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log(`results: bench/results/latest.json (${out.durationSeconds.toFixed(0)} s)`);

  if (CPU_PROF) {
    const file = latestProfile();
    console.log(file === null ? '\nno CPU profile was written' : `\n${formatTop(file, 10, windows)}`);
  }
}

await main();
