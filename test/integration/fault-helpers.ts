/**
 * Helpers for the resilience integration tests (faults, flapping, state): asking the sidecar
 * through the official SDK or raw fetch, reading `/switchyard/state`, the simulator's request
 * log and the SQLite ledger, and the "no hammering" checks on the simulator's log.
 */
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import { expect } from 'vitest';
import { answerTokens } from '../../src/simulator/index.js';
import { sleep, type SidecarHandle, type SimLogEntry } from './harness.js';

/** The full deterministic answer the simulator gives to a single user message (any model). */
export function expectedAnswer(prompt: string, outputTokens: number): string {
  return answerTokens(prompt, outputTokens).join('');
}

export interface Reply {
  ok: boolean;
  text: string;
  /** Response `model` (non-streaming) or every chunk's `model` (streaming). */
  models: string[];
  /** Response id, or every chunk's id. */
  ids: string[];
  headers: Headers | null;
  error: unknown;
  /** Streams: the last finish_reason seen. */
  finish: string | null;
  usage: OpenAI.CompletionUsage | null;
}

export interface AskOptions {
  stream: boolean;
  headers?: Record<string, string>;
  includeUsage?: boolean;
}

/** One chat request through the official SDK; never throws (the error is in the reply). */
export async function ask(sc: SidecarHandle, model: string, prompt: string, opts: AskOptions): Promise<Reply> {
  const out: Reply = { ok: false, text: '', models: [], ids: [], headers: null, error: null, finish: null, usage: null };
  const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: prompt }];
  const reqOpts = opts.headers ? { headers: opts.headers } : undefined;
  try {
    if (!opts.stream) {
      const { data, response } = await sc.client.chat.completions.create({ model, messages }, reqOpts).withResponse();
      out.headers = response.headers;
      out.text = data.choices[0]?.message.content ?? '';
      out.models.push(data.model);
      out.ids.push(data.id);
      out.finish = data.choices[0]?.finish_reason ?? null;
      out.usage = data.usage ?? null;
    } else {
      const body: OpenAI.ChatCompletionCreateParamsStreaming = {
        model,
        messages,
        stream: true,
        ...(opts.includeUsage ? { stream_options: { include_usage: true } } : {}),
      };
      const { data, response } = await sc.client.chat.completions.create(body, reqOpts).withResponse();
      out.headers = response.headers;
      for await (const c of data) {
        out.models.push(c.model);
        out.ids.push(c.id);
        out.text += c.choices[0]?.delta.content ?? '';
        if (c.choices[0]?.finish_reason) out.finish = c.choices[0].finish_reason;
        if (c.usage) out.usage = c.usage;
      }
    }
    out.ok = true;
  } catch (err) {
    out.error = err;
  }
  return out;
}

export interface RawStream {
  status: number;
  headers: Headers;
  /** Every SSE `data:` payload in order (`[DONE]` included). */
  events: string[];
  raw: string;
}

/** A streaming request by plain fetch, to see the wire as it is (`[DONE]`, dropped events). */
export async function rawStream(sc: SidecarHandle, body: Record<string, unknown>): Promise<RawStream> {
  const r = await fetch(`${sc.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ stream: true, ...body }),
  });
  const raw = await r.text();
  const events = raw
    .split(/\n\n/)
    .map((block) =>
      block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n'),
    )
    .filter((d) => d.length > 0);
  return { status: r.status, headers: r.headers, events, raw };
}

/** Text of the content deltas of raw stream events. */
export function contentOf(events: string[]): string {
  let text = '';
  for (const e of events) {
    if (e === '[DONE]') continue;
    const j = JSON.parse(e) as { choices?: Array<{ delta?: { content?: string | null } }> };
    text += j.choices?.[0]?.delta?.content ?? '';
  }
  return text;
}

export interface EndpointView {
  id: string;
  model: string;
  provider: string;
  state: string;
  rpm: { used: number; limit: number | null };
  tpm: { used: number; limit: number | null };
  inFlight: number;
  maxConcurrent: number;
  latency: { p50: number | null; ewma: number | null; ttftEwma: number | null; prior: number };
  consecutiveFailures: number;
  retryAt: string | null;
  reason: string | null;
  requests: number;
  successes: number;
  errors: number;
}

export interface BudgetView {
  id: string;
  scope: string;
  period: string;
  limitUsd: number;
  spentUsd: number;
  reservedUsd: number;
  resetsAt: string | null;
}

export interface FullState {
  endpoints: EndpointView[];
  budgets: BudgetView[];
  supervisor: { queueDepth: number; requestsRouted: number; [k: string]: unknown };
}

export async function stateOf(sc: SidecarHandle): Promise<FullState> {
  const r = await fetch(`${sc.url}/switchyard/state`);
  expect(r.status).toBe(200);
  return (await r.json()) as FullState;
}

export async function endpoint(sc: SidecarHandle, id: string): Promise<EndpointView> {
  const ep = (await stateOf(sc)).endpoints.find((e) => e.id === id);
  if (!ep) throw new Error(`no endpoint ${id} in /switchyard/state`);
  return ep;
}

/** Poll until `check` holds (returns its last value), failing after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 6000, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (check(v)) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(v)}`);
    await sleep(everyMs);
  }
}

/** The simulator's log entries for one upstream model, in arrival order. */
export function hits(log: SimLogEntry[], upstreamModel: string): SimLogEntry[] {
  return log.filter((e) => e.model === upstreamModel).sort((a, b) => a.seq - b.seq);
}

/** Gaps between consecutive entries (ms, from the log's `at`). */
export function gaps(entries: SimLogEntry[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < entries.length; i++) out.push(entries[i]!.at - entries[i - 1]!.at);
  return out;
}

export interface Bounds {
  maxAttempts: number;
  maxTotalAttempts: number;
}

/**
 * No hammering for one request: at most `maxAttempts` per upstream model, at most
 * `maxTotalAttempts` in all, and a same-endpoint retry never sooner than `minGapMs` after the
 * previous attempt there.
 */
export function expectNoHammering(log: SimLogEntry[], b: Bounds, minGapMs = 0): void {
  expect(log.length, `total attempts in ${JSON.stringify(log)}`).toBeLessThanOrEqual(b.maxTotalAttempts);
  const models = new Set(log.map((e) => e.model));
  for (const m of models) {
    const mine = hits(log, m);
    expect(mine.length, `attempts on ${m}`).toBeLessThanOrEqual(b.maxAttempts);
    for (const g of gaps(mine)) expect(g, `gap between attempts on ${m}`).toBeGreaterThanOrEqual(minGapMs);
  }
}

/** A ledger row by request id, read from the sidecar's SQLite file (readonly). */
export function ledgerRow(file: string, requestId: string): Record<string, unknown> | undefined {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('select * from ledger where request_id = ?').get(requestId) as Record<string, unknown> | undefined;
  } finally {
    db.close();
  }
}

/** The sidecar's JSON log lines (pino), parsed. */
export function logLines(sc: SidecarHandle): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of (sc.stdout() + '\n' + sc.stderr()).split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not a log line
    }
  }
  return out;
}

/** The APIError an SDK call or stream threw. */
export function apiError(err: unknown): InstanceType<typeof OpenAI.APIError> {
  expect(err).toBeInstanceOf(OpenAI.APIError);
  return err as InstanceType<typeof OpenAI.APIError>;
}
