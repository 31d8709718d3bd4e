/**
 * `/switchyard/events` end to end: a circuit opening on a real sidecar process reaches an SSE
 * subscriber (fetch + the project's SseParser) within a second, `?all=1` adds the raw
 * inspection records, and a late subscriber gets the transition from the history.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseParser } from '../../src/upstream/sse.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { startSidecar, testConfig, type SidecarHandle } from './harness.js';

interface Rec {
  seq: number;
  at: number;
  kind: 'transition' | 'budget' | 'inspection';
  actor: string;
  from: string | null;
  to: string | null;
  event: Record<string, unknown> | null;
  context: Record<string, unknown> | null;
}

interface Sub {
  records: Array<{ rec: Rec; sseEvent: string | undefined; receivedAt: number }>;
  live: Promise<void>;
  waitFor(pred: (r: Rec) => boolean, timeoutMs: number): Promise<{ rec: Rec; receivedAt: number }>;
  close(): void;
}

function subscribe(url: string): Sub {
  const ctl = new AbortController();
  const parser = new SseParser();
  const records: Sub['records'] = [];
  const waiters = new Set<() => void>();
  let markLive: () => void = () => undefined;
  const live = new Promise<void>((r) => (markLive = r));
  void (async () => {
    const res = await fetch(url, { signal: ctl.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      const receivedAt = Date.now();
      for (const ev of parser.push(value)) records.push({ rec: JSON.parse(ev.data) as Rec, sseEvent: ev.event, receivedAt });
      if (parser.comments > 0) markLive(); // ": live" ends the history replay
      for (const w of waiters) w();
    }
  })().catch(() => undefined);
  return {
    records,
    live,
    waitFor: (pred, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const hit = records.find((r) => pred(r.rec));
          if (!hit) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching record within ${timeoutMs} ms; got ${records.map((r) => `${r.rec.kind}:${r.rec.actor}:${r.rec.to}`).join(', ')}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    close: () => ctl.abort(),
  };
}

let sim: Simulator; // in-process: one process start less per file
let sc: SidecarHandle;

beforeAll(async () => {
  sim = await startSimulator({ profile: { defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: 8 } } });
  const cfg = testConfig(sim.url, {
    resilience: { failureThreshold: 2, recoveryMs: 60_000, retry: { maxAttempts: 1, baseDelayMs: 10, maxDelayMs: 10 } },
  });
  // No fallback: each failing request is exactly one attempt on gpt-4.1 and answers 502.
  (cfg.models as Record<string, { fallbacks: string[] }>)['gpt-4.1']!.fallbacks = [];
  sc = await startSidecar(cfg);
});

afterAll(async () => {
  await sc?.stop();
  await sim?.close();
});

const chat = async (model: string): Promise<{ status: number; returnedAt: number }> => {
  const res = await fetch(`${sc.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.arrayBuffer();
  return { status: res.status, returnedAt: Date.now() };
};

describe('/switchyard/events', () => {
  it('delivers the transition to circuit-open within a second of the response that triggered it', async () => {
    const sub = subscribe(`${sc.url}/switchyard/events`);
    await sub.live;
    // The replayed history already names every endpoint actor.
    expect(sub.records.some((r) => r.rec.actor === 'endpoint:gpt-4.1@openai' && r.rec.to === 'healthy')).toBe(true);
    sim.setFault('gpt-4.1', { kind: 'http_error', status: 500 });
    const responses = [];
    for (let i = 0; i < 3; i++) responses.push(await chat('gpt-4.1'));
    const isOpen = (r: Rec) => r.kind === 'transition' && r.actor === 'endpoint:gpt-4.1@openai' && r.to === 'circuit-open';
    const { rec, receivedAt } = await sub.waitFor(isOpen, 2000);
    sub.close();

    expect(rec).toMatchObject({ from: 'healthy', event: { type: 'upstream.failed', fault: 'server_error' } });
    expect(sub.records.find((r) => isOpen(r.rec))!.sseEvent).toBe('transition');
    expect(responses.map((r) => r.status)).toEqual([502, 502, 503]);
    // The second failure opened the circuit: its response is the triggering one.
    const trigger = responses.find((r) => r.returnedAt >= rec.at)!;
    expect(trigger).toBe(responses[1]);
    expect(trigger.returnedAt - rec.at).toBeLessThan(1000);
    expect(receivedAt - rec.at).toBeLessThan(1000);
    expect(Math.abs(receivedAt - trigger.returnedAt)).toBeLessThan(1000);
    // The default stream carries no raw inspection events.
    expect(sub.records.every((r) => r.rec.kind !== 'inspection')).toBe(true);
    // /metrics names the endpoint states as the contract and switchyard_endpoint_state do.
    const metrics = await (await fetch(`${sc.url}/metrics`)).text();
    expect(metrics).toMatch(/^switchyard_endpoint_state\{endpoint="gpt-4\.1@openai",state="circuit-open"\} 1$/m);
    expect(metrics).toMatch(/^switchyard_transitions_total\{actor="endpoint:gpt-4\.1@openai",from="healthy",to="circuit-open"\} 1$/m);
    expect(metrics).not.toMatch(/circuitOpen|halfOpen/);
  });

  it('replays recent transitions to a late subscriber, and ?all=1 adds inspection records', async () => {
    const all = subscribe(`${sc.url}/switchyard/events?all=1`);
    await all.live;
    expect(all.records.some((r) => r.rec.actor === 'endpoint:gpt-4.1@openai' && r.rec.to === 'circuit-open')).toBe(true);
    expect((await chat('deepseek-v3.2')).status).toBe(200);
    const hit = await all.waitFor((r) => r.kind === 'inspection' && r.event?.inspection === '@xstate.event', 2000);
    all.close();
    expect(hit.rec.actor).toMatch(/^(endpoint:|budget|supervisor)/);
    // The supervisor goes by its name, not XState's session id ("x:0").
    expect(all.records.some((r) => r.rec.kind === 'transition' && r.rec.actor === 'supervisor' && r.rec.to === 'serving')).toBe(true);
    expect(all.records.some((r) => r.rec.actor.startsWith('x:'))).toBe(false);
    const kinds = new Set(all.records.map((r) => r.sseEvent));
    expect([...kinds]).toEqual(expect.arrayContaining(['transition', 'inspection']));
    const inspections = new Set(all.records.filter((r) => r.rec.kind === 'inspection').map((r) => r.rec.event?.inspection));
    expect([...inspections]).toEqual(expect.arrayContaining(['@xstate.event', '@xstate.snapshot']));
    // A snapshot record carries the actor's context as a transition record summarises it (it was null).
    const endpointSnap = all.records.find((r) => r.rec.event?.inspection === '@xstate.snapshot' && r.rec.actor.startsWith('endpoint:'));
    expect(endpointSnap?.rec.context).toMatchObject({ inFlight: expect.any(Number), requests: expect.any(Number) });
  });

  it('says when its option is wrong, as /switchyard/spend does (?all=yes and an unknown option gave the plain stream)', async () => {
    for (const [query, param] of [
      ['all=yes', 'all'],
      ['foo=1', 'foo'],
      ['token=abc', 'token'],
    ]) {
      const res = await fetch(`${sc.url}/switchyard/events?${query}`);
      expect([query, res.status]).toEqual([query, 400]);
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({ code: 'invalid_request', param });
    }
    // `true` is taken as 1.
    const ok = subscribe(`${sc.url}/switchyard/events?all=true`);
    await ok.live;
    expect((await chat('deepseek-v3.2')).status).toBe(200);
    await ok.waitFor((r) => r.kind === 'inspection', 2000);
    ok.close();
  });
});
