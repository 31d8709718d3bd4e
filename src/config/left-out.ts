/**
 * Models and routes of the built-in catalogue left out at start-up because no provider of theirs
 * has a key in the environment, with the variables that would bring them in: a request that names
 * one is told why it is missing, not that it does not exist. Kept per config object (the built-in
 * catalogue cannot be reloaded, so the object a sidecar serves with is the one it started with).
 */
import type { Config } from './schema.js';

const byConfig = new WeakMap<Config, ReadonlyMap<string, readonly string[]>>();

/** Records, for this config, each left-out model id (and `route/<name>`) with the key variables that would add it. */
export function recordLeftOut(cfg: Config, leftOut: ReadonlyMap<string, readonly string[]>): void {
  if (leftOut.size > 0) byConfig.set(cfg, leftOut);
}

/** The variables that would bring in a model or route left out of this config for want of a key, or null. */
export function leftOutFor(cfg: Config, id: string): readonly string[] | null {
  return byConfig.get(cfg)?.get(id) ?? null;
}

/** Every model and route left out of this config for want of a key, with the variables that would bring each in. */
export function leftOutOf(cfg: Config): ReadonlyMap<string, readonly string[]> {
  return byConfig.get(cfg) ?? new Map();
}
