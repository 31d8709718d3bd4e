/**
 * A request body under a content coding switchyard does not decode is refused by name: a gzip
 * body was read as JSON (a 400 quoting binary noise, or with a gzip bomb, the same) and a plain
 * body under a declared coding (br, deflate) was served as if it had been decoded. So is one
 * under a transfer coding but chunked (`gzip, chunked`): node undoes only the chunking.
 */
import { gzipSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { sidecarOnSimulator } from '../integration/harness.js';
import { isOpenAIError, rawRequest } from './raw.js';

const env = sidecarOnSimulator();

const chat = JSON.stringify({ model: 'gpt-4.1', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
const post = (path: string, body: string | Buffer, coding: string) =>
  fetch(`${env.sc.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': coding }, body });

it.each([
  ['gzip', gzipSync(chat)],
  ['gzip', gzipSync(Buffer.alloc(50 * 1024 * 1024, 32))],
  ['br', chat],
  ['deflate', chat],
  ['GZIP, br', chat],
])('content-encoding %s is a 400 naming it', async (coding, body) => {
  const r = await post('/v1/chat/completions', body, coding);
  const text = await r.text();
  expect([r.status, isOpenAIError(text)], text).toEqual([400, true]);
  expect(JSON.parse(text)).toMatchObject({ error: { code: 'invalid_request', param: 'content-encoding' } });
  expect(text).toContain('is not supported: send the request body uncompressed');
});

it("on /v1/messages in Anthropic's shape", async () => {
  const r = await post('/v1/messages', gzipSync(chat), 'gzip');
  expect(r.status).toBe(400);
  expect(await r.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(/content-encoding "gzip"/) } });
});

it('identity (any case) and no header are served', async () => {
  expect((await post('/v1/chat/completions', chat, 'Identity')).status).toBe(200);
  expect((await fetch(`${env.sc.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat })).status).toBe(200);
});

/** A raw chunked POST (one chunk) with the given transfer-encoding header lines. */
const chunkedPost = (path: string, body: Buffer, te: string[]) =>
  rawRequest(
    env.sc.url,
    Buffer.concat([
      Buffer.from(
        `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${te.map((v) => `Transfer-Encoding: ${v}\r\n`).join('')}Connection: close\r\n\r\n`,
      ),
      Buffer.from(`${body.length.toString(16)}\r\n`),
      body,
      Buffer.from('\r\n0\r\n\r\n'),
    ]),
  );

it.each([
  ['gzip, chunked', ['gzip, chunked'], gzipSync(chat)],
  ['deflate, chunked', ['deflate, chunked'], Buffer.from(chat)],
  ['gzip , chunked', ['GZIP , Chunked'], gzipSync(chat)],
  ['gzip, chunked', ['gzip', 'chunked'], gzipSync(chat)],
])('transfer-encoding %s (header lines %j) is a 400 naming it, before the body is read', async (echoed, te, body) => {
  const r = await chunkedPost('/v1/chat/completions', body, te);
  expect([r.status, isOpenAIError(r.body)], r.body).toEqual([400, true]);
  expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'invalid_request', param: 'transfer-encoding' } });
  expect(r.body).toContain(`transfer-encoding \\"${echoed}\\" is not supported: send the request body uncompressed`);
});

it("transfer-encoding gzip, chunked on /v1/messages in Anthropic's shape; plain chunked is served", async () => {
  const r = await chunkedPost('/v1/messages', gzipSync(chat), ['gzip, chunked']);
  expect(r.status).toBe(400);
  expect(JSON.parse(r.body)).toMatchObject({
    type: 'error',
    error: { type: 'invalid_request_error', message: expect.stringMatching(/transfer-encoding "gzip, chunked"/) },
  });
  expect((await chunkedPost('/v1/chat/completions', Buffer.from(chat), ['chunked'])).status).toBe(200);
});
