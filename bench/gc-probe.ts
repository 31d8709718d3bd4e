/**
 * The garbage collector's share of a warm sidecar (or of the bare pass-through proxy) under JSON
 * load: the process runs with `--trace-gc-nvp`, and each young-generation collection (scavenge)
 * in the measured window reports its pause, the bytes allocated since the last one and the bytes
 * it promoted to the old generation. Promotion is what to watch: an object that outlives two
 * scavenges (~60 ms at this load) is copied twice and later marked and swept by a full
 * collection, so per-request data kept for longer than the request (a history ring, a
 * journal's map) costs far more than its allocation.
 *
 *   node bench/run-ts.js bench/gc-probe.ts                      # sidecar, JSON, 16 connections, 5 s
 *   GC_TARGET=passthrough GC_CONNS=64 node bench/run-ts.js bench/gc-probe.ts
 *   GC_HISTORY=4 node bench/run-ts.js bench/gc-probe.ts          # observe.historySize 4 instead of the default
 *   GC_BIN=/tmp/base/dist/src/bin/switchyard.js node bench/run-ts.js bench/gc-probe.ts   # another build
 *
 * The config is `npm run bench`'s realistic one (GC_STORAGE=memory: the in-memory ledger).
 */
import { readFileSync } from 'node:fs';
import { newPool, runCount, runLoad } from './lib/load.js';
import { installCleanup } from './lib/procs.js';
import { startProbe } from './lib/probe-target.js';

installCleanup();
const conns = Number(process.env.GC_CONNS ?? 16);
const secs = Number(process.env.GC_SECONDS ?? 5);
const probe = await startProbe('sy-gc-', {
  passthrough: process.env.GC_TARGET === 'passthrough',
  nodeArgs: ['--trace-gc-nvp'],
  memoryLedger: process.env.GC_STORAGE === 'memory',
  over: process.env.GC_HISTORY ? { observe: { historySize: Number(process.env.GC_HISTORY) } } : {},
  logName: 'gc.log',
  ...(process.env.GC_BIN ? { bin: process.env.GC_BIN } : {}),
});
const { proxy: sy, target } = probe;
const logFile = probe.logFile!;
const pool = newPool(target, conns);
await runCount(pool, target, 'json', conns, 10_000);
const scavenges = (): string[] =>
  readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => / gc=s /.test(l));
let skip = 0;
let cpu0 = 0;
let cpu1 = 0;
let taken: string[] = [];
const s = await runLoad(pool, target, 'json', conns, 0.5, secs, {
  onStart: () => {
    skip = scavenges().length;
    cpu0 = sy.cpuMicros();
  },
  onEnd: () => {
    cpu1 = sy.cpuMicros();
    taken = scavenges().slice(skip);
  },
});
await pool.close();
await probe.stop();
const field = (line: string, name: string): number => Number(new RegExp(`\\b${name}=([\\d.]+)`).exec(line)?.[1] ?? NaN);
const sum = (name: string): number => taken.reduce((a, l) => a + field(l, name), 0);
const n = Math.max(1, s.requests);
console.log(`${process.env.GC_TARGET ?? 'sidecar'}, JSON, ${conns} connections: ${s.requests} requests, ${((cpu1 - cpu0) / n).toFixed(0)} µs CPU/request`);
console.log(
  `  scavenges ${taken.length} (one per ${(n / Math.max(1, taken.length)).toFixed(0)} requests), mean pause ${(sum('pause') / Math.max(1, taken.length)).toFixed(2)} ms`,
);
console.log(
  `  per request: allocated ${(sum('allocated') / n / 1024).toFixed(1)} KB, promoted ${(sum('promoted') / n).toFixed(0)} B, scavenge pause ${((sum('pause') * 1000) / n).toFixed(1)} µs`,
);
