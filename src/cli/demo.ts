/**
 * `switchyard demo [--port N] [--duration S]`: the simulator and the sidecar in this process,
 * wired together with a demo config (the four seed models; circuits open after 2 failures and
 * recover after 8 s; Claude limited to 6 rpm so it shows throttled), a steady mix of traffic
 * (auto with various tasks, routes, concrete models, streaming and not) and a fault schedule
 * that repeats every 30 s, so every endpoint state appears in the inspector.
 * Stops cleanly on SIGINT/SIGTERM or after `--duration` seconds (exit 0).
 */
import { setMaxListeners } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { stringify } from 'yaml';
import { DEFAULT_CONFIG } from '../config/defaults.js';
import { StartupError, type Sidecar, type StartSidecar } from '../runtime/sidecar.js';
import { startSimulator, type Fault, type Simulator } from '../simulator/index.js';
import { emptyOption, joinNegativeValues, portNumber } from './args.js';
import { scrubKnown } from '../observe/scrub.js';

const MAX_DEMO_SECONDS = 604_800;

const USAGE = `usage: switchyard demo [--port N] [--duration S]
  --port N       the sidecar's port (default 4141; 0 picks a free one)
  --duration S   run S seconds, then stop (default: until Ctrl-C)
`;

const SEND_EVERY_MS = 300;
const MAX_IN_FLIGHT = 16;
const PROGRESS_EVERY_MS = 3000;
const CYCLE_MS = 30_000;
const SIM_PATHS: Record<string, string> = { openai: '/openai/v1', anthropic: '/anthropic', gemini: '/gemini/v1', deepseek: '/deepseek/v1' };

/** The demo's own catalogue: the seed models on the simulator, with quick-to-show limits. */
export function demoConfig(simUrl: string): Record<string, unknown> {
  const providers = Object.fromEntries(
    Object.entries(DEFAULT_CONFIG.providers).map(([name, p]) => [name, { kind: p.kind, baseUrl: `${simUrl}${SIM_PATHS[name] ?? `/${name}/v1`}` }]),
  );
  const rpm: Record<string, number> = { 'claude-sonnet-4.5': 6, 'deepseek-v3.2': 600 };
  const models = Object.fromEntries(
    Object.entries(structuredClone(DEFAULT_CONFIG.models)).map(([id, m]) => [
      id,
      { ...m, endpoints: m.endpoints.map((e) => ({ ...e, ...(rpm[id] ? { rpm: rpm[id] } : {}) })) },
    ]),
  );
  return {
    server: { shutdownGraceMs: 2000 },
    providers,
    models,
    routing: DEFAULT_CONFIG.routing,
    resilience: {
      failureThreshold: 2,
      recoveryMs: 8000,
      headersTimeoutMs: 3000,
      firstTokenTimeoutMs: 2000,
      idleTimeoutMs: 1500,
      requestTimeoutMs: 15_000,
      maxRetryAfterMs: 10_000,
      retry: { maxAttempts: 2, baseDelayMs: 50, maxDelayMs: 300 },
    },
    budget: {
      limits: [
        { scope: 'global', period: 'day', usd: 2 },
        { scope: 'model', model: 'claude-sonnet-4.5', period: 'day', usd: 0.5 },
      ],
    },
    storage: { ledger: 'memory' },
    logging: { level: 'info' },
  };
}

/** Simulated latencies per upstream model, so the cards show different p50s. */
const SIM_PROFILE = {
  defaults: { ttftMs: 60, tokenGapMs: 6, outputTokens: 40 },
  models: { 'gpt-4.1': { ttftMs: 250 }, 'claude-sonnet-4-5': { ttftMs: 400 }, 'gemini-2.5-flash': { ttftMs: 120 }, 'deepseek-chat': { ttftMs: 50 } },
};

interface Shot {
  model: string;
  task?: string;
  /** `x-switchyard-tier` (auto at that tier). */
  tier?: string;
  /** Ask for the quality cascade (`x-switchyard-cascade: on`) and a JSON answer. */
  cascadeJson?: boolean;
}

const MIX: Shot[] = [
  { model: 'auto', task: 'greeting' },
  { model: 'auto', task: 'simple_qa' },
  { model: 'auto', task: 'code' },
  { model: 'auto', task: 'analysis' },
  { model: 'auto', task: 'creative' },
  { model: 'auto', task: 'translation' },
  { model: 'auto' },
  { model: 'route/chatbot' },
  { model: 'route/code' },
  { model: 'route/analysis' },
  { model: 'gpt-4.1' },
  { model: 'claude-sonnet-4.5' },
  { model: 'gemini-2.5-flash' },
  { model: 'deepseek-v3.2' },
];
const PROMPTS = [
  'Hello there!',
  'What is the capital of France?',
  'Write a function that reverses a linked list.',
  'Compare the trade-offs of three caching strategies in detail.',
  'Translate "good morning" to German.',
  'Write a short poem about trains.',
];

/** Injected at these offsets of every 30 s cycle, each with requests that make it bite. */
const FAULTS: Array<{ at: number; label: string; model: string; fault: Fault; kick: Array<Shot & { stream: boolean }> }> = [
  {
    at: 1000,
    label: '500 burst on gpt-4.1 (opens its circuit, half-open after 8 s)',
    model: 'gpt-4.1',
    fault: { kind: 'http_error', status: 500, durationMs: 2500 },
    kick: [
      { model: 'gpt-4.1', stream: false },
      { model: 'gpt-4.1', stream: false },
      { model: 'gpt-4.1', stream: true },
    ],
  },
  {
    at: 10_000,
    label: '429 with retry-after 6 s on gemini-2.5-flash (throttled)',
    model: 'gemini-2.5-flash',
    fault: { kind: 'rate_limit', retryAfterSec: 6, times: 1 },
    kick: [{ model: 'gemini-2.5-flash', stream: false }],
  },
  {
    at: 18_000,
    label: 'stalled streams on deepseek-chat (idle timeouts open its circuit)',
    model: 'deepseek-chat',
    fault: { kind: 'stall', afterTokens: 3, times: 3 },
    kick: [
      { model: 'deepseek-v3.2', stream: true },
      { model: 'deepseek-v3.2', stream: true },
      { model: 'deepseek-v3.2', stream: true },
    ],
  },
  {
    at: 25_000,
    label: 'broken JSON from gemini-2.5-flash (auto at balanced: the quality cascade escalates to the next tier; see the timeline and x-switchyard-cascade)',
    model: 'gemini-2.5-flash',
    fault: { kind: 'invalid_json', times: 2 },
    kick: [
      { model: 'auto', tier: 'balanced', cascadeJson: true, stream: false },
      { model: 'auto', tier: 'balanced', cascadeJson: true, stream: true },
    ],
  },
];

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

class Traffic {
  sent = 0;
  ok = 0;
  /** Requests the demo's own stop cut (aborted after the grace): neither served nor failed. */
  cut = 0;
  readonly failed = new Map<string, number>();
  private readonly pending = new Set<Promise<void>>();
  private readonly abort = new AbortController();

  constructor(private readonly base: string) {
    // One signal for every request in flight (up to MAX_IN_FLIGHT): each adds a listener, which is no leak.
    setMaxListeners(0, this.abort.signal);
  }

  get inFlight(): number {
    return this.pending.size;
  }

  send(shot: Shot, stream: boolean): void {
    if (this.abort.signal.aborted) return;
    this.sent++;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-switchyard-timeout-ms': '8000' };
    if (shot.task) headers['x-switchyard-task'] = shot.task;
    if (shot.tier) headers['x-switchyard-tier'] = shot.tier;
    if (shot.cascadeJson) headers['x-switchyard-cascade'] = 'on';
    const body = JSON.stringify({
      model: shot.model,
      stream,
      max_tokens: 200,
      messages: [{ role: 'user', content: pick(PROMPTS) }],
      ...(shot.cascadeJson ? { response_format: { type: 'json_object' } } : {}),
    });
    // undici's request, not fetch: fetch refuses the WHATWG "bad ports" (`demo --port 6000`) without trying.
    const p = request(`${this.base}/v1/chat/completions`, { method: 'POST', headers, body, signal: this.abort.signal })
      .then(async (res) => {
        if (!stream || res.statusCode !== 200) {
          await res.body.dump();
          return String(res.statusCode);
        }
        // A stream that fails after it began is a 200 with an error event and no [DONE]: a failure.
        const text = await res.body.text();
        return text.trimEnd().endsWith('data: [DONE]') ? '200' : 'stream error';
      })
      .catch(() => 'network')
      .then((status) => {
        if (status === '200') this.ok++;
        else if (this.abort.signal.aborted) this.cut++;
        else this.failed.set(status, (this.failed.get(status) ?? 0) + 1);
      })
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  sendRandom(): void {
    if (this.pending.size < MAX_IN_FLIGHT) this.send(pick(MIX), Math.random() < 0.4);
  }

  /** Let in-flight requests finish for up to `graceMs`, then abort the rest. */
  async stop(graceMs: number): Promise<void> {
    const grace = delay(graceMs, undefined, { ref: false });
    await Promise.race([Promise.allSettled([...this.pending]), grace]);
    this.abort.abort();
    await Promise.allSettled([...this.pending]);
  }

  summary(): string {
    const failed = [...this.failed.values()].reduce((a, b) => a + b, 0);
    const detail = [...this.failed.entries()].map(([s, c]) => `${s}×${c}`).join(' ');
    const cut = this.cut > 0 ? ` · cut at stop ${this.cut}` : '';
    return `sent ${this.sent} · ok ${this.ok} · failed ${failed}${detail ? ` (${detail})` : ''}${cut} · in flight ${this.inFlight}`;
  }
}

function progressLine(elapsedMs: number, traffic: Traffic, sidecar: Sidecar): string {
  const state = sidecar.runtime.state();
  const unwell = state.endpoints.filter((e) => e.state !== 'healthy').map((e) => `${e.model} ${e.state}`);
  const spent = state.budgets.find((b) => b.scope === 'global')?.spentUsd ?? 0;
  return `[${String(Math.round(elapsedMs / 1000)).padStart(4)}s] ${traffic.summary()} · spent $${spent.toFixed(4)} · ${unwell.length ? unwell.join(', ') : 'all endpoints healthy'}`;
}

/** `serve` is the composition root's sidecar starter, handed in by the CLI entry. */
export async function demoCommand(argv: string[], serve: StartSidecar): Promise<number> {
  let values: { port?: string; duration?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: joinNegativeValues(argv),
      options: { port: { type: 'string' }, duration: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    process.stderr.write(`switchyard demo: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const empty = emptyOption(values, ['port', 'duration']);
  if (empty) {
    process.stderr.write(`switchyard demo: ${empty}\n`);
    return 2;
  }
  const port = values.port === undefined ? 4141 : portNumber(values.port);
  const duration = values.duration === undefined ? null : Number(values.duration);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`switchyard demo: --port must be a whole number from 0 to 65535, got "${values.port}"\n`);
    return 2;
  }
  // At most a week: a timer holds 2^31 - 1 ms, and a longer one fired at once (the demo ran 0 s).
  if (duration !== null && !(duration > 0 && duration <= MAX_DEMO_SECONDS)) {
    process.stderr.write(
      `switchyard demo: --duration must be a positive number of seconds, at most ${MAX_DEMO_SECONDS} (a week; leave it out to run until Ctrl-C), got "${values.duration}"\n`,
    );
    return 2;
  }

  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-demo-'));
  } catch (err) {
    // TMPDIR unset to something usable: said, not a stack trace.
    process.stderr.write(
      `switchyard demo: cannot make its working folder in ${tmpdir()} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): set TMPDIR to a writable folder\n`,
    );
    return 1;
  }
  const logFile = join(dir, 'switchyard.log');
  const logStream = createWriteStream(logFile);
  const sim: Simulator = await startSimulator({ host: '127.0.0.1', port: 0, profile: SIM_PROFILE });
  const configFile = join(dir, 'switchyard.yaml');
  writeFileSync(configFile, stringify(demoConfig(sim.url)));
  let sidecar: Sidecar;
  try {
    sidecar = await serve({ config: configFile, host: '127.0.0.1', port, logDestination: logStream, signals: false, env: {} });
  } catch (err) {
    await sim.close();
    await new Promise<void>((r) => logStream.end(r));
    // Nothing ran: the folder of its config and log goes too.
    rmSync(dir, { recursive: true, force: true });
    if (!(err instanceof StartupError)) throw err;
    process.stderr.write(`switchyard demo: cannot start: ${scrubKnown(err.message)}\n`);
    // The sidecar's half-started handles (ledger, actors' timers) would keep the process alive.
    process.exit(1);
  }

  const base = sidecar.url;
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out('switchyard demo — simulator and sidecar in this process, mixed traffic, faults every few seconds');
  out(`  sidecar:   ${base}/v1`);
  out(`  simulator: ${sim.url}`);
  out(`  inspector: ${base}/switchyard/inspect`);
  out(`  status:    switchyard status --url ${base}`);
  out(`  config and log: ${dir} (removed when the demo stops)`);
  out(duration === null ? 'running until Ctrl-C' : `running for ${duration}s (Ctrl-C stops earlier)`);

  const traffic = new Traffic(base);
  const started = Date.now();
  const fired = new Map<string, number>();
  const sendTimer = setInterval(() => traffic.sendRandom(), SEND_EVERY_MS);
  const faultTimer = setInterval(() => {
    const elapsed = Date.now() - started;
    const cycle = Math.floor(elapsed / CYCLE_MS);
    for (const f of FAULTS) {
      if (elapsed % CYCLE_MS < f.at || (fired.get(f.label) ?? -1) >= cycle) continue;
      fired.set(f.label, cycle);
      sim.setFault(f.model, f.fault);
      out(`  fault: ${f.label}`);
      for (const k of f.kick) traffic.send(k, k.stream);
    }
  }, 100);
  const progressTimer = setInterval(() => out(progressLine(Date.now() - started, traffic, sidecar)), PROGRESS_EVERY_MS);

  await new Promise<void>((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      clearTimeout(timer);
      resolve();
    };
    const timer = duration === null ? undefined : setTimeout(done, duration * 1000);
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });

  clearInterval(sendTimer);
  clearInterval(faultTimer);
  clearInterval(progressTimer);
  out('stopping: letting in-flight requests finish…');
  await traffic.stop(2000);
  out(`done after ${Math.round((Date.now() - started) / 1000)}s: ${traffic.summary()}`);
  await sidecar.shutdown();
  await sim.close();
  await new Promise<void>((r) => logStream.end(r));
  // The folder held this run's config and log only: nothing is left behind in TMPDIR.
  rmSync(dir, { recursive: true, force: true });
  out(`removed ${dir}`);
  return 0;
}
