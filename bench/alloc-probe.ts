/**
 * Where a warm sidecar's (or the bare pass-through's) per-request allocations come from: V8's
 * sampling heap profiler, run in the measured process under load with the objects that died
 * young kept in the profile (`includeObjectsCollectedByMinorGC`/`…MajorGC`), so it shows all
 * that was allocated, not what was still alive at the end. Each sampled byte is charged to the
 * innermost frame of switchyard's own code (`dist/`) on its stack, and to that frame together
 * with the function that allocated (a node or undici function called from it).
 * bench/gc-probe.ts gives the total per request; this gives its split.
 *
 *   node bench/run-ts.js bench/alloc-probe.ts                          # sidecar, JSON, 16 connections
 *   AP_TARGET=passthrough AP_MODE=stream node bench/run-ts.js bench/alloc-probe.ts
 *   AP_SECONDS=5 AP_INTERVAL=512 AP_TOP=40 …                           # window, sampling interval (bytes), rows shown
 *
 * The config is `npm run bench`'s realistic one. The profiler's own bookkeeping slows the process,
 * so the CPU figures of this run mean nothing; the split of the bytes is what it is for.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newPool, runCount, runLoad, type Mode } from './lib/load.js';
import { installCleanup, onCleanup } from './lib/procs.js';
import { startProbe } from './lib/probe-target.js';

interface Frame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  callFrame: Frame;
  selfSize: number;
  children: ProfileNode[];
}

installCleanup();
const mode = (process.env.AP_MODE ?? 'json') as Mode;
if (mode !== 'json' && mode !== 'stream') throw new Error(`AP_MODE: json or stream, got ${String(mode)}`);
const conns = Number(process.env.AP_CONNS ?? 16);
const secs = Number(process.env.AP_SECONDS ?? 5);
const interval = Number(process.env.AP_INTERVAL ?? 512);
const top = Number(process.env.AP_TOP ?? 30);

// The preload: the first SIGUSR2 starts sampling, the second writes the profile next to this file.
const dir = mkdtempSync(join(tmpdir(), 'sy-alloc-'));
onCleanup(() => rmSync(dir, { recursive: true, force: true }));
const preload = join(dir, 'preload.mjs');
const out = join(dir, 'alloc.json');
writeFileSync(
  preload,
  `import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
const s = new Session();
s.connect();
let on = false;
process.on('SIGUSR2', () => {
  if (!on) {
    on = true;
    s.post('HeapProfiler.startSampling', { samplingInterval: ${interval}, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    return;
  }
  s.post('HeapProfiler.stopSampling', (err, r) => writeFileSync(${JSON.stringify(out)}, err ? JSON.stringify({ error: String(err) }) : JSON.stringify(r.profile)));
});
`,
);

const probe = await startProbe('sy-ap-', { passthrough: process.env.AP_TARGET === 'passthrough', nodeArgs: ['--import', preload] });
const { proxy, target } = probe;
const pool = newPool(target, conns);
await runCount(pool, target, mode, conns, 10_000);
const s = await runLoad(pool, target, mode, conns, 0.5, secs, {
  onStart: () => process.kill(proxy.pid, 'SIGUSR2'),
  onEnd: () => process.kill(proxy.pid, 'SIGUSR2'),
});
for (let i = 0; i < 100; i++) {
  try {
    JSON.parse(readFileSync(out, 'utf8'));
    break;
  } catch {
    await new Promise((r) => setTimeout(r, 100));
  }
}
await pool.close();
await probe.stop();

const profile = JSON.parse(readFileSync(out, 'utf8')) as { head: ProfileNode } | { error: string };
if ('error' in profile) throw new Error(`the heap profiler failed: ${profile.error}`);
const n = Math.max(1, s.requests);
const name = (f: Frame): string =>
  `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace('file://', '')}:${f.lineNumber + 1}`;
const byOwn = new Map<string, number>();
const byPair = new Map<string, number>();
let total = 0;
const add = (m: Map<string, number>, k: string, v: number): void => void m.set(k, (m.get(k) ?? 0) + v);
const walk = (node: ProfileNode, own: string): void => {
  const f = node.callFrame;
  const here = f.url.includes('/dist/') ? name(f) : own;
  if (node.selfSize > 0) {
    total += node.selfSize;
    add(byOwn, here, node.selfSize);
    add(byPair, here === name(f) ? here : `${here}  <=  ${name(f)}`, node.selfSize);
  }
  for (const c of node.children) walk(c, here);
};
walk(profile.head, '(no frame of switchyard)');
const show = (title: string, m: Map<string, number>): void => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${(v / n / 1024).toFixed(2).padStart(6)} KB/req  ${k}`);
  }
};
console.log(`${proxy.name}, ${mode}, ${conns} connections: ${s.requests} requests in the window, ${(total / n / 1024).toFixed(1)} KB sampled a request`);
show('by the innermost frame of switchyard (dist/)', byOwn);
show('by that frame and the function that allocated', byPair);
