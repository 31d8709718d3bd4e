/**
 * In-process CPU of one upstream attempt (src/runtime/attempt.ts over the transport), JSON and
 * streams, against a canned upstream in a child process (its CPU is not counted): µs of this
 * process's CPU (user + system, `process.cpuUsage()`) per attempt at a given concurrency, and KB
 * Compares builds (`--dist A,B`: built dist/ directories, loaded side by side in this process and
 * measured in short alternating rounds), printing each one's median and fastest round.
 *
 *   node bench/run-ts.js bench/transport-micro.ts --dist OLD/dist,dist --mode stream --n 20000 --conns 16
 *
 * (tsx's loader thread adds CPU of its own to the process; for cleaner numbers compile it first:
 * `npx esbuild bench/transport-micro.ts --bundle --packages=external --format=esm --platform=node
 * --outfile=bench/results/tm.mjs`, then `node bench/results/tm.mjs …`.)
 *
 * `--fake` answers without a socket (see fakePool): only builds that send with `pool.dispatch`.
 *
 * `--spread` writes the stream one event per socket write (with a turn between), as a real
 * upstream does; without it the whole stream leaves in one write (the simulator at zero think time).
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { alternatingRounds, runConcurrent } from './lib/rounds.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
};
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

const CONTENT = 32;
const CREATED = 1_764_000_000;
function chunk(delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    id: 'chatcmpl-up123',
    object: 'chat.completion.chunk',
    created: CREATED,
    model: 'gpt-4.1-mini',
    system_fingerprint: 'fp_1',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...extra,
  });
}
function streamEvents(): string[] {
  const ev = [chunk({ role: 'assistant', content: '' }, null)];
  for (let i = 0; i < CONTENT; i++) ev.push(chunk({ content: ` word${i}` }, null));
  ev.push(chunk({}, 'stop'));
  ev.push(
    JSON.stringify({
      id: 'chatcmpl-up123',
      object: 'chat.completion.chunk',
      created: CREATED,
      model: 'gpt-4.1-mini',
      choices: [],
      usage: { prompt_tokens: 12, completion_tokens: CONTENT, total_tokens: 12 + CONTENT },
    }),
  );
  ev.push('[DONE]');
  return ev.map((d) => `data: ${d}\n\n`);
}
const JSON_BODY = JSON.stringify({
  id: 'chatcmpl-up123',
  object: 'chat.completion',
  created: CREATED,
  model: 'gpt-4.1-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello benchmark, nice to meet you.', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 },
  system_fingerprint: 'fp_1',
});

async function serve(spread: boolean): Promise<void> {
  const events = streamEvents();
  const whole = events.join('');
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url?.endsWith('/chat/completions') && req.headers.accept === 'text/event-stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-ratelimit-remaining-requests': '100' });
        if (!spread) return void res.end(whole);
        let i = 0;
        const next = (): void => {
          if (i === events.length) return void res.end();
          res.write(events[i++]!);
          setImmediate(next);
        };
        next();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(JSON_BODY), 'x-ratelimit-remaining-requests': '100' });
      res.end(JSON_BODY);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  process.send?.({ port });
}

/**
 * `--fake`: no socket at all, a stand-in for undici's Pool that answers `dispatch` a turn later
 * with the canned response, calling the handler as undici 7 calls a new-style handler (only
 * builds that send with `pool.dispatch` run on it): the attempt's own CPU, without the kernel's.
 */
function fakePool(stream: boolean, spread: boolean): unknown {
  const body = Buffer.from(stream ? streamEvents().join('') : JSON_BODY);
  // --spread: one chunk per event (in one turn: the reading's cost per chunk, not the socket's).
  const parts = stream && spread ? streamEvents().map((e) => Buffer.from(e)) : [body];
  const headers = stream
    ? { 'content-type': 'text/event-stream', 'x-ratelimit-remaining-requests': '100' }
    : { 'content-type': 'application/json', 'content-length': String(body.length), 'x-ratelimit-remaining-requests': '100' };
  interface H {
    onRequestStart(c: unknown, ctx: unknown): void;
    onResponseStart(c: unknown, s: number, h: unknown, m: string): void;
    onResponseData(c: unknown, b: Buffer): void;
    onResponseEnd(c: unknown, t: unknown): void;
  }
  return {
    dispatch(_opts: unknown, h: H): boolean {
      const c = { paused: false, aborted: false, reason: null, pause() {}, resume() {}, abort() {} };
      setImmediate(() => {
        h.onRequestStart(c, {});
        h.onResponseStart(c, 200, { ...headers }, 'OK');
        for (const p of parts) h.onResponseData(c, p.subarray(0));
        h.onResponseEnd(c, {});
      });
      return true;
    },
  };
}

interface Sinkish {
  signal: unknown;
  started: boolean;
  out: number;
  json(): void;
  startStream(): void;
  write(d: string): boolean;
  drain(): Promise<void>;
  end(): void;
  fail(): void;
}

async function main(): Promise<void> {
  if (flag('serve')) return serve(flag('spread'));
  const dists = arg('dist', 'dist')
    .split(',')
    .map((d) => resolve(d));
  const mode = arg('mode', 'stream');
  const n = Number(arg('n', '20000'));
  const conns = Number(arg('conns', '16'));
  const rounds = Number(arg('rounds', '10'));
  // Run as TypeScript through run-ts.js, or as plain JS (compiled: no loader thread in the measured process).
  const script = process.argv[1]!;
  const child = script.endsWith('.ts')
    ? fork(resolve(import.meta.dirname, 'run-ts.js'), [script, '--serve', ...(flag('spread') ? ['--spread'] : [])])
    : fork(script, ['--serve', ...(flag('spread') ? ['--spread'] : [])]);
  const port = await new Promise<number>((r) => child.once('message', (m: { port: number }) => r(m.port)));
  const { Pool } = await import('undici');
  const pool = flag('fake')
    ? fakePool(mode === 'stream', flag('spread'))
    : new Pool(`http://127.0.0.1:${port}`, { connections: conns, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  const stream = mode === 'stream';
  const resilience = { headersTimeoutMs: 30_000, firstTokenTimeoutMs: 30_000, idleTimeoutMs: 30_000, requestTimeoutMs: 60_000 };
  const body = { model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'Say hello to the benchmark in a few words, please.' }], max_tokens: 64 };
  let bytes = 0;
  /** One build's attempt: its own modules (a dist/ each), the same pool and upstream. */
  const load = async (dist: string): Promise<() => Promise<void>> => {
    const imp = (p: string) => import(pathToFileURL(`${dist}/${p}`).href);
    const { runAttempt } = await imp('src/runtime/attempt.js');
    const { StreamSession } = await imp('src/runtime/stream-session.js');
    const { Cancel } = await imp('src/runtime/cancel.js');
    const { openaiAdapter } = await imp('src/upstream/adapters/openai.js');
    const h = {
      id: 'p/gpt-4.1-mini',
      model: 'gpt-4.1-mini',
      adapter: openaiAdapter,
      endpoint: { upstreamModel: 'gpt-4.1-mini', provider: 'p' },
      apiKey: 'sk-x',
      provider: { headers: {}, baseUrl: `http://127.0.0.1:${port}/v1`, anthropicVersion: undefined },
      basePath: '/v1',
      modelCfg: { maxOutputTokens: 4096, tier: 'small' },
      pool,
    };
    const sink = (): Sinkish => ({
      signal: new Cancel(),
      started: false,
      out: 0,
      json() {},
      startStream() {
        this.started = true;
      },
      // What HttpSink does with an event (the string it builds), without a socket.
      write(d: string) {
        const s = `data: ${d}\n\n`;
        bytes += s.length;
        return true;
      },
      drain: () => Promise.resolve(),
      end() {},
      fail() {},
    });
    return async (): Promise<void> => {
      const c = new Cancel();
      const s = sink();
      const session = stream ? new StreamSession(s, 'chatcmpl-x', true, () => ({}), CREATED) : null;
      session?.beginAttempt(false);
      const out = await runAttempt(
        { h, body: stream ? { ...body, stream: true } : body, stream, prefill: null, relay: false, resilience, signal: c, now: Date.now },
        session,
      );
      if (stream) session.finish(h, out.usage);
      else if (out.completion === null) throw new Error('no completion');
    };
  };
  const run = (one: () => Promise<void>, count: number): Promise<void> => runConcurrent(one, count, conns);
  const ones = [];
  for (const d of dists) ones.push(await load(d));
  for (const one of ones) await run(one, Math.max(5000, n / 4));
  const { each, perOp } = await alternatingRounds(ones, n, rounds, conns);
  for (let k = 0; k < dists.length; k++) {
    const res = perOp[k]!;
    console.log(
      JSON.stringify({
        dist: dists[k],
        mode,
        spread: flag('spread'),
        n: each * rounds,
        conns,
        min: +res[0]!.toFixed(2),
        median: +res[Math.floor(res.length / 2)]!.toFixed(2),
      }),
    );
  }
  void bytes;
  if (!flag('fake')) await (pool as { close(): Promise<void> }).close();
  child.kill();
}

await main();
