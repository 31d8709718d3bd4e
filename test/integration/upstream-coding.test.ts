/**
 * Upstream content codings: switchyard decodes none, so it asks for none (`accept-encoding:
 * identity`). It sent no Accept-Encoding, which allows any coding (RFC 9110 §12.5.3): behind a
 * gateway that gzips whatever the client allows, every answer was "upstream answer is not JSON".
 * The fake upstream here is such a gateway (a node:http server gzipping unless the request's
 * Accept-Encoding rules gzip out), in front of an OpenAI-kind and an Anthropic-kind provider.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSidecar, testConfig, type SidecarHandle } from './harness.js';

/** Whether `header` (a request's Accept-Encoding) allows gzip: absent allows any coding; else `gzip` or `*` with a q above 0. */
function allowsGzip(header: string | undefined): boolean {
  if (header === undefined) return true;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)).find((m) => m !== null);
    return (coding === 'gzip' || coding === '*') && (q === undefined || Number(q![1]) > 0);
  });
}

const CREATED = 1_764_000_000;
const openaiAnswer = (model: string) => ({
  id: 'chatcmpl-gz',
  object: 'chat.completion',
  created: CREATED,
  model,
  choices: [{ index: 0, message: { role: 'assistant', content: 'hello from openai' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 },
});
const openaiStream = (model: string): string =>
  [
    { choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
    { choices: [{ index: 0, delta: { content: 'hello streamed' }, finish_reason: null }] },
    { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
    { choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } },
  ]
    .map((c) => `data: ${JSON.stringify({ id: 'chatcmpl-gz', object: 'chat.completion.chunk', created: CREATED, model, ...c })}\n\n`)
    .join('') + 'data: [DONE]\n\n';
const anthropicAnswer = (model: string) => ({
  id: 'msg_gz',
  type: 'message',
  role: 'assistant',
  model,
  content: [{ type: 'text', text: 'hello from anthropic' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 3, output_tokens: 3 },
});

/** The Accept-Encoding of every request the gateway got. */
const seen: Array<string | undefined> = [];
let gateway: Server;
let sc: SidecarHandle;

function answer(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const model = (JSON.parse(body.toString('utf8')) as { model: string; stream?: boolean }).model;
  const stream = (JSON.parse(body.toString('utf8')) as { stream?: boolean }).stream === true;
  const text = req.url!.startsWith('/anthropic/') ? JSON.stringify(anthropicAnswer(model)) : stream ? openaiStream(model) : JSON.stringify(openaiAnswer(model));
  const type = stream ? 'text/event-stream' : 'application/json';
  if (allowsGzip(req.headers['accept-encoding'])) {
    res.writeHead(200, { 'content-type': type, 'content-encoding': 'gzip', vary: 'accept-encoding' });
    res.end(gzipSync(text));
  } else {
    res.writeHead(200, { 'content-type': type, vary: 'accept-encoding' });
    res.end(text);
  }
}

beforeAll(async () => {
  gateway = createServer((req, res) => {
    seen.push(req.headers['accept-encoding']);
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => answer(req, res, Buffer.concat(parts)));
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  const cfg = testConfig(`http://127.0.0.1:${(gateway.address() as AddressInfo).port}`);
  // A provider whose configured headers ask for codings: replaced too.
  const providers = cfg.providers as Record<string, Record<string, unknown>>;
  providers.gemini = { ...providers.gemini, headers: { 'Accept-Encoding': 'gzip, br' } };
  sc = await startSidecar(cfg);
});

afterAll(async () => {
  await sc?.stop();
  gateway?.closeAllConnections();
  await new Promise((r) => gateway?.close(r));
});

it('the fake gateway gzips when Accept-Encoding allows it (none sent allows any coding), not for identity', () => {
  expect([undefined, 'gzip', 'gzip, deflate', '*', 'identity', 'gzip;q=0', 'identity, *;q=0'].map(allowsGzip)).toEqual([
    true,
    true,
    true,
    true,
    false,
    false,
    false,
  ]);
});

it('an OpenAI-kind answer is asked for uncoded and served', async () => {
  seen.length = 0;
  const c = await sc.client.chat.completions.create({ model: 'gpt-4.1', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
  expect(c.choices[0]!.message.content).toBe('hello from openai');
  expect(seen).toEqual(['identity']);
});

it('an OpenAI-kind stream is asked for uncoded and served', async () => {
  seen.length = 0;
  const s = await sc.client.chat.completions.create({ model: 'gpt-4.1', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'hi' }] });
  let text = '';
  for await (const chunk of s) text += chunk.choices[0]?.delta.content ?? '';
  expect(text).toBe('hello streamed');
  expect(seen).toEqual(['identity']);
});

it('an Anthropic-kind answer is asked for uncoded and served', async () => {
  seen.length = 0;
  const c = await sc.client.chat.completions.create({ model: 'claude-sonnet-4.5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
  expect(c.choices[0]!.message.content).toBe('hello from anthropic');
  expect(seen).toEqual(['identity']);
});

it('a provider header asking for a coding is replaced by identity', async () => {
  seen.length = 0;
  const c = await sc.client.chat.completions.create({ model: 'gemini-2.5-flash', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
  expect(c.choices[0]!.message.content).toBe('hello from openai');
  expect(seen).toEqual(['identity']);
});
