import type { Fault } from './faults.js';
import { parseProfile } from './profile.js';
import type { SimulatorProfile } from './profile.js';
import { SimulatorCore } from './server.js';
import { loadTokenizer } from './text.js';
import type { SimRequestLogEntry } from './types.js';

export interface SimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  profile?: SimulatorProfile;
  /**
   * `eager` (the default): the o200k tokenizer is loaded before the simulator listens, so no
   * request pays for it. `lazy`: on the first count (the simulator built into `serve`, whose
   * idle memory should not hold 40-60 MB of tables nobody used yet).
   */
  tokenizer?: 'eager' | 'lazy';
}

export interface Simulator {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  port: number;
  close(): Promise<void>;
  /** Sets or replaces the fault of one upstream model (`*` = every model without its own). */
  setFault(model: string, fault: Fault): void;
  clearFaults(model?: string): void;
  log(): SimRequestLogEntry[];
  resetLog(): void;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const host = opts.host ?? '127.0.0.1';
  const core = new SimulatorCore(parseProfile(opts.profile ?? {}));
  const [port] = await Promise.all([core.listen(host, opts.port ?? 0), opts.tokenizer === 'lazy' ? undefined : loadTokenizer()]);
  return {
    url: `http://${urlHost(host)}:${port}`,
    port,
    close: () => core.close(),
    setFault: (model, fault) => core.state.faults.set(model, fault),
    clearFaults: (model) => core.state.faults.clear(model),
    log: () => core.log.list(),
    resetLog: () => core.log.reset(),
  };
}
