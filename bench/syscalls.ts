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
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { newPool, runCount, type Mode } from './lib/load.js';
import { installCleanup } from './lib/procs.js';
import { startProbe } from './lib/probe-target.js';

installCleanup();
const mode = (process.env.SC_MODE ?? 'json') as Mode;
if (mode !== 'json' && mode !== 'stream') throw new Error(`SC_MODE: json or stream, got ${String(mode)}`);
const conns = Number(process.env.SC_CONNS ?? 16);
const N = Number(process.env.SC_REQUESTS ?? 5000);
const CALLS = ['read', 'write', 'writev', 'pwrite64', 'pread64', 'fcntl', 'ftruncate', 'fsync', 'futex', 'epoll_pwait'];
const probe = await startProbe('sy-sc-', { passthrough: process.env.SC_TARGET === 'passthrough', cwdInDir: true });
const { dir, proxy, target } = probe;
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
await probe.stop();
console.log(`${proxy.name}, ${mode}, ${conns} connections: system calls per request (${N} requests)`);
for (const line of readFileSync(out, 'utf8').split('\n')) {
  const f = line.split(',');
  if (f.length > 3 && /^\d/.test(f[0]!)) console.log(`${(Number(f[0]) / N).toFixed(2).padStart(7)}  ${f[2]!.replace('syscalls:sys_enter_', '')}`);
}
