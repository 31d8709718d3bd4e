/**
 * A Redis that evicts keys under memory pressure may drop a reservation (it has a TTL, so even the
 * volatile-* policies take it) or a budget counter: start-up warns, naming the setting and the fix.
 * Real redis-servers of this test's own (the machine's shared one on 6379 is not reconfigured).
 */
import { Redis } from 'ioredis';
import pino from 'pino';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { warnIfEvicting } from '../../src/shared-state/index.js';
import { privateRedis, type PrivateRedis } from '../integration/replicas.js';

const servers: PrivateRedis[] = [];
afterAll(async () => {
  for (const s of servers) await s.dispose();
});

async function warningsFor(args: string[]): Promise<string[]> {
  const server = await privateRedis(args);
  servers.push(server);
  await server.start();
  const redis = new Redis(server.url, { lazyConnect: true });
  await redis.connect();
  const lines: string[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push((JSON.parse(chunk.toString()) as { msg: string }).msg);
        cb();
      },
    }),
  );
  try {
    await warnIfEvicting(redis, server.url, log);
  } finally {
    redis.disconnect();
  }
  return lines;
}

describe('a Redis that evicts keys', () => {
  it('is warned of at start-up with its maxmemory and policy, and how to fix it (it was unchecked)', async () => {
    const [line, ...rest] = await warningsFor(['--maxmemory', '64mb', '--maxmemory-policy', 'volatile-lru']);
    expect(rest).toEqual([]);
    expect(line).toMatch(/evicts keys when it reaches maxmemory \(67108864 bytes, maxmemory-policy volatile-lru\)/);
    expect(line).toContain('set maxmemory-policy noeviction');
  });

  it('one that never evicts (noeviction, or no maxmemory) is not', async () => {
    expect(await warningsFor(['--maxmemory', '64mb', '--maxmemory-policy', 'noeviction'])).toEqual([]);
    expect(await warningsFor(['--maxmemory-policy', 'allkeys-lru'])).toEqual([]);
  });

  it('one that does not let CONFIG be read (a managed Redis, an ACL) is not judged', async () => {
    // An evicting Redis whose CONFIG is renamed away: nothing can be read, nothing is said (and nothing throws).
    expect(await warningsFor(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru', '--rename-command', 'CONFIG', ''])).toEqual([]);
  });
});
