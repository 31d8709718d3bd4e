import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FaultStore } from '../../src/simulator/faults.js';
import { loadProfile, startSimulator } from '../../src/simulator/index.js';
import { runSimulateCommand } from '../../src/cli/simulate.js';
import type { Simulator } from '../../src/simulator/index.js';
import { ANTHROPIC_HEADERS, chatBody, messagesBody, post, startFast } from './helpers.js';

describe('FaultStore (injected clock)', () => {
  it('counts times per matching request, then clears itself', () => {
    const store = new FaultStore(() => 0);
    store.set('m', { kind: 'reset', times: 2 });
    expect(store.take('m', false)?.kind).toBe('reset');
    expect(store.take('m', true)?.kind).toBe('reset');
    expect(store.take('m', false)).toBeNull();
  });

  it('expires after durationMs', () => {
    let now = 1000;
    const store = new FaultStore(() => now);
    store.set('m', { kind: 'hang', durationMs: 500 });
    now = 1499;
    expect(store.take('m', false)?.kind).toBe('hang');
    now = 1500;
    expect(store.take('m', false)).toBeNull();
  });

  it("prefers the model's own fault over *, and * applies to every other model", () => {
    const store = new FaultStore();
    store.set('*', { kind: 'reset' });
    store.set('a', { kind: 'hang' });
    expect(store.take('a', false)?.kind).toBe('hang');
    expect(store.take('b', false)?.kind).toBe('reset');
    store.clear('a');
    expect(store.take('a', false)?.kind).toBe('reset');
    store.clear();
    expect(store.take('b', false)).toBeNull();
  });

  it('a stream-only fault does not count a non-streaming request', () => {
    const store = new FaultStore();
    store.set('m', { kind: 'no_done', times: 1 });
    expect(store.take('m', false)).toBeNull();
    expect(store.take('m', true)?.kind).toBe('no_done');
    expect(store.take('m', true)).toBeNull();
  });
});

describe('fault lifetime over HTTP', () => {
  let sim: Simulator;
  let url: string;
  beforeAll(async () => {
    sim = await startFast({ faults: { 'deepseek-chat': { kind: 'http_error', status: 503, times: 2 } } });
    url = `${sim.url}/deepseek/v1/chat/completions`;
  });
  afterAll(async () => {
    await sim.close();
  });
  beforeEach(() => sim.resetLog());

  it('applies profile faults from start and counts `times`', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(url, { ...chatBody(), model: 'deepseek-chat' })).status);
    expect(statuses).toEqual([503, 503, 200]);
    expect(sim.log().map((e) => e.fault)).toEqual(['http_error', 'http_error', null]);
  });

  it('stops applying a durationMs fault after its time', async () => {
    sim.setFault('gpt-test', { kind: 'http_error', status: 500, durationMs: 150 });
    expect((await post(url, chatBody())).status).toBe(500);
    await new Promise((r) => setTimeout(r, 180));
    expect((await post(url, chatBody())).status).toBe(200);
  });

  it('clearFaults(model) clears only that model', async () => {
    sim.setFault('a', { kind: 'http_error', status: 502 });
    sim.setFault('b', { kind: 'http_error', status: 502 });
    sim.clearFaults('a');
    expect((await post(url, { ...chatBody(), model: 'a' })).status).toBe(200);
    expect((await post(url, { ...chatBody(), model: 'b' })).status).toBe(502);
    sim.clearFaults();
    expect((await post(url, { ...chatBody(), model: 'b' })).status).toBe(200);
  });
});

let sim: Simulator;
const call = (method: string, path: string, body?: unknown): Promise<Response> =>
  fetch(`${sim.url}${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });

describe('control endpoints', () => {
  beforeAll(async () => {
    sim = await startFast({ models: { locked: { requireAuth: true } } });
  });
  afterAll(async () => {
    await sim.close();
  });
  beforeEach(() => {
    sim.clearFaults();
    sim.resetLog();
  });

  it('GET /_sim/health answers 200', async () => {
    expect((await call('GET', '/_sim/health')).status).toBe(200);
  });

  it('POST /_sim/faults sets a fault; DELETE ?model=X and DELETE clear', async () => {
    expect((await call('POST', '/_sim/faults', { model: 'gpt-test', fault: { kind: 'http_error', status: 502 } })).status).toBe(200);
    expect((await call('POST', '/_sim/faults', { model: '*', fault: { kind: 'http_error', status: 500 } })).status).toBe(200);
    const oa = `${sim.url}/openai/v1/chat/completions`;
    expect((await post(oa, chatBody())).status).toBe(502);
    expect((await post(oa, { ...chatBody(), model: 'other' })).status).toBe(500);
    expect((await call('DELETE', '/_sim/faults?model=gpt-test')).status).toBe(200);
    expect((await post(oa, chatBody())).status).toBe(500);
    expect((await call('DELETE', '/_sim/faults')).status).toBe(200);
    expect((await post(oa, chatBody())).status).toBe(200);
  });

  it('POST /_sim/faults rejects an invalid fault naming the path', async () => {
    const res = await call('POST', '/_sim/faults', { model: 'x', fault: { kind: 'cut' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain('fault.afterTokens');
    const bad = await call('POST', '/_sim/faults', { model: 'x', fault: { kind: 'explode' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('fault.kind');
    // As a profile's faults are said (it was zod's "Invalid discriminator value…"): the kind meant, a fraction in words.
    const typo = await call('POST', '/_sim/faults', { model: 'x', fault: { kind: 'http_eror', status: 500 } });
    expect(((await typo.json()) as { error: string }).error).toContain('fault.kind: expected one of');
    expect(
      ((await call('POST', '/_sim/faults', { model: 'x', fault: { kind: 'http_eror' } })).json() as Promise<{ error: string }>).then((b) => b.error),
    ).resolves.toContain('(did you mean "http_error"?)');
    const frac = await call('POST', '/_sim/faults', { model: 'x', fault: { kind: 'cut', afterTokens: 2.5 } });
    expect(((await frac.json()) as { error: string }).error).toBe('fault.afterTokens: expected a whole number, got 2.5');
  });

  it('GET /_sim/log lists requests with provider, wire, stream, prefill, auth; DELETE clears it', async () => {
    const t0 = Date.now();
    await post(`${sim.url}/gemini/v1/chat/completions`, chatBody({ stream: true }), { headers: { authorization: 'Bearer sk-SECRET-1' } });
    await post(
      `${sim.url}/anthropic/v1/messages`,
      {
        ...messagesBody(),
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: 'A' },
        ],
      },
      { headers: ANTHROPIC_HEADERS },
    );
    await post(`${sim.url}/v1/chat/completions`, chatBody());
    const t1 = Date.now();
    const res = await call('GET', '/_sim/log');
    const log = (await res.json()) as Record<string, unknown>[];
    expect(log).toMatchObject([
      { provider: 'gemini', wire: 'openai', model: 'gpt-test', stream: true, fault: null, status: 200, prefill: false, authPresent: true },
      { provider: 'anthropic', wire: 'anthropic', model: 'claude-test', stream: false, status: 200, prefill: true, authPresent: true },
      { provider: 'v1', wire: 'openai', authPresent: false },
    ]);
    expect(Object.keys(log[0]!).sort()).toEqual(['at', 'authPresent', 'fault', 'model', 'prefill', 'provider', 'seq', 'status', 'stream', 'wire']);
    const seqs = log.map((e) => e.seq as number);
    expect(seqs[1]! - seqs[0]!).toBe(1);
    expect(log[0]!.at as number).toBeGreaterThanOrEqual(t0);
    expect(log[2]!.at as number).toBeLessThanOrEqual(t1);
    expect(JSON.stringify(log)).not.toContain('SECRET');
    expect(JSON.stringify(log)).not.toContain('test-key');
    expect(sim.log()).toEqual(log);
    expect((await call('DELETE', '/_sim/log')).status).toBe(200);
    expect(await (await call('GET', '/_sim/log')).json()).toEqual([]);
  });

  it('GET .../models lists the profile models; an unknown path is 404', async () => {
    const models = (await (await call('GET', '/openai/v1/models')).json()) as { object: string; data: { id: string }[] };
    expect(models.object).toBe('list');
    expect(models.data.map((m) => m.id)).toEqual(['locked']);
    expect((await call('GET', '/nothing/here')).status).toBe(404);
  });

  it("requireAuth: 401 without the wire's key header, 200 with it", async () => {
    const oa = `${sim.url}/openai/v1/chat/completions`;
    const missing = await post(oa, { ...chatBody(), model: 'locked' });
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.text)).toMatchObject({ error: { code: 'invalid_api_key' } });
    expect((await post(oa, { ...chatBody(), model: 'locked' }, { headers: { authorization: 'Bearer k' } })).status).toBe(200);
    const an = `${sim.url}/anthropic/v1/messages`;
    const anMissing = await post(an, { ...messagesBody(), model: 'locked' }, { headers: { 'anthropic-version': '2023-06-01' } });
    expect(anMissing.status).toBe(401);
    expect(JSON.parse(anMissing.text)).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    expect((await post(an, { ...messagesBody(), model: 'locked' }, { headers: ANTHROPIC_HEADERS })).status).toBe(200);
    // Models without requireAuth do not care.
    expect((await post(oa, chatBody())).status).toBe(200);
  });

  it('answers a non-JSON body with a wire-correct 400', async () => {
    const res = await fetch(`${sim.url}/anthropic/v1/messages`, { method: 'POST', body: '{oops', headers: ANTHROPIC_HEADERS });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(sim.log()).toMatchObject([{ wire: 'anthropic', status: 400 }]);
  });
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sim-profile-'));
});
afterEach(() => {
  vi.restoreAllMocks();
});

const file = async (name: string, text: string): Promise<string> => {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
};

describe('loadProfile', () => {
  it('reads the YAML profile of the contract', async () => {
    const path = await file(
      'ok.yaml',
      [
        'defaults: { ttftMs: 15, tokenGapMs: 1, outputTokens: 24 }',
        'models:',
        '  gpt-4.1: { ttftMs: 40, tokenGapMs: 2, outputTokens: 30, rpm: 600, cachedTokens: 0, prefill: true, contextWindow: 1000000, requireAuth: false }',
        'faults:',
        '  deepseek-chat: { kind: http_error, status: 503, times: 2 }',
      ].join('\n'),
    );
    const profile = await loadProfile(path);
    expect(profile.models?.['gpt-4.1']?.rpm).toBe(600);
    expect(profile.faults?.['deepseek-chat']).toEqual({ kind: 'http_error', status: 503, times: 2 });
  });

  it('reads JSON too', async () => {
    const path = await file('ok.json', JSON.stringify({ models: { m: { outputTokens: 3 } } }));
    expect((await loadProfile(path)).models?.m?.outputTokens).toBe(3);
  });

  it('names the file and every bad path', async () => {
    const path = await file(
      'bad.yaml',
      ['models:', '  gpt-4.1: { ttftMs: fast, colour: red }', 'faults:', '  m: { kind: http_error, status: 404 }'].join('\n'),
    );
    const err = await loadProfile(path).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain(path);
    expect(err?.message).toContain('models.gpt-4.1.ttftMs: expected number');
    expect(err?.message).toContain('models.gpt-4.1');
    expect(err?.message).toContain('colour');
    expect(err?.message).toContain('faults.m.status');
  });

  it("says a misspelt key with what was meant and a fraction as not a whole number, as check-config does (it said zod's 'Unrecognized key' and 'expected int, received number')", async () => {
    const path = await file('typo.yaml', ['defaults: { ttfMs: 40 }', 'models:', '  gpt-4.1: { rpm: 2.5 }'].join('\n'));
    const err = await loadProfile(path).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message.split('\n').slice(1).sort()).toEqual(
      ['defaults: unknown key "ttfMs" (did you mean "ttftMs"?) (line 1)', 'models.gpt-4.1.rpm: expected a whole number, got 2.5 (line 3)'].sort(),
    );
  });

  it('a fault kind misspelt is told the kind meant (it said "Invalid discriminator value. Expected \'rate_limit\' | …")', async () => {
    const path = await file('kind.yaml', ['faults:', '  m: { kind: http_eror, status: 500 }'].join('\n'));
    const err = await loadProfile(path).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message.split('\n')[1]).toMatch(
      /^faults\.m\.kind: expected one of "rate_limit", .*, got "http_eror" \(did you mean "http_error"\?\) \(line 2\)$/,
    );
  });

  it('startSimulator validates a profile given in code', async () => {
    await expect(startSimulator({ profile: { defaults: { ttftMs: -1 } } })).rejects.toThrow(/defaults\.ttftMs/);
  });
});

describe('runSimulateCommand', () => {
  it('starts with --port/--profile/--host, prints the URL, serves, and exits 0 on SIGTERM', async () => {
    const path = await file('cmd.yaml', 'models:\n  only-model: { outputTokens: 2 }\n');
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((msg: unknown) => {
      lines.push(String(msg));
    });
    const running = runSimulateCommand(['--port', '0', '--profile', path, '--host', '127.0.0.1']);
    await vi.waitFor(() => expect(lines[0]).toMatch(/^switchyard simulator listening on http:\/\/127\.0\.0\.1:\d+$/));
    const url = lines[0]!.split(' ').at(-1)!;
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toEqual(['only-model']);
    process.emit('SIGTERM', 'SIGTERM');
    expect(await running).toBe(0);
    await expect(fetch(`${url}/_sim/health`)).rejects.toThrow();
  });

  it('returns 2 on a bad flag and 1 on a bad profile, printing why', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((msg: unknown) => {
      errors.push(String(msg));
    });
    expect(await runSimulateCommand(['--bogus'])).toBe(2);
    expect(await runSimulateCommand(['--port', 'abc'])).toBe(2);
    const bad = await file('cmd-bad.yaml', 'defaults: { outputTokens: many }\n');
    expect(await runSimulateCommand(['--port', '0', '--profile', bad])).toBe(1);
    expect(errors.join('\n')).toContain('defaults.outputTokens: expected number');
  });
});
