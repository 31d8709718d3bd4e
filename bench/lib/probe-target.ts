/**
 * The simulator and one measured proxy in front of it, as the probes start them
 * (bench/perf-profile.ts, bench/syscalls.ts, bench/gc-probe.ts): a fresh temporary directory, the
 * zero-think-time simulator, and either the sidecar on `npm run bench`'s realistic config or the
 * bare pass-through proxy. Everything is stopped and removed on exit.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Target } from './load.js';
import { onCleanup, ROOT, RUN_TS, startChild, SWITCHYARD_BIN, type Child } from './procs.js';
import { realisticConfig, SIM_PROFILE, sqliteStorage } from './config.js';

export interface ProbeOptions {
  /** The bare pass-through proxy instead of the sidecar. */
  passthrough: boolean;
  /** Node flags of the measured process. */
  nodeArgs?: string[];
  /** Run the measured process in the temporary directory (where `--perf-prof` writes its jitdump). */
  cwdInDir?: boolean;
  /** The sidecar's build (default: this tree's dist). */
  bin?: string;
  /** The ledger in memory instead of a SQLite file. */
  memoryLedger?: boolean;
  /** Top-level config keys replaced (see realisticConfig). */
  over?: Record<string, unknown>;
  /** Keep the measured process's whole output in this file of the directory. */
  logName?: string;
}

export interface Probe {
  dir: string;
  sim: Child;
  proxy: Child;
  target: Target;
  /** Path of the measured process's output file, when `logName` was given. */
  logFile: string | null;
  stop(): Promise<void>;
}

export async function startProbe(prefix: string, o: ProbeOptions): Promise<Probe> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'sim.json'), JSON.stringify(SIM_PROFILE));
  const sim = await startChild({
    name: 'sim',
    args: [SWITCHYARD_BIN, 'simulate', '--port', '0', '--profile', join(dir, 'sim.json')],
    ready: /listening on (http:\/\/\S+)/,
  });
  const storage = o.memoryLedger === true ? { ledger: 'memory' } : sqliteStorage(join(dir, 'l.db'));
  writeFileSync(join(dir, 'c.json'), JSON.stringify(realisticConfig(sim.url, storage, { over: o.over ?? {} })));
  const logFile = o.logName !== undefined ? join(dir, o.logName) : null;
  const common = { ...(o.cwdInDir === true ? { cwd: dir } : {}), ...(logFile !== null ? { logFile } : {}) };
  const node = o.nodeArgs ?? [];
  const proxy = o.passthrough
    ? await startChild({
        name: 'passthrough',
        args: [...node, RUN_TS, join(ROOT, 'bench/passthrough.ts'), '--upstream', `${sim.url}/openai`, '--port', '0'],
        ready: /(http:\/\/127\.0\.0\.1:\d+)/,
        ...common,
      })
    : await startChild({
        name: 'sidecar',
        args: [...node, o.bin ?? SWITCHYARD_BIN, 'serve', '--config', join(dir, 'c.json'), '--port', '0'],
        ready: /switchyard (http:\/\/127\.0\.0\.1:\d+)\/v1/,
        env: { SY_BENCH_OPENAI_KEY: 'sk-bench-upstream' },
        ...common,
      });
  return {
    dir,
    sim,
    proxy,
    target: { name: proxy.name, url: `${proxy.url}/v1/chat/completions` },
    logFile,
    stop: async () => {
      await proxy.stop();
      await sim.stop();
    },
  };
}
