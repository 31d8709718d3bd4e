/**
 * `node bench/run-ts.js bench/memory.ts`: where a sidecar's memory is after BENCH_RSS_REQUESTS
 * (30000) requests — the same config and load as the memory line of `npm run bench` (half JSON,
 * half streams, 16 connections) — repeated MEM_RUNS (3) times on fresh sidecars. For each run:
 * RSS idle / after / peak, the sidecar's CPU per request, process.memoryUsage() and V8's heap
 * spaces (read in the sidecar by bench/lib/mem-probe.mjs on SIGUSR2), and /proc/<pid>/smaps
 * summed by kind of mapping (V8/malloc anonymous memory, the brk heap, files, stacks).
 *
 * MEM_NODE_ARGS: extra node flags for the sidecar (e.g. "--max-semi-space-size=1");
 * MEM_ENV: extra environment, "K=V,K2=V2" (e.g. "MALLOC_ARENA_MAX=2"). MEM_JSON=1 prints JSON.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newPool, runCount, type Target } from './lib/load.js';
import { installCleanup, onCleanup, procCpuMicros, procRss, ROOT, SWITCHYARD_BIN, startChild, type Child } from './lib/procs.js';
import { realisticConfig, SIM_PROFILE, sqliteStorage } from './lib/config.js';

const RUNS = Number(process.env.MEM_RUNS ?? 3);
const N = Number(process.env.BENCH_RSS_REQUESTS ?? 30_000);
const NODE_ARGS = (process.env.MEM_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
const EXTRA_ENV = Object.fromEntries(
  (process.env.MEM_ENV ?? '')
    .split(',')
    .filter((kv) => kv.includes('='))
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
const PROBE = join(ROOT, 'bench/lib/mem-probe.mjs');

function sidecarConfig(simUrl: string, dir: string): Record<string, unknown> {
  return realisticConfig(simUrl, sqliteStorage(join(dir, `rss-${Date.now()}.db`)));
}

interface Smaps {
  /** RSS by kind of mapping, MB. */
  anon: number;
  brkHeap: number;
  file: number;
  stack: number;
  other: number;
  /** The biggest anonymous mappings: size and RSS, MB. */
  topAnon: { sizeMb: number; rssMb: number; perms: string }[];
}

function smaps(pid: number): Smaps {
  const text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const r: Smaps = { anon: 0, brkHeap: 0, file: 0, stack: 0, other: 0, topAnon: [] };
  let kind: keyof Omit<Smaps, 'topAnon'> = 'other';
  let size = 0;
  let perms = '';
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      perms = head[1]!;
      const path = head[2]!;
      kind = path === '' ? 'anon' : path === '[heap]' ? 'brkHeap' : path.startsWith('[stack') ? 'stack' : path.startsWith('/') ? 'file' : 'other';
      continue;
    }
    const m = /^(Size|Rss):\s+(\d+) kB/.exec(line);
    if (!m) continue;
    const kb = Number(m[2]);
    if (m[1] === 'Size') size = kb;
    else {
      r[kind] += kb / 1024;
      if (kind === 'anon' && kb > 1024) r.topAnon.push({ sizeMb: Math.round(size / 102.4) / 10, rssMb: Math.round(kb / 102.4) / 10, perms });
    }
  }
  r.topAnon.sort((a, b) => b.rssMb - a.rssMb).splice(12);
  for (const k of ['anon', 'brkHeap', 'file', 'stack', 'other'] as const) r[k] = Math.round(r[k] * 10) / 10;
  return r;
}

async function probe(pid: number, out: string): Promise<unknown> {
  rmSync(out, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 20));
    try {
      return JSON.parse(readFileSync(out, 'utf8'));
    } catch {
      /* not written yet */
    }
  }
  return null;
}

async function oneRun(sim: Child, dir: string, i: number): Promise<Record<string, unknown>> {
  const configFile = join(dir, `switchyard-${i}.json`);
  writeFileSync(configFile, JSON.stringify(sidecarConfig(sim.url, dir), null, 2));
  const out = join(dir, `probe-${i}.json`);
  const sy = await startChild({
    name: 'switchyard-rss',
    args: ['--import', PROBE, ...NODE_ARGS, SWITCHYARD_BIN, 'serve', '--config', configFile, '--port', '0'],
    ready: /switchyard (http:\/\/127\.0\.0\.1:\d+)\/v1/,
    env: { SY_BENCH_OPENAI_KEY: 'sk-bench-upstream', MEMPROBE_OUT: out, ...EXTRA_ENV },
  });
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const idle = procRss(sy.pid);
    const idleProbe = await probe(sy.pid, out);
    const cpu0 = procCpuMicros(sy.pid);
    const target: Target = { name: 'switchyard', url: `${sy.url}/v1/chat/completions` };
    const pool = newPool(target, 16);
    let errors = 0;
    try {
      for (const [mode, count] of [
        ['json', Math.ceil(N / 2)],
        ['stream', Math.floor(N / 2)],
      ] as const)
        errors += (await runCount(pool, target, mode, 16, count)).errors;
    } finally {
      await pool.close();
    }
    const cpuUs = (procCpuMicros(sy.pid) - cpu0) / N;
    const after = procRss(sy.pid);
    const maps = smaps(sy.pid);
    const afterProbe = await probe(sy.pid, out);
    return {
      idleMb: Math.round(idle.rssMb),
      afterMb: Math.round(after.rssMb),
      peakMb: Math.round(after.peakMb),
      cpuUsPerReq: Math.round(cpuUs),
      errors,
      smaps: maps,
      idleProbe,
      afterProbe,
    };
  } finally {
    await sy.stop();
  }
}

async function main(): Promise<void> {
  installCleanup();
  const dir = mkdtempSync(join(tmpdir(), 'sy-mem-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const profileFile = join(dir, 'sim-profile.json');
  writeFileSync(profileFile, JSON.stringify(SIM_PROFILE));
  const sim = await startChild({
    name: 'simulator',
    args: [SWITCHYARD_BIN, 'simulate', '--port', '0', '--profile', profileFile],
    ready: /listening on (http:\/\/\S+)/,
  });
  const runs: Record<string, unknown>[] = [];
  try {
    console.log(`sidecar node flags: ${NODE_ARGS.join(' ') || '(none)'}; env: ${JSON.stringify(EXTRA_ENV)}; ${N} requests, ${RUNS} runs`);
    for (let i = 0; i < RUNS; i++) {
      const r = await oneRun(sim, dir, i);
      runs.push(r);
      if (process.env.MEM_JSON === '1') console.log(JSON.stringify(r));
      else {
        const p = r.afterProbe as { memoryUsage: Record<string, number>; spaces: Record<string, { size: number; used: number; physical: number }> } | null;
        const s = r.smaps as Smaps;
        console.log(
          `run ${i + 1}: RSS idle ${r.idleMb} MB, after ${r.afterMb} MB, peak ${r.peakMb} MB, CPU ${r.cpuUsPerReq} µs/req, errors ${r.errors}\n` +
            `  smaps: anon ${s.anon.toFixed(0)}, brk heap ${s.brkHeap.toFixed(0)}, files ${s.file.toFixed(0)}, stack ${s.stack.toFixed(1)}, other ${s.other.toFixed(1)} MB; top anon ${s.topAnon.map((a) => `${a.rssMb}/${a.sizeMb}`).join(' ')}\n` +
            (p === null
              ? '  (no probe)'
              : `  memoryUsage: ${JSON.stringify(p.memoryUsage)}\n  spaces (size/used): ${Object.entries(p.spaces)
                  .filter(([, v]) => v.size > 0)
                  .map(([k, v]) => `${k.replace('_space', '')} ${v.size}/${v.used}`)
                  .join(', ')}\n  gc: ${JSON.stringify((p as { gc?: unknown }).gc)}`),
        );
      }
    }
  } finally {
    await sim.stop();
  }
  const col = (k: string): string => runs.map((r) => r[k]).join(', ');
  console.log(`\nRSS after ${N}: ${col('afterMb')} MB; peak: ${col('peakMb')}; idle: ${col('idleMb')}; CPU µs/req: ${col('cpuUsPerReq')}`);
}

await main();
