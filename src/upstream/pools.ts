/**
 * One undici Pool per provider origin, with keep-alive. Time limits that undici would apply
 * on its own (body timeout) are off: switchyard applies its own per-attempt limits, so the
 * fault is classified once, in one place.
 */
import type { Socket } from 'node:net';
import { Pool, buildConnector, errors } from 'undici';

export interface PoolOptions {
  connections: number;
  connectTimeoutMs: number;
}

/**
 * Pools are shared by provider, origin and options: two providers on one origin, or ones with other `connections`,
 * or a reload that changes `connections` or `resilience.connectTimeoutMs`, get a pool of their
 * own (keyed by origin alone, the first pool's options silently held for every later config).
 * A pool a reload left behind is not closed, since requests in flight may still hold it (a retry
 * sends on the handle it holds): {@link UpstreamPools.retain} lets go of it, so it is collected
 * once nothing holds it and its idle sockets closed after `keepAliveTimeout` (the map kept every
 * pool a reload ever made).
 */
export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();
  /** Pools a reload let go of, closed with the others at shutdown if still alive (weak: never what keeps one). */
  private retired: Array<WeakRef<Pool>> = [];

  /** `owner`: the provider the pool is sized for (two providers on one origin each have theirs: a pool sized for one was shared by both). */
  get(origin: string, opts: PoolOptions, owner = ''): Pool {
    const key = `${owner} ${origin} ${opts.connections} ${opts.connectTimeoutMs}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new Pool(origin, {
        connections: opts.connections,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        connect: timedConnector(opts.connectTimeoutMs),
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** How many pools the map holds (current ones: see {@link UpstreamPools.retain}). */
  get size(): number {
    return this.pools.size;
  }

  /** After a reload: pools no current endpoint uses leave the map (see the class comment). */
  retain(inUse: ReadonlySet<Pool>): void {
    for (const [key, pool] of this.pools)
      if (!inUse.has(pool)) {
        this.pools.delete(key);
        this.retired.push(new WeakRef(pool));
      }
    this.retired = this.retired.filter((r) => r.deref() !== undefined);
  }

  async close(): Promise<void> {
    const all = [...this.pools.values(), ...this.retired.map((r) => r.deref()).filter((p) => p !== undefined)];
    await Promise.all(all.map((p) => (p.closed || p.destroyed ? undefined : p.close().catch(() => undefined))));
    this.pools.clear();
    this.retired = [];
  }
}

/**
 * undici's connector with its own connect timeout off and a native timer instead: undici's runs
 * on its coarse clock (ticks of ~0.5 s) and fired up to ~0.5 s late. The timer exists only while
 * a new connection (TCP, and TLS when https) is being made: a request on a pooled keep-alive
 * socket makes none. On expiry the socket is destroyed with undici's ConnectTimeoutError, as
 * undici does, so the pool and the transport see the same error (classified `connect_timeout`).
 */
export function timedConnector(timeoutMs: number): buildConnector.connector {
  const connect = buildConnector({ timeout: 0 });
  return (options, callback) => {
    let timer: NodeJS.Timeout | undefined = undefined;
    let settled = false;
    // undici's connector returns the socket it opens (its type says void).
    const socket = connect(options, (...args) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      callback(...args);
    }) as unknown as Socket | undefined;
    if (settled) return;
    timer = setTimeout(() => {
      const err = new errors.ConnectTimeoutError(`Connect Timeout Error (attempted address: ${options.hostname}:${options.port}, timeout: ${timeoutMs}ms)`);
      // Destroyed with an error, the socket's 'error' ends the connect through the callback above.
      if (socket !== undefined) socket.destroy(err);
      else {
        settled = true;
        callback(err, null);
      }
    }, timeoutMs);
    timer.unref();
  };
}
