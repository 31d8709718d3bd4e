/**
 * Pipelined requests (several in one TCP write) against the real sidecar process: every whole
 * request before bytes the parser refuses is answered, in order, before the refusal; a request
 * with `Connection: close` is the last one answered (RFC 9112 §9.6: what follows it is
 * ignored, not refused). The refusal once waited only for the response on the socket at that
 * moment: the ones node still had queued behind it were cut off, though they were routed and
 * billed (a ledger row each, status 200).
 */
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { parse } from 'yaml';
import { expect, it } from 'vitest';
import { sidecarOnSimulator } from '../integration/harness.js';
import { ledgerFileOf, ledgerRow } from '../integration/ledger-row.js';

const env = sidecarOnSimulator();

/** Everything the server sends for `bytes` (one write) until it closes the connection (or `waitMs` passes). */
function untilClosed(base: string, bytes: string, waitMs = 8000): Promise<{ text: string; closed: boolean }> {
  const u = new URL(base);
  return new Promise((resolve) => {
    const sock = connect(Number(u.port), u.hostname);
    const parts: Buffer[] = [];
    let closed = false;
    const timer = setTimeout(() => sock.destroy(), waitMs);
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (d: Buffer) => parts.push(d));
    sock.on('error', () => undefined);
    sock.on('end', () => (closed = true));
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(parts).toString('latin1'), closed });
    });
  });
}

const statuses = (text: string): number[] => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
const requestIds = (text: string): string[] => [...text.matchAll(/\r\nx-request-id: ([^\r]+)/gi)].map((m) => m[1]!);

/** A non-streamed chat request; `content` tells the answers apart. */
function chat(content: string, extra = ''): string {
  const body = JSON.stringify({ model: 'gpt-4.1', max_tokens: 5, messages: [{ role: 'user', content }] });
  return `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

it('three whole chat requests then bytes the parser refuses: three 200s, then the 400, then the connection closes; each answer delivered is the one billed', async () => {
  const { text, closed } = await untilClosed(env.sc.url, `${chat('one')}${chat('two')}${chat('three')}GARBAGE\r\n\r\n`);
  expect(statuses(text), text).toEqual([200, 200, 200, 400]);
  expect(text).toMatch(/malformed HTTP request/);
  expect(closed).toBe(true);
  const ids = requestIds(text);
  expect(ids).toHaveLength(3);
  // The three answered requests are the three in the ledger, each a 200.
  const file = ledgerFileOf(parse(readFileSync(env.sc.configFile, 'utf8')) as Record<string, unknown>);
  for (const id of ids) expect(ledgerRow(file, id)?.status, id).toBe(200);
});

it('requests answered in the same turn the refused bytes are parsed (health checks), or whose answer is all sent but not yet finished: each is answered, then the refusal', async () => {
  // Answered at once, the first response had sent all its bytes (writableFinished) before node emitted
  // its 'finish', which is what puts the queued ones on the socket: the refusal went out after it alone.
  const health = await untilClosed(env.sc.url, `${'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n'.repeat(5)}GARBAGE\r\n\r\n`);
  expect(statuses(health.text), health.text).toEqual([200, 200, 200, 200, 200, 400]);
  const many = Array.from({ length: 10 }, (_, i) => chat(`q${i}`)).join('');
  const { text } = await untilClosed(env.sc.url, `${many}GARBAGE\r\n\r\n`);
  expect(statuses(text), text).toEqual([...Array<number>(10).fill(200), 400]);
  const file = ledgerFileOf(parse(readFileSync(env.sc.configFile, 'utf8')) as Record<string, unknown>);
  for (const id of requestIds(text)) expect(ledgerRow(file, id)?.status, id).toBe(200);
});

it("twelve chat requests pipelined in one write: all answered, and no MaxListenersExceededWarning (a plain-text 'memory leak' line) on stderr", async () => {
  const many = Array.from({ length: 12 }, (_, i) => chat(`p${i}`, i === 11 ? 'connection: close\r\n' : '')).join('');
  const { text } = await untilClosed(env.sc.url, many);
  expect(statuses(text), text).toEqual(Array<number>(12).fill(200));
  expect(env.sc.stderr()).not.toContain('MaxListenersExceededWarning');
});

it('a whole chat request pipelined ahead of a CONNECT is answered first, then the 405 (it was lost, billed as 499)', async () => {
  const { text, closed } = await untilClosed(env.sc.url, `${chat('before-connect')}CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n`);
  expect(statuses(text), text).toEqual([200, 405]);
  expect(closed).toBe(true);
  const file = ledgerFileOf(parse(readFileSync(env.sc.configFile, 'utf8')) as Record<string, unknown>);
  // The chat request's row; the 405 has an id too (every answer to a request read whole has one) and no row.
  const [served, refused] = requestIds(text);
  expect(ledgerRow(file, served!)?.status, served).toBe(200);
  expect(refused).toBeDefined();
  expect(ledgerRow(file, refused!)).toBeUndefined();
});

it('a request with Connection: close ends the pipeline: the three are answered, what follows it is ignored (no 400), and the connection closes', async () => {
  const { text, closed } = await untilClosed(env.sc.url, `${chat('one')}${chat('two')}${chat('three', 'connection: close\r\n')}${chat('four')}`);
  expect(statuses(text), text).toEqual([200, 200, 200]);
  expect(text).not.toMatch(/malformed/);
  expect(closed).toBe(true);
});

it('bytes refused inside the body of a request behind a whole one: the whole one is answered, then the refusal', async () => {
  const bad = 'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n\r\n';
  const { text, closed } = await untilClosed(env.sc.url, `${chat('one')}${bad}`);
  expect(statuses(text), text).toEqual([200, 400]);
  expect(closed).toBe(true);
  expect((await fetch(`${env.sc.url}/healthz`)).status).toBe(200);
});

it("pipelined requests whose client hangs up before any answer: every one is ended as the client's leaving (499), not only the first; none keeps its endpoint slot until its deadline", async () => {
  const file = ledgerFileOf(parse(readFileSync(env.sc.configFile, 'utf8')) as Record<string, unknown>);
  const since = new Date().toISOString();
  // Each answer starts only after 20 s: the client leaves long before.
  await env.sim.setFault('gpt-4.1', { kind: 'slow_first_token', delayMs: 20_000, times: 3 });
  try {
    const u = new URL(env.sc.url);
    const sock = connect(Number(u.port), u.hostname);
    sock.on('error', () => undefined);
    await new Promise<void>((r) => sock.on('connect', () => r()));
    sock.write(`${chat('one')}${chat('two')}${chat('three')}`);
    const inFlight = async () => (await env.sc.state()).endpoints.filter((e) => e.model === 'gpt-4.1').reduce((n, e) => n + e.inFlight, 0);
    const t0 = Date.now();
    while ((await inFlight()) < 3 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    expect(await inFlight()).toBe(3);
    sock.destroy();
    // A generous bound, far below the 20 s the upstream would take: the three are let go at once.
    const t1 = Date.now();
    while ((await inFlight()) > 0 && Date.now() - t1 < 10_000) await new Promise((r) => setTimeout(r, 20));
    expect(await inFlight()).toBe(0);
    const db = new Database(file, { readonly: true });
    try {
      const rows = db.prepare("select status from ledger where at >= ? and model = 'gpt-4.1'").all(Date.parse(since)) as Array<{ status: number }>;
      expect(rows.map((r) => r.status)).toEqual([499, 499, 499]);
    } finally {
      db.close();
    }
  } finally {
    await env.sim.clearFaults();
  }
});
