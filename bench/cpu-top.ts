/**
 * The functions with the most self time in a V8 `.cpuprofile` (as written by `node --cpu-prof`).
 * `npm run bench` with BENCH_CPU_PROF=1 profiles the sidecar and prints this at the end; alone:
 *
 *   node bench/run-ts.js bench/cpu-top.ts FILE.cpuprofile [N]
 */
import { readFileSync } from 'node:fs';
import { relative, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface TopEntry {
  fn: string;
  where: string;
  /** Self time, or inclusive time in `ProfileSummary.inclusive`. */
  selfMs: number;
  percent: number;
}

function where(frame: CallFrame, root: string): string {
  if (frame.url === '') return '(native)';
  let path = frame.url.startsWith('file://') ? fileURLToPath(frame.url) : frame.url;
  if (path.startsWith(root)) path = relative(root, path);
  path = path.replace(/^node_modules\//, '');
  return `${path}:${frame.lineNumber + 1}`;
}

/**
 * A span of time on the monotonic clock in microseconds: V8 stamps profile samples with it, and
 * `process.hrtime.bigint() / 1000n` of any process on the host reads the same clock.
 */
export type Window = readonly [startUs: number, endUs: number];

/** Idle samples say nothing about where the CPU goes; they are left out of the total too. */
const IDLE = new Set(['(idle)']);

export interface ProfileSummary {
  totalMs: number;
  /** Functions by self time. */
  top: TopEntry[];
  /** Self time by area: a folder of src/, machines, a package, node internals, native. */
  areas: Array<{ area: string; selfMs: number; percent: number }>;
  /** switchyard's own functions (src/, machines/) by inclusive time: themselves and all they call. */
  inclusive: TopEntry[];
}

function area(at: string): string {
  if (at === '(native)') return '(native: GC, syscalls, builtins)';
  if (at.startsWith('node:')) return 'node internals (http, net, streams)';
  if (at.startsWith('wasm')) return "wasm (llhttp, undici's HTTP parser)";
  const src = /^(src\/[^/]+|machines)\//.exec(at);
  if (src) return src[1]!;
  const pkg = /^(@[^/]+\/[^/]+|[^/]+)\//.exec(at);
  return pkg ? pkg[1]! : at;
}

const own = (at: string): boolean => /^(dist\/)?(src|machines)\//.test(at);

function ranked(m: Map<string, TopEntry>, totalUs: number, n: number): TopEntry[] {
  const top = [...m.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, n);
  for (const e of top) e.percent = totalUs > 0 ? (e.selfMs * 1000 * 100) / totalUs : 0;
  return top;
}

/**
 * Self time per function (same name at the same place), largest first. With `windows`, only
 * samples inside them count (e.g. the measured runs, not start-up and module compilation).
 */
export function summarize(file: string, n = 10, windows?: readonly Window[], root = process.cwd()): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const label = new Map<number, { fn: string; at: string; key: string }>();
  for (const node of profile.nodes) {
    const fn = node.callFrame.functionName === '' ? '(anonymous)' : node.callFrame.functionName;
    const at = where(node.callFrame, root);
    label.set(node.id, { fn, at, key: `${fn}@${at}` });
  }
  const self = new Map<string, TopEntry>();
  const incl = new Map<string, TopEntry>();
  const areas = new Map<string, number>();
  const add = (m: Map<string, TopEntry>, l: { fn: string; at: string; key: string }, us: number): void => {
    const e = m.get(l.key) ?? { fn: l.fn, where: l.at, selfMs: 0, percent: 0 };
    e.selfMs += us / 1000;
    m.set(l.key, e);
  };
  const inside = (t: number): boolean => windows === undefined || windows.some(([a, b]) => t >= a && t <= b);
  let total = 0;
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    const l = label.get(id);
    if (!inside(t) || !l || IDLE.has(byId.get(id)?.callFrame.functionName ?? '')) return;
    total += dt;
    add(self, l, dt);
    areas.set(area(l.at), (areas.get(area(l.at)) ?? 0) + dt);
    // Each own function on the stack once, however deep the recursion.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const c = label.get(cur)!;
      if (own(c.at) && !seen.has(c.key)) {
        seen.add(c.key);
        add(incl, c, dt);
      }
    }
  });
  return {
    totalMs: total / 1000,
    top: ranked(self, total, n),
    areas: [...areas].sort((a, b) => b[1] - a[1]).map(([a, us]) => ({ area: a, selfMs: us / 1000, percent: total > 0 ? (us * 100) / total : 0 })),
    inclusive: ranked(incl, total, n),
  };
}

export function formatTop(file: string, n = 10, windows?: readonly Window[]): string {
  const s = summarize(file, n, windows);
  const fnWidth = Math.max(8, ...s.top.map((e) => e.fn.length), ...s.inclusive.map((e) => e.fn.length));
  const row = (e: TopEntry): string => `  ${e.selfMs.toFixed(0).padStart(7)} ms ${e.percent.toFixed(1).padStart(5)}%  ${e.fn.padEnd(fnWidth)}  ${e.where}`;
  return [
    `CPU profile ${relative(process.cwd(), file)}: ${s.totalMs.toFixed(0)} ms of busy samples${windows ? ' in the measured runs' : ''}`,
    `top ${n} functions by self time:`,
    ...s.top.map(row),
    'self time by area:',
    ...s.areas.slice(0, 12).map((a) => `  ${a.selfMs.toFixed(0).padStart(7)} ms ${a.percent.toFixed(1).padStart(5)}%  ${a.area}`),
    `top ${n} of switchyard's own functions by inclusive time (with everything they call):`,
    ...s.inclusive.map(row),
  ].join('\n');
}

const isMain = process.argv[1] !== undefined && resolvePath(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const file = process.argv[2];
  if (file === undefined) {
    console.error('usage: cpu-top.ts FILE.cpuprofile [N]');
    process.exit(2);
  }
  console.log(formatTop(file, Number(process.argv[3] ?? 10)));
}
