/**
 * One attempt over the transport (src/upstream/transport.ts: `pool.dispatch` with its own
 * handler) against a real local server: what the client gets whatever the chunking and however
 * slowly it reads (the upstream paused while a drain is awaited, nothing written meanwhile,
 * the same bytes as a client that never blocks), and each way an attempt ends: [DONE] (the
 * connection is kept for the next request), a clean end after the finish, a cut before or after
 * the headers, the idle and first-token limits, an in-stream error, an error status, and the
 * request's cancellation before the headers, mid-body and while a slow client is drained (at once).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAttempt, type AttemptFailure } from '../../src/runtime/attempt.js';
import { Cancel } from '../../src/runtime/cancel.js';
import type { EndpointHandle } from '../../src/runtime/endpoints.js';
import { StreamSession } from '../../src/runtime/stream-session.js';
import type { ChatSink } from '../../src/runtime/api.js';
import { openaiAdapter } from '../../src/upstream/adapters/openai.js';
import { MAX_EVENT_CHARS } from '../../src/upstream/sse.js';
import { UpstreamFault } from '../../src/upstream/types.js';
import { ByteCollector } from '../../src/upstream/byte-collector.js';
import { HeldShare, heldNow } from '../../src/upstream/held-bytes.js';

const CREATED = 1_764_000_000;
const chunk = (delta: Record<string, unknown>, finish: string | null): string =>
  JSON.stringify({
    id: 'chatcmpl-up',
    object: 'chat.completion.chunk',
    created: CREATED,
    model: 'up-model',
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
const usage = JSON.stringify({
  id: 'chatcmpl-up',
  object: 'chat.completion.chunk',
  created: CREATED,
  model: 'up-model',
  choices: [],
  usage: { prompt_tokens: 3, completion_tokens: 20, total_tokens: 23 },
});
const sse = (d: string): string => `data: ${d}\n\n`;
const words = Array.from({ length: 20 }, (_, i) => `${i === 0 ? '' : ' '}w${i}é`);
const head = [sse(chunk({ role: 'assistant', content: '' }, null)), ...words.map((w) => sse(chunk({ content: w }, null)))];
const full = [...head, sse(chunk({}, 'stop')), sse(usage), sse('[DONE]')];
const answer = words.join('');

const sockets = new Set<unknown>();
/** Each path is a scenario; `split` writes the body in pieces of this many bytes, a turn apart. */
const scenarios: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/whole': (_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(full.join(''));
  },
  '/events': (_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    writeSpaced(res, full);
  },
  '/bytes': (_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const b = Buffer.from(full.join(''));
    const parts: Buffer[] = [];
    for (let at = 0; at < b.length; at += 23) parts.push(b.subarray(at, at + 23));
    writeSpaced(res, parts, true);
  },
  '/after-done': (_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(full.join(''));
    setTimeout(() => res.end(sse(chunk({ content: 'never seen' }, null))), 20);
  },
  '/no-done': (_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end([...head, sse(chunk({}, 'stop'))].join(''));
  },
  '/no-finish': (_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(head.join(''));
  },
  '/cut': (_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(head.slice(0, 4).join(''));
    setTimeout(() => res.socket?.destroy(), 10);
  },
  '/reset': (_q, res) => res.socket?.destroy(),
  '/stall': (_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(head.slice(0, 3).join(''));
  },
  '/silent': (_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(': keep-alive\n\n');
  },
  '/no-headers': () => undefined,
  '/in-stream-error': (_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end([...head.slice(0, 3), sse(JSON.stringify({ error: { message: 'overloaded', type: 'server_error' } }))].join(''));
  },
  '/status': (_q, res) => {
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '3' });
    res.end(JSON.stringify({ error: { message: 'slow down', type: 'rate_limit' } }));
  },
  '/json': (_q, res) => {
    const body = JSON.stringify({
      id: 'c',
      object: 'chat.completion',
      created: CREATED,
      model: 'up-model',
      choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 20, total_tokens: 23 },
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    const b = Buffer.from(body);
    writeSpaced(res, [b.subarray(0, 10), b.subarray(10, 50), b.subarray(50)]);
  },
  '/json-cut': (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"id":');
    setTimeout(() => res.socket?.destroy(), 10);
  },
  '/json-stall': (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"id":');
  },
  '/json-big': (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`{"x":"${'y'.repeat(17 * 1024 * 1024)}"}`);
  },
  '/status-cut': (_q, res) => {
    res.writeHead(503, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"error":');
    setTimeout(() => res.socket?.destroy(), 10);
  },
  '/status-big': (_q, res) => {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(`{"error":{"message":"${'y'.repeat(300 * 1024)}"}}`);
  },
  '/slow': (_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    writeSpaced(res, full, false, 10);
  },
  '/endless-line': (_q, res) => {
    // A few words, then one event that never ends: 1 MiB after 1 MiB without a line end.
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(head.slice(0, 3).join('') + 'data: {"choices":[{"index":0,"delta":{"content":"');
    const blob = Buffer.alloc(1 << 20, 97);
    const more = (): void => {
      while (!res.destroyed) if (!res.write(blob)) return void res.once('drain', more);
    };
    more();
  },
  '/two-parts': (_q, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(head.slice(0, 6).join(''));
    setTimeout(() => res.end(full.slice(6).join('')), 30);
  },
};

function writeSpaced(res: ServerResponse, parts: Array<string | Buffer>, quick = false, gapMs = 1): void {
  let i = 0;
  const next = (): void => {
    if (i === parts.length) return void res.end();
    res.write(parts[i++]!);
    if (quick) setImmediate(next);
    else setTimeout(next, gapMs);
  };
  next();
}

let server: Server;
let pool: Pool;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    sockets.add(req.socket);
    req.resume();
    req.on('end', () => scenarios[(req.url ?? '').replace(/\/chat\/completions$/, '')]?.(req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  pool = new Pool(base, { connections: 1, pipelining: 1, headersTimeout: 0, bodyTimeout: 0 });
});
afterAll(async () => {
  await pool.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** A sink that records what the client gets; `slow`: every `slow`th write fills the socket (drain after a few ms). */
function sink(slow = 0): ChatSink & { out: string[]; violations: number; drains: number; release?: () => void; manual: boolean } {
  let waiting = false;
  let n = 0;
  const s = {
    out: [] as string[],
    violations: 0,
    drains: 0,
    manual: false,
    release: undefined as (() => void) | undefined,
    started: false,
    signal: new Cancel(),
    json: () => undefined,
    startStream: () => void s.out.push('<start>'),
    write(d: string): boolean {
      if (waiting) s.violations++;
      s.out.push(d);
      return !(slow > 0 && ++n % slow === 0);
    },
    drain(): Promise<void> {
      s.drains++;
      waiting = true;
      return new Promise<void>((resolve) => {
        const done = (): void => {
          waiting = false;
          resolve();
        };
        if (s.manual) s.release = done;
        else setTimeout(done, 3);
      });
    },
    end: () => void s.out.push('<end>'),
    fail: () => undefined,
  };
  return s;
}

function handle(path: string): EndpointHandle {
  return {
    id: 'p/m',
    model: 'm',
    adapter: openaiAdapter,
    endpoint: { upstreamModel: 'up-model', provider: 'p' },
    apiKey: 'k',
    provider: { headers: {}, baseUrl: base },
    basePath: path,
    modelCfg: { maxOutputTokens: 100, tier: 't' },
    pool,
  } as unknown as EndpointHandle;
}

const resilience = { headersTimeoutMs: 2000, firstTokenTimeoutMs: 2000, idleTimeoutMs: 2000, requestTimeoutMs: 10_000 };

async function attempt(
  path: string,
  opts: { slow?: number; limits?: Partial<typeof resilience>; signal?: Cancel; sink?: ReturnType<typeof sink>; stream?: boolean } = {},
) {
  const s = opts.sink ?? sink(opts.slow);
  const stream = opts.stream !== false;
  const session = stream ? new StreamSession(s, 'chatcmpl-fallback', true, () => ({}), CREATED) : null;
  session?.beginAttempt(false);
  const signal = opts.signal ?? new Cancel();
  const run = runAttempt(
    {
      h: handle(path),
      body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream },
      stream,
      prefill: null,
      outputCap: 1000,
      relay: false,
      resilience: { ...resilience, ...opts.limits } as never,
      signal,
      now: Date.now,
    },
    session,
  );
  const result = await run.then(
    (ok) => {
      if (session && ok.usage) session.finish(handle(path), ok.usage);
      return { ok: true as const, text: ok.text, usage: ok.usage, malformed: ok.malformed };
    },
    (err: AttemptFailure) => ({ ok: false as const, kind: err.fault.kind, message: err.fault.message, delivered: err.deliveredText }),
  );
  return { result, sink: s };
}

describe('an attempt over the transport', () => {
  it('gives the client the same bytes however the body is chunked and however slowly the client reads', async () => {
    const ref = await attempt('/whole');
    expect(ref.result).toMatchObject({ ok: true, text: answer, usage: { promptTokens: 3, completionTokens: 20 } });
    expect(ref.sink.out[0]).toBe('<start>');
    expect(ref.sink.out.at(-1)).toBe('<end>');
    for (const path of ['/whole', '/events', '/bytes', '/two-parts']) {
      for (const slow of [0, 1, 2, 5]) {
        const r = await attempt(path, { slow });
        expect(r.result, `${path} slow ${slow}`).toEqual(ref.result);
        expect(r.sink.out, `${path} slow ${slow}`).toEqual(ref.sink.out);
        // Nothing is written while a drain is awaited (the session writes a commit's held chunks and the end without one).
        expect(r.sink.violations).toBe(0);
        if (slow > 0) expect(r.sink.drains).toBeGreaterThan(0);
      }
    }
  });

  it('ends at [DONE]: what follows is drained and dropped, and the connection serves the next request', async () => {
    const before = sockets.size;
    const r = await attempt('/after-done');
    expect(r.result).toMatchObject({ ok: true, text: answer });
    expect(r.sink.out.join('')).not.toContain('never seen');
    const again = await attempt('/whole');
    expect(again.result).toMatchObject({ ok: true });
    expect(sockets.size).toBe(before === 0 ? 1 : before);
  });

  it('a clean end after the finish is a success; without a finish it is a cut', async () => {
    expect((await attempt('/no-done')).result).toMatchObject({ ok: true, text: answer, usage: null });
    expect((await attempt('/no-finish')).result).toEqual({
      ok: false,
      kind: 'stream_cut',
      message: 'the upstream stream ended before the answer finished',
      delivered: answer,
    });
  });

  it('a connection cut mid-stream is a stream cut (with what was delivered); before the headers a reset', async () => {
    expect((await attempt('/cut')).result).toEqual({
      ok: false,
      kind: 'stream_cut',
      message: 'the upstream stream was cut',
      delivered: words.slice(0, 3).join(''),
    });
    expect((await attempt('/reset')).result).toMatchObject({ ok: false, kind: 'reset', delivered: '' });
    expect((await attempt('/reset', { stream: false })).result).toMatchObject({ ok: false, kind: 'reset' });
  });

  it('the time limits: headers, first token, idle', async () => {
    expect((await attempt('/no-headers', { limits: { headersTimeoutMs: 50 } })).result).toEqual({
      ok: false,
      kind: 'headers_timeout',
      message: 'no response headers within 50 ms',
      delivered: '',
    });
    expect((await attempt('/silent', { limits: { firstTokenTimeoutMs: 60 } })).result).toEqual({
      ok: false,
      kind: 'first_token_timeout',
      message: 'no content within 60 ms',
      delivered: '',
    });
    expect((await attempt('/stall', { limits: { idleTimeoutMs: 60 } })).result).toEqual({
      ok: false,
      kind: 'idle_timeout',
      message: 'stream silent for 60 ms',
      delivered: words.slice(0, 2).join(''),
    });
    // A stream that never stays silent for the limit runs on, however long it lasts.
    expect((await attempt('/slow', { limits: { idleTimeoutMs: 100 } })).result).toMatchObject({ ok: true, text: answer });
  });

  it('an upstream event without end is refused at the event size limit (memory stays bounded), with what was delivered', async () => {
    expect((await attempt('/endless-line')).result).toEqual({
      ok: false,
      kind: 'bad_response',
      message: `upstream event larger than ${MAX_EVENT_CHARS} characters`,
      delivered: words.slice(0, 2).join(''),
    });
  });

  it('an error in the stream and an error status', async () => {
    expect((await attempt('/in-stream-error')).result).toMatchObject({ ok: false, kind: 'stream_error', message: 'upstream error in stream: overloaded' });
    expect((await attempt('/status')).result).toMatchObject({ ok: false, kind: 'http_status', message: 'upstream answered 429: slow down' });
  });

  it('a whole (JSON) answer: read across chunks; cut, silent or too large half way; an error status whatever its body', async () => {
    expect((await attempt('/json', { stream: false })).result).toMatchObject({ ok: true, text: answer, usage: { promptTokens: 3, completionTokens: 20 } });
    expect((await attempt('/json-cut', { stream: false })).result).toEqual({
      ok: false,
      kind: 'stream_cut',
      message: 'the upstream body was cut short',
      delivered: '',
    });
    expect((await attempt('/json-stall', { stream: false, limits: { idleTimeoutMs: 50 } })).result).toEqual({
      ok: false,
      kind: 'idle_timeout',
      message: 'upstream body silent for 50 ms',
      delivered: '',
    });
    expect((await attempt('/json-big', { stream: false })).result).toMatchObject({
      ok: false,
      kind: 'bad_response',
      message: 'upstream body larger than 16777216 bytes',
    });
    expect((await attempt('/status', { stream: false })).result).toMatchObject({ ok: false, kind: 'http_status', message: 'upstream answered 429: slow down' });
    // The error body failed or is over its limit: the status alone.
    expect((await attempt('/status-cut', { stream: false })).result).toMatchObject({
      ok: false,
      kind: 'http_status',
      message: 'upstream answered 503: upstream status 503',
    });
    expect((await attempt('/status-big', { stream: false })).result).toMatchObject({
      ok: false,
      kind: 'http_status',
      message: 'upstream answered 500: upstream status 500',
    });
    expect((await attempt('/status-big')).result).toMatchObject({ ok: false, kind: 'http_status', message: 'upstream answered 500: upstream status 500' });
    // The connection still serves requests.
    expect((await attempt('/json', { stream: false })).result).toMatchObject({ ok: true });
  });

  it("the request's cancellation: before the headers, mid-body, and while a slow client is drained", async () => {
    const deadline = new UpstreamFault('deadline', 'the request deadline passed');
    const before = new Cancel();
    setTimeout(() => before.abort(deadline), 30);
    expect((await attempt('/no-headers', { signal: before })).result).toMatchObject({ ok: false, kind: 'deadline' });
    const mid = new Cancel();
    setTimeout(() => mid.abort(new UpstreamFault('client_gone', 'the client went away')), 30);
    expect((await attempt('/stall', { signal: mid })).result).toMatchObject({ ok: false, kind: 'client_gone', delivered: words.slice(0, 2).join('') });
    // The first part's events wait for a drain (after w2); the cancellation ends the attempt at once, without
    // that drain (a client that reads nothing and stays connected never gives it), and nothing more is written.
    const draining = new Cancel();
    const slow = sink(4);
    slow.manual = true;
    const p = attempt('/two-parts', { signal: draining, sink: slow });
    await new Promise((r) => setTimeout(r, 80));
    draining.abort(deadline);
    const r = await p;
    expect(r.result).toEqual({ ok: false, kind: 'deadline', message: 'the request deadline passed', delivered: words.slice(0, 3).join('') });
    slow.release?.();
    for (const end = Date.now() + 5000; !slow.out.join('').includes('w2') && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    expect(slow.out.join('')).toContain('w2');
    await new Promise((r) => setTimeout(r, 50)); // room for a w3 that must not come
    expect(slow.out.join('')).not.toContain('w3');
  });

  // Last: every attempt above (whole, cut, oversize, timed out, cancelled) is settled by now.
  it('every attempt gives back what it counted against the process-wide bound of answers being read', () => {
    expect(heldNow()).toBe(0);
  });
});

describe('the process-wide bound of answers being read', () => {
  it('refuses a body that would pass it (saying so), and takes bodies again once others are released', () => {
    const base = heldNow();
    const limit = base + 100;
    const a = new ByteCollector(1000, NaN, new HeldShare(limit));
    const b = new ByteCollector(1000, NaN, new HeldShare(limit));
    expect(a.add(Buffer.alloc(60))).toBe(true);
    expect(b.add(Buffer.alloc(30))).toBe(true);
    expect(b.add(Buffer.alloc(20))).toBe(false);
    expect(b.overShared).toBe(true);
    // Refused, it holds nothing more (its share given back).
    expect(heldNow()).toBe(base + 60);
    a.release();
    const c = new ByteCollector(1000, NaN, new HeldShare(limit));
    expect(c.add(Buffer.alloc(100))).toBe(true);
    c.release();
    // Its own limit is said as its own, not the process's.
    const d = new ByteCollector(10, NaN, new HeldShare(limit));
    expect(d.add(Buffer.alloc(11))).toBe(false);
    expect(d.overShared).toBe(false);
    expect(heldNow()).toBe(base);
  });
});
