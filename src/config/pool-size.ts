/**
 * How many connections a provider's upstream pool holds: its `connections`, else what its
 * endpoints may have in flight at once (the sum of their `maxConcurrent`).
 */
import type { Config } from './schema.js';

/** The `maxConcurrent` of every endpoint on a provider, summed: what it may have in flight at once. */
export function providerConcurrency(cfg: Config, providerName: string): number {
  let n = 0;
  for (const mc of Object.values(cfg.models)) for (const ep of mc.endpoints) if (ep.provider === providerName) n += ep.maxConcurrent;
  return n;
}

/** A provider's pool size: its `connections`, else what its endpoints may have in flight (at least 1). */
export function poolConnections(cfg: Config, providerName: string): number {
  return cfg.providers[providerName]!.connections ?? Math.max(1, providerConcurrency(cfg, providerName));
}

/**
 * Providers whose `connections` is below what their endpoints may have in flight: the rest wait
 * for a connection in switchyard (not counted against the endpoint: its time limits start once a
 * connection takes the request), which adds to their latency. Said at start-up and by check-config.
 */
export function undersizedPools(cfg: Config): string[] {
  const out: string[] = [];
  for (const [name, p] of Object.entries(cfg.providers)) {
    const need = providerConcurrency(cfg, name);
    if (p.connections !== undefined && p.connections < need)
      out.push(
        `providers.${name}.connections is ${p.connections}, but its endpoints' maxConcurrent add up to ${need}: requests beyond ${p.connections} wait in switchyard for a connection (raise it, or leave it unset to size it to ${need})`,
      );
  }
  return out;
}
