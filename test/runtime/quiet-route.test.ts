/**
 * Inspection costs nothing while nobody watches: the supervisor's `request.route` while serving
 * and `request.pick` are applied in place by the machine's own rule (`decideInPlace`), without
 * the actor, unless someone inspects every event; the route, the pick, the supervisor's count
 * and the hub's records are the same either way, and a state change still reaches the hub.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { openLedger } from '../../src/accounting/ledger.js';
import { configSchema } from '../../src/config/schema.js';
import { InspectionHub } from '../../src/observe/hub.js';
import type { ChatCall } from '../../src/runtime/api.js';
import type { PickContext, PickRequest } from '../../src/runtime/pick.js';
import { Runtime } from '../../src/runtime/runtime.js';

let rt: Runtime | null = null;
afterEach(async () => {
  await rt?.close();
  rt = null;
});

const call = (n: number): ChatCall => ({
  requestId: `req-${n}`,
  body: { model: 'a', messages: [{ role: 'user', content: 'hello there' }] } as ChatCall['body'],
  hints: { task: null, tier: null, maxLatencyMs: null, maxCostUsd: null, timeoutMs: null },
  keyId: null,
  receivedAt: 0,
  log: pino({ level: 'silent' }),
});

async function runtime(watched: { on: boolean }, clock: () => number = () => 1_000) {
  const cfg = configSchema.parse({
    providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    models: {
      a: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100_000, endpoints: [{ provider: 'p', upstreamModel: 'up-a' }] },
    },
  });
  const hub = new InspectionHub(100, () => 0);
  const seen: InspectionEvent[] = [];
  const inspect = (ev: InspectionEvent): void => {
    seen.push(ev);
    hub.observe(ev);
  };
  rt = new Runtime({ cfg, ledger: await openLedger('memory'), log: pino({ level: 'silent' }), inspect, watched: () => watched.on, now: clock });
  await rt.restoreBudgets();
  const fromSupervisor = (): number => seen.filter((e) => e.actorRef === rt?.supervisor).length;
  return { rt, hub, seen, fromSupervisor };
}

describe('supervisor routing while nobody watches', () => {
  it('builds no inspection events for request.route, routes the same, and counts it', async () => {
    const watched = { on: false };
    const r = await runtime(watched);
    const before = r.fromSupervisor();
    const quiet = r.rt.route(call(1), 10, {});
    expect(r.fromSupervisor()).toBe(before);
    watched.on = true;
    const loud = r.rt.route(call(2), 10, {});
    // Watched: the event, its actions and the snapshot are inspected as before.
    const kinds = r.seen
      .slice(before)
      .filter((e) => e.actorRef === r.rt.supervisor)
      .map((e) => e.type);
    expect(kinds).toEqual(expect.arrayContaining(['@xstate.event', '@xstate.snapshot']));
    expect(quiet).toEqual(loud);
    expect(r.rt.supervisor.getSnapshot().context.routed).toBe(2);
    // Neither left a record: routing while serving is no transition.
    expect(r.hub.history().filter((h) => h.actor === r.rt.supervisor.id)).toEqual(
      r.hub.history().filter((h) => h.actor === r.rt.supervisor.id && h.from === null),
    );
  });

  it('a state change of the supervisor still reaches the hub while nobody watches', async () => {
    const r = await runtime({ on: false });
    r.rt.route(call(1), 10, {});
    r.rt.drain();
    expect(() => r.rt.route(call(2), 10, {})).toThrow(/shutting down/);
    expect(r.hub.history().some((h) => h.actor === r.rt.supervisor.id && h.from === 'serving' && h.to === 'draining')).toBe(true);
    // Draining, request.route is not quieted (the refusal is inspected like any other event).
    expect(r.seen.some((e) => e.type === '@xstate.event' && e.actorRef === r.rt.supervisor && (e.event as { type: string }).type === 'request.route')).toBe(
      true,
    );
  });

  it('the supervisor picks the endpoint: quietly while nobody watches, the same pick when watched, and still while draining', async () => {
    const watched = { on: false };
    const r = await runtime(watched);
    const plan = r.rt.route(call(1), 10, {});
    const req = { excluded: [], excludedModels: [], pinned: null, committed: false };
    const pc = { candidates: plan.candidates, skip: [], toolCallsSent: false, maxLatencyMs: null, estTokens: 10, now: 1_000 };
    const before = r.fromSupervisor();
    const quiet = r.rt.pick('req-1', req, pc);
    expect(r.fromSupervisor()).toBe(before);
    expect(quiet.type === 'picked' && quiet.handle.id).toBe(r.rt.byModel.get('a')?.[0]?.id);
    watched.on = true;
    const loud = r.rt.pick('req-1', req, pc);
    expect(
      r.seen.slice(before).some((e) => e.type === '@xstate.event' && e.actorRef === r.rt.supervisor && (e.event as { type: string }).type === 'request.pick'),
    ).toBe(true);
    expect(loud).toEqual(quiet);
    // Draining: in-flight requests still get an endpoint (fail-over goes on); new routes are refused.
    r.rt.drain();
    expect(r.rt.pick('req-1', req, pc)).toEqual(quiet);
    // Every candidate excluded: nothing to pick, and nothing to wait for.
    expect(r.rt.pick('req-1', { ...req, excluded: [...r.rt.handles.keys()] }, pc)).toEqual({
      type: 'none',
      waitable: false,
      earliest: null,
      unknown: false,
      yielded: false,
    });
  });

  it('in place and through the machine decide alike: serving, draining and stopped, routes and picks', async () => {
    // Two runtimes driven alike, one watched (every event through the supervisor actor), one not.
    const clock = { t: 1_000 };
    const quiet = await runtime({ on: false }, () => clock.t);
    const quietRt = quiet.rt;
    const loud = await runtime({ on: true }, () => clock.t);
    const rts = [quietRt, loud.rt];
    const outcome = (f: (r: Runtime) => unknown): unknown[] =>
      rts.map((r) => {
        try {
          return f(r);
        } catch (err) {
          return { threw: (err as Error).message };
        }
      });
    const req = { excluded: [], excludedModels: [], pinned: null, committed: false };
    const pc = { candidates: ['a'], skip: [], toolCallsSent: false, maxLatencyMs: null, estTokens: 10, now: 1_000 };
    const pickOf = (r: Runtime, q: PickRequest = req, c: PickContext = pc): unknown => {
      const p = r.pick('req-1', q, c);
      return p.type === 'picked' ? p.handle.id : p;
    };
    const decisions: unknown[][] = [];
    for (let n = 1; n <= 3; n++) decisions.push(outcome((r) => r.route(call(n), 10, {})));
    decisions.push(outcome(pickOf));
    // A busy endpoint: nothing now, worth waiting for.
    const busy = quietRt.byModel.get('a')![0]!.endpoint.maxConcurrent;
    for (const r of rts) for (let i = 0; i < busy; i++) r.endpointEvent(r.byModel.get('a')![0]!, { type: 'request.dispatched', at: 1_000, estTokens: 1 });
    decisions.push(outcome((r) => pickOf(r, { ...req, pinned: r.byModel.get('a')![0]!.id })));
    decisions.push(outcome((r) => r.supervisor.getSnapshot().context.routed));
    for (const r of rts) r.drain();
    decisions.push(outcome((r) => r.route(call(4), 10, {})));
    decisions.push(outcome((r) => pickOf(r, { ...req, excluded: ['nope'] }, { ...pc, candidates: ['a', 'missing'] })));
    decisions.push(outcome((r) => r.supervisor.getSnapshot().context));
    for (const r of rts) r.supervisor.send({ type: 'supervisor.drained', at: 1_000 });
    decisions.push(outcome((r) => r.route(call(5), 10, {})));
    decisions.push(outcome(pickOf));
    decisions.push(outcome((r) => r.supervisor.getSnapshot().context));
    for (const [q, l] of decisions) expect(q).toEqual(l);
    expect(decisions.map(([q]) => q)).toMatchObject([
      { candidates: ['a'] },
      { candidates: ['a'] },
      { candidates: ['a'] },
      expect.any(String),
      { type: 'none', waitable: true },
      3,
      { threw: expect.stringMatching(/shutting down/) },
      { type: 'none' },
      { routed: 3 },
      { threw: expect.stringMatching(/shutting down/) },
      { type: 'none', waitable: false },
      { routed: 3 },
    ]);
    // The quiet runtime's supervisor saw neither its routes nor its picks while serving.
    expect(
      quiet.seen.some((e) => e.type === '@xstate.event' && e.actorRef === quietRt.supervisor && (e.event as { type: string }).type.startsWith('request.p')),
    ).toBe(false);
    await loud.rt.close();
  });
});
