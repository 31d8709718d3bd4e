/**
 * Issue 13: three sidecar processes on one Redis key prefix and one PostgreSQL ledger hold one
 * budget, one provider rate window and one 429 cooldown between them.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promptBoundTokens } from '../../src/accounting/reservation.js';
import { startSimulatorProc, type SimHandle } from './harness.js';
import { dropPrefix, eventually, freshDb, SHARED_REDIS, sharedState, startReplicas, uniq, type Replicas, type TestDb } from './replicas.js';

const CROWD = [{ role: 'user' as const, content: 'crowd request' }];
const CROWD_MAX = 100;
/** The sidecar's reservation on deepseek-v3.2: the prompt's byte bound at 280 nano-USD per token, max_tokens at 420. */
const WORST =
  promptBoundTokens({ model: 'deepseek-v3.2', messages: CROWD, max_tokens: CROWD_MAX } as Parameters<typeof promptBoundTokens>[0]) * 280 + CROWD_MAX * 420;
const FITS = 40;
const SIZE = 600;

let sim: SimHandle;
let db: TestDb;
let prefix: string;
let reps: Replicas;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 2, tokenGapMs: 0, outputTokens: 120 } });
  db = await freshDb();
  prefix = uniq('sy-budget');
  reps = await startReplicas(
    3,
    sim.url,
    { ledger: db.url, shared: SHARED_REDIS, keyPrefix: prefix },
    {
      budget: { limits: [{ scope: 'global', period: 'day', usd: (FITS * WORST) / 1e9 }] },
      // Generous timeouts: 600 requests on a small shared machine must not fail for slowness.
      resilience: { requestTimeoutMs: 60_000, headersTimeoutMs: 30_000, firstTokenTimeoutMs: 30_000, idleTimeoutMs: 30_000 },
    },
  );
});

afterAll(async () => {
  await reps?.stop();
  await sim?.stop();
  await db?.drop();
  if (prefix) await dropPrefix(SHARED_REDIS, prefix);
});

describe('one budget across three replicas', () => {
  it(`admits what fits (${FITS} worst cases, more as they settle lower) out of ${SIZE} concurrent requests spread over the replicas, never past the limit`, async () => {
    const outcomes = await Promise.all(
      Array.from({ length: SIZE }, (_, i) =>
        reps.all[i % 3]!.client.chat.completions.create({ model: 'deepseek-v3.2', messages: CROWD, max_tokens: CROWD_MAX }).then(
          () => 'ok' as const,
          (e: unknown) =>
            e instanceof OpenAI.APIError
              ? `${e.status}:${(e.error as { code?: string } | undefined)?.code ?? ''}${e.status >= 500 ? e.message.slice(0, 160) : ''}`
              : String(e),
        ),
      ),
    );
    const served = outcomes.filter((o) => o === 'ok').length;
    const refused = outcomes.filter((o) => o === '429:budget_exceeded').length;
    // Every reservation is WORST (a byte bound of the prompt) and settles lower, at the upstream's
    // count: the 40 first reservations fit, a few more once earlier ones settled, never more than
    // the limit holds (three replicas each admitting their own 40 would serve 120).
    expect(served + refused).toBe(SIZE);
    expect(served).toBeGreaterThanOrEqual(FITS);
    // One row each. An answer waits at most ROW_WAIT_MS (1 s) for its row; a row PostgreSQL has not
    // taken by then is kept and lands later (README "PostgreSQL down"): 600 at once on a slow host
    // left 7–85 of them for after the answers.
    const sum = await eventually(
      async () => {
        const [r] = await db.query<{ total: string; n: string }>('select coalesce(sum(cost_nano), 0) as total, count(*) as n from switchyard_ledger');
        return Number(r!.n) >= SIZE ? r : undefined;
      },
      20_000,
      `${SIZE} ledger rows`,
    );
    expect(Number(sum.n)).toBe(SIZE);
    expect(Number(sum.total)).toBeLessThanOrEqual(FITS * WORST);
    // Refused only when no room was left for one more worst case at the time.
    const [room] = await db.query<{ n: string }>("select count(*) as n from switchyard_ledger where error_code = 'budget_exceeded'");
    expect(Number(room!.n)).toBe(refused);
    console.log(`600 requests over 3 replicas, limit = ${FITS} worst cases: ${served} served, ledger $${Number(sum.total) / 1e9} of $${(FITS * WORST) / 1e9}`);
    // Settles run off the hot path: reserved drains to 0 on every replica's view.
    for (const r of reps.all) {
      const b = await eventually(
        async () => {
          const s = await sharedState(r);
          return s.budgets[0]!.reservedUsd === 0 && s.shared.pendingSettles === 0 ? s.budgets[0] : undefined;
        },
        5000,
        'reserved back to 0',
      );
      expect(Math.round(b!.spentUsd * 1e9)).toBe(Number(sum.total));
      // No live replica lost its lease under this load (its reservations would count at the reserved amount).
      expect((await sharedState(r)).shared.counters?.reclaimed).toBe(0);
    }
  });
});
