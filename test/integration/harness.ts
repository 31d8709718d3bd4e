/**
 * Integration harness: starts the real simulator and the real sidecar as processes (the
 * built `switchyard` bin, dist/, on plain node; test/global-setup.ts rebuilds it when stale), on loopback with free ports, and gives tests the official
 * OpenAI SDK pointed at the sidecar plus the simulator's control endpoints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import OpenAI from 'openai';
import { afterAll, beforeAll } from 'vitest';
import { stringify } from 'yaml';

import { BIN, ROOT } from '../product.js';

export { BIN, ROOT };

export interface Proc {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  /**
   * Waits until stdout or stderr holds `pattern` (polled; at most `timeoutMs`) and returns both.
   * Log lines leave the process through an asynchronous write (pino), so a line can arrive after
   * the answer a test just read: assert on a log line through this, never right after a response.
   */
  waitForOutput(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Signals the process; resolves with its exit code once it exited and its output was all read. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Start `switchyard <args>` and wait until a line matches `ready` (its first group is the URL). */
export function startProc(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}, cwd = ROOT): Promise<Proc> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let done = false;
    // 'close' comes once the process exited and its stdout and stderr are drained: after 'exit' the
    // last lines it wrote may still be on their way. (A stream held open by another process would
    // keep 'close' away: then 'exit' with a grace of 2 s.)
    const exited = new Promise<number | null>((r) => {
      child.once('close', (code) => r(code));
      child.once('exit', (code) => void delay(2000).then(() => r(code)));
    });
    const check = () => {
      if (done) return;
      const m = ready.exec(out) ?? ready.exec(err);
      if (m) {
        done = true;
        clearTimeout(timer);
        resolvePromise({
          child,
          url: m[1]!,
          stdout: () => out,
          stderr: () => err,
          waitForOutput: async (pattern, timeoutMs = 10_000) => {
            const has = () => (typeof pattern === 'string' ? out.includes(pattern) || err.includes(pattern) : pattern.test(out) || pattern.test(err));
            const end = Date.now() + timeoutMs;
            while (!has()) {
              if (Date.now() > end)
                throw new Error(`no output matching ${String(pattern)} within ${timeoutMs} ms\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-2000)}`);
              await delay(20);
            }
            return out + err;
          },
          stop: async (signal = 'SIGTERM') => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    };
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      check();
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      check();
    });
    child.once('exit', (code) => {
      if (!done) reject(new Error(`switchyard ${args.join(' ')} exited with ${code} before it was ready\nstdout: ${out}\nstderr: ${err}`));
    });
    const timer = setTimeout(() => {
      if (!done) {
        child.kill('SIGKILL');
        reject(new Error(`switchyard ${args.join(' ')} not ready within 20 s\nstdout: ${out}\nstderr: ${err}`));
      }
    }, 20_000);
  });
}

export interface SimHandle extends Proc {
  setFault(model: string, fault: Record<string, unknown>): Promise<void>;
  clearFaults(): Promise<void>;
  log(): Promise<SimLogEntry[]>;
  clearLog(): Promise<void>;
}

export interface SimLogEntry {
  seq: number;
  at: number;
  provider: string;
  wire: 'openai' | 'anthropic';
  model: string;
  stream: boolean;
  fault: string | null;
  status: number | null;
  prefill: boolean;
  authPresent: boolean;
}

export async function startSimulatorProc(profile?: Record<string, unknown>): Promise<SimHandle> {
  const args = ['simulate', '--port', '0'];
  if (profile) {
    const file = join(mkdtempSync(join(tmpdir(), 'sy-sim-')), 'profile.yaml');
    writeFileSync(file, stringify(profile));
    args.push('--profile', file);
  }
  const p = await startProc(args, /listening on (http:\/\/\S+)/);
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${p.url}${path}`, { method, ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
    if (!r.ok) throw new Error(`simulator ${method} ${path}: ${r.status} ${await r.text()}`);
    return r;
  };
  return {
    ...p,
    setFault: async (model, fault) => void (await call('POST', '/_sim/faults', { model, fault })),
    clearFaults: async () => void (await call('DELETE', '/_sim/faults')),
    log: async () => (await (await call('GET', '/_sim/log')).json()) as SimLogEntry[],
    clearLog: async () => void (await call('DELETE', '/_sim/log')),
  };
}

/** OpenAI's text-embedding-3-small as a catalogue model on the `openai` provider of {@link testConfig}. */
export const EMBEDDINGS_MODEL = {
  tier: 'fast_cheap',
  price: { inputPerMTok: 0.02, outputPerMTok: 0 },
  contextWindow: 8192,
  capabilities: ['embeddings'],
  endpoints: [{ provider: 'openai', upstreamModel: 'text-embedding-3-small' }],
};

/** A test config: the seed's shape with every provider on the simulator. Override per test. */
export function testConfig(simUrl: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-it-'));
  const base: Record<string, unknown> = {
    providers: {
      openai: { kind: 'openai', baseUrl: `${simUrl}/openai/v1`, apiKeyEnv: 'SY_TEST_OPENAI_KEY' },
      anthropic: { kind: 'anthropic', baseUrl: `${simUrl}/anthropic`, apiKeyEnv: 'SY_TEST_ANTHROPIC_KEY' },
      gemini: { kind: 'openai', baseUrl: `${simUrl}/gemini/v1`, apiKeyEnv: 'SY_TEST_GEMINI_KEY' },
      deepseek: { kind: 'openai', baseUrl: `${simUrl}/deepseek/v1`, apiKeyEnv: 'SY_TEST_DEEPSEEK_KEY' },
    },
    models: {
      'gpt-4.1': {
        tier: 'balanced',
        price: { inputPerMTok: 2, outputPerMTok: 8 },
        contextWindow: 1_047_576,
        capabilities: ['chat', 'code', 'tools', 'json', 'vision'],
        latencyPriorMs: 600,
        maxOutputTokens: 32768,
        fallbacks: ['claude-sonnet-4.5'],
        endpoints: [{ provider: 'openai', upstreamModel: 'gpt-4.1' }],
      },
      'claude-sonnet-4.5': {
        tier: 'high_quality',
        price: { inputPerMTok: 3, outputPerMTok: 15 },
        contextWindow: 200_000,
        capabilities: ['chat', 'code', 'tools', 'json', 'vision', 'prefill'],
        latencyPriorMs: 900,
        maxOutputTokens: 64000,
        fallbacks: ['gpt-4.1'],
        endpoints: [{ provider: 'anthropic', upstreamModel: 'claude-sonnet-4-5' }],
      },
      'gemini-2.5-flash': {
        tier: 'fast_cheap',
        price: { inputPerMTok: 0.3, outputPerMTok: 2.5 },
        contextWindow: 1_048_576,
        capabilities: ['chat', 'code', 'tools', 'json', 'vision'],
        latencyPriorMs: 400,
        maxOutputTokens: 65536,
        fallbacks: ['deepseek-v3.2'],
        endpoints: [{ provider: 'gemini', upstreamModel: 'gemini-2.5-flash' }],
      },
      'deepseek-v3.2': {
        tier: 'fast_cheap',
        price: { inputPerMTok: 0.28, outputPerMTok: 0.42 },
        contextWindow: 128_000,
        capabilities: ['chat', 'code', 'tools', 'json'],
        latencyPriorMs: 35,
        maxOutputTokens: 8192,
        fallbacks: ['gemini-2.5-flash'],
        endpoints: [{ provider: 'deepseek', upstreamModel: 'deepseek-chat' }],
      },
    },
    routing: {
      strategy: 'cost',
      routes: { chatbot: ['deepseek-v3.2', 'gemini-2.5-flash'], code: ['deepseek-v3.2', 'gpt-4.1'], analysis: ['gpt-4.1', 'claude-sonnet-4.5'] },
    },
    resilience: {
      requestTimeoutMs: 15000,
      headersTimeoutMs: 3000,
      firstTokenTimeoutMs: 2000,
      idleTimeoutMs: 1000,
      retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 400 },
    },
    storage: { ledger: `sqlite:${join(dir, 'ledger.db')}` },
    logging: { level: 'info' },
  };
  return { ...base, ...over };
}

export const TEST_KEYS = {
  SY_TEST_OPENAI_KEY: 'sk-test-openai-SECRET',
  SY_TEST_ANTHROPIC_KEY: 'sk-ant-test-SECRET',
  SY_TEST_GEMINI_KEY: 'gm-test-SECRET',
  SY_TEST_DEEPSEEK_KEY: 'ds-test-SECRET',
};

export interface SidecarHandle extends Proc {
  configFile: string;
  client: OpenAI;
  state(): Promise<StateJson>;
}

export interface StateJson {
  endpoints: Array<{ id: string; model: string; state: string; consecutiveFailures: number; retryAt: string | null; inFlight: number; requests: number }>;
  budgets: Array<{ id: string; limitUsd: number; spentUsd: number; reservedUsd: number; period: string; resetsAt: string | null }>;
  supervisor: { queueDepth: number; requestsRouted: number };
}

export async function startSidecar(config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, file?: string): Promise<SidecarHandle> {
  const configFile = file ?? join(mkdtempSync(join(tmpdir(), 'sy-cfg-')), 'switchyard.yaml');
  writeFileSync(configFile, stringify(config));
  const p = await startProc(['serve', '--config', configFile, '--port', '0'], /switchyard (http:\/\/127\.0\.0\.1:\d+)\/v1/, { ...TEST_KEYS, ...env });
  return {
    ...p,
    configFile,
    client: new OpenAI({ baseURL: `${p.url}/v1`, apiKey: 'client-key-unused', maxRetries: 0, timeout: 30_000 }),
    state: async () => (await (await fetch(`${p.url}/switchyard/state`)).json()) as StateJson,
  };
}

export const sleep = (ms: number): Promise<void> => delay(ms);

/**
 * A simulator process and a sidecar on {@link testConfig} for the tests of one file: started
 * before them, stopped after. Read `.sc` / `.sim` inside the tests (they are set by then).
 */
export function sidecarOnSimulator(profile: Record<string, unknown> = { defaults: { ttftMs: 1, tokenGapMs: 0, outputTokens: 5 } }): {
  readonly sc: SidecarHandle;
  readonly sim: SimHandle;
} {
  const h = {} as { sc: SidecarHandle; sim: SimHandle };
  beforeAll(async () => {
    h.sim = await startSimulatorProc(profile);
    h.sc = await startSidecar(testConfig(h.sim.url));
  });
  afterAll(async () => {
    await h.sc?.stop();
    await h.sim?.stop();
  });
  return h;
}
