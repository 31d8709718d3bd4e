/**
 * A client that goes away, over real sockets against the in-process server: mid-body (however
 * the connection ends) the body read fails with the 499 path (one debug line, no error line);
 * mid-answer the request is aborted (its ledger row is a 499 long before the upstream would have
 * finished). Also the body checks the chat route makes at the edge: 413 declared and streamed,
 * empty body, invalid JSON. The server keeps serving after each.
 */
import { createServer } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger, type LedgerStore } from '../../src/accounting/ledger.js';
import { configSchema } from '../../src/config/schema.js';
import { ClientKeys } from '../../src/http/auth.js';
import { createHttpServer, readBody } from '../../src/http/server.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { REQUEST_BODIES_LIMIT, requestBodies } from '../../src/upstream/held-bytes.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { rawRequest } from '../hostile/raw.js';

const SLOW_TOKENS = 400;
const SLOW_GAP_MS = 25;

let sim: Simulator;
let rt: Runtime;
let ledger: LedgerStore;
let port: number;
let base: string;
const lines: Array<{ level: number; msg: string; requestId?: string; err?: unknown }> = [];
const servers: Array<{ close(): void }> = [];

beforeAll(async () => {
  sim = await startSimulator({ profile: { defaults: { ttftMs: 0, tokenGapMs: SLOW_GAP_MS, outputTokens: SLOW_TOKENS } } });
  const cfg = configSchema.parse({
    providers: { p: { kind: 'openai', baseUrl: `${sim.url}/openai/v1` } },
    models: {
      a: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100_000, endpoints: [{ provider: 'p', upstreamModel: 'up-a' }] },
    },
  });
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) });
  ledger = await openLedger('memory');
  rt = new Runtime({ cfg, ledger, log: pino({ level: 'silent' }) });
  await rt.restoreBudgets();
  const server = createHttpServer({
    runtime: () => rt,
    keys: new ClientKeys(cfg, {}),
    log,
    maxBodyBytes: () => 2000,
    models: () => ({ data: [] }),
    ops: {},
    adminToken: () => null,
    loopbackOnly: true,
    draining: () => false,
    requestTimeoutMs: 1000,
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  for (const s of servers) s.close();
  await rt.close();
  await sim.close();
});

const GONE = 'the client closed the connection before the body was complete';
const head = (framing: string) => `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${framing}\r\n\r\n`;

function open(): Promise<Socket> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', () => undefined);
  });
}

/** Waits for `ok` (a generous real-time bound: a broken chunk's line comes ~1 s after it, later on a loaded machine). */
async function until(ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

describe('a client gone mid-body: the 499 path, at debug', () => {
  const ways: Array<[string, (s: Socket) => void, string]> = [
    ['destroys its socket', (s) => s.destroy(), 'content-length: 1000'],
    ['half-closes its socket (FIN)', (s) => s.end(), 'content-length: 1000'],
    ['resets its socket (RST)', (s) => s.resetAndDestroy(), 'content-length: 1000'],
    ['destroys its socket mid-chunked-body', (s) => s.destroy(), 'transfer-encoding: chunked'],
    ['sends a broken chunk', (s) => s.write('zz\r\n'), 'transfer-encoding: chunked'],
  ];
  it.each(ways)('the client %s', async (_name, leave, framing) => {
    const from = lines.length;
    const s = await open();
    const part = '{"model":"a","messages":[';
    s.write(head(framing) + (framing.startsWith('transfer') ? `${part.length.toString(16)}\r\n${part}\r\n` : part));
    await new Promise((r) => setTimeout(r, 50));
    leave(s);
    const mine = () => lines.slice(from);
    await until(() => mine().some((l) => l.msg === GONE));
    s.destroy();
    const gone = mine().filter((l) => l.msg === GONE);
    expect(gone).toHaveLength(1);
    expect(gone[0]!.level).toBe(20);
    // The connection error itself is logged too, at debug, for the same request.
    const conn = mine().filter((l) => l.msg === 'client connection error while reading the request');
    expect(conn.map((l) => [l.level, l.requestId])).toEqual([[20, gone[0]!.requestId]]);
    expect(mine().filter((l) => l.level >= 40)).toEqual([]);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('a client that stalls past server.requestTimeoutMs got a 408: its line says the 408 refusal, at info (it said 499, at debug)', async () => {
    const from = lines.length;
    const s = await open();
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.write(head('content-length: 1000') + '{"model":"a","messages":[');
    const mine = () => lines.slice(from);
    const TIMED_OUT = 'request refused: the request body was not received within server.requestTimeoutMs; the connection is closed';
    await until(() => mine().some((l) => l.msg === TIMED_OUT), 6000);
    s.destroy();
    expect(got).toMatch(/^HTTP\/1\.1 408/);
    const refused = mine().filter((l) => l.msg === TIMED_OUT);
    expect(refused.map((l) => [l.level, (l as { status?: number }).status])).toEqual([[30, 408]]);
    expect(mine().filter((l) => l.msg === GONE)).toEqual([]);
    expect(mine().filter((l) => l.level >= 40)).toEqual([]);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

it('readBody without a hook (the other routes) listens to the error itself: 499 for a client gone mid-body, the body once whole', async () => {
  const seen: unknown[] = [];
  const server = createServer((req, res) => {
    readBody(req, 2000).then(
      (b) => {
        seen.push(b.toString('utf8'));
        res.end();
      },
      (err: { status?: number; message: string }) => seen.push([err.status, err.message]),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const at = (server.address() as AddressInfo).port;
  try {
    for (const leave of [(s: Socket) => s.destroy(), (s: Socket) => s.end(), (s: Socket) => s.resetAndDestroy()]) {
      const s = connect(at, '127.0.0.1');
      s.on('error', () => undefined);
      s.write('POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"a":');
      await new Promise((r) => setTimeout(r, 50));
      const before = seen.length;
      leave(s);
      await until(() => seen.length > before);
    }
    await rawRequest(`http://127.0.0.1:${at}`, 'POST / HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 7\r\n\r\n{"a":1}', 1000);
    expect(seen).toEqual([...Array<unknown>(3).fill([499, GONE]), '{"a":1}']);
  } finally {
    server.close();
  }
});

describe('the body checks at the edge', () => {
  const send = (framing: string, body: string) => rawRequest(base, head(`connection: close\r\n${framing}`) + body, 3000);
  const chunked = (body: string) => {
    let out = '';
    for (let i = 0; i < body.length; i += 500) out += `${Math.min(500, body.length - i).toString(16)}\r\n${body.slice(i, i + 500)}\r\n`;
    return `${out}0\r\n\r\n`;
  };
  const big = JSON.stringify({ model: 'a', messages: [{ role: 'user', content: 'x'.repeat(3000) }] });

  it('413 for a declared length over server.maxBodyBytes', async () => {
    const a = await send(`content-length: ${big.length}`, big);
    expect(a.status).toBe(413);
    expect(JSON.parse(a.body)).toMatchObject({ error: { code: 'body_too_large' } });
  });
  it('413 for a chunked body that grows over server.maxBodyBytes', async () => {
    const a = await send('transfer-encoding: chunked', chunked(big));
    expect(a.status).toBe(413);
    expect(JSON.parse(a.body)).toMatchObject({ error: { code: 'body_too_large', message: expect.stringContaining('over the limit of 2000 bytes') } });
  });
  it('503 server_busy with retry-after while the request bodies being read hold their process-wide limit (OpenAI-shaped); none held once they end', async () => {
    expect(requestBodies.held).toBe(0);
    requestBodies.held = REQUEST_BODIES_LIMIT - 100;
    try {
      const body = JSON.stringify({ model: 'a', max_tokens: 5, messages: [{ role: 'user', content: 'x'.repeat(900) }] });
      const a = await send('transfer-encoding: chunked', chunked(body));
      expect(a.status).toBe(503);
      expect(a.headers).toMatch(/\r\nretry-after: 1\r\n/i);
      expect(JSON.parse(a.body)).toMatchObject({
        error: { code: 'server_busy', type: 'service_unavailable', message: expect.stringContaining('256 MiB of request bodies') },
      });
    } finally {
      requestBodies.held = 0;
    }
    // Bodies read whole, refused over their own limit, or left by their client give back what they held.
    expect((await send(`content-length: ${big.length}`, big)).status).toBe(413);
    expect((await send('transfer-encoding: chunked', chunked(big))).status).toBe(413);
    const s = await open();
    s.on('error', () => undefined);
    s.write(`${head('content-length: 1000')}{"model":`);
    await new Promise((r) => setTimeout(r, 50));
    s.write('"a","messages":');
    await new Promise((r) => setTimeout(r, 50));
    s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect(requestBodies.held).toBe(0);
  });

  it('a body stays counted against that limit, at four times its size, until its answer ends; one that fits to be read but not to be held is a 503 server_busy', async () => {
    expect(requestBodies.held).toBe(0);
    const body = JSON.stringify({ model: 'a', max_tokens: 20, stream: true, messages: [{ role: 'user', content: 'x'.repeat(900) }] });
    const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    // The stream is under way (20 tokens, 25 ms apart): its body is still held.
    expect(requestBodies.held).toBe(4 * Buffer.byteLength(body));
    expect(await res.text()).toContain('[DONE]');
    await until(() => requestBodies.held === 0);
    expect(requestBodies.held).toBe(0);
    requestBodies.held = REQUEST_BODIES_LIMIT - 2 * Buffer.byteLength(body);
    try {
      const a = await send(`content-length: ${Buffer.byteLength(body)}`, body);
      expect(a.status).toBe(503);
      expect(JSON.parse(a.body)).toMatchObject({ error: { code: 'server_busy', message: expect.stringContaining('read, queued or answered') } });
    } finally {
      requestBodies.held = 0;
    }
  });

  it('400 for a body that is not UTF-8 (Latin-1 was read as U+FFFD and answered; UTF-16 got a garbled parse error), saying so', async () => {
    const json = JSON.stringify({ model: 'a', max_tokens: 5, messages: [{ role: 'user', content: 'héllo' }] });
    for (const [body, note] of [
      [Buffer.from(json, 'latin1'), ''],
      [Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(json, 'utf16le')]), ' (it looks like UTF-16)'],
    ] as const) {
      const r = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: { message: string } }).error.message).toBe(
        `request body is not UTF-8${note}: JSON must be sent as UTF-8 (RFC 8259); encode the body as UTF-8`,
      );
    }
    // The same body in UTF-8 is served.
    const ok = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: json });
    expect(ok.status).toBe(200);
    await ok.text();
  });

  it('400 for an empty body', async () => {
    const a = await send('content-length: 0', '');
    expect(a.status).toBe(400);
    expect(JSON.parse(a.body)).toMatchObject({ error: { message: expect.stringContaining('request body is empty') } });
  });
  it('400 for a body that is not JSON (chunked or not)', async () => {
    for (const [framing, body] of [
      ['content-length: 5', '{"a":'],
      ['transfer-encoding: chunked', chunked('{"a":')],
    ]) {
      const a = await send(framing!, body!);
      expect(a.status).toBe(400);
      expect(JSON.parse(a.body)).toMatchObject({ error: { message: expect.stringContaining('request body is not valid JSON') } });
    }
  });
  it('a whole chunked body is read and answered', async () => {
    const a = await send('transfer-encoding: chunked', chunked(JSON.stringify({ model: 'a', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 })));
    expect(a.status).toBe(200);
  });
});

it('a client gone mid-answer aborts the request (499 in the ledger, long before the upstream ends)', async () => {
  const body = JSON.stringify({ model: 'a', stream: true, messages: [{ role: 'user', content: 'A slow story please' }] });
  const s = await open();
  const started = Date.now();
  let got = '';
  await new Promise<void>((resolve) => {
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('data: ')) resolve();
    });
    s.write(head(`content-length: ${body.length}`) + body);
  });
  const requestId = /x-request-id: (\S+)/i.exec(got)![1]!;
  s.destroy();
  let rows: Awaited<ReturnType<LedgerStore['rows']>> = [];
  const deadline = Date.now() + 3000;
  while (rows.length === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    rows = await ledger.rows({ requestId });
  }
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ status: 499, errorCode: 'client_closed_request' });
  expect(Date.now() - started).toBeLessThan((SLOW_TOKENS * SLOW_GAP_MS) / 2);
});
