/**
 * Child processes of the benchmark (simulator, pass-through proxy, sidecar): started on port 0,
 * ready when a line names their URL, measured by their kernel CPU counters, and always stopped
 * — on normal exit, on an error and on SIGINT.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const SWITCHYARD_BIN = join(ROOT, 'dist/src/bin/switchyard.js');
export const RUN_TS = join(ROOT, 'bench/run-ts.js');

/** How long a child may take to print its ready line (the pass-through proxy is compiled by tsx on first start). */
const READY_TIMEOUT_MS = 30_000;

export interface Child {
  name: string;
  url: string;
  pid: number;
  /** User + system CPU time of the whole process (all threads), in microseconds. */
  cpuMicros(): number;
  /** The same, split: `system` is time in the kernel (syscalls: socket writes, file writes). */
  cpuTimes(): { user: number; system: number };
  stop(): Promise<void>;
  output(): string;
}

const live = new Set<ChildProcess>();

/** Kernel clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
const CLK_TCK = ((): number => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/**
 * utime + stime of a process from /proc/<pid>/stat (fields 14 and 15). The same method serves
 * every measured process, so the proxies are compared on equal terms and need no cooperation.
 */
export function procCpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // comm (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(rest[11]) * 1e6) / CLK_TCK, system: (Number(rest[12]) * 1e6) / CLK_TCK };
}

/** Resident set size and its peak (VmRSS, VmHWM from /proc/<pid>/status), in MB. */
export function procRss(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

export function procCpuMicros(pid: number): number {
  const t = procCpuTimes(pid);
  return t.user + t.system;
}

/** Host-wide CPU time from the first line of /proc/stat, in microseconds summed over all CPUs. */
export interface HostCpu {
  /** user + nice + system + irq + softirq: time some process (or the kernel for it) ran. */
  busy: number;
  /** Time the hypervisor gave this VM's CPUs to someone else. */
  steal: number;
}

export function hostCpu(): HostCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  const us = (ticks: number): number => (ticks * 1e6) / CLK_TCK;
  return { busy: us(user + nice + system + irq + softirq), steal: us(steal) };
}

export interface SpawnSpec {
  name: string;
  args: string[];
  ready: RegExp;
  env?: NodeJS.ProcessEnv;
  /** Working directory (default: the repository). */
  cwd?: string;
  /** Every byte the child writes (stdout and stderr) is also appended here (`output()` keeps only a tail). */
  logFile?: string;
}

/** Start `node <args>` and resolve once stdout or stderr matches `ready` (group 1 = URL). */
export function startChild(spec: SpawnSpec): Promise<Child> {
  return new Promise((resolveChild, reject) => {
    const child = spawn(process.execPath, spec.args, { cwd: spec.cwd ?? ROOT, env: { ...process.env, ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.once('exit', () => live.delete(child));
    let out = '';
    let ready = false;
    const log = spec.logFile !== undefined ? createWriteStream(spec.logFile) : null;
    if (log) child.once('exit', () => log.end());
    const onData = (d: Buffer): void => {
      log?.write(d);
      // Keep only the tail: a child that logs per request must not grow this without bound.
      out = (out + d.toString()).slice(-20_000);
      if (ready) return;
      const m = spec.ready.exec(out);
      if (!m || m[1] === undefined || child.pid === undefined) return;
      ready = true;
      clearTimeout(timer);
      const pid = child.pid;
      resolveChild({
        name: spec.name,
        url: m[1],
        pid,
        cpuMicros: () => procCpuMicros(pid),
        cpuTimes: () => procCpuTimes(pid),
        output: () => out,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      if (!ready) {
        clearTimeout(timer);
        reject(new Error(`${spec.name} exited (${code ?? signal}) before it was ready:\n${out}`));
      }
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${spec.name} not ready within ${READY_TIMEOUT_MS} ms:\n${out}`));
    }, READY_TIMEOUT_MS);
  });
}

const cleanups: Array<() => void> = [];

/** Synchronous work for the way out (e.g. removing a temp dir), run after the children are killed. */
export function onCleanup(fn: () => void): void {
  cleanups.push(fn);
}

/** SIGKILL every child still running, then run the cleanups (synchronous: safe in an 'exit' handler). */
export function killAll(): void {
  for (const c of live) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
  live.clear();
  for (const fn of cleanups.splice(0)) {
    try {
      fn();
    } catch {
      // best effort on the way out
    }
  }
}

/** No orphaned simulator or sidecar after Ctrl-C, an uncaught error or a normal exit. */
export function installCleanup(): void {
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping child processes\n`);
      killAll();
      process.exit(130);
    });
  }
}
