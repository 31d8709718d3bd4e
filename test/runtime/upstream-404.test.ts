/**
 * A 404 from an upstream, in process against real local servers: one whose body is not the
 * provider's JSON error (an HTML page from a web server: a wrong base URL) is the endpoint's
 * fault — the request fails over to the fallback and the endpoint's health counts it — and so is
 * a 404 in the provider's own JSON shape that the model does not exist: the model it was sent is
 * the endpoint's `upstreamModel`, the operator's word, not the client's.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openLedger } from '../../src/accounting/ledger.js';
import { configSchema } from '../../src/config/schema.js';
import type { ChatCall } from '../../src/runtime/api.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { TestSink } from './recording-sink.js';

const HTML_404 = '<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>';
const JSON_404 = JSON.stringify({
  error: { message: 'The model `up-a` does not exist or you do not have access to it.', type: 'invalid_request_error', param: null, code: 'model_not_found' },
});

let sim: Simulator;
let web: Server;
let webUrl = '';
/** What the misconfigured origin answers every request with. */
let answer: { type: string; body: string; status?: number } = { type: 'text/html', body: HTML_404 };
let webHits = 0;
let rt: Runtime | null = null;

beforeAll(async () => {
  sim = await startSimulator({ profile: { defaults: { ttftMs: 0, tokenGapMs: 0, outputTokens: 5 } } });
  web = createServer((req, res) => {
    webHits++;
    req.resume();
    res.writeHead(answer.status ?? 404, { 'content-type': answer.type });
    res.end(answer.body);
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await sim.close();
  await new Promise((r) => web.close(r));
});
afterEach(async () => {
  await rt?.close();
  rt = null;
  webHits = 0;
  loudLines = [];
  sim.resetLog();
});

async function runtime(kind: 'openai' | 'anthropic'): Promise<Runtime> {
  const model = (provider: string, up: string) => ({
    tier: 'balanced',
    price: { inputPerMTok: 1, outputPerMTok: 1 },
    contextWindow: 100_000,
    endpoints: [{ provider, upstreamModel: up }],
  });
  const cfg = configSchema.parse({
    providers: { wrong: { kind, baseUrl: `${webUrl}/v1` }, p: { kind: 'openai', baseUrl: `${sim.url}/openai/v1` } },
    models: { a: { ...model('wrong', 'up-a'), fallbacks: ['b'] }, b: model('p', 'up-b'), c: model('wrong', 'up-c') },
    resilience: { requestTimeoutMs: 30_000 },
  });
  rt = new Runtime({ cfg, ledger: await openLedger('memory'), log: pino({ level: 'silent' }), rng: () => 0 });
  await rt.restoreBudgets();
  return rt;
}

let n = 0;
/** Error-level lines the requests logged (a misconfigured endpoint's). */
let loudLines: { msg: string; baseUrl?: string }[] = [];
const requestLog = pino({ level: 'error' }, { write: (line: string) => void loudLines.push(JSON.parse(line) as { msg: string; baseUrl?: string }) });

async function ask(r: Runtime, stream: boolean, model = 'a'): Promise<TestSink> {
  const sink = new TestSink();
  const call: ChatCall = {
    requestId: `req-${++n}`,
    body: { model, stream, messages: [{ role: 'user', content: 'hello there' }] } as ChatCall['body'],
    hints: { task: null, tier: null, maxLatencyMs: null, maxCostUsd: null, timeoutMs: null },
    keyId: null,
    receivedAt: Date.now(),
    log: requestLog,
  };
  await r.chat(call, sink);
  return sink;
}

const wrongEndpoint = (r: Runtime) => r.state().endpoints.find((e) => e.id === 'a@wrong');

describe('an upstream 404', () => {
  for (const kind of ['openai', 'anthropic'] as const)
    for (const stream of [false, true])
      it(`an HTML page (${kind}-kind, ${stream ? 'stream' : 'JSON'}): the endpoint's fault, failed over and counted`, async () => {
        answer = { type: 'text/html', body: HTML_404 };
        const r = await runtime(kind);
        const sink = await ask(r, stream);
        expect(sink.error).toBeNull();
        expect(sink.status).toBe(200);
        expect(sink.headers['x-switchyard-model']).toBe('b');
        expect(webHits).toBe(1);
        expect(wrongEndpoint(r)?.consecutiveFailures).toBe(1);
      });

  it("a bare text 'Not Found' is the endpoint's fault too", async () => {
    answer = { type: 'text/plain', body: 'Not Found' };
    const r = await runtime('openai');
    const sink = await ask(r, false);
    expect([sink.status, sink.headers['x-switchyard-model'], wrongEndpoint(r)?.consecutiveFailures]).toEqual([200, 'b', 1]);
  });

  it('an HTML page with no other candidate: 502 upstream_error naming the status, not the page relayed', async () => {
    answer = { type: 'text/html', body: HTML_404 };
    const r = await runtime('openai');
    const sink = await ask(r, false, 'c');
    expect(sink.status).toBe(502);
    expect(sink.error?.toBody().error).toMatchObject({ code: 'upstream_error', message: expect.stringContaining('404') });
  });

  it("the provider's JSON 404 (model not found) fails over, counted, logged naming upstreamModel: the model it was sent is the operator's (it was relayed as the client's 404)", async () => {
    answer = { type: 'application/json', body: JSON_404 };
    const r = await runtime('openai');
    const sink = await ask(r, false);
    expect([sink.error, sink.status, sink.headers['x-switchyard-model']]).toEqual([null, 200, 'b']);
    expect(webHits).toBe(1);
    expect(wrongEndpoint(r)?.consecutiveFailures).toBe(1);
    expect(loudLines).toHaveLength(1);
    expect(loudLines[0]?.msg).toContain('the provider does not serve its upstreamModel "up-a"');
    expect(loudLines[0]?.msg).toContain('check models.a.endpoints[].upstreamModel');
  });

  it('a JSON 404 with no other candidate: 502 upstream_error naming the status, x-should-retry false', async () => {
    answer = { type: 'application/json', body: JSON_404 };
    const r = await runtime('openai');
    const sink = await ask(r, false, 'c');
    expect(sink.status).toBe(502);
    expect(sink.error?.toBody().error).toMatchObject({ code: 'upstream_error', message: expect.stringContaining('404') });
    expect(sink.error?.headers['x-should-retry']).toBe('false');
  });
});

describe('a 400/405/413/415/422 from a proxy in front of the provider (a page, not JSON)', () => {
  const page = (status: number) =>
    `<html><head><title>${status}</title></head><body><center><h1>${status}</h1></center><hr><center>nginx</center></body></html>`;
  for (const status of [400, 405, 413, 415, 422])
    for (const kind of ['openai', 'anthropic'] as const)
      it(`${status}, ${kind}-kind: failed over and logged naming baseUrl; counted against the endpoint unless a 413 (the request's size)`, async () => {
        answer = { type: 'text/html', body: page(status), status };
        const r = await runtime(kind);
        const sink = await ask(r, status === 413);
        expect([sink.error, sink.status, sink.headers['x-switchyard-model']]).toEqual([null, 200, 'b']);
        expect(webHits).toBe(1);
        expect(wrongEndpoint(r)?.consecutiveFailures).toBe(status === 413 ? 0 : 1);
        expect(loudLines).toHaveLength(1);
        expect(loudLines[0]?.baseUrl).toBe(`${webUrl}/v1`);
        if (status === 413) {
          expect(loudLines[0]?.msg).toContain('answered 413 with a body that is not the provider');
          expect(loudLines[0]?.msg).toContain(`in front of its provider's baseUrl (${webUrl}/v1) limits the request's size`);
        } else {
          expect(loudLines[0]?.msg).toContain(`answered ${status} with a page`);
          expect(loudLines[0]?.msg).toContain(`baseUrl (${webUrl}/v1) and any reverse proxy, CDN or WAF in front of it`);
        }
      });

  it("the provider's JSON 400 is relayed as it came, no fail-over, not counted, not logged loudly", async () => {
    const body = { error: { message: "Invalid value for 'temperature'", type: 'invalid_request_error', param: 'temperature', code: 'invalid_value' } };
    answer = { type: 'application/json', body: JSON.stringify(body), status: 400 };
    const r = await runtime('openai');
    const sink = await ask(r, false);
    expect(sink.status).toBe(400);
    expect(sink.error?.toBody().error).toMatchObject({ code: 'invalid_value', param: 'temperature' });
    expect(sim.log().filter((e) => e.model === 'up-b')).toEqual([]);
    expect([wrongEndpoint(r)?.consecutiveFailures, loudLines]).toEqual([0, []]);
  });

  it("a gateway's own JSON 413 (Kong's, AWS API Gateway's {\"message\": …}) fails over like a 413 page, not counted", async () => {
    answer = { type: 'application/json', body: '{"message":"Request size limit exceeded"}', status: 413 };
    const r = await runtime('openai');
    const sink = await ask(r, true);
    expect([sink.error, sink.status, sink.headers['x-switchyard-model']]).toEqual([null, 200, 'b']);
    expect(wrongEndpoint(r)?.consecutiveFailures).toBe(0);
    expect(loudLines).toHaveLength(1);
    expect(loudLines[0]?.msg).toContain('answered 413 with a body that is not the provider');
  });

  it("a self-hosted server's own JSON 422 (not OpenAI's shape) is still the client's: relayed, not counted", async () => {
    answer = { type: 'application/json', body: '{"error":"Input validation error: `max_new_tokens` must be <= 2048","error_type":"validation"}', status: 422 };
    const r = await runtime('openai');
    const sink = await ask(r, false);
    expect(sink.status).toBe(422);
    expect(sim.log().filter((e) => e.model === 'up-b')).toEqual([]);
    expect([wrongEndpoint(r)?.consecutiveFailures, loudLines]).toEqual([0, []]);
  });

  it('an HTML 403 from a WAF fails over, logged naming the WAF, and is not counted: a client cannot open the circuit by sending what it blocks', async () => {
    answer = { type: 'text/html', body: page(403), status: 403 };
    const r = await runtime('openai');
    const sink = await ask(r, false);
    expect([sink.status, sink.headers['x-switchyard-model'], wrongEndpoint(r)?.consecutiveFailures]).toEqual([200, 'b', 0]);
    expect(loudLines).toHaveLength(1);
    expect(loudLines[0]?.msg).toContain('answered 403 with a page');
    expect(loudLines[0]?.msg).toContain('WAF');
  });

  it("the provider's JSON 403 stays an auth failure: counted, logged as credentials", async () => {
    answer = { type: 'application/json', body: '{"error":{"message":"Forbidden","type":"invalid_request_error","param":null,"code":null}}', status: 403 };
    const r = await runtime('openai');
    const sink = await ask(r, false);
    expect([sink.status, sink.headers['x-switchyard-model'], wrongEndpoint(r)?.consecutiveFailures]).toEqual([200, 'b', 1]);
    expect(loudLines[0]?.msg).toContain('apiKeyEnv');
  });
});
