/**
 * The shared-store configuration of `npm run bench` (issue 13): the same sidecar with the
 * in-process store and with Redis (`storage.shared: redis://…`), both on one PostgreSQL ledger
 * and with a budget and an endpoint rpm/tpm so every shared decision runs. Reported: CPU per
 * request of the sidecar and the p50/p99 Redis adds. Redis is the machine's (BENCH_REDIS_URL,
 * default redis://127.0.0.1:6379/0) under a throw-away key prefix; PostgreSQL a throw-away
 * database (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres). Skipped with
 * BENCH_SHARED=0 or when either is unreachable.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { newPool, percentile, runLoad, type Mode } from './lib/load.js';
import { SWITCHYARD_BIN, startChild, type Child } from './lib/procs.js';
import { realisticConfig } from './lib/config.js';

export interface SharedCell {
  store: 'in-process' | 'redis';
  mode: Mode;
  conns: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerReq: number;
  errors: number;
}

/** `journal`: the lone sidecar's in-flight journal (its files in the bench's directory); replicas on Redis keep none. */
function config(simUrl: string, ledger: string, shared: string, prefix: string, journal?: string): Record<string, unknown> {
  // keyPrefix only with Redis: the in-process store reads none, and the config refuses it there.
  const storage = { ledger, shared, ...(shared.startsWith('redis') ? { keyPrefix: prefix } : {}), ...(journal === undefined ? {} : { journal }) };
  return realisticConfig(simUrl, storage, { endpoint: { rpm: 10_000_000, tpm: 1_000_000_000 } });
}

async function reachable(redisUrl: string, pgUrl: string): Promise<string | null> {
  const r = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    await r.ping();
  } catch (err) {
    return `Redis ${redisUrl}: ${(err as Error).message}`;
  } finally {
    r.disconnect();
  }
  const c = new pg.Client({ connectionString: pgUrl });
  try {
    await c.connect();
  } catch (err) {
    return `PostgreSQL: ${(err as Error).message}`;
  } finally {
    await c.end().catch(() => undefined);
  }
  return null;
}

async function measure(child: Child, store: SharedCell['store'], mode: Mode, conns: number, warmup: number, seconds: number): Promise<SharedCell> {
  const target = { name: store, url: `${child.url}/v1/chat/completions` };
  const pool = newPool(target, conns);
  let a = 0;
  let b = 0;
  try {
    const s = await runLoad(pool, target, mode, conns, warmup, seconds, {
      onStart: () => void (a = child.cpuMicros()),
      onEnd: () => void (b = child.cpuMicros()),
    });
    const n = Math.max(1, s.requests);
    return {
      store,
      mode,
      conns,
      rps: s.requests / s.seconds,
      p50Ms: percentile(s.latencyMs, 50),
      p99Ms: percentile(s.latencyMs, 99),
      cpuUsPerReq: (b - a) / n,
      errors: s.errors,
    };
  } finally {
    await pool.close();
  }
}

/** Runs both stores back to back per cell, `repeats` times; returns every run (null when skipped, with why). */
export async function runSharedBench(
  simUrl: string,
  dir: string,
  opts: { conns: number[]; warmup: number; seconds: number; repeats: number },
): Promise<{ runs: SharedCell[] } | { skipped: string }> {
  if (process.env.BENCH_SHARED === '0') return { skipped: 'BENCH_SHARED=0' };
  const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
  const pgAdmin = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const why = await reachable(redisUrl, pgAdmin);
  if (why !== null) return { skipped: why };
  const suffix = randomBytes(4).toString('hex');
  const dbName = `sy_bench_${suffix}`;
  const prefix = `sy-bench-${suffix}`;
  const admin = new pg.Client({ connectionString: pgAdmin });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const ledger = new URL(pgAdmin);
  ledger.pathname = `/${dbName}`;
  const children: Child[] = [];
  try {
    const start = async (store: SharedCell['store']): Promise<Child> => {
      const file = join(dir, `shared-${store}.json`);
      writeFileSync(
        file,
        JSON.stringify(
          store === 'redis'
            ? config(simUrl, ledger.toString(), redisUrl, prefix)
            : config(simUrl, ledger.toString(), 'memory', prefix, join(dir, 'shared-inflight')),
        ),
      );
      const c = await startChild({
        name: `switchyard-${store}`,
        args: [SWITCHYARD_BIN, 'serve', '--config', file, '--port', '0'],
        ready: /switchyard (http:\/\/127\.0\.0\.1:\d+)\/v1/,
        env: { SY_BENCH_OPENAI_KEY: 'sk-bench-upstream' },
      });
      children.push(c);
      return c;
    };
    const local = await start('in-process');
    const shared = await start('redis');
    const runs: SharedCell[] = [];
    for (const conns of opts.conns) {
      for (let rep = 0; rep < opts.repeats; rep++) {
        for (const [store, child] of [
          ['in-process', local],
          ['redis', shared],
        ] as const) {
          const r = await measure(child, store, 'json', conns, opts.warmup, opts.seconds);
          runs.push(r);
          console.log(
            `shared store  conns=${String(conns).padEnd(2)} rep ${rep + 1}  ${store.padEnd(10)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  cpu ${r.cpuUsPerReq.toFixed(0)} µs/req${r.errors > 0 ? `  ERRORS ${r.errors}` : ''}`,
          );
        }
      }
    }
    return { runs };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    const r = new Redis(redisUrl, { lazyConnect: true });
    r.on('error', () => undefined);
    await r
      .connect()
      .then(async () => {
        const keys = await r.keys(`{${prefix}}:*`);
        if (keys.length > 0) await r.del(...keys);
      })
      .catch(() => undefined);
    r.disconnect();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Median per (store, conns) and what Redis adds. */
export function formatShared(runs: SharedCell[]): string {
  const conns = [...new Set(runs.map((r) => r.conns))];
  const lines = [
    'shared store (json, PostgreSQL ledger, budget + rpm/tpm on every request): median of the repeats',
    'conns  store       req/s   p50 ms   p99 ms   CPU µs/req',
  ];
  for (const c of conns) {
    const cell = (store: SharedCell['store']) => {
      const rs = runs.filter((r) => r.conns === c && r.store === store);
      return {
        rps: median(rs.map((r) => r.rps)),
        p50: median(rs.map((r) => r.p50Ms)),
        p99: median(rs.map((r) => r.p99Ms)),
        cpu: median(rs.map((r) => r.cpuUsPerReq)),
      };
    };
    const l = cell('in-process');
    const r = cell('redis');
    for (const [name, x] of [
      ['in-process', l],
      ['redis', r],
    ] as const)
      lines.push(
        `${String(c).padStart(5)}  ${name.padEnd(10)} ${x.rps.toFixed(0).padStart(6)}  ${x.p50.toFixed(2).padStart(7)}  ${x.p99.toFixed(2).padStart(7)}  ${x.cpu.toFixed(0).padStart(10)}`,
      );
    lines.push(
      `${String(c).padStart(5)}  Redis adds ${''.padStart(6)}  ${(r.p50 - l.p50).toFixed(2).padStart(7)}  ${(r.p99 - l.p99).toFixed(2).padStart(7)}  ${(r.cpu - l.cpu).toFixed(0).padStart(10)}`,
    );
  }
  return lines.join('\n');
}
