/**
 * First run and shutdown: `serve` with no config and no key runs on the built-in simulator and
 * says so; a config file never falls back and names a missing variable; SIGTERM lets a stream
 * in flight finish and exits 0.
 */
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, sleep, startProc, startSidecar, startSimulatorProc, testConfig, TEST_KEYS, type SidecarHandle, type SimHandle } from './harness.js';
import { ledgerFileOf, ledgerRow } from './ledger-row.js';

const NO_KEYS = { OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '', GEMINI_API_KEY: '', DEEPSEEK_API_KEY: '', SWITCHYARD_RELAY_URL: '' };

let sim: SimHandle;
beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 40, outputTokens: 40 } });
});
afterAll(async () => {
  await sim?.stop();
});

describe('first run', () => {
  it('without config and keys, serves the seed catalogue from the built-in simulator and says so', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sy-first-'));
    const p = await startProc(['serve', '--port', '0'], /switchyard (http:\/\/127\.0\.0\.1:\d+)\/v1/, NO_KEYS, cwd);
    try {
      expect(p.stderr()).toMatch(/SIMULATED/);
      const client = new OpenAI({ baseURL: `${p.url}/v1`, apiKey: 'x', maxRetries: 0 });
      const models = await client.models.list();
      expect(models.data.map((m) => m.id)).toEqual(expect.arrayContaining(['gpt-4.1', 'claude-sonnet-4.5', 'gemini-2.5-flash', 'deepseek-v3.2', 'auto']));
      expect(models.data.every((m) => m.owned_by === 'simulated')).toBe(true);
      const r = await client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'Hallo, wie geht es dir?' }] });
      expect(r.choices[0]!.message.content).toBeTruthy();
    } finally {
      await p.stop();
    }
  });

  it('with one provider key, a model or route left out for want of its key is named as such (not "does not exist"), in both APIs, and in the banner', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sy-onekey-'));
    const p = await startProc(['serve', '--port', '0'], /switchyard (http:\/\/127\.0\.0\.1:\d+)\/v1/, { ...NO_KEYS, OPENAI_API_KEY: 'sk-test' }, cwd);
    try {
      // The banner's log line leaves through pino's asynchronous write: waited for, not read at once.
      await p.waitForOutput(/left out for want of a key: claude-sonnet-4\.5, gemini-2\.5-flash, deepseek-v3\.2, route\/chatbot/);
      // The readable banner (stderr) says it too, with what brings them in (it was only in the JSON log line).
      expect(p.stderr()).toMatch(
        /^left out for want of a key: claude-sonnet-4\.5, gemini-2\.5-flash, deepseek-v3\.2, route\/chatbot.* \(set ANTHROPIC_API_KEY \/ /m,
      );
      const client = new OpenAI({ baseURL: `${p.url}/v1`, apiKey: 'x', maxRetries: 0 });
      const err = await client.chat.completions.create({ model: 'claude-sonnet-4.5', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('model_not_found');
      expect((err as Error).message).toMatch(
        /claude-sonnet-4\.5" is in the built-in catalogue but was left out at start-up: .*set ANTHROPIC_API_KEY and restart/,
      );
      const route = await client.chat.completions.create({ model: 'route/chatbot', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect((route as Error).message).toMatch(
        /route\/chatbot" is in the built-in catalogue but was left out at start-up: .*set (DEEPSEEK_API_KEY or GEMINI_API_KEY|GEMINI_API_KEY or DEEPSEEK_API_KEY)/,
      );
      const msg = await fetch(`${p.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'claude-sonnet-4.5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(msg.status).toBe(400);
      expect(((await msg.json()) as { error: { message: string } }).error.message).toMatch(/left out at start-up/);
      const unknown = await client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect((unknown as Error).message).toMatch(/"nope" does not exist/);
    } finally {
      await p.stop();
    }
  });

  it('with a config file, a missing key is a startup error naming the variable', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sy-cfg-')), 'switchyard.yaml');
    writeFileSync(file, stringify(testConfig(sim.url)));
    const child = spawn(process.execPath, [BIN, 'serve', '--config', file, '--port', '0'], { env: { ...process.env, SY_TEST_OPENAI_KEY: '' } });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(1);
    // Set to nothing is said as such (the variable is there, its value empty); one absent is "not set".
    expect(err).toMatch(/providers\.openai\.apiKeyEnv: environment variable SY_TEST_OPENAI_KEY is set but empty/);
    expect(err).toMatch(/providers\.anthropic\.apiKeyEnv: environment variable SY_TEST_ANTHROPIC_KEY is not set/);
  });
});

describe('secrets that cannot be used', () => {
  async function refused(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; err: string }> {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    return { code, err };
  }

  it('a key ending in a line break (a secret read from a file) stops the start naming its variable, with or without a config file; check-config notes it', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sy-cfg-')), 'switchyard.yaml');
    writeFileSync(file, stringify(testConfig(sim.url)));
    const withFile = await refused(['serve', '--config', file, '--port', '0'], { ...TEST_KEYS, SY_TEST_OPENAI_KEY: 'sk-test-openai\n' });
    expect(withFile.code).toBe(1);
    expect(withFile.err).toMatch(/providers\.openai\.apiKeyEnv: environment variable SY_TEST_OPENAI_KEY ends in a line break/);
    expect(withFile.err).not.toContain('sk-test-openai');
    const defaults = await refused(['serve', '--port', '0'], { ...NO_KEYS, DEEPSEEK_API_KEY: 'ds-key \r\n' });
    expect(defaults.code).toBe(1);
    expect(defaults.err).toMatch(/environment variable DEEPSEEK_API_KEY ends in a line break/);
    const admin = await refused(['serve', '--config', file, '--port', '0'], { ...TEST_KEYS, SWITCHYARD_ADMIN_TOKEN: ' tok' });
    expect(admin.code).toBe(1);
    expect(admin.err).toMatch(/environment variable SWITCHYARD_ADMIN_TOKEN begins or ends with whitespace/);
    const check = await refused(['check-config', file], { ...TEST_KEYS, SY_TEST_OPENAI_KEY: 'sk-test-openai\n' });
    expect(check.code).toBe(0);
    expect(check.err).toMatch(/not usable as secrets[\s\S]*SY_TEST_OPENAI_KEY ends in a line break/);
  });
  it('a PostgreSQL ledger whose server drops the connection at start-up stops the start saying what to check', async () => {
    const dropper = createServer((sock) => sock.destroy());
    await new Promise<void>((r) => dropper.listen(0, '127.0.0.1', r));
    try {
      const file = join(mkdtempSync(join(tmpdir(), 'sy-cfg-')), 'switchyard.yaml');
      const ledger = `postgres://postgres@127.0.0.1:${(dropper.address() as AddressInfo).port}/sy`;
      writeFileSync(file, stringify({ ...testConfig(sim.url), storage: { ledger } }));
      const r = await refused(['serve', '--config', file, '--port', '0'], TEST_KEYS);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/cannot open the ledger .*dropped the connection: is it restarting, or does a proxy or pooler/);
    } finally {
      dropper.close();
    }
  });
});

describe('shutdown', () => {
  it('SIGTERM ends the process even when the reader of its stdout is gone (closed pipe)', async () => {
    // A supervisor or `| head` that ended: the log's next write fails with EPIPE. pino's exit flush
    // used to retry that write forever, so the process never exited.
    const dir = mkdtempSync(join(tmpdir(), 'sy-pipe-'));
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
      cwd: dir,
      env: { ...process.env, ...NO_KEYS },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no listening line')), 20_000);
      child.stdout!.once('data', () => {
        clearTimeout(t);
        resolve();
      });
    });
    child.stdout!.destroy();
    await sleep(200);
    child.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(8000).then(() => 'still running' as const)]);
    if (code === 'still running') child.kill('SIGKILL');
    expect(code).toBe(0);
  });

  it('serves and ends on SIGTERM with --pretty when the readers of its stderr (before the banner) and stdout are gone', async () => {
    // `switchyard serve --pretty 2>&1 | head -c 100`: the banner's write failed with EPIPE and the
    // process died before serving; with stderr kept, pino's pretty worker threw "_flushSync took
    // too long" at exit and the process neither served nor ended on SIGTERM.
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const child = spawn(process.execPath, [BIN, 'serve', '--pretty', '--port', String(port)], {
      cwd: mkdtempSync(join(tmpdir(), 'sy-gone-')),
      env: { ...process.env, ...NO_KEYS },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.destroy();
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const url = `http://127.0.0.1:${port}`;
      let health: number | string = 'no answer';
      for (let i = 0; i < 100 && health !== 200 && child.exitCode === null; i++) {
        await sleep(200);
        health = await fetch(`${url}/healthz`).then(
          (r) => r.status,
          () => 'no answer',
        );
      }
      expect(health).toBe(200);
      child.stdout!.destroy();
      const r = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"model":"nope","messages":[]}',
      });
      expect(r.status).toBe(400);
      await sleep(300);
      child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(8000).then(() => 'still running' as const)]);
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 60_000);

  it('keeps serving when the reader of its stdout stalls and then goes away with log lines pending', async () => {
    // A log collector that stops reading (its socket fills, pino's write waits), then ends: the
    // pending write fails with ECONNRESET, which pino does not mute. The process used to die on it
    // and hang in pino's exit flush: no answer to /healthz, SIGTERM ignored.
    const dir = mkdtempSync(join(tmpdir(), 'sy-stall-'));
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
      cwd: dir,
      env: { ...process.env, ...NO_KEYS },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no listening line')), 20_000);
        let out = '';
        const onData = (d: Buffer): void => {
          out += d.toString();
          const m = /listening on (http:\/\/[\d.:]+)/.exec(out);
          if (!m) return;
          clearTimeout(t);
          child.stdout!.off('data', onData);
          child.stdout!.pause();
          resolve(m[1]!);
        };
        child.stdout!.on('data', onData);
      });
      // Each refused request logs a line; 3000 of them are far more than a socket buffer holds.
      const body = JSON.stringify({ model: `nope-${'x'.repeat(200)}`, messages: [{ role: 'user', content: 'hi' }] });
      for (let i = 0; i < 3000; i++) {
        const r = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await r.arrayBuffer();
      }
      child.stdout!.destroy();
      await sleep(300);
      const health = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(3000) }).then(
        (r) => r.status,
        () => 'no answer',
      );
      expect(health).toBe(200);
      child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(8000).then(() => 'still running' as const)]);
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 90_000);

  /**
   * A 40-token stream read whole; at its first content the sidecar gets SIGTERM, then `whileDraining`
   * runs (once it said it is shutting down). Its text, and the exit code.
   */
  async function streamThroughShutdown(sc: SidecarHandle, whileDraining: () => Promise<void>): Promise<{ text: string; code: number | null }> {
    const stream = await sc.client.chat.completions.create({ model: 'gpt-4.1', stream: true, messages: [{ role: 'user', content: 'long answer please' }] });
    let text = '';
    let signalled: Promise<number | null> | null = null;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      if (!signalled && text.length > 0) {
        signalled = sc.stop('SIGTERM');
        for (let i = 0; i < 100 && !sc.stdout().includes('shutting down'); i++) await sleep(20);
        expect(sc.stdout()).toContain('shutting down');
        await whileDraining();
      }
    }
    return { text, code: await signalled };
  }

  it('SIGTERM stops accepting, lets the stream in flight finish, and exits 0', async () => {
    const sc = await startSidecar(testConfig(sim.url));
    const { text, code } = await streamThroughShutdown(sc, async () => {
      // Once the sidecar has taken the signal, new requests are refused (connection closed or 503) while the stream goes on.
      const late = await fetch(`${sc.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] }),
      }).then(
        (r) => r.status,
        () => 'refused',
      );
      expect([503, 'refused']).toContain(late);
    });
    expect(text.split(' ')).toHaveLength(40);
    expect(code).toBe(0);
    expect(sc.stdout()).toMatch(/"msg":"stopped"/);
  });

  it('a SIGHUP while draining is refused, saying so, and the stream in flight still finishes (the reload failed half-applied: "endpoint actor … was not spawned")', async () => {
    const cfg = testConfig(sim.url);
    const sc = await startSidecar(cfg);
    const { text, code } = await streamThroughShutdown(sc, async () => {
      // A changed endpoint setting: a reload would replace its actor.
      const models = cfg.models as Record<string, { endpoints: Array<Record<string, unknown>> }>;
      models['gpt-4.1']!.endpoints[0]!.maxConcurrent = 2;
      writeFileSync(sc.configFile, stringify(cfg));
      sc.child.kill('SIGHUP');
      await sc.waitForOutput(/SIGHUP reload refused, the running config stays: switchyard is shutting down: nothing was reloaded/);
    });
    expect(text.split(' ')).toHaveLength(40);
    expect(code).toBe(0);
    expect(sc.stdout()).not.toContain('was not spawned');
  });

  it('an answer written while shutting down says Connection: close (it said keep-alive, and the connection then closed)', async () => {
    const sc = await startSidecar(testConfig(sim.url));
    const { request, Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true });
    const u = new URL(`${sc.url}/v1/chat/completions`);
    // A JSON answer of 40 tokens 40 ms apart: in flight when the signal comes.
    const answered = new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      const req = request(
        { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'long answer please' }] }));
    });
    await sleep(300);
    const exited = sc.stop('SIGTERM');
    expect(await answered).toEqual({ status: 200, connection: 'close' });
    expect(await exited).toBe(0);
    agent.destroy();
  });

  it('SIGTERM answers a request queued behind a throttle that ends after the grace period at once (503 shutting_down), not at the grace end', async () => {
    const cfg = testConfig(sim.url, { server: { shutdownGraceMs: 10_000 } });
    const gpt = (cfg.models as Record<string, { fallbacks: string[]; endpoints: Array<Record<string, unknown>> }>)['gpt-4.1']!;
    gpt.fallbacks = [];
    gpt.endpoints[0]!.rpm = 1;
    const sc = await startSidecar(cfg);
    try {
      const ask = () =>
        fetch(`${sc.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-switchyard-timeout-ms': '120000' },
          body: JSON.stringify({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] }),
        });
      expect((await ask()).status).toBe(200);
      // The rpm window is full for about a minute: this one waits in the queue.
      const queued = ask();
      for (let i = 0; i < 100 && !(await (await fetch(`${sc.url}/metrics`)).text()).includes('switchyard_queue_depth 1'); i++) await sleep(20);
      const started = Date.now();
      const exited = sc.stop('SIGTERM');
      const r = await queued;
      expect(r.status).toBe(503);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('shutting_down');
      expect(r.headers.get('retry-after')).toBe('1');
      expect(await exited).toBe(0);
      // Generous: the point is that it did not wait out the 10 s grace period.
      expect(Date.now() - started).toBeLessThan(8_000);
    } finally {
      if (sc.child.exitCode === null && sc.child.signalCode === null) sc.child.kill('SIGKILL');
    }
  });

  it("SIGTERM answers a request waiting out a 429's retry-after that ends after the grace period at once (503 shutting_down), not at the grace end", async () => {
    const cfg = testConfig(sim.url, { server: { shutdownGraceMs: 10_000 } });
    (cfg.resilience as Record<string, unknown>) = { ...(cfg.resilience as object), maxRetryAfterMs: 30_000 };
    const gpt = (cfg.models as Record<string, { fallbacks: string[] }>)['gpt-4.1']!;
    gpt.fallbacks = [];
    const sc = await startSidecar(cfg);
    try {
      await sim.setFault('gpt-4.1', { kind: 'rate_limit', retryAfterSec: 20, times: 1 });
      const waiting = fetch(`${sc.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-switchyard-timeout-ms': '120000' },
        body: JSON.stringify({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] }),
      });
      // The 429 came back: the request sleeps 20 s before asking the endpoint again.
      for (let i = 0; i < 100 && !(await sim.log()).some((e) => e.status === 429); i++) await sleep(20);
      await sleep(50);
      const started = Date.now();
      const exited = sc.stop('SIGTERM');
      const r = await waiting;
      expect(r.status).toBe(503);
      expect(((await r.json()) as { error: { code: string; message: string } }).error).toMatchObject({
        code: 'shutting_down',
        message: expect.stringContaining('shutting down'),
      });
      expect(await exited).toBe(0);
      // Generous: the point is that it did not wait out the 10 s grace period.
      expect(Date.now() - started).toBeLessThan(8_000);
    } finally {
      await sim.clearFaults();
      if (sc.child.exitCode === null && sc.child.signalCode === null) sc.child.kill('SIGKILL');
    }
  });

  it('when server.shutdownGraceMs runs out with a request in flight, the log says it was cut; exit 0', async () => {
    await withStreamInFlight(300, async (sc, cfg, id) => {
      expect(await sc.stop('SIGTERM')).toBe(0);
      const line = sc
        .stdout()
        .split('\n')
        .find((l) => l.includes('shutdownGraceMs'));
      expect(line, sc.stdout()).toBeDefined();
      expect(JSON.parse(line!)).toMatchObject({ level: 40, inFlight: 1 });
      expect(line).toMatch(/server\.shutdownGraceMs \(300 ms\) is over: closing the 1 request still in flight/);
      expect(ledgerRow(ledgerFileOf(cfg), id)).toBeDefined();
    });
  });

  // A second signal while draining (Ctrl-C twice, `kill` twice) means "stop now": it must not kill the process
  // where it stands (the default action) nor exit before the ledger has the cut request's row.
  for (const second of ['SIGTERM', 'SIGINT'] as const) {
    it(`a second signal (SIGTERM, then ${second}) stops waiting for the stream in flight: it ends with a shutting_down error event (not a bare close), its row says so, exit 0`, async () => {
      await withStreamInFlight(60_000, async (sc, cfg, id, rest) => {
        const exited = sc.stop('SIGTERM');
        for (let i = 0; i < 100 && !sc.stdout().includes('shutting down'); i++) await sleep(20);
        expect(sc.stdout()).toContain('shutting down');
        sc.child.kill(second);
        const tail = await rest();
        expect(tail).toMatch(/data: \{"error":\{[^\n]*"code":"shutting_down"/);
        expect(tail).not.toContain('[DONE]');
        expect(await exited).toBe(0);
        expect(sc.child.signalCode).toBeNull();
        expect(sc.stdout()).toMatch(/"msg":"stopped"/);
        // The client got 200 and part of the answer: the row says the shutdown cut it, not that the client left.
        expect(ledgerRow(ledgerFileOf(cfg), id)).toMatchObject({ status: 200, error_code: 'shutting_down' });
        expect(sc.stdout()).toMatch(/not waiting for the 1 request in flight/);
        expect(sc.stdout()).not.toMatch(/the client went away/);
      });
    });
  }

  it('a third signal exits 1 at once, even when the shutdown the second one hurried completes meanwhile', async () => {
    await withStreamInFlight(60_000, async (sc) => {
      const exited = sc.stop('SIGTERM');
      for (let i = 0; i < 100 && !sc.stdout().includes('shutting down'); i++) await sleep(20);
      sc.child.kill('SIGINT');
      sc.child.kill('SIGTERM');
      expect(await exited).toBe(1);
      expect(sc.child.signalCode).toBeNull();
      expect(sc.stdout()).toMatch(/a third time: exiting now/);
    });
  });
});

/**
 * A sidecar (`server.shutdownGraceMs` as given) on an upstream that streams slowly, with one
 * stream in flight whose first chunk was read; runs `body`, then stops what is left.
 */
async function withStreamInFlight(
  shutdownGraceMs: number,
  body: (sc: SidecarHandle, cfg: Record<string, unknown>, requestId: string | null, rest: () => Promise<string>) => Promise<void>,
): Promise<void> {
  const slow = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 500, outputTokens: 60 } });
  const cfg = testConfig(slow.url, { server: { shutdownGraceMs } });
  const sc = await startSidecar(cfg);
  try {
    const res = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4.1', stream: true, messages: [{ role: 'user', content: 'long answer please' }] }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    // The rest of the stream as text, up to its end or a cut connection ('[connection cut]').
    const rest = async (): Promise<string> => {
      let text = '';
      const dec = new TextDecoder();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return text;
          text += dec.decode(value, { stream: true });
        }
      } catch {
        return `${text}[connection cut]`;
      }
    };
    await body(sc, cfg, res.headers.get('x-request-id'), rest);
    await reader.cancel().catch(() => undefined);
  } finally {
    if (sc.child.exitCode === null && sc.child.signalCode === null) sc.child.kill('SIGKILL');
    await slow.stop();
  }
}
