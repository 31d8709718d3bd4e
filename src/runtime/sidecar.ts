/**
 * What a running sidecar is, as its starters see it. The composition root (`src/main.ts`)
 * builds one; the CLI's commands (`serve`, `demo`) receive the starter from the CLI entry and
 * use these types, so nothing but the entry imports the composition root.
 */
import type { Runtime } from './runtime.js';
import type { Simulator } from '../simulator/index.js';

export interface ServeOptions {
  config?: string;
  host?: string;
  port?: number;
  pretty?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Log destination (tests); stdout by default. */
  logDestination?: NodeJS.WritableStream;
  /** Install SIGTERM/SIGINT/SIGHUP handlers (the CLI does; tests do not). */
  signals?: boolean;
  /** Forward sanitised inspection events to a Stately inspector over WebSocket. */
  inspectWs?: string;
}

/**
 * The outcome of a config reload: what changed, or why the running config stays.
 * `restartRequired`: changed keys that are read at start-up only (the running values stay until a restart).
 */
/** `warnings`: what the reloaded config's values suggest was not meant, and what it took away (an auth section, a budget limit), as the log says them. */
export type ReloadResult =
  { ok: true; kept: string[]; added: string[]; removed: string[]; restartRequired: string[]; warnings: string[] } | { ok: false; errors: string[] };

export interface Sidecar {
  url: string;
  runtime: Runtime;
  simulated: boolean;
  simulator: Simulator | null;
  reload(): Promise<ReloadResult>;
  shutdown(): Promise<void>;
}

/** Starts a sidecar; `src/main.ts`'s `serve`, handed to the commands by the CLI entry. */
export type StartSidecar = (opts?: ServeOptions) => Promise<Sidecar>;

/** A sidecar that cannot start (bad config, missing secret, port taken): exit 1 with the message. */
export class StartupError extends Error {}

/** SIGHUPs held while a sidecar starts (holdSighup), or null when none are being held. */
let held: { count: number; listener: () => void } | null = null;

/**
 * Holds SIGHUP until the sidecar's own handlers are installed: node's default for it ends the
 * process, so a reload sent while the sidecar started (`systemctl reload`, a deploy script's
 * `kill -HUP`, during a start that waits seconds for a predecessor's ledger lock) killed it.
 */
export function holdSighup(): void {
  if (held !== null) return;
  const h = { count: 0, listener: () => void h.count++ };
  held = h;
  process.on('SIGHUP', h.listener);
}

/** Stops holding SIGHUP; true when one came meanwhile (the config is then reloaded once started). */
export function releaseSighup(): boolean {
  if (held === null) return false;
  process.off('SIGHUP', held.listener);
  const came = held.count > 0;
  held = null;
  return came;
}
