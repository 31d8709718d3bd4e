/**
 * Operator surfaces against real processes: `/metrics` as Prometheus text with counters that
 * match the traffic sent, secrets absent from every observable output, `switchyard status`
 * and `switchyard demo` as commands. The four tests run concurrently: each sidecar has its
 * own in-process simulator, so one test's faults never reach another's traffic.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { BIN, ROOT, startSidecar, testConfig, TEST_KEYS, type SidecarHandle } from './harness.js';

const CLIENT_KEY = 'sy-client-key-SECRET-42';

const sims: Simulator[] = [];
let plain: SidecarHandle; // metrics + status
let authed: SidecarHandle; // secrets: auth.keys on, debug logging
/** The demo process: started first, polled while it runs, awaited by its test. */
const demo = { child: null as ChildProcess | null, stdout: '', stderr: '', exit: Promise.resolve<number | null>(null), states: new Set<string>() };
/** The demo boots a simulator and a sidecar in one process: slower to start than `serve` on a busy machine. */
const DEMO_READY_MS = 45_000;

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function pollDemo(url: string, child: ChildProcess): Promise<void> {
  while (child.exitCode === null && child.signalCode === null) {
    try {
      const s = (await (await fetch(`${url}/switchyard/state`)).json()) as { endpoints: Array<{ state: string }> };
      for (const e of s.endpoints) demo.states.add(e.state);
    } catch {
      // the demo is stopping
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  const demoStarting = startDemo();
  const profile = { defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: 12 } };
  sims.push(await startSimulator({ profile }), await startSimulator({ profile }));
  const [simA, simB] = sims as [Simulator, Simulator];
  const plainCfg = testConfig(simA.url, { resilience: { retry: { maxAttempts: 1, baseDelayMs: 10, maxDelayMs: 10 } } });
  (plainCfg.models as Record<string, { fallbacks: string[] }>)['gpt-4.1']!.fallbacks = [];
  const authedCfg = testConfig(simB.url, {
    auth: { keys: [{ id: 'ci', keyEnv: 'SY_TEST_CLIENT_KEY' }] },
    logging: { level: 'debug' },
    resilience: { failureThreshold: 2, retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 } },
  });
  [plain, authed] = await Promise.all([startSidecar(plainCfg), startSidecar(authedCfg, { SY_TEST_CLIENT_KEY: CLIENT_KEY }), demoStarting]);
}, DEMO_READY_MS + 10_000);

function startDemo(): Promise<void> {
  const child = spawn(process.execPath, [BIN, 'demo', '--port', '0', '--duration', '6'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  demo.child = child;
  demo.exit = new Promise((r) => child.once('exit', (code) => r(code)));
  child.stderr!.on('data', (d: Buffer) => (demo.stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo not ready within ${DEMO_READY_MS} ms\n${demo.stdout}\n${demo.stderr}`)), DEMO_READY_MS);
    void demo.exit.then((code) => reject(new Error(`demo exited (${code}) before it was ready\n${demo.stdout}\n${demo.stderr}`)));
    child.stdout!.on('data', (d: Buffer) => {
      const waiting = !/inspector: /.test(demo.stdout);
      demo.stdout += d.toString();
      const m = /inspector: (http:\/\/\S+)\/switchyard\/inspect/.exec(demo.stdout);
      if (waiting && m) {
        clearTimeout(timer);
        void pollDemo(m[1]!, child);
        resolve();
      }
    });
  });
}

afterAll(async () => {
  if (demo.child && demo.child.exitCode === null) demo.child.kill('SIGINT');
  await Promise.all([plain?.stop(), authed?.stop(), demo.exit]);
  await Promise.all(sims.map((s) => s.close()));
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A small Prometheus text-format (0.0.4) parser: throws on any malformed line. */
function parseProm(text: string): Sample[] {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/y;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (m[1] === 'TYPE') {
        if (!/^(counter|gauge|histogram|summary|untyped)$/.test(m[3]!)) throw new Error(`bad TYPE line: ${line}`);
        types.set(m[2]!, m[3]!);
      }
      continue;
    }
    if (line.startsWith('#')) throw new Error(`malformed comment line: ${line}`);
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|\+Inf|-Inf|NaN))(?: -?\d+)?$/.exec(line);
    if (!m) throw new Error(`malformed sample line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    labelRe.lastIndex = 0;
    while (labelRe.lastIndex < body.length) {
      const l = labelRe.exec(body);
      if (!l) throw new Error(`malformed labels in: ${line}`);
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    }
    const family = m[1]!.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(m[1]!) && !types.has(family)) throw new Error(`sample before its TYPE line: ${line}`);
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

const value = (ss: Sample[], name: string, labels: Record<string, string>): number =>
  ss.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);

describe.concurrent('operator surfaces', () => {
  it('/metrics parses as Prometheus text and counts the requests, statuses and tokens sent', async ({ expect }) => {
    const sim = sims[0]!;
    let prompt = 0;
    let completion = 0;
    for (let i = 0; i < 3; i++) {
      const r = await plain.client.chat.completions.create({ model: 'deepseek-v3.2', messages: [{ role: 'user', content: `count me ${i}` }] });
      prompt += r.usage!.prompt_tokens;
      completion += r.usage!.completion_tokens;
    }
    for (let i = 0; i < 2; i++) {
      const s = await plain.client.chat.completions.create({
        model: 'deepseek-v3.2',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: `stream ${i}` }],
      });
      for await (const c of s) {
        prompt += c.usage?.prompt_tokens ?? 0;
        completion += c.usage?.completion_tokens ?? 0;
      }
    }
    sim.setFault('gpt-4.1', { kind: 'http_error', status: 500, times: 2 });
    for (let i = 0; i < 2; i++)
      await expect(plain.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'fail' }] })).rejects.toMatchObject({
        status: 502,
      });

    const res = await fetch(`${plain.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const ss = parseProm(await res.text());
    const req = 'switchyard_requests_total';
    expect(value(ss, req, { model: 'deepseek-v3.2', endpoint: 'deepseek-v3.2@deepseek', status: '200' })).toBe(5);
    expect(value(ss, req, { model: 'gpt-4.1', status: '502' })).toBe(2);
    expect(value(ss, req, {})).toBe(7);
    expect(prompt).toBeGreaterThan(0);
    expect(value(ss, 'switchyard_tokens_total', { model: 'deepseek-v3.2', kind: 'prompt' })).toBe(prompt);
    expect(value(ss, 'switchyard_tokens_total', { model: 'deepseek-v3.2', kind: 'completion' })).toBe(completion);
    expect(value(ss, 'switchyard_request_duration_seconds_count', { model: 'deepseek-v3.2' })).toBe(5);
    expect(value(ss, 'switchyard_attempts_total', { endpoint: 'gpt-4.1@openai' })).toBe(2);
    expect(value(ss, 'switchyard_cost_usd_total', { model: 'deepseek-v3.2' })).toBeGreaterThan(0);
    expect(value(ss, 'switchyard_endpoint_state', { endpoint: 'deepseek-v3.2@deepseek', state: 'healthy' })).toBe(1);
  });

  it('secrets never show in state, events, metrics or logs', async ({ expect }) => {
    const sim = sims[1]!;
    const ctl = new AbortController();
    let events = '';
    const stream = fetch(`${authed.url}/switchyard/events?all=1`, { signal: ctl.signal }).then(async (r) => {
      for await (const chunk of r.body!) events += Buffer.from(chunk).toString('utf8');
    });
    const client = new OpenAI({ baseURL: `${authed.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
    for (const model of ['gpt-4.1', 'claude-sonnet-4.5', 'gemini-2.5-flash', 'deepseek-v3.2'])
      await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello' }] });
    const s = await client.chat.completions.create({ model: 'route/analysis', stream: true, messages: [{ role: 'user', content: 'stream' }] });
    for await (const _c of s) void _c;
    sim.setFault('claude-sonnet-4-5', { kind: 'http_error', status: 500, times: 4 });
    sim.setFault('gemini-2.5-flash', { kind: 'rate_limit', retryAfterSec: 1, times: 1 });
    await client.chat.completions.create({ model: 'claude-sonnet-4.5', messages: [{ role: 'user', content: 'fails over' }] }).catch(() => undefined);
    await client.chat.completions.create({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'throttled' }] }).catch(() => undefined);
    const bad = new OpenAI({ baseURL: `${authed.url}/v1`, apiKey: 'not-the-key', maxRetries: 0 });
    await expect(bad.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status: 401 });
    const junk = await fetch(`${authed.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${CLIENT_KEY}` }, body: '{"model":' });
    expect(junk.status).toBe(400);
    sim.clearFaults();

    const state = await (await fetch(`${authed.url}/switchyard/state`)).text();
    const metrics = await (await fetch(`${authed.url}/metrics`)).text();
    // The event stream and the log arrive asynchronously: wait for what the checks below need.
    for (const end = Date.now() + 10_000; !events.includes('circuit-open') && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
    await authed.waitForOutput('request served');
    ctl.abort();
    await stream.catch(() => undefined);
    const logs = authed.stdout() + authed.stderr();
    // The checks are not vacuous: keys went upstream, and every output has content.
    expect(sim.log().filter((e) => e.authPresent).length).toBeGreaterThanOrEqual(5);
    expect(events).toContain('"kind":"inspection"');
    expect(events).toContain('circuit-open');
    expect(metrics).toContain('switchyard_requests_total');
    expect(logs).toContain('request served');
    for (const secret of [...Object.values(TEST_KEYS), CLIENT_KEY]) {
      for (const [where, text] of Object.entries({ state, events, metrics, logs })) expect(text.includes(secret), `${secret} in ${where}`).toBe(false);
    }
  });

  it('switchyard status prints the endpoints, budgets and spend of a running sidecar; a dead port exits 1', async ({ expect }) => {
    const paid = await fetch(`${authed.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CLIENT_KEY}` },
      body: JSON.stringify({ model: 'deepseek-v3.2', messages: [{ role: 'user', content: 'for the spend table' }] }),
    });
    expect(paid.status).toBe(200);
    const dead = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const port = (srv.address() as { port: number }).port;
        srv.close(() => resolve(port));
      });
    });
    // The SDK's base URL (…/v1/) works as well as the sidecar's.
    const [table, down] = await Promise.all([run(['status', '--url', `${authed.url}/v1/`]), run(['status', '--url', `http://127.0.0.1:${dead}`])]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^ENDPOINT\s+STATE\s+RPM\s+TPM\s+IN-FLIGHT\s+P50\s+EWMA\s+FAILS\s+RETRY/m);
    for (const id of ['gpt-4.1@openai', 'claude-sonnet-4.5@anthropic', 'gemini-2.5-flash@gemini', 'deepseek-v3.2@deepseek'])
      expect(table.stdout).toMatch(new RegExp(`^${id.replace(/\./g, '\\.')}\\s+(healthy|throttled|circuit-open|half-open)\\s+\\d`, 'm'));
    expect(table.stdout).toMatch(/^MODEL\s+REQUESTS\s+PROMPT\s+COMPLETION\s+SPEND$/m);
    expect(table.stdout).toMatch(/^deepseek-v3\.2\s+[1-9]\d*\s+\d+\s+\d+\s+\$0\.\d+$/m);
    expect(table.stdout).toContain('budgets: none configured');
    expect(table.stdout).not.toContain('\x1b['); // not a TTY: no colour
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the sidecar at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });

  it('switchyard demo prints the inspector URL, shows a non-healthy endpoint while it runs, and exits 0 after --duration', async ({ expect }) => {
    const code = await demo.exit;
    expect(code, demo.stderr).toBe(0);
    expect(demo.stdout).toMatch(/inspector: http:\/\/127\.0\.0\.1:\d+\/switchyard\/inspect/);
    expect(demo.stdout).toMatch(/fault: 500 burst on gpt-4\.1/);
    expect(demo.stdout).toMatch(/\[\s+3s\] sent \d+ · ok \d+/);
    expect(demo.stdout).toMatch(/done after \d+s/);
    // Its working folder (config and log) is gone once it stops.
    const folder = /config and log: (\S+)/.exec(demo.stdout)?.[1];
    expect(folder).toBeDefined();
    expect(existsSync(folder!)).toBe(false);
    expect(demo.stdout).toContain(`removed ${folder}`);
    // Its traffic shares one abort signal among the requests in flight: no listener warning.
    expect(demo.stderr).not.toMatch(/MaxListenersExceededWarning/);
    expect(
      [...demo.states].some((s) => s !== 'healthy'),
      [...demo.states].join(','),
    ).toBe(true);
  }, 30_000);
});
