/**
 * From the runs of the overhead benchmark to the printed table: the median of the repeats per
 * cell, switchyard's ratios to the pass-through proxy, and the worst CPU ratio.
 */
import type { Mode } from './load.js';

export type TargetName = 'direct' | 'passthrough' | 'switchyard';
export const TARGETS: readonly TargetName[] = ['direct', 'passthrough', 'switchyard'];

/** One measured run of one target in one cell. */
export interface RunResult {
  target: TargetName;
  mode: Mode;
  conns: number;
  rep: number;
  requests: number;
  errors: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Streams only. */
  ttfbP50Ms: number | null;
  ttfbP99Ms: number | null;
  /** CPU of the proxy process per request; null for `direct`. */
  cpuUsPerReq: number | null;
  /** Share of that CPU spent in the kernel (syscalls); null for `direct`. */
  cpuSystemShare: number | null;
  /** CPU of the simulator per request (the same work for every target). */
  simCpuUsPerReq: number;
  /** CPU of the benchmark process (load generator) per request. */
  loadCpuUsPerReq: number;
  firstError: string | null;
}

/** The median of the repeats of one target in one cell, field by field. */
export type CellResult = Omit<RunResult, 'rep' | 'firstError'> & { repeats: number };

export interface Ratios {
  mode: Mode;
  conns: number;
  cpu: number | null;
  p50: number;
  ttfb: number | null;
  rps: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function medianOrNull(xs: ReadonlyArray<number | null>): number | null {
  const vals = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return vals.length === 0 ? null : median(vals);
}

export function aggregate(runs: readonly RunResult[]): CellResult[] {
  const groups = new Map<string, RunResult[]>();
  for (const r of runs) {
    const key = `${r.conns}|${r.mode}|${r.target}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((rs) => {
    const f = rs[0]!;
    return {
      target: f.target,
      mode: f.mode,
      conns: f.conns,
      repeats: rs.length,
      requests: median(rs.map((r) => r.requests)),
      errors: rs.reduce((s, r) => s + r.errors, 0),
      rps: median(rs.map((r) => r.rps)),
      p50Ms: median(rs.map((r) => r.p50Ms)),
      p99Ms: median(rs.map((r) => r.p99Ms)),
      ttfbP50Ms: medianOrNull(rs.map((r) => r.ttfbP50Ms)),
      ttfbP99Ms: medianOrNull(rs.map((r) => r.ttfbP99Ms)),
      cpuUsPerReq: medianOrNull(rs.map((r) => r.cpuUsPerReq)),
      cpuSystemShare: medianOrNull(rs.map((r) => r.cpuSystemShare)),
      simCpuUsPerReq: median(rs.map((r) => r.simCpuUsPerReq)),
      loadCpuUsPerReq: median(rs.map((r) => r.loadCpuUsPerReq)),
    };
  });
}

const div = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);

export function ratios(cells: readonly CellResult[]): Ratios[] {
  const out: Ratios[] = [];
  for (const sy of cells.filter((c) => c.target === 'switchyard')) {
    const pt = cells.find((c) => c.target === 'passthrough' && c.mode === sy.mode && c.conns === sy.conns);
    if (!pt) continue;
    out.push({
      mode: sy.mode,
      conns: sy.conns,
      cpu: div(sy.cpuUsPerReq, pt.cpuUsPerReq),
      p50: sy.p50Ms / pt.p50Ms,
      ttfb: div(sy.ttfbP50Ms, pt.ttfbP50Ms),
      rps: sy.rps / pt.rps,
    });
  }
  return out;
}

const num = (x: number | null, digits: number): string => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(digits));
const times = (x: number | null): string => (x === null || !Number.isFinite(x) ? '' : `${x.toFixed(2)}×`);

export function formatTable(cells: readonly CellResult[], rs: readonly Ratios[]): string {
  const head = ['target', 'mode', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'TTFB p50', 'CPU µs/req', 'sys', '×CPU', '×p50', '×TTFB', 'errors'];
  const rows: string[][] = [];
  const sorted = [...cells].sort((a, b) => a.conns - b.conns || a.mode.localeCompare(b.mode) || TARGETS.indexOf(a.target) - TARGETS.indexOf(b.target));
  for (const c of sorted) {
    const r = c.target === 'switchyard' ? rs.find((x) => x.mode === c.mode && x.conns === c.conns) : undefined;
    rows.push([
      c.target,
      c.mode,
      String(c.conns),
      num(c.rps, 0),
      num(c.p50Ms, 2),
      num(c.p99Ms, 2),
      c.mode === 'stream' ? num(c.ttfbP50Ms, 2) : '',
      num(c.cpuUsPerReq, 0),
      c.cpuSystemShare === null ? '' : `${(c.cpuSystemShare * 100).toFixed(0)}%`,
      times(r?.cpu ?? null),
      times(r?.p50 ?? null),
      times(r?.ttfb ?? null),
      String(c.errors),
    ]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const left = new Set([0, 1]);
  const line = (cols: string[]): string => cols.map((s, i) => (left.has(i) ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join('  ');
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  ')];
  let prev = '';
  for (const [i, row] of rows.entries()) {
    const group = `${sorted[i]!.conns}|${sorted[i]!.mode}`;
    if (prev !== '' && group !== prev) out.push('');
    prev = group;
    out.push(line(row));
  }
  return out.join('\n');
}

export function worst(rs: readonly Ratios[], key: 'cpu' | 'ttfb' | 'p50'): Ratios | null {
  let w: Ratios | null = null;
  for (const r of rs) {
    const v = r[key];
    if (v !== null && Number.isFinite(v) && (w === null || v > (w[key] ?? -Infinity))) w = r;
  }
  return w;
}
