/**
 * Runtime.reload() in process (the HTTP/SIGHUP path is in test/integration/reload.test.ts):
 * unchanged endpoint actors are kept with their state and counters, changed ones are replaced
 * under a new generation key while the old actor drains, removed ones drain and stop.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { openLedger } from '../../src/accounting/ledger.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { Runtime } from '../../src/runtime/runtime.js';

const model = (upstream: string, over: Record<string, unknown> = {}) => ({
  tier: 'balanced',
  price: { inputPerMTok: 1, outputPerMTok: 1 },
  contextWindow: 1000,
  endpoints: [{ provider: 'p', upstreamModel: upstream }],
  ...over,
});

function cfg(models: Record<string, unknown>, routes: Record<string, string[]> = {}): Config {
  return configSchema.parse({ providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:1/v1' } }, models, routing: { routes } });
}

let rt: Runtime | null = null;
async function runtime(c: Config): Promise<Runtime> {
  rt = new Runtime({ cfg: c, ledger: await openLedger('memory'), log: pino({ level: 'silent' }) });
  return rt;
}
afterEach(async () => {
  await rt?.close();
  rt = null;
});

const dispatch = (r: Runtime, id: string) => r.handles.get(id)!.actor.send({ type: 'request.dispatched', at: Date.now(), estTokens: 1 });
const until = async (f: () => boolean, ms = 2000) => {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('Runtime.reload', () => {
  it("a replaced endpoint of the same upstream keeps a provider's 429 wait (an rpm added after 429s does not send every waiter); another upstream does not", async () => {
    const r = await runtime(cfg({ a: model('a'), b: model('b') }));
    const now = Date.now();
    for (const id of ['a@p', 'b@p']) {
      dispatch(r, id);
      r.handles.get(id)!.actor.send({ type: 'upstream.rateLimited', at: now, retryAt: now + 60_000, estTokens: 1 });
    }
    r.reload(
      cfg({
        a: { ...model('a'), endpoints: [{ provider: 'p', upstreamModel: 'a', rpm: 7 }] },
        b: { ...model('b'), endpoints: [{ provider: 'p', upstreamModel: 'b2' }] },
      }),
    );
    const a1 = r.handles.get('a@p')!.actor.getSnapshot();
    expect([a1.value, a1.context.reason, a1.context.retryAt, a1.context.settings.rpm]).toEqual(['throttled', 'upstream 429', now + 60_000, 7]);
    expect(r.handles.get('b@p')!.actor.getSnapshot().value).toBe('healthy');
  });

  it("a replaced endpoint of the same upstream keeps an overload's wait (a 503 with retry-after) as it was: no 429 it never got", async () => {
    const r = await runtime(cfg({ a: model('a') }));
    const now = Date.now();
    dispatch(r, 'a@p');
    r.handles
      .get('a@p')!
      .actor.send({ type: 'upstream.failed', at: now, fault: 'overloaded', countsAsFailure: true, estTokens: 1, tokens: 0, retryAt: now + 60_000 });
    r.reload(cfg({ a: { ...model('a'), endpoints: [{ provider: 'p', upstreamModel: 'a', rpm: 7 }] } }));
    const a1 = r.handles.get('a@p')!.actor.getSnapshot();
    // It was 'upstream 429' with rateLimited 1 on the fresh actor.
    expect([a1.value, a1.context.reason, a1.context.retryAt, a1.context.rateLimited]).toEqual(['throttled', 'upstream overloaded', now + 60_000, 0]);
  });

  it('keeps unchanged actors (same ref, counters), replaces a changed one under a generation key and drains the old', async () => {
    const r = await runtime(cfg({ a: model('a'), b: model('b') }));
    const a0 = r.handles.get('a@p')!.actor;
    const b0 = r.handles.get('b@p')!.actor;
    dispatch(r, 'a@p');
    dispatch(r, 'b@p');
    const next = cfg({ a: model('a'), b: { ...model('b'), endpoints: [{ provider: 'p', upstreamModel: 'b', rpm: 7 }] } }, { extra: ['a'] });
    expect(r.reload(next)).toEqual({ kept: ['a@p'], added: [], replaced: ['b@p'], removed: [] });
    expect(r.handles.get('a@p')!.actor).toBe(a0);
    expect(a0.getSnapshot().context.requests).toBe(1);
    const b1 = r.handles.get('b@p')!;
    expect(b1.actor).not.toBe(b0);
    expect(b1.actorKey).toMatch(/^b@p#\d+$/);
    expect(b1.actor.getSnapshot().context.settings.rpm).toBe(7);
    expect(b1.actor.getSnapshot().context.requests).toBe(0);
    // The inspection records name both `endpoint:b@p`; the draining one's are marked replaced.
    expect([r.replacedActor(b0.id), r.replacedActor(`endpoint:${b1.actorKey}`), r.replacedActor(a0.id)]).toEqual([true, false, false]);
    expect(r.byModel.get('b')).toEqual([b1]);
    expect(r.cfg.routing.routes.extra).toEqual(['a']);
    // The old b still holds its in-flight request; it stops once that is done.
    expect(b0.getSnapshot().status).toBe('active');
    b0.send({ type: 'upstream.released', at: Date.now(), estTokens: 1, tokens: 0 });
    await until(() => b0.getSnapshot().status === 'stopped');
    expect(r.supervisor.getSnapshot().status).toBe('active');
  });

  it('an endpoint removed and added back after its actor stopped is current again under its old key, not marked replaced (its records would be)', async () => {
    const r = await runtime(cfg({ a: model('a'), b: model('b') }));
    const b0 = r.handles.get('b@p')!.actor;
    r.reload(cfg({ a: model('a') }));
    expect(r.replacedActor(b0.id)).toBe(true);
    await until(() => b0.getSnapshot().status === 'stopped');
    r.reload(cfg({ a: model('a'), b: model('b') }));
    const b1 = r.handles.get('b@p')!;
    expect(b1.actor.id).toBe(b0.id);
    expect(r.replacedActor(b1.actor.id)).toBe(false);
  });

  it('a kept endpoint serves with the new model config (price, tier, capabilities, maxOutputTokens): a price edit keeps its rpm window, breaker and counts', async () => {
    const r = await runtime(cfg({ a: model('a') }));
    const a0 = r.handles.get('a@p')!.actor;
    dispatch(r, 'a@p');
    const reloaded = r.reload(
      cfg({ a: model('a', { price: { inputPerMTok: 2, outputPerMTok: 3 }, tier: 'high_quality', capabilities: ['chat', 'vision'], maxOutputTokens: 99 }) }),
    );
    expect(reloaded).toEqual({ kept: ['a@p'], added: [], replaced: [], removed: [] });
    const h = r.handles.get('a@p')!;
    expect(h.actor).toBe(a0);
    expect(a0.getSnapshot().context.inFlight).toBe(1);
    expect(h.modelCfg.price).toEqual({ inputPerMTok: 2, outputPerMTok: 3 });
    expect(h.modelCfg.tier).toBe('high_quality');
    expect(h.modelCfg.capabilities).toContain('vision');
    expect(h.modelCfg.maxOutputTokens).toBe(99);
    expect(r.byModel.get('a')).toEqual([h]);
  });

  it('an endpoint moved to another model (same explicit id) gets a fresh actor under the new model', async () => {
    const ep = { id: 'shared', provider: 'p', upstreamModel: 'u' };
    const r = await runtime(cfg({ a: model('a', { endpoints: [ep] }) }));
    const old = r.handles.get('shared')!.actor;
    r.reload(cfg({ z: model('z', { endpoints: [ep] }) }));
    const h = r.handles.get('shared')!;
    expect(h.model).toBe('z');
    expect(h.actor).not.toBe(old);
    expect(r.byModel.get('z')).toEqual([h]);
    expect(r.byModel.has('a')).toBe(false);
  });

  it('removing an endpoint with a request in flight, then adding it back before it drained, keeps the supervisor alive', async () => {
    const r = await runtime(cfg({ a: model('a'), b: model('b') }));
    const b0 = r.handles.get('b@p')!.actor;
    dispatch(r, 'b@p');
    expect(r.reload(cfg({ a: model('a') }))).toEqual({ kept: ['a@p'], added: [], replaced: [], removed: ['b@p'] });
    expect(r.handles.has('b@p')).toBe(false);
    expect(r.reload(cfg({ a: model('a'), b: model('b') })).added).toEqual(['b@p']);
    expect(r.supervisor.getSnapshot().status).toBe('active');
    const b1 = r.handles.get('b@p')!;
    expect(b1.actor).not.toBe(b0);
    expect(b1.actor.getSnapshot().status).toBe('active');
    // The drained old actor stops; the new one stays.
    b0.send({ type: 'upstream.released', at: Date.now(), estTokens: 1, tokens: 0 });
    await until(() => b0.getSnapshot().status === 'stopped');
    expect(b1.actor.getSnapshot().status).toBe('active');
    expect(
      r
        .state()
        .endpoints.map((e) => e.id)
        .sort(),
    ).toEqual(['a@p', 'b@p']);
  });

  it("a reload that changes a pool's options lets go of the pool it replaced: fifty reloads leave one pool, and the old one is not closed under who holds it", async () => {
    const withConns = (n: number) =>
      configSchema.parse({ providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:1/v1', connections: n } }, models: { a: model('a') } });
    const r = await runtime(withConns(1));
    const first = r.handles.get('a@p')!.pool;
    for (let i = 2; i <= 51; i++) r.reload(withConns(i));
    // The map held every pool a reload made (51).
    expect((r as unknown as { pools: { size: number } }).pools.size).toBe(1);
    expect(r.handles.get('a@p')!.pool).not.toBe(first);
    expect(first.closed).toBe(false);
  });
});
