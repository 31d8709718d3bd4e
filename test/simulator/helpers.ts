import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { SseParser } from '../../src/upstream/sse.js';
import type { SseEvent } from '../../src/upstream/sse.js';
import { startSimulator } from '../../src/simulator/index.js';
import type { Simulator, SimulatorProfile } from '../../src/simulator/index.js';

/** A fast profile: no latency, short answers. */
export const FAST: SimulatorProfile = { defaults: { ttftMs: 0, tokenGapMs: 0, outputTokens: 8 } };

export function startFast(profile: SimulatorProfile = {}): Promise<Simulator> {
  return startSimulator({
    port: 0,
    profile: { ...profile, defaults: { ...FAST.defaults, ...profile.defaults } },
  });
}

export const ANTHROPIC_HEADERS = { 'anthropic-version': '2023-06-01', 'x-api-key': 'test-key' };

export interface RawResult {
  status: number;
  headers: Dispatcher.ResponseData['headers'];
  text: string;
  /** end: body completed; error: connection broke mid-body; idle: nothing arrived for idleMs. */
  outcome: 'end' | 'error' | 'idle';
  /** ms from sending the request until the response headers arrived. */
  headersMs: number;
  /** SSE events (parsed as they arrived with the project's parser) and ms since the request was sent. */
  timed: { t: number; event: SseEvent }[];
}

/** POST a JSON body and read the whole response without any SDK in between. */
export async function post(url: string, body: unknown, opts: { headers?: Record<string, string>; idleMs?: number } = {}): Promise<RawResult> {
  const started = performance.now();
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...opts.headers },
    body: JSON.stringify(body),
  });
  const headersMs = performance.now() - started;
  const idleMs = opts.idleMs ?? 2000;
  const parser = new SseParser();
  const timed: RawResult['timed'] = [];
  return new Promise((resolve) => {
    let text = '';
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = (outcome: RawResult['outcome']): void => {
      clearTimeout(timer);
      resolve({ status: res.statusCode, headers: res.headers, text, outcome, headersMs, timed });
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        res.body.destroy();
        done('idle');
      }, idleMs);
    };
    res.body.setEncoding('utf8');
    res.body.on('data', (chunk: string) => {
      const t = performance.now() - started;
      for (const event of parser.push(chunk)) timed.push({ t, event });
      text += chunk;
      arm();
    });
    res.body.on('end', () => done('end'));
    res.body.on('error', () => done('error'));
    arm();
  });
}

/** Parse an SSE body with the project's one parser. */
export function parseSse(text: string): SseEvent[] {
  const parser = new SseParser();
  return [...parser.push(text), ...parser.end()];
}

/** JSON payloads of the events, skipping `[DONE]` and unparsable data. */
export function jsonEvents(events: SseEvent[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const e of events) {
    try {
      out.push(JSON.parse(e.data) as Record<string, unknown>);
    } catch {
      // [DONE] and malformed events are asserted on separately.
    }
  }
  return out;
}

interface OpenAiChunk {
  choices: { delta: { content?: string | null; role?: string }; finish_reason: string | null }[];
  usage?: { completion_tokens: number };
}

/** The text content an OpenAI stream delivered. */
export function openAiStreamText(events: SseEvent[]): string {
  return jsonEvents(events)
    .map((e) => (e as unknown as OpenAiChunk).choices?.[0]?.delta.content ?? '')
    .join('');
}

/** The text an Anthropic stream delivered. */
export function anthropicStreamText(events: SseEvent[]): string {
  return events
    .filter((e) => e.event === 'content_block_delta')
    .map((e) => (JSON.parse(e.data) as { delta: { text?: string } }).delta.text ?? '')
    .join('');
}

export function chatBody(extra: Record<string, unknown> = {}, text = 'hello there'): Record<string, unknown> {
  return { model: 'gpt-test', messages: [{ role: 'user', content: text }], ...extra };
}

export function messagesBody(extra: Record<string, unknown> = {}, text = 'hello there'): Record<string, unknown> {
  return { model: 'claude-test', max_tokens: 100, messages: [{ role: 'user', content: text }], ...extra };
}
