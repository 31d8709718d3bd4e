/**
 * A stream whose first event is an error of the client's kind (`invalid_request_error`: some
 * OpenAI-compatible servers answer 200 and put their 400 in the stream) is the request's own
 * fault: the client gets that 400 at once, not a fail-over through every endpoint ending in a
 * 502 upstream_error. A server-side error event still fails over.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addFakeProvider, chatChunk, fakeModel, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';
import { startSidecar, testConfig, type SidecarHandle } from './harness.js';

let upstream: FakeUpstream;
let sc: SidecarHandle;
const hits: string[] = [];

beforeAll(async () => {
  upstream = await startFakeUpstream((j, res) => {
    hits.push(j.model);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (j.model === 'client-err')
      res.end(
        `data: ${JSON.stringify({ error: { message: "Unsupported parameter: 'foo'", type: 'invalid_request_error', param: 'foo', code: 'unsupported_parameter' } })}\n\n`,
      );
    else if (j.model === 'server-err') res.end(`data: ${JSON.stringify({ error: { message: 'overloaded', type: 'server_error' } })}\n\n`);
    else res.end(`${chatChunk(j.model, { role: 'assistant', content: 'fine' }, 'stop')}data: [DONE]\n\n`);
  });
  const cfg = testConfig(upstream.url);
  addFakeProvider(cfg, upstream.url);
  const models = cfg.models as Record<string, unknown>;
  models['m-client'] = fakeModel('client-err', ['m-ok']);
  models['m-server'] = fakeModel('server-err', ['m-ok']);
  models['m-ok'] = fakeModel('ok');
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
