/**
 * One undici Pool per provider origin, with keep-alive. Time limits that undici would apply
 * on its own (body timeout) are off: switchyard applies its own per-attempt limits, so the
 * fault is classified once, in one place.
 */
import { Pool } from 'undici';

export interface PoolOptions {
  connections: number;
  connectTimeoutMs: number;
}

/**
 * Pools are shared by origin and options: two providers on one origin with other `connections`,
 * or a reload that changes `connections` or `resilience.connectTimeoutMs`, get a pool of their
 * own (keyed by origin alone, the first pool's options silently held for every later config).
 * A pool a reload left behind is not closed, since requests in flight may still hold it; its
 * idle sockets close after `keepAliveTimeout`.
 */
export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();

  get(origin: string, opts: PoolOptions): Pool {
    const key = `${origin} ${opts.connections} ${opts.connectTimeoutMs}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new Pool(origin, {
        connections: opts.connections,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        connect: { timeout: opts.connectTimeoutMs },
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => undefined)));
    this.pools.clear();
  }
}
