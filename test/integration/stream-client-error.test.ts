/**
 * A stream whose first event is an error of the client's kind (`invalid_request_error`: some
 * OpenAI-compatible servers answer 200 and put their 400 in the stream) is the request's own
 * fault: the client gets that 400 at once, not a fail-over through every endpoint ending in a
 * 502 upstream_error. A server-side error event still fails over.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSidecar, testConfig, type SidecarHandle } from './harness.js';

let upstream: Server;
let sc: SidecarHandle;
const hits: string[] = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const j = JSON.parse(body) as { model: string };
      hits.push(j.model);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (j.model === 'client-err')
        res.end(
          `data: ${JSON.stringify({ error: { message: "Unsupported parameter: 'foo'", type: 'invalid_request_error', param: 'foo', code: 'unsupported_parameter' } })}\n\n`,
        );
      else if (j.model === 'server-err') res.end(`data: ${JSON.stringify({ error: { message: 'overloaded', type: 'server_error' } })}\n\n`);
      else {
        const chunk = {
          id: 'c',
          object: 'chat.completion.chunk',
          created: 1,
          model: j.model,
          choices: [{ index: 0, delta: { role: 'assistant', content: 'fine' }, finish_reason: 'stop' }],
        };
        res.end(`data: ${JSON.stringify(chunk)}\n\ndata: [DONE]\n\n`);
      }
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  const cfg = testConfig(url);
  (cfg.providers as Record<string, unknown>).fake = { kind: 'openai', baseUrl: url, apiKeyEnv: 'SY_TEST_OPENAI_KEY' };
  const model = (upstreamModel: string, fallbacks: string[]) => ({
    tier: 'balanced',
    price: { inputPerMTok: 1, outputPerMTok: 1 },
    contextWindow: 100_000,
    fallbacks,
    endpoints: [{ provider: 'fake', upstreamModel }],
  });
  const models = cfg.models as Record<string, unknown>;
  models['m-client'] = model('client-err', ['m-ok']);
  models['m-server'] = model('server-err', ['m-ok']);
  models['m-ok'] = model('ok', []);
  sc = await startSidecar(cfg);
});

afterAll(async () => {
  await sc?.stop();
  upstream?.close();
});

const ask = (model: string) =>
  fetch(`${sc.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });

it("a first stream event of the client's kind is answered as the 400 it is, after one attempt", async () => {
  hits.length = 0;
  const r = await ask('m-client');
  expect(r.status).toBe(400);
  expect(await r.json()).toEqual({
    error: { message: "Unsupported parameter: 'foo'", type: 'invalid_request_error', param: 'foo', code: 'unsupported_parameter' },
  });
  expect(hits).toEqual(['client-err']);
});

it('a server-side error event still fails over to the fallback', async () => {
  hits.length = 0;
  const r = await ask('m-server');
  expect(r.status).toBe(200);
  expect(await r.text()).toContain('fine');
  expect(hits[0]).toBe('server-err');
  expect(hits.at(-1)).toBe('ok');
});
