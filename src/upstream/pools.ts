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

export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();

  get(origin: string, opts: PoolOptions): Pool {
    let pool = this.pools.get(origin);
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
      this.pools.set(origin, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => undefined)));
    this.pools.clear();
  }
}
