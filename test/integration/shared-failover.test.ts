/**
 * Issue 13: what happens to shared budgets when a replica dies (its reservations are reclaimed
 * within a lease period and written to the ledger) and when Redis goes away and comes back
 * empty (503 shared_state_unavailable meanwhile, spend rebuilt from the PostgreSQL ledger
 * after, no overspend across the outage). Redis here is a private redis-server on a free port.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promptBoundTokens } from '../../src/accounting/reservation.js';
import { sleep, startSidecar, startSimulatorProc, testConfig, type SimHandle } from './harness.js';
import { eventually, freshDb, privateRedis, sharedState, startReplicas, uniq, type PrivateRedis, type Replicas, type TestDb } from './replicas.js';

const MSG = [{ role: 'user' as const, content: 'outage request' }];
const MAX = 100;
/** The sidecar's reservation on deepseek-v3.2: the prompt's byte bound at 280 nano-USD per token, max_tokens at 420. */
const WORST = promptBoundTokens({ model: 'deepseek-v3.2', messages: MSG, max_tokens: MAX } as Parameters<typeof promptBoundTokens>[0]) * 280 + MAX * 420;
const LEASE_MS = 2000;

let sim: SimHandle;
/** The current test's own database (one per test). */
let db: TestDb;
const dbs: TestDb[] = [];
let redis: PrivateRedis;
const running: Replicas[] = [];

beforeAll(async () => {
  sim = await startSimulatorProc({
    defaults: { ttftMs: 2, tokenGapMs: 0, outputTokens: 120 },
    models: { 'slow-chat': { ttftMs: 5, tokenGapMs: 50, outputTokens: 400 } },
  });
  redis = await privateRedis();
  await redis.start();
});

afterAll(async () => {
  for (const r of running) await r.stop();
  await sim?.stop();
  await redis?.dispose();
  for (const d of dbs) await d.drop();
});

async function replicas(n: number, limitNano: number, routes: Record<string, string[]> = {}): Promise<Replicas> {
  db = await freshDb();
  dbs.push(db);
  const models = testConfig(sim.url).models as Record<string, unknown>;
  const r = await startReplicas(
    n,
    sim.url,
    { ledger: db.url, shared: redis.url, keyPrefix: uniq('sy-failover'), leaseMs: LEASE_MS },
    {
      models: {
        ...models,
        'slow-model': {
          tier: 'fast_cheap',
          price: { inputPerMTok: 0.28, outputPerMTok: 0.42 },
          contextWindow: 128_000,
          maxOutputTokens: 8192,
          endpoints: [{ provider: 'deepseek', upstreamModel: 'slow-chat' }],
        },
      },
      budget: { limits: [{ scope: 'global', period: 'day', usd: limitNano / 1e9 }] },
      resilience: { requestTimeoutMs: 60_000, headersTimeoutMs: 30_000, firstTokenTimeoutMs: 30_000, idleTimeoutMs: 30_000 },
      ...(Object.keys(routes).length > 0 ? { routing: { ...(testConfig(sim.url).routing as Record<string, unknown>), routes } } : {}),
    },
  );
  running.push(r);
  return r;
}

const ledgerTotal = async (): Promise<number> =>
  Number((await db.query<{ t: string }>('select coalesce(sum(cost_nano), 0) as t from switchyard_ledger'))[0]!.t);
/** The replica's view of the global budget once nothing is reserved any more (every reservation settled or reclaimed). */
const budgetSettled = (rep: Replicas['all'][number], withinMs: number) =>
  eventually(
    async () => {
      const x = (await sharedState(rep)).budgets[0]!;
      return x.reservedUsd === 0 ? x : undefined;
    },
    withinMs,
    'reserved back to 0',
  );
const errorCode = (e: unknown): string => (e instanceof OpenAI.APIError ? String((e.error as { code?: string } | undefined)?.code) : String(e));

describe('shared state failover', () => {
  it('a clean stop (SIGTERM) logs no Redis outage: its own quit closed the connection (an error line on every deploy)', async () => {
    const r = await replicas(1, 1e12);
    const one = r.all[0]!;
    expect(await one.stop('SIGTERM')).toBe(0);
    expect(one.stdout()).not.toContain('shared state (Redis) unreachable');
  });

  it('SIGKILL of a replica with streams in flight: its reservations are reclaimed within a lease period and land in the ledger', async () => {
    const r = await replicas(3, 1_000_000_000);
    const [victim, survivor] = [r.all[0]!, r.all[1]!];
    const streams = await Promise.all(
      Array.from({ length: 5 }, () => victim.client.chat.completions.create({ model: 'slow-model', messages: MSG, max_tokens: 300, stream: true })),
    );
    const reading = streams.map(async (s) => {
      try {
        for await (const _ of s) void _;
      } catch {
        // the replica died mid-stream
      }
    });
    const reservedBefore = await eventually(
      async () => {
        const b = (await sharedState(survivor)).budgets[0]!;
        return b.reservedUsd > 0 ? b.reservedUsd : undefined;
      },
      5000,
      'the streams reserved',
    );
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    const rows = await eventually(
      async () => {
        const got = await db.query<{ request_id: string; cost_nano: string; error_code: string }>(
          "select request_id, cost_nano, error_code from switchyard_ledger where error_code = 'reservation_reclaimed'",
        );
        return got.length === 5 ? got : undefined;
      },
      4 * LEASE_MS,
      'five reclaimed rows',
    );
    const tookMs = Date.now() - killedAt;
    console.log(`reclaimed 5 reservations ${tookMs} ms after SIGKILL (lease ${LEASE_MS} ms)`);
    // The lease runs out at most one lease period after the last renewal; the reclaim tick runs four times a period.
    expect(tookMs).toBeLessThanOrEqual(LEASE_MS + LEASE_MS / 2 + 500);
    const reclaimedNano = rows.reduce((s, x) => s + Number(x.cost_nano), 0);
    expect(Math.abs(reclaimedNano / 1e9 - reservedBefore)).toBeLessThan(1e-9);
    const b = await budgetSettled(survivor, 3000);
    expect(Math.round(b.spentUsd * 1e9)).toBe(reclaimedNano);
    // Each reclaim is counted (and logged) once, by the survivor whose insert wrote its row, though
    // both survivors' rounds may take the same pending rows.
    const counted = await Promise.all(r.all.slice(1).map(async (x) => (await sharedState(x)).shared.counters?.reclaimed ?? 0));
    expect(counted.reduce((a, c) => a + c, 0)).toBe(5);
    await Promise.all(reading);
  }, 30_000);

  it("SIGKILL of a replica in a cascade's second step: the reclaimed row counts the settled first step too, so the ledger equals the shared spend", async () => {
    const r = await replicas(2, 1_000_000_000, { casc: ['deepseek-v3.2', 'slow-model'] });
    const [victim, survivor] = [r.all[0]!, r.all[1]!];
    // Step 1 (deepseek) answers empty and fails its check; step 2 (slow-model) is still answering at the kill.
    await sim.setFault('deepseek-chat', { kind: 'empty', times: 1 });
    await sim.clearLog();
    const pending = victim.client.chat.completions
      .create({ model: 'route/casc', messages: MSG, max_tokens: 300 }, { headers: { 'x-switchyard-cascade': 'on' } })
      .catch(() => 'cut');
    await eventually(async () => ((await sim.log()).some((e) => e.model === 'slow-chat') ? true : undefined), 5000, 'step 2 reached its upstream');
    victim.child.kill('SIGKILL');
    expect(await pending).toBe('cut');
    await sim.clearFaults();
    const rows = await eventually(
      async () => {
        const got = await db.query<{ request_id: string }>("select request_id from switchyard_ledger where error_code = 'reservation_reclaimed'");
        return got.length === 1 ? got : undefined;
      },
      4 * LEASE_MS,
      'the second step reclaimed',
    );
    expect(rows[0]!.request_id).toMatch(/#2$/);
    const b = await budgetSettled(survivor, 3000);
    // The first step's cost is in the shared spend (settled) and, now, in the ledger (the reclaimed row carries it).
    expect(await ledgerTotal()).toBe(Math.round(b.spentUsd * 1e9));
  }, 30_000);

  it('a replica SIGKILLed and started again under the same SWITCHYARD_REPLICA_ID: the dead process’s reservations are still reclaimed, and the new one’s requests are decided afresh', async () => {
    const r = await replicas(2, 1_000_000_000);
    const [victim, survivor] = [r.all[0]!, r.all[1]!];
    // One settled reservation (its token left in Redis as a tombstone), then three open ones.
    await victim.client.chat.completions.create({ model: 'deepseek-v3.2', messages: MSG, max_tokens: MAX });
    const streams = await Promise.all(
      Array.from({ length: 3 }, () => victim.client.chat.completions.create({ model: 'slow-model', messages: MSG, max_tokens: 300, stream: true })),
    );
    const reading = streams.map(async (s) => {
      try {
        for await (const _ of s) void _;
      } catch {
        // the replica died mid-stream
      }
    });
    await eventually(async () => ((await sharedState(survivor)).budgets[0]!.reservedUsd > 0 ? true : undefined), 5000, 'the streams reserved');
    victim.child.kill('SIGKILL');
    // A StatefulSet pod comes back at once with its old name.
    const again = await startSidecar(r.cfg, { SWITCHYARD_REPLICA_ID: 'r0' });
    r.all.push(again);
    const asked = await Promise.all(
      Array.from({ length: 4 }, () =>
        again.client.chat.completions.create({ model: 'deepseek-v3.2', messages: MSG, max_tokens: MAX }).then(() => 'ok', errorCode),
      ),
    );
    expect(asked).toEqual(Array(4).fill('ok'));
    const rows = await eventually(
      async () => {
        const got = await db.query<{ cost_nano: string }>("select cost_nano from switchyard_ledger where error_code = 'reservation_reclaimed'");
        return got.length === 3 ? got : undefined;
      },
      4 * LEASE_MS,
      'the dead process’s three reservations reclaimed',
    );
    expect(rows.every((x) => Number(x.cost_nano) > 0)).toBe(true);
    // Redis's spend is the ledger's: the reclaimed reservations and the new requests, each once.
    const total = await ledgerTotal();
    await eventually(
      async () => {
        const b = (await sharedState(survivor)).budgets[0]!;
        return b.reservedUsd === 0 && Math.round(b.spentUsd * 1e9) === total ? true : undefined;
      },
      5000,
      'Redis spend equal to the ledger',
    );
    await Promise.all(reading);
  }, 30_000);

  it('Redis stopped and restarted empty under traffic: 503 shared_state_unavailable meanwhile, spend rebuilt from the ledger, no overspend', async () => {
    const limit = 30 * WORST;
    const r = await replicas(2, limit);
    const ask = (i: number) =>
      r.all[i % 2]!.client.chat.completions.create({ model: 'deepseek-v3.2', messages: MSG, max_tokens: MAX }).then(() => 'ok', errorCode);
    const before = await Promise.all(Array.from({ length: 10 }, (_, i) => ask(i)));
    expect(before).toEqual(Array(10).fill('ok'));
    const spentBefore = await ledgerTotal();

    await redis.stop();
    await eventually(async () => ((await fetch(`${r.all[0]!.url}/readyz`)).status === 503 ? true : undefined), 5000, '/readyz not ready');
    // The 503 says why (it said only "not ready"), without the error text (no token needed for /readyz).
    expect(await (await fetch(`${r.all[0]!.url}/readyz`)).json()).toEqual({
      status: 'not ready',
      reason: 'shared state (Redis) not ready: see /switchyard/state (shared.lastError) or the log',
    });
    const down = await r.all[1]!.client.chat.completions.create({ model: 'deepseek-v3.2', messages: MSG, max_tokens: MAX })
      .withResponse()
      .then(
        () => null,
        (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
      );
    expect(down?.status).toBe(503);
    expect(errorCode(down)).toBe('shared_state_unavailable');
    expect(Number(down?.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const metrics = await (await fetch(`${r.all[0]!.url}/metrics`)).text();
    expect(metrics).toMatch(/switchyard_shared_state_up\{replica="r0"\} 0/);
    expect(metrics).toMatch(/# TYPE switchyard_shared_state_events_total counter/);
    expect(metrics).toMatch(/switchyard_shared_state_events_total\{kind="outages"\} [1-9]/);
    expect((await sharedState(r.all[0]!)).shared.health).toBe('down');
    expect(await r.all[0]!.waitForOutput('shared state (Redis) unreachable')).toContain('shared state (Redis) unreachable');

    await redis.start();
    await eventually(
      async () => ((await fetch(`${r.all[0]!.url}/readyz`)).status === 200 && (await fetch(`${r.all[1]!.url}/readyz`)).status === 200 ? true : undefined),
      10_000,
      '/readyz ready again',
    );
    // Before any request: the state view shows the spend rebuilt from the ledger, not "nothing spent".
    for (const rep of r.all) {
      await eventually(
        async () => {
          const b = (await sharedState(rep)).budgets[0]!;
          return Math.round(b.spentUsd * 1e9) === spentBefore && b.reservedUsd === 0 ? true : undefined;
        },
        // Generous: the reconnect, the epoch and the next lease tick on a loaded 2-core CI machine
        // (4 leases, 8 s, was once too short there while other tests ran beside it).
        10 * LEASE_MS,
        'state view shows the ledger spend after Redis came back empty, before any request',
      );
    }
    expect(await ask(0)).toBe('ok');
    const ledgerNow = await ledgerTotal();
    await eventually(
      async () => {
        const b = (await sharedState(r.all[1]!)).budgets[0]!;
        return Math.round(b.spentUsd * 1e9) === ledgerNow && b.reservedUsd === 0 ? true : undefined;
      },
      5000,
      'Redis spend equal to the ledger (10 before the outage + 1 after)',
    );
    expect(ledgerNow).toBeGreaterThan(spentBefore);
    // Far more than fits: the rebuilt spend must stop them at the limit.
    const after = await Promise.all(Array.from({ length: 60 }, (_, i) => ask(i)));
    const served = after.filter((o) => o === 'ok').length;
    expect(after.filter((o) => o !== 'ok' && o !== 'budget_exceeded')).toEqual([]);
    const total = await ledgerTotal();
    console.log(
      `before the outage ${before.length} served ($${spentBefore / 1e9}); after Redis came back empty ${served} more until the limit; ledger $${total / 1e9} of $${limit / 1e9}`,
    );
    expect(total).toBeLessThanOrEqual(limit);
    await Promise.any(r.all.slice(0, 2).map((x) => x.waitForOutput('rebuilt from the ledger')));
    expect(r.all[0]!.stdout() + r.all[1]!.stdout()).toContain('rebuilt from the ledger');
    await sleep(0);
  }, 30_000);

  it('Redis restarted empty while a request is in flight: its replica puts the reservation back, so the requests admitted meanwhile cannot take its share', async () => {
    const r = await replicas(2, 1_000_000_000);
    const [holder, other] = [r.all[0]!, r.all[1]!];
    await sim.clearLog();
    const pending = holder.client.chat.completions.create({ model: 'slow-model', messages: MSG, max_tokens: 120 }).then(
      () => 'ok',
      (e: unknown) => errorCode(e),
    );
    const reservedBefore = await eventually(
      async () => {
        const b = (await sharedState(other)).budgets[0]!;
        return b.reservedUsd > 0 ? b.reservedUsd : undefined;
      },
      5000,
      'the request reserved',
    );
    await redis.stop();
    await redis.start();
    // Back, empty: the holder notices the new epoch (its lease tick) and reserves again what it holds.
    await eventually(
      async () => {
        const b = (await sharedState(other)).budgets[0]!;
        return Math.abs(b.reservedUsd - reservedBefore) < 1e-12 ? true : undefined;
      },
      4 * LEASE_MS,
      'the in-flight reservation put back in the restarted Redis',
    );
    expect(await holder.waitForOutput('put back its reservations')).toContain('put back its reservations');
    expect(await pending).toBe('ok');
    const b = await budgetSettled(other, 5000);
    expect(Math.round(b.spentUsd * 1e9)).toBe(await ledgerTotal());
  }, 30_000);

  it('Redis hung (SIGSTOP: the socket open, nothing answered): the first timeout marks it down, so /readyz and the state say so and later requests fail at once; back when it answers', async () => {
    const r = await replicas(2, 1_000_000_000);
    const ask = (i: number) =>
      r.all[i % 2]!.client.chat.completions.create({ model: 'deepseek-v3.2', messages: MSG, max_tokens: MAX }).then(() => 'ok', errorCode);
    expect(await ask(0)).toBe('ok');
    redis.pause();
    try {
      // A request's own deadline ends its wait for Redis (it waited out the 5 s command timeout past a 1.5 s deadline).
      const t0 = Date.now();
      const short = await r.all[0]!.client.chat.completions.create(
        { model: 'deepseek-v3.2', messages: MSG, max_tokens: MAX },
        { headers: { 'x-switchyard-timeout-ms': '1500' }, timeout: 30_000 },
      ).then(() => 'ok', errorCode);
      expect([short, Date.now() - t0 < 4_000]).toEqual(['timeout', true]);
      // Each replica waits out one command timeout (5 s), then knows.
      expect(await Promise.all([ask(0), ask(1)])).toEqual(['shared_state_unavailable', 'shared_state_unavailable']);
      for (const rep of r.all) {
        await eventually(async () => ((await fetch(`${rep.url}/readyz`)).status === 503 ? true : undefined), 10_000, '/readyz 503 while Redis hangs');
        const sh = (await sharedState(rep)).shared;
        expect(sh.health).toBe('down');
        expect(sh.lastError).toBe('Redis did not answer within 5000 ms');
      }
      expect(await (await fetch(`${r.all[0]!.url}/metrics`)).text()).toMatch(/switchyard_shared_state_up\{replica="r0"\} 0/);
      expect(await ask(1)).toBe('shared_state_unavailable');
    } finally {
      redis.resume();
    }
    for (const rep of r.all) await eventually(async () => ((await fetch(`${rep.url}/readyz`)).status === 200 ? true : undefined), 10_000, '/readyz 200 again');
    expect(await Promise.all([ask(0), ask(1)])).toEqual(['ok', 'ok']);
    const total = await ledgerTotal();
    await eventually(
      async () => {
        const b = (await sharedState(r.all[1]!)).budgets[0]!;
        return b.reservedUsd === 0 && Math.round(b.spentUsd * 1e9) === total ? true : undefined;
      },
      5000,
      'Redis spend equal to the ledger',
    );
  }, 40_000);

  it('PostgreSQL hung (the socket open, nothing answered): answers still go out, their rows fail (logged) instead of holding every response', async () => {
    // A relay to the real server that can stop forwarding: connections stay open, bytes vanish.
    let hole = false;
    const socks = new Set<Socket>();
    const relay = createServer((c) => {
      const u = connect(5432, '127.0.0.1');
      for (const s of [c, u]) {
        socks.add(s);
        s.on('error', () => undefined);
        s.on('close', () => socks.delete(s));
      }
      c.on('data', (d: Buffer) => void (hole || u.write(d)));
      u.on('data', (d: Buffer) => void (hole || c.write(d)));
      c.on('close', () => u.destroy());
      u.on('close', () => c.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const port = (relay.address() as AddressInfo).port;
    try {
      db = await freshDb();
      dbs.push(db);
      const r = await startReplicas(
        2,
        sim.url,
        { ledger: db.url.replace(':5432/', `:${port}/`), shared: redis.url, keyPrefix: uniq('sy-pg-hung') },
        { budget: { limits: [{ scope: 'global', period: 'day', usd: 1 }] } },
      );
      running.push(r);
      const ask = (i: number) =>
        r.all[i % 2]!.client.chat.completions.create({ model: 'deepseek-v3.2', messages: MSG, max_tokens: MAX }).then(() => 'ok', errorCode);
      expect(await Promise.all([ask(0), ask(1)])).toEqual(['ok', 'ok']);
      hole = true;
      // Served, though their rows cannot be written (the client's own timeout is 30 s).
      expect(await Promise.all([ask(0), ask(1)])).toEqual(['ok', 'ok']);
      // The log line comes before the answer, but the test reads the child's stdout through a pipe.
      await eventually(async () => (r.all[0]!.stdout().includes('could not write the ledger row') ? true : undefined), 5000, 'the failed row logged').catch(
        () => undefined,
      );
      expect(r.all[0]!.stdout()).toContain('could not write the ledger row');
    } finally {
      for (const s of socks) s.destroy();
      relay.close();
    }
  }, 40_000);

  it('a Redis that evicts keys under memory pressure is warned of at start-up (a reservation it evicts is lost); the one without maxmemory of this file is not', async () => {
    const evicting = await privateRedis(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    await evicting.start();
    const d = await freshDb();
    dbs.push(d);
    try {
      const s = await startSidecar(testConfig(sim.url, { storage: { ledger: d.url, shared: evicting.url, keyPrefix: uniq('sy-evict') } }));
      try {
        expect(await s.waitForOutput('evicts keys when it reaches maxmemory')).toContain('maxmemory-policy allkeys-lru');
      } finally {
        await s.stop();
      }
      const r = await replicas(1, 1e12);
      expect(r.all[0]!.stdout()).not.toContain('evicts keys');
    } finally {
      await evicting.dispose();
    }
  });

  it('Redis refusing the credentials (WRONGPASS, NOAUTH) or not speaking Redis at that port stops the start (exit 1) naming the cause and what to do, never the password', async () => {
    // Waiting cannot end these: before, the replica started and stayed not ready for good, the cause in one log line.
    const locked = await privateRedis(['--requirepass', 'the-right-one'], 'the-right-one');
    await locked.start();
    const notRedis = createServer((sock) => sock.once('data', () => sock.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n')));
    await new Promise<void>((r) => notRedis.listen(0, '127.0.0.1', r));
    // A service whose answer is lost to the reset after it (node's HTTP server on the simulator's port did
    // that 2 starts of 5): the replica's own connection only ever sees ECONNRESET, and ran not ready for good.
    const http = createServer((sock) =>
      sock.once('data', (d: Buffer) =>
        d[0] === 0x2a /* a RESP command, the client's */ ? sock.resetAndDestroy() : sock.end('HTTP/1.1 400 Bad Request\r\n\r\n'),
      ),
    );
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const d = await freshDb();
    dbs.push(d);
    const cases: Array<[string, string]> = [
      [locked.url.replace('redis://', 'redis://:not-the-password@'), "Redis refused this replica's credentials (WRONGPASS"],
      [locked.url, "Redis refused this replica's credentials (NOAUTH"],
      [`redis://:not-the-password@127.0.0.1:${(notRedis.address() as AddressInfo).port}/0`, "what answers there does not speak Redis's protocol"],
      [
        `redis://127.0.0.1:${(http.address() as AddressInfo).port}/0`,
        'what answers there does not speak Redis\'s protocol (its answer began "HTTP/1.1 400 Bad", not a Redis reply',
      ],
    ];
    try {
      for (const [shared, why] of cases) {
        const cfg = testConfig(sim.url, { storage: { ledger: d.url, shared, keyPrefix: uniq('sy-refused') } });
        const err = await startSidecar(cfg).then(
          async (s) => {
            await s.stop('SIGKILL');
            return 'started';
          },
          (e: unknown) => String(e),
        );
        expect(err, shared).toContain('exited with 1 before it was ready');
        expect(err, shared).toContain(`switchyard: cannot start: storage.shared ${shared.replace(':not-the-password@', ':***@')}: ${why}`);
        expect(err, shared).toMatch(/check the (user and password|host and port) in storage\.shared/);
        expect(err, shared).not.toContain('not-the-password');
        expect(err, shared).not.toMatch(/\n\s+at /);
      }
    } finally {
      notRedis.close();
      http.close();
      await locked.dispose();
    }
  });
});
