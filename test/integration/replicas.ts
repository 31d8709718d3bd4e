/**
 * Harness for several sidecar processes sharing one Redis key prefix and one fresh PostgreSQL
 * database (created per test file, dropped after), plus a private `redis-server` for tests that
 * stop and restart Redis (the machine's shared Redis on 6379 is never touched beyond a prefix).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { sleep, startSidecar, testConfig, type SidecarHandle } from './harness.js';

export const PG_ADMIN = 'postgres://postgres@127.0.0.1:5432/postgres';
export const SHARED_REDIS = 'redis://127.0.0.1:6379/0';

export const uniq = (what: string): string => `${what}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;

export interface TestDb {
  url: string;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

export async function freshDb(): Promise<TestDb> {
  const name = uniq('sy_shared');
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = `postgres://postgres@127.0.0.1:5432/${name}`;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // DROP … WITH (FORCE) may reach a connection that is still closing: that is expected, not a test error.
  pool.on('error', () => undefined);
  return {
    url,
    query: async <T>(sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows as T[],
    drop: async () => {
      await pool.end();
      const a = new pg.Client({ connectionString: PG_ADMIN });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/** Deletes every key of a prefix (its hash tag). */
export async function dropPrefix(redisUrl: string, prefix: string): Promise<void> {
  const r = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 500);
      if (keys.length > 0) await r.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A private, memory-only redis-server (no RDB, no AOF: a restart comes back empty). */
export interface PrivateRedis {
  url: string;
  start(): Promise<void>;
  /** Kills it (SIGKILL: whatever it held is gone). */
  stop(): Promise<void>;
  /** SIGSTOP / SIGCONT: its sockets stay open but nothing answers (a hung or cut-off Redis), then it carries on. */
  pause(): void;
  resume(): void;
  /** Kills it and removes its directory. */
  dispose(): Promise<void>;
}

/** `extra`: more redis-server arguments (`--requirepass x`: the health probe then authenticates with `auth`). */
export async function privateRedis(extra: string[] = [], auth?: string): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sy-redis-'));
  let child: ChildProcess | null = null;
  const url = `redis://127.0.0.1:${port}/0`;
  const stop = async () => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await exited;
  };
  return {
    url,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra], {
        stdio: 'ignore',
      });
      for (let i = 0; i < 100; i++) {
        const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...(auth ? { password: auth } : {}) });
        r.on('error', () => undefined);
        try {
          await r.connect();
          await r.ping();
          r.disconnect();
          return;
        } catch {
          r.disconnect();
          await sleep(50);
        }
      }
      throw new Error(`redis-server on port ${port} did not start`);
    },
    stop,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Replicas {
  all: SidecarHandle[];
  /** The config every replica runs (to start one more, or one again). */
  cfg: Record<string, unknown>;
  stop(): Promise<void>;
}

/** `n` sidecars on one simulator, one Redis prefix and one ledger database. */
export async function startReplicas(
  n: number,
  simUrl: string,
  storage: { ledger: string; shared: string; keyPrefix: string; leaseMs?: number },
  over: Record<string, unknown> = {},
): Promise<Replicas> {
  const cfg = testConfig(simUrl, { ...over, storage: { leaseMs: 5000, ...storage }, logging: { level: 'warn' } });
  const all = await Promise.all(Array.from({ length: n }, (_, i) => startSidecar(cfg, { SWITCHYARD_REPLICA_ID: `r${i}` })));
  return {
    all,
    cfg,
    stop: async () => {
      await Promise.all(all.map((s) => s.stop('SIGKILL')));
    },
  };
}

export interface SharedStateJson {
  budgets: Array<{ id: string; limitUsd: number; spentUsd: number; reservedUsd: number }>;
  shared: {
    replica: string;
    store: string;
    health: string;
    lastError: string | null;
    epoch: string | null;
    pendingSettles: number;
    counters: Record<string, number> | null;
  };
}

export async function sharedState(s: SidecarHandle): Promise<SharedStateJson> {
  return (await (await fetch(`${s.url}/switchyard/state`)).json()) as SharedStateJson;
}

/** Polls until `f` returns a value that is not undefined, or fails after `ms`. */
export async function eventually<T>(f: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}
