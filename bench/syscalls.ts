/**
 * System calls per request of a warm sidecar (or of the bare pass-through proxy), counted by
 * `perf stat` on the kernel's syscall tracepoints while a fixed number of requests runs. System
 * calls are dear on a virtual machine; this shows what a change adds or saves, exactly.
 *
 *   node bench/run-ts.js bench/syscalls.ts                        # sidecar, JSON, 16 connections
 *   SC_TARGET=passthrough SC_MODE=stream SC_CONNS=64 node bench/run-ts.js bench/syscalls.ts
 *
 * The config is `npm run bench`'s realistic one. Needs `perf` and permission to attach to a process.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newPool, runCount, type Mode, type Target } from './lib/load.js';
import { installCleanup, onCleanup, ROOT, RUN_TS, startChild, SWITCHYARD_BIN } from './lib/procs.js';
import { realisticConfig, SIM_PROFILE, sqliteStorage } from './lib/config.js';

installCleanup();
const mode = (process.env.SC_MODE ?? 'json') as Mode;
if (mode !== 'json' && mode !== 'stream') throw new Error(`SC_MODE: json or stream, got ${String(mode)}`);
const conns = Number(process.env.SC_CONNS ?? 16);
const N = Number(process.env.SC_REQUESTS ?? 5000);
const CALLS = ['read', 'write', 'writev', 'pwrite64', 'pread64', 'fcntl', 'ftruncate', 'fsync', 'futex', 'epoll_pwait'];
const dir = mkdtempSync(join(tmpdir(), 'sy-sc-'));
onCleanup(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'sim.json'), JSON.stringify(SIM_PROFILE));
const sim = await startChild({
  name: 'sim',
  args: [SWITCHYARD_BIN, 'simulate', '--port', '0', '--profile', join(dir, 'sim.json')],
  ready: /listening on (http:\/\/\S+)/,
});
writeFileSync(join(dir, 'c.json'), JSON.stringify(realisticConfig(sim.url, sqliteStorage(join(dir, 'l.db')))));
const proxy =
  process.env.SC_TARGET === 'passthrough'
    ? await startChild({
        name: 'passthrough',
        args: [RUN_TS, join(ROOT, 'bench/passthrough.ts'), '--upstream', `${sim.url}/openai`, '--port', '0'],
        ready: /(http:\/\/127\.0\.0\.1:\d+)/,
      })
    : await startChild({
        name: 'sidecar',
        args: [SWITCHYARD_BIN, 'serve', '--config', join(dir, 'c.json'), '--port', '0'],
        ready: /switchyard (http:\/\/127\.0\.0\.1:\d+)\/v1/,
        env: { SY_BENCH_OPENAI_KEY: 'sk-bench-upstream' },
        cwd: dir,
      });
const target: Target = { name: proxy.name, url: `${proxy.url}/v1/chat/completions` };
const pool = newPool(target, conns);
await runCount(pool, target, mode, conns, 5000);
const out = join(dir, 'stat.csv');
const events = CALLS.map((c) => `syscalls:sys_enter_${c}`).join(',');
const perf = spawn('perf', ['stat', '-x', ',', '-e', events, '-o', out, '-p', String(proxy.pid)], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 500));
await runCount(pool, target, mode, conns, N);
perf.kill('SIGINT');
await new Promise((r) => perf.once('exit', r));
await pool.close();
await proxy.stop();
await sim.stop();
console.log(`${proxy.name}, ${mode}, ${conns} connections: system calls per request (${N} requests)`);
for (const line of readFileSync(out, 'utf8').split('\n')) {
  const f = line.split(',');
  if (f.length > 3 && /^\d/.test(f[0]!)) console.log(`${(Number(f[0]) / N).toFixed(2).padStart(7)}  ${f[2]!.replace('syscalls:sys_enter_', '')}`);
}
