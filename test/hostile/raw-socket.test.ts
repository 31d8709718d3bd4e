/**
 * Raw request-targets, methods and header bytes against the real sidecar process: every one
 * ends in a proper HTTP status with an OpenAI-shaped body (or a closed socket), and the
 * process keeps serving. Each of the targets below once made `new URL()` throw outside the
 * request's error handling and the sidecar exited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, testConfig, type SidecarHandle } from '../integration/harness.js';
import { connect } from 'node:net';
import { isOpenAIError, rawRequest } from './raw.js';

let sc: SidecarHandle;

beforeAll(async () => {
  // No upstream is reached in this file: the providers point at a closed port.
  sc = await startSidecar(testConfig('http://127.0.0.1:9'));
});

afterAll(async () => {
  await sc?.stop();
});

const TARGETS = [
  '//[',
  '//a:b@[',
  'http://[',
  '//:99999',
  '//x:abc/',
  '//%',
  'http://a:b@[::1',
  '//[::1]:x/v1/models',
  '/%zz',
  '/..%2f..%2f',
  '*',
  'http://x:99999999/',
  '/v1/models?%',
  '//\u0000',
];

const get = (target: string) => `GET ${target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`;

/** Requests node's parser refuses, with the status they must get. */
const PARSER: Array<[string, string, number]> = [
  ['a NUL in a header value', 'GET /healthz HTTP/1.1\r\nhost: x\r\nx-a: a\u0000b\r\n\r\n', 400],
  ['a bad Content-Length', 'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n', 400],
  ['two different Content-Lengths', 'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab', 400],
  ['obs-fold', 'GET /healthz HTTP/1.1\r\nhost: x\r\nx-a: a\r\n  folded\r\n\r\n', 400],
  ['an unknown method', 'BREW /healthz HTTP/1.1\r\nhost: x\r\n\r\n', 400],
  ['a space in a header name', 'GET /healthz HTTP/1.1\r\nhost: x\r\nx a: b\r\n\r\n', 400],
  ['oversized headers', `GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
  [
    'chunked and Content-Length together',
    'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
    400,
  ],
  ['a bad chunk size', 'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n\r\n', 400],
  ['a garbage request line', 'HELLO\r\n\r\n', 400],
];

describe('request-targets that are not URLs', () => {
  it.each(TARGETS)('%j is answered below 500 (a 4xx with an OpenAI-shaped body) and the process lives', async (target) => {
    const a = await rawRequest(sc.url, get(target));
    expect(a.status, a.headers).not.toBeNull();
    expect(a.status!).toBeLessThan(500);
    if (a.status! >= 400) expect(isOpenAIError(a.body), a.body).toBe(true);
    expect(sc.child.exitCode).toBeNull();
    expect((await fetch(`${sc.url}/healthz`)).status).toBe(200);
  });
});

describe("requests node's HTTP parser refuses", () => {
  it.each(PARSER)('%s gets the status it must, with an OpenAI-shaped body', async (_name, bytes, status) => {
    const a = await rawRequest(sc.url, bytes);
    expect(a.status, a.headers).toBe(status);
    expect(isOpenAIError(a.body), a.body).toBe(true);
    expect(a.headers).toMatch(/connection: close/i);
    expect((await fetch(`${sc.url}/healthz`)).status).toBe(200);
  });
});

/** Everything the server sends for `bytes` until it closes the connection (or `waitMs` passes). */
function untilClosed(base: string, bytes: string, waitMs = 5000): Promise<string> {
  const u = new URL(base);
  return new Promise((resolve) => {
    const sock = connect(Number(u.port), u.hostname);
    const parts: Buffer[] = [];
    const timer = setTimeout(() => sock.destroy(), waitMs);
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (d: Buffer) => parts.push(d));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(parts).toString('latin1'));
    });
  });
}

describe('bytes the parser refuses, pipelined behind a whole request', () => {
  it('the whole request is answered first, then the refusal, then the connection closes (it was cut off as a client gone)', async () => {
    const body = JSON.stringify({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] });
    const bytes = `POST /switchyard/route HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}GARBAGE\r\n\r\n`;
    const all = await untilClosed(sc.url, bytes);
    expect([...all.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]))).toEqual([200, 400]);
    expect(all).toContain('"model":"gpt-4.1"');
    expect(all).toMatch(/malformed HTTP request/);
  });
});

it("an unknown method is a 400 invalid_request (a code of the contract's table), in the API's own shape", async () => {
  const a = await rawRequest(sc.url, 'BREW /v1/models HTTP/1.1\r\nhost: x\r\n\r\n');
  expect(a.status, a.headers).toBe(400);
  expect(JSON.parse(a.body)).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_request' } });
});

/** Requests node's parser refuses on the Messages API's path: the same statuses, in Anthropic's error shape. */
const MESSAGES_PARSER: Array<[string, string, number]> = [
  ['oversized headers', `POST /v1/messages HTTP/1.1\r\nhost: x\r\nanthropic-version: 2023-06-01\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
  ['a bad Content-Length', 'POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n', 400],
  ['a NUL in a header value', 'POST /v1/messages/count_tokens HTTP/1.1\r\nhost: x\r\nx-a: a\u0000b\r\n\r\n', 400],
];

describe("requests node's HTTP parser refuses on /v1/messages", () => {
  it.each(MESSAGES_PARSER)("%s gets the status it must, in Anthropic's error shape", async (_name, bytes, status) => {
    const a = await rawRequest(sc.url, bytes);
    expect(a.status, a.headers).toBe(status);
    expect(a.headers).toMatch(/connection: close/i);
    const body = JSON.parse(a.body) as { type?: unknown; error?: { type?: unknown; message?: unknown } };
    expect(body).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.any(String) } });
    expect(isOpenAIError(a.body), a.body).toBe(false);
    expect((await fetch(`${sc.url}/healthz`)).status).toBe(200);
  });

  it('a path that only starts like the Messages API keeps the OpenAI shape', async () => {
    const a = await rawRequest(sc.url, `POST /v1/messagesx HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(a.status, a.headers).toBe(431);
    expect(isOpenAIError(a.body), a.body).toBe(true);
  });
});

/** `count` small header fields (a few bytes each, far under node's 16 KiB together), then `last`. */
const manyHeaders = (head: string, count: number, last: string) =>
  `${head}\r\n${Array.from({ length: count }, (_, i) => `x-h${i}: v\r\n`).join('')}${last}\r\n\r\n`;

describe('the number of header fields', () => {
  it.each([
    ['GET /healthz', 'host: x', 1999],
    ['GET /healthz', 'host: x', 1000],
    ['POST /v1/chat/completions', 'host: x\r\ncontent-type: application/json\r\ncontent-length: 2', 2000],
    ['POST /v1/messages', 'host: x\r\nanthropic-version: 2023-06-01\r\ncontent-length: 2', 2000],
    // Anthropic's SDK (anthropic-version) off the Messages API: its shape, but not on an OpenAI API route.
    ['GET /v1/models', 'host: x\r\nanthropic-version: 2023-06-01', 2000],
    ['POST /v1/chat/completions', 'host: x\r\nanthropic-version: 2023-06-01\r\ncontent-type: application/json\r\ncontent-length: 2', 2000],
  ])('%s with %j after many small fields (%i) is a 431 naming the count and the limit, in the error shape of its API', async (line, last, count) => {
    const a = await rawRequest(sc.url, `${manyHeaders(`${line} HTTP/1.1`, count, last)}${line.startsWith('POST') ? '{}' : ''}`);
    const fields = count + last.split('\r\n').length;
    expect(a.status, a.headers).toBe(431);
    expect(a.headers).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large/);
    expect(a.headers).toMatch(/connection: close/i);
    const message = `request headers are too large: ${fields} header fields, over the limit of 1000; send fewer headers`;
    // The Messages API's path answers in Anthropic's error shape, and so does another that is not an OpenAI API route asked with anthropic-version; every other in OpenAI's.
    // In Anthropic's shape with the request's id, as its request-id header says (the Anthropic SDK's requestID).
    const id = /\r\nrequest-id: ([0-9a-f-]{36})\r\n/i.exec(a.headers)?.[1];
    expect(JSON.parse(a.body)).toEqual(
      line.endsWith('/v1/messages') || line === 'GET /v1/models'
        ? { type: 'error', error: { type: 'invalid_request_error', message }, request_id: id }
        : { error: { message, type: 'invalid_request_error', param: null, code: 'headers_too_large' } },
    );
    if (line.endsWith('/v1/messages')) expect(id).toBeDefined();
    expect((await fetch(`${sc.url}/healthz`)).status).toBe(200);
  });

  it('1000 fields are served, the last one (here Host) kept', async () => {
    const a = await rawRequest(sc.url, manyHeaders('GET /healthz HTTP/1.1', 999, 'host: x'));
    expect(a.status, a.headers + a.body).toBe(200);
  });
});

describe('methods a route does not serve', () => {
  it.each([
    ['GET', '/v1/chat/completions', 'POST'],
    ['DELETE', '/v1/models', 'GET, HEAD'],
    ['POST', '/healthz', 'GET, HEAD'],
    ['GET', '/switchyard/reload', 'POST'],
    ['PUT', '/switchyard/state', 'GET, HEAD'],
  ])('%s %s gets 405 with Allow: %s', async (method, path, allow) => {
    const r = await fetch(`${sc.url}${path}`, { method });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe(allow);
    expect(isOpenAIError(await r.text())).toBe(true);
  });
});

describe('a request without a Host header, and CONNECT', () => {
  it('a request without a Host header is served (node answered a bare 400 with no body)', async () => {
    const r = await rawRequest(sc.url, 'GET /v1/models HTTP/1.1\r\nconnection: close\r\n\r\n');
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as { object: string }).object).toBe('list');
  });

  it("CONNECT gets a 405 in the API's own shape, then the connection closes (node dropped the socket without a byte)", async () => {
    const openai = await rawRequest(sc.url, 'CONNECT api.openai.com:443 HTTP/1.1\r\nhost: api.openai.com:443\r\n\r\n');
    expect(openai.status).toBe(405);
    expect(openai.headers).toMatch(/\r\nconnection: close/i);
    expect(isOpenAIError(openai.body)).toBe(true);
    expect(openai.body).toContain('CONNECT is not supported');
    const anthropic = await rawRequest(sc.url, 'CONNECT /v1/messages HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(anthropic.status).toBe(405);
    expect(JSON.parse(anthropic.body)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    // Its request id, as every answer to a request read whole has (the Anthropic SDK reads request-id; it had none).
    const id = /\r\nrequest-id: ([0-9a-f-]{36})\r\n/i.exec(anthropic.headers)?.[1];
    expect(id).toBeDefined();
    expect(JSON.parse(anthropic.body).request_id).toBe(id);
    expect(anthropic.headers).toMatch(new RegExp(`\r\nx-request-id: ${id}\r\n`, 'i'));
    expect(openai.headers).toMatch(/\r\nx-request-id: [0-9a-f-]{36}\r\n/i);
    expect(openai.headers).not.toMatch(/\r\nrequest-id:/i);
    // RFC 9110: a 405 says what the resource takes (it had no Allow header).
    expect(anthropic.headers).toMatch(/\r\nallow: POST\r\n/i);
    expect(openai.headers).toMatch(/\r\nallow: GET, HEAD, POST, DELETE\r\n/i);
  });
});

describe('an Expect header', () => {
  const post = (path: string, expectation: string) =>
    `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\nexpect: ${expectation}\r\n\r\n{}`;

  it("other than 100-continue is a 417 with a JSON body in the API's own shape, and the connection closes", async () => {
    const chat = await rawRequest(sc.url, post('/v1/chat/completions', 'banana'));
    expect(chat.status).toBe(417);
    expect(isOpenAIError(chat.body)).toBe(true);
    expect(chat.headers).toMatch(/\r\nconnection: close/i);
    const messages = await rawRequest(sc.url, post('/v1/messages', 'banana'));
    expect(messages.status).toBe(417);
    expect(JSON.parse(messages.body)).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringContaining('100-continue') },
    });
    const id = /\r\nrequest-id: ([0-9a-f-]{36})\r\n/i.exec(messages.headers)?.[1];
    expect(id).toBeDefined();
    expect(JSON.parse(messages.body).request_id).toBe(id);
    expect(chat.headers).toMatch(/\r\nx-request-id: [0-9a-f-]{36}\r\n/i);
    // Anthropic's SDK on a path that is not an OpenAI API route: its shape too.
    const models = await rawRequest(sc.url, post('/v1/models', 'banana').replace('host: x', 'host: x\r\nanthropic-version: 2023-06-01'));
    expect(models.status).toBe(417);
    expect(JSON.parse(models.body)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });

  it('100-continue with a body declared over server.maxBodyBytes is answered 413 at once, without inviting the body', async () => {
    const r = await rawRequest(
      sc.url,
      'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 99999999\r\nexpect: 100-continue\r\n\r\n',
    );
    expect(r.status).toBe(413);
    expect(r.headers).toMatch(/\r\nconnection: close/i);
    expect(isOpenAIError(r.body)).toBe(true);
  });

  it('100-continue is honoured: the body is then read and validated as usual', async () => {
    const r = await rawRequest(sc.url, post('/v1/chat/completions', '100-continue'), 1500);
    expect(r.status).toBe(100);
    expect(r.body).toMatch(/^HTTP\/1\.1 400 /);
  });
});

it('the sidecar is still alive after the whole table', async () => {
  expect(sc.child.exitCode).toBeNull();
  expect(sc.stderr()).not.toMatch(/Uncaught|TypeError|RangeError/);
});

it('a client that aborts mid-body is a debug-level event, not an error line', async () => {
  const before = sc.stdout().length;
  for (let i = 0; i < 3; i++) {
    await rawRequest(sc.url, 'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"model":', 200);
  }
  // A request refused after them logs its line last (pino keeps the order): once that line is
  // out, so is anything the aborted requests logged.
  const marker = await fetch(`${sc.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":' });
  expect(marker.status).toBe(400);
  await sc.waitForOutput(marker.headers.get('x-request-id')!);
  expect(sc.stdout().slice(before)).not.toMatch(/"level":(50|40)/);
  expect((await fetch(`${sc.url}/healthz`)).status).toBe(200);
});
