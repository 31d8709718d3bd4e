/**
 * OpenTelemetry end to end: the real sidecar exports spans over OTLP/HTTP to an in-process
 * receiver; one SERVER span per request continuing the client's traceparent, one CLIENT span
 * per upstream attempt under it, GenAI and switchyard attributes, traceparent sent upstream,
 * no prompt text by default.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDINGS_MODEL, ROOT, startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import { OtlpReceiver } from './otlp-receiver.js';

let sim: SimHandle;
let sc: SidecarHandle;
const otlp = new OtlpReceiver();
let probe: Server;
const probeHeaders: IncomingHttpHeaders[] = [];

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';
const traceparent = (n: number) => `00-${TRACE.slice(0, -2)}${String(n).padStart(2, '0')}-${CLIENT_SPAN}-01`;
const SECRET_PROMPT = 'zebra-quartz-prompt-text';
const HANG = 'probe-please-hang';
const CUT = 'probe-please-cut-the-stream';
let probeHung: () => void = () => undefined;
const hung = new Promise<void>((r) => (probeHung = r));

beforeAll(async () => {
  await otlp.start();
  // A minimal OpenAI-kind upstream that records the headers it was sent.
  probe = createServer((req, res) => {
    probeHeaders.push(req.headers);
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      // A prompt asking for it gets no answer: the client gives up first.
      const text = Buffer.concat(parts).toString('utf8');
      if (text.includes(HANG)) return probeHung();
      // A stream cut after its first chunk: the client has had its 200 and the start of the answer.
      if (text.includes(CUT)) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = {
          id: 'chatcmpl-cut',
          object: 'chat.completion.chunk',
          created: 1,
          model: 'probe',
          choices: [{ index: 0, delta: { role: 'assistant', content: 'par' }, finish_reason: null }],
        };
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-probe',
          object: 'chat.completion',
          created: 1,
          model: 'probe',
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 7, completion_tokens: 1, total_tokens: 8 },
        }),
      );
    });
  });
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  sim = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: 6 } });
  const base = testConfig(sim.url);
  const probeUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/v1`;
  sc = await startSidecar({
    ...base,
    providers: { ...(base.providers as Record<string, unknown>), probe: { kind: 'openai', baseUrl: probeUrl } },
    models: {
      ...(base.models as Record<string, unknown>),
      'probe-model': {
        tier: 'balanced',
        price: { inputPerMTok: 1, outputPerMTok: 1 },
        contextWindow: 8000,
        endpoints: [{ provider: 'probe', upstreamModel: 'probe-up' }],
      },
    },
    observe: { otlp: { endpoint: otlp.url, serviceName: 'switchyard-test' } },
  });
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
  await otlp.stop();
  await new Promise<void>((r) => probe?.close(() => r()));
});

const server = (traceId: string) => otlp.waitFor((s) => s.traceId === traceId && s.kind === 2);

describe('OpenTelemetry over OTLP/HTTP', () => {
  it('exports a request span continuing the client trace, with an attempt span under it', async () => {
    const tp = traceparent(1);
    const traceId = tp.split('-')[1]!;
    await sc.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: SECRET_PROMPT }] }, { headers: { traceparent: tp } });
    const req = await server(traceId);
    expect(req.parentSpanId).toBe(CLIENT_SPAN);
    expect(req.resource['service.name']).toBe('switchyard-test');
    expect(req.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4.1',
      'gen_ai.response.model': 'gpt-4.1',
      'gen_ai.provider.name': 'openai',
      'gen_ai.usage.output_tokens': 6,
      'switchyard.api': 'chat',
      'switchyard.tier': 'balanced',
      'switchyard.endpoint': 'gpt-4.1@openai',
      'switchyard.attempts': 1,
      'http.response.status_code': 200,
      // As the spans of requests answered without a model call have them.
      'http.request.method': 'POST',
      'http.route': '/v1/chat/completions',
    });
    expect(Number(req.attributes['gen_ai.usage.input_tokens'])).toBeGreaterThan(0);
    expect(Number(req.attributes['switchyard.cost_usd'])).toBeGreaterThan(0);
    const attempt = await otlp.waitFor((s) => s.traceId === traceId && s.kind === 3);
    expect(attempt.parentSpanId).toBe(req.spanId);
    expect(attempt.attributes).toMatchObject({ 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4.1', 'gen_ai.usage.output_tokens': 6 });
    // How the answer finished, as the conventions' recommended attribute (an array).
    expect(attempt.attributes['gen_ai.response.finish_reasons']).toEqual(['stop']);
    // No prompt or answer text unless observe.otlp.captureContent is on.
    for (const s of otlp.spans) expect(JSON.stringify(s.attributes)).not.toContain(SECRET_PROMPT);
  });

  it('with captureContent, the prompt and answer are on the spans, a configured secret in them scrubbed as in logs', async () => {
    const base = testConfig(sim.url);
    const content = await startSidecar({ ...base, observe: { otlp: { endpoint: otlp.url, serviceName: 'switchyard-content', captureContent: true } } });
    try {
      const tp = traceparent(40);
      // The simulator's key as the harness sets it (TEST_KEYS): a prompt that quotes it.
      await content.client.chat.completions.create(
        { model: 'gpt-4.1', messages: [{ role: 'user', content: `${SECRET_PROMPT} my key is sk-test-openai-SECRET` }] },
        { headers: { traceparent: tp } },
      );
      const req = await server(tp.split('-')[1]!);
      const input = String(req.attributes['gen_ai.input.messages']);
      expect(input).toContain(SECRET_PROMPT);
      expect(input).not.toContain('sk-test-openai-SECRET');
      // The GenAI conventions' shape, as gen_ai.output.messages has: role and parts.
      expect(JSON.parse(input)).toEqual([{ role: 'user', parts: [{ type: 'text', content: `${SECRET_PROMPT} my key is [redacted]` }] }]);
      const output = String(
        req.attributes['gen_ai.output.messages'] ??
          (await otlp.waitFor((s) => s.traceId === tp.split('-')[1] && s.kind === 3)).attributes['gen_ai.output.messages'],
      );
      // The conventions' output message: role, parts and the finish_reason its schema requires.
      expect(JSON.parse(output)).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: expect.any(String) }], finish_reason: 'stop' }]);
    } finally {
      await content.stop();
    }
  });

  it("with captureContent, an answer's tool calls are on the attempt span's output message as tool_call parts (chat JSON and stream, Messages relayed from Claude)", async () => {
    const base = testConfig(sim.url);
    const content = await startSidecar({ ...base, observe: { otlp: { endpoint: otlp.url, serviceName: 'switchyard-content-tools', captureContent: true } } });
    const params = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const output = async (tp: string): Promise<unknown> =>
      JSON.parse(String((await otlp.waitFor((s) => s.traceId === tp.split('-')[1] && s.kind === 3)).attributes['gen_ai.output.messages']));
    const call = { type: 'tool_call', id: expect.any(String), name: 'weather', arguments: { city: expect.any(String) } };
    try {
      const body = {
        model: 'gpt-4.1',
        messages: [{ role: 'user' as const, content: 'weather in Paris?' }],
        tools: [{ type: 'function' as const, function: { name: 'weather', parameters: params } }],
        tool_choice: 'required' as const,
      };
      const tp1 = traceparent(50);
      await content.client.chat.completions.create(body, { headers: { traceparent: tp1 } });
      expect(await output(tp1)).toEqual([{ role: 'assistant', parts: [call], finish_reason: 'tool_calls' }]);
      const tp2 = traceparent(51);
      const stream = await content.client.chat.completions.create({ ...body, stream: true }, { headers: { traceparent: tp2 } });
      for await (const _ of stream);
      expect(await output(tp2)).toEqual([{ role: 'assistant', parts: [call], finish_reason: 'tool_calls' }]);
      const tp3 = traceparent(52);
      const res = await fetch(`${content.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', traceparent: tp3 },
        body: JSON.stringify({
          model: 'claude-sonnet-4.5',
          max_tokens: 200,
          stream: true,
          messages: [{ role: 'user', content: 'weather in Paris?' }],
          tools: [{ name: 'weather', input_schema: params }],
          tool_choice: { type: 'any' },
        }),
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('tool_use');
      const parts = ((await output(tp3)) as { parts: unknown[] }[])[0]!.parts;
      expect(parts).toContainEqual(call);
      // The relayed events' JSON pieces are the call's arguments, not text.
      for (const p of parts as { type: string; content?: string }[]) if (p.type === 'text') expect(p.content).not.toContain('{"city"');
    } finally {
      await content.stop();
    }
  });

  it('with captureContent, a stream attempt cut after it started has on its span the output it gave before the cut (no finish_reason)', async () => {
    const content = await startSidecar({
      ...testConfig(sim.url),
      observe: { otlp: { endpoint: otlp.url, serviceName: 'switchyard-content-cut', captureContent: true } },
    });
    await sim.setFault('gpt-4.1', { kind: 'cut', afterTokens: 3 });
    try {
      const tp = traceparent(53);
      const stream = await content.client.chat.completions.create(
        { model: 'gpt-4.1', stream: true, messages: [{ role: 'user', content: 'hi' }] },
        { headers: { traceparent: tp } },
      );
      let text = '';
      for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
      const traceId = tp.split('-')[1]!;
      const failed = await otlp.waitFor((s) => s.traceId === traceId && s.kind === 3 && s.attributes['switchyard.fault'] !== undefined);
      const out = JSON.parse(String(failed.attributes['gen_ai.output.messages'])) as {
        role: string;
        parts: { type: string; content: string }[];
        finish_reason?: string;
      }[];
      expect(out).toHaveLength(1);
      expect(out[0]!.finish_reason).toBeUndefined();
      const given = out[0]!.parts
        .filter((p) => p.type === 'text')
        .map((p) => p.content)
        .join('');
      expect(given.length).toBeGreaterThan(0);
      // The client's answer starts with what the cut attempt gave; the continuation gave the rest.
      expect(text.startsWith(given)).toBe(true);
      expect(text.length).toBeGreaterThan(given.length);
    } finally {
      await sim.clearFaults();
      await content.stop();
    }
  });

  it("an embeddings request span has the conventions' gen_ai.request.encoding_formats and gen_ai.embeddings.dimension.count when the request sets them", async () => {
    const base = testConfig(sim.url);
    const emb = await startSidecar({
      ...base,
      models: { ...(base.models as Record<string, unknown>), 'text-embedding-3-small': EMBEDDINGS_MODEL },
      observe: { otlp: { endpoint: otlp.url, serviceName: 'switchyard-embeddings' } },
    });
    try {
      // The openai SDK asks for base64 unless told otherwise.
      const tp = traceparent(62);
      await emb.client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello', dimensions: 4 }, { headers: { traceparent: tp } });
      const req = await server(tp.split('-')[1]!);
      expect(req.attributes).toMatchObject({ 'gen_ai.request.encoding_formats': ['base64'], 'gen_ai.embeddings.dimension.count': 4 });
      const raw = await fetch(`${emb.url}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: traceparent(63) },
        body: JSON.stringify({ model: 'text-embedding-3-small', input: 'hello' }),
      });
      expect(raw.status).toBe(200);
      const plain = await server(traceparent(63).split('-')[1]!);
      expect(plain.attributes['gen_ai.request.encoding_formats']).toBeUndefined();
      expect(plain.attributes['gen_ai.embeddings.dimension.count']).toBeUndefined();
    } finally {
      await emb.stop();
    }
  });

  it("a request span has the conventions' request parameters the client set (top_p, seed, penalties, stop sequences) and gen_ai.output.type for a requested format, on chat and Responses alike", async () => {
    const tp = traceparent(64);
    await sc.client.chat.completions.create(
      {
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: 'hi as JSON' }],
        top_p: 0.5,
        seed: 7,
        frequency_penalty: 0.25,
        presence_penalty: -0.5,
        stop: 'END',
        max_tokens: 50,
        response_format: { type: 'json_object' },
      },
      { headers: { traceparent: tp } },
    );
    expect((await server(tp.split('-')[1]!)).attributes).toMatchObject({
      'gen_ai.request.top_p': 0.5,
      'gen_ai.request.seed': 7,
      'gen_ai.request.frequency_penalty': 0.25,
      'gen_ai.request.presence_penalty': -0.5,
      'gen_ai.request.stop_sequences': ['END'],
      'gen_ai.request.max_tokens': 50,
      'gen_ai.output.type': 'json',
    });
    // A client's stop list is input of any length: the span keeps the first 16, each cut to 256
    // characters and scrubbed (a million were each held until export: 2.4 GB); a tracestate that
    // holds what looks like a key is dropped (it was on every span, and sent upstream).
    const tp4 = traceparent(76);
    const stops = ['sk-test-openai-SECRET', 'x'.repeat(1000), ...Array.from({ length: 20 }, (_, i) => `s${i}`)];
    await sc.client.chat.completions.create(
      { model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }], stop: stops },
      { headers: { traceparent: tp4, tracestate: 'vendor=sk-test-openai-SECRET' } },
    );
    const capped = await server(tp4.split('-')[1]!);
    expect(capped.attributes['gen_ai.request.stop_sequences']).toEqual(['[redacted]', 'x'.repeat(256), ...stops.slice(2, 16)]);
    const all = otlp.spans.filter((s) => s.traceId === tp4.split('-')[1]);
    expect(all.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(all)).not.toContain('SECRET');
    // A tracestate with nothing of the kind is kept, as the client sent it.
    const tp5 = traceparent(77);
    await sc.client.chat.completions.create(
      { model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] },
      { headers: { traceparent: tp5, tracestate: 'vendor=abc' } },
    );
    expect((await server(tp5.split('-')[1]!)).traceState).toBe('vendor=abc');
    const tp2 = traceparent(65);
    const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false };
    await sc.client.responses.create(
      { model: 'gpt-4.1', input: 'hi', top_p: 0.9, text: { format: { type: 'json_schema', name: 's', schema, strict: true } } },
      { headers: { traceparent: tp2 } },
    );
    expect((await server(tp2.split('-')[1]!)).attributes).toMatchObject({ 'gen_ai.request.top_p': 0.9, 'gen_ai.output.type': 'json' });
    // Nothing asked, nothing said: a plain request has none of them.
    const tp3 = traceparent(66);
    await sc.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: tp3 } });
    const plain = (await server(tp3.split('-')[1]!)).attributes;
    for (const k of ['top_p', 'seed', 'frequency_penalty', 'presence_penalty', 'stop_sequences']) expect(plain[`gen_ai.request.${k}`], k).toBeUndefined();
    expect(plain['gen_ai.output.type']).toBeUndefined();
  });

  it("an attempt span has the conventions' server.address and server.port of the upstream it called (its provider's baseUrl)", async () => {
    const tp = traceparent(67);
    await sc.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: tp } });
    const attempt = await otlp.waitFor((s) => s.traceId === tp.split('-')[1] && s.kind === 3);
    const up = new URL(sim.url);
    expect(attempt.attributes).toMatchObject({ 'server.address': up.hostname, 'server.port': Number(up.port) });
  });

  it('a Responses request span has gen_ai.response.id, the id the client got (JSON and stream), to find the stored response by', async () => {
    const tp = traceparent(68);
    const r = await sc.client.responses.create({ model: 'gpt-4.1', input: 'hi' }, { headers: { traceparent: tp } });
    expect((await server(tp.split('-')[1]!)).attributes['gen_ai.response.id']).toBe(r.id);
    const tp2 = traceparent(69);
    const s = sc.client.responses.stream({ model: 'gpt-4.1', input: 'hi' }, { headers: { traceparent: tp2 } });
    for await (const _ of s);
    const f = await s.finalResponse();
    expect((await server(tp2.split('-')[1]!)).attributes['gen_ai.response.id']).toBe(f.id);
  });

  it('a chat, legacy completions and Messages request span has gen_ai.response.id, the id the client got (JSON and stream)', async () => {
    const id = async (n: number) => (await server(traceparent(n).split('-')[1]!)).attributes['gen_ai.response.id'];
    const headers = (n: number) => ({ headers: { traceparent: traceparent(n) } });
    const c = await sc.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }, headers(80));
    expect(c.id).toMatch(/\w/);
    expect(await id(80)).toBe(c.id);
    const chunks = await sc.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }], stream: true }, headers(81));
    let streamId = '';
    for await (const ch of chunks) streamId ||= ch.id;
    expect(await id(81)).toBe(streamId);
    const legacy = await sc.client.completions.create({ model: 'gpt-4.1', prompt: 'hi', max_tokens: 8 }, headers(82));
    expect(await id(82)).toBe(legacy.id);
    const anthropic = (n: number) => new Anthropic({ baseURL: sc.url, apiKey: 'unused', maxRetries: 0, defaultHeaders: { traceparent: traceparent(n) } });
    const m = await anthropic(83).messages.create({ model: 'gpt-4.1', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
    expect(m.id).toMatch(/^msg_/);
    expect(await id(83)).toBe(m.id);
    const ms = anthropic(84).messages.stream({ model: 'gpt-4.1', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
    const fm = await ms.finalMessage();
    expect(await id(84)).toBe(fm.id);
  });

  it("with captureContent, an embeddings request's span carries no input messages: not the flow's placeholder prompt (a run of x for token ids, the texts joined as one user turn)", async () => {
    const base = testConfig(sim.url);
    const content = await startSidecar({
      ...base,
      models: {
        ...(base.models as Record<string, unknown>),
        'text-embedding-3-small': EMBEDDINGS_MODEL,
      },
      observe: { otlp: { endpoint: otlp.url, serviceName: 'switchyard-content-embeddings', captureContent: true } },
    });
    try {
      const inputs: Array<string | string[] | number[][]> = [
        [
          [11, 12, 13, 14, 15, 16],
          [17, 18],
        ],
        ['alpha text', 'beta text'],
      ];
      for (const [i, input] of inputs.entries()) {
        const tp = traceparent(60 + i);
        await content.client.embeddings.create({ model: 'text-embedding-3-small', input }, { headers: { traceparent: tp } });
        const req = await server(tp.split('-')[1]!);
        expect(req.name).toBe('embeddings text-embedding-3-small');
        expect(req.attributes['gen_ai.input.messages']).toBeUndefined();
        expect(JSON.stringify(req.attributes)).not.toMatch(/xxxxxx|alpha text\\nbeta text/);
      }
    } finally {
      await content.stop();
    }
  });

  it("the spans' resource has the SDK's attributes and OTEL_RESOURCE_ATTRIBUTES; service.name is the config's, else OTEL_SERVICE_NAME", async () => {
    const env = { OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging,service.namespace=llm', OTEL_SERVICE_NAME: 'gateway-from-env' };
    // Each its own ledger (testConfig makes one per call).
    const named = await startSidecar({ ...testConfig(sim.url), observe: { otlp: { endpoint: otlp.url, serviceName: 'gateway-from-config' } } }, env);
    const unnamed = await startSidecar({ ...testConfig(sim.url), observe: { otlp: { endpoint: otlp.url } } }, env);
    try {
      const [tp1, tp2] = [traceparent(41), traceparent(42)];
      await named.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'resource' }] }, { headers: { traceparent: tp1 } });
      await unnamed.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'resource' }] }, { headers: { traceparent: tp2 } });
      const fromConfig = (await server(tp1.split('-')[1]!)).resource;
      expect(fromConfig).toMatchObject({
        'service.name': 'gateway-from-config',
        'deployment.environment.name': 'staging',
        'service.namespace': 'llm',
        'telemetry.sdk.language': 'nodejs',
      });
      expect((await server(tp2.split('-')[1]!)).resource).toMatchObject({ 'service.name': 'gateway-from-env', 'deployment.environment.name': 'staging' });
    } finally {
      await Promise.all([named.stop(), unnamed.stop()]);
    }
  });

  it('records each failed attempt and the fail-over reason', async () => {
    await sim.setFault('gpt-4.1', { kind: 'http_error', status: 500 });
    const tp = traceparent(2);
    const traceId = tp.split('-')[1]!;
    await sc.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: tp } });
    await sim.clearFaults();
    const req = await server(traceId);
    const attempts = otlp.spans.filter((s) => s.traceId === traceId && s.kind === 3);
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(attempts.every((a) => a.parentSpanId === req.spanId)).toBe(true);
    const failed = attempts.filter((a) => a.status.code === 2);
    expect(failed.length).toBeGreaterThanOrEqual(1);
    // The HTTP conventions' error.type of a CLIENT span with an error status: the code (it was "http_status").
    expect(failed[0]!.attributes).toMatchObject({ 'http.response.status_code': 500, 'error.type': '500', 'switchyard.fault': 'http_status' });
    // The fail-over's reason is that attempt's error.type (it was the internal fault kind, "http_status").
    expect(req.attributes['switchyard.failover.reason']).toBe('500');
    expect(req.attributes['gen_ai.response.model']).toBe('claude-sonnet-4.5');
    // The request span's provider is the one that answered, not the one that failed.
    expect(req.attributes['gen_ai.provider.name']).toBe('anthropic');
    expect(attempts.some((a) => a.attributes['gen_ai.provider.name'] === 'anthropic')).toBe(true);
  });

  it("an attempt failed without a status has the fault's class as error.type, as switchyard_attempts_total names it (a reset is connection, a stall timeout), switchyard.fault the kind", async () => {
    for (const [fault, n, errorType, kind] of [
      [{ kind: 'reset', times: 1 }, 61, 'connection', 'reset'],
      [{ kind: 'hang', times: 1 }, 62, 'timeout', 'headers_timeout'],
    ] as const) {
      await sim.setFault('gpt-4.1', fault);
      const tp = traceparent(n);
      await sc.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: tp } });
      await sim.clearFaults();
      const traceId = tp.split('-')[1]!;
      const failed = await otlp.waitFor((s) => s.traceId === traceId && s.kind === 3 && s.status.code === 2);
      expect([failed.attributes['error.type'], failed.attributes['switchyard.fault']]).toEqual([errorType, kind]);
    }
  });

  it('a retry on the same endpoint that then answers is no fail-over: no switchyard.failover.reason', async () => {
    // One 500: the quick retry goes to the same endpoint, which answers.
    await sim.setFault('deepseek-chat', { kind: 'http_error', status: 500, times: 1 });
    const tp = traceparent(43);
    const traceId = tp.split('-')[1]!;
    const r = await sc.client.chat.completions
      .create({ model: 'deepseek-v3.2', messages: [{ role: 'user', content: 'retry me' }] }, { headers: { traceparent: tp } })
      .withResponse();
    expect(r.response.headers.get('x-switchyard-endpoint')).toBe('deepseek-v3.2@deepseek');
    const req = await server(traceId);
    expect(req.attributes['switchyard.attempts']).toBe(2);
    const attempts = otlp.spans.filter((s) => s.traceId === traceId && s.kind === 3);
    expect(attempts.map((a) => a.attributes['switchyard.endpoint'])).toEqual(['deepseek-v3.2@deepseek', 'deepseek-v3.2@deepseek']);
    expect(req.attributes['switchyard.failover.reason']).toBeUndefined();
  });

  it('ends a failed (5xx) request span ERROR with error.type, a refused (4xx) one UNSET; an unknown model is neither its name nor echoed whole', async () => {
    await sim.setFault('*', { kind: 'http_error', status: 500 });
    const tp = traceparent(6);
    await expect(
      sc.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: tp } }),
    ).rejects.toMatchObject({ status: 502 });
    await sim.clearFaults();
    const failed = await server(tp.split('-')[1]!);
    expect(failed.status.code).toBe(2);
    expect(failed.attributes).toMatchObject({ 'error.type': 'upstream_error', 'switchyard.error.code': 'upstream_error', 'http.response.status_code': 502 });
    // Nothing answered: no response model or provider (it named the last model tried).
    expect(failed.attributes['gen_ai.response.model']).toBeUndefined();
    expect(failed.attributes['gen_ai.provider.name']).toBeUndefined();
    // An unknown model is client input of any length: not a span name, and echoed only in part.
    const tp2 = traceparent(7);
    const unknown = `no-such-model-${'x'.repeat(100_000)}`;
    const err = (await sc.client.chat.completions
      .create({ model: unknown, messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: tp2 } })
      .catch((e: unknown) => e)) as { status: number; message: string };
    expect(err.status).toBe(400);
    expect(err.message).toContain('The model "no-such-model-xxx');
    expect(err.message).toContain('(100014 characters)');
    expect(err.message.length).toBeLessThan(1000);
    const refused = await server(tp2.split('-')[1]!);
    // HTTP semantic conventions: a SERVER span's status stays UNSET for a 4xx (the client's
    // mistake), and error.type is set only when the status is an error; switchyard's code stays.
    expect(refused.status.code ?? 0).toBe(0);
    expect(refused.attributes['error.type']).toBeUndefined();
    expect(refused.attributes).toMatchObject({ 'switchyard.error.code': 'model_not_found', 'http.response.status_code': 400 });
    expect(refused.name).toBe('chat');
    expect(String(refused.attributes['gen_ai.request.model']).length).toBeLessThan(200);
    await sc.waitForOutput('no-such-model-');
    const line = sc
      .stdout()
      .split('\n')
      .find((l) => l.includes('no-such-model-'))!;
    expect(line.length).toBeLessThan(2000);
    // A request that succeeded has none.
    expect((await server(traceparent(1).split('-')[1]!)).attributes['error.type']).toBeUndefined();
    // A key sent as the model is scrubbed in the span, as in the error body and the log (it was exported whole).
    const tp3 = traceparent(97);
    await sc.client.chat.completions
      .create({ model: 'sk-test-openai-SECRET', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: tp3 } })
      .catch(() => undefined);
    const keyed = await server(tp3.split('-')[1]!);
    expect(JSON.stringify(keyed)).not.toContain('sk-test-openai-SECRET');
    expect(String(keyed.attributes['gen_ai.request.model'])).toContain('[redacted]');
    // Messages errors are scrubbed too, and a refused tier header is echoed as sent (lowercased, a key escaped the scrubber).
    const msg = await fetch(`${sc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'sk-test-openai-SECRET', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(msg.status).toBe(400);
    expect(await msg.text()).not.toContain('sk-test-openai-SECRET');
    const tier = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-switchyard-tier': 'sk-test-openai-SECRET' },
      body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const tierText = await tier.text();
    expect(tier.status).toBe(400);
    expect(tierText.toLowerCase()).not.toContain('sk-test-openai-secret');
  });

  it("a cascaded request's span is the request's: the status its client got, every step's cost and attempts (it was the last step's)", async () => {
    for (const m of ['gemini-2.5-flash', 'deepseek-chat']) await sim.setFault(m, { kind: 'invalid_json', times: 1 });
    const tp = traceparent(96);
    const { response } = await sc.client.chat.completions
      .create(
        { model: 'auto', response_format: { type: 'json_object' }, messages: [{ role: 'user', content: 'json please' }] },
        { headers: { traceparent: tp, 'x-switchyard-cascade': 'on', 'x-switchyard-tier': 'fast_cheap' } },
      )
      .withResponse();
    await sim.clearFaults();
    expect(response.headers.get('x-switchyard-cascade')).toMatch(/:invalid_json>/);
    const span = await server(tp.split('-')[1]!);
    expect(span.attributes['http.response.status_code']).toBe(200);
    expect(span.attributes['switchyard.cost_usd']).toBeCloseTo(Number(response.headers.get('x-switchyard-cost-usd')), 12);
    expect(span.attributes['switchyard.attempts']).toBe(Number(response.headers.get('x-switchyard-attempts')));
    expect(otlp.spans.filter((s) => s.kind === 2 && s.traceId === span.traceId)).toHaveLength(1);
  });

  it('gives a request refused at the edge (a body that is not JSON, one over the size limit) a SERVER span, status UNSET', async () => {
    const post = async (path: string, body: string, n: number): Promise<number> => {
      const res = await fetch(`${sc.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', traceparent: traceparent(n) }, body });
      await res.arrayBuffer();
      return res.status;
    };
    expect(await post('/v1/chat/completions', '{"model":', 8)).toBe(400);
    expect(await post('/v1/messages', 'x'.repeat(5_000_000), 9)).toBe(413);
    const junk = await server(traceparent(8).split('-')[1]!);
    expect(junk.parentSpanId).toBe(CLIENT_SPAN);
    expect(junk.name).toBe('chat');
    expect(junk.status.code ?? 0).toBe(0);
    expect(junk.attributes).toMatchObject({
      'switchyard.api': 'chat',
      'switchyard.error.code': 'invalid_request',
      'switchyard.attempts': 0,
      'http.response.status_code': 400,
      'http.request.method': 'POST',
      'http.route': '/v1/chat/completions',
    });
    expect(junk.attributes['error.type']).toBeUndefined();
    const big = await server(traceparent(9).split('-')[1]!);
    expect(big.attributes).toMatchObject({ 'switchyard.api': 'messages', 'switchyard.error.code': 'body_too_large', 'http.response.status_code': 413 });
    // No upstream was asked: no attempt span.
    expect(otlp.spans.filter((s) => s.kind === 3 && [junk.traceId, big.traceId].includes(s.traceId))).toEqual([]);
    // Its log line carries the span's ids, as a routed request's lines do (it had none: the refusal could not be joined to its trace).
    await sc.waitForOutput(junk.traceId);
    const line = JSON.parse(
      sc
        .stdout()
        .split('\n')
        .find((l) => l.includes(junk.traceId))!,
    ) as Record<string, unknown>;
    expect(line).toMatchObject({ msg: expect.stringMatching(/^request refused: /), trace_id: junk.traceId, span_id: junk.spanId, status: 400 });
  });

  it('gives a token count, an unknown route (404) and a wrong method (405) a SERVER span named by method and route, 4xx status UNSET', async () => {
    const send = async (method: string, path: string, n: number, body?: unknown): Promise<number> => {
      const headers: Record<string, string> = { traceparent: traceparent(n) };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${sc.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      await res.arrayBuffer();
      return res.status;
    };
    const count = { model: 'claude-sonnet-4.5', messages: [{ role: 'user', content: 'hi' }] };
    expect(await send('POST', '/v1/messages/count_tokens', 11, count)).toBe(200);
    expect(await send('POST', '/v1/messages/count_tokens', 12, { ...count, model: 'nope' })).toBe(400);
    expect(await send('GET', '/v1/nowhere', 13)).toBe(404);
    expect(await send('GET', '/v1/chat/completions', 14)).toBe(405);
    const counted = await server(traceparent(11).split('-')[1]!);
    expect(counted.parentSpanId).toBe(CLIENT_SPAN);
    expect(counted.name).toBe('POST /v1/messages/count_tokens');
    expect(counted.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/messages/count_tokens',
      'http.response.status_code': 200,
      'switchyard.api': 'messages',
      'switchyard.attempts': 0,
    });
    expect(counted.attributes['switchyard.error.code']).toBeUndefined();
    const unknownModel = await server(traceparent(12).split('-')[1]!);
    expect(unknownModel.attributes).toMatchObject({ 'http.response.status_code': 400, 'switchyard.error.code': 'model_not_found' });
    const noRoute = await server(traceparent(13).split('-')[1]!);
    expect(noRoute.name).toBe('GET');
    expect(noRoute.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.response.status_code': 404, 'switchyard.error.code': 'not_found' });
    expect(noRoute.attributes['http.route']).toBeUndefined();
    const wrongMethod = await server(traceparent(14).split('-')[1]!);
    expect(wrongMethod.name).toBe('GET /v1/chat/completions');
    expect(wrongMethod.attributes).toMatchObject({
      'http.route': '/v1/chat/completions',
      'http.response.status_code': 405,
      'switchyard.error.code': 'method_not_allowed',
    });
    for (const s of [counted, unknownModel, noRoute, wrongMethod]) {
      expect(s.status.code ?? 0).toBe(0);
      expect(s.attributes['error.type']).toBeUndefined();
    }
  });

  it('gives the models and stored-response routes a SERVER span named by method and route (ids as templates)', async () => {
    const get = async (path: string, n: number): Promise<number> => {
      const res = await fetch(`${sc.url}${path}`, { headers: { traceparent: traceparent(n) } });
      await res.arrayBuffer();
      return res.status;
    };
    expect(await get('/v1/models', 21)).toBe(200);
    expect(await get('/v1/models/no-such-model', 22)).toBe(404);
    expect(await get('/v1/responses/resp_nope', 23)).toBe(404);
    expect(await get('/v1/responses/resp_nope/input_items', 24)).toBe(404);
    expect(await get('/v1/responses/resp_nope/zzz', 25)).toBe(404);
    const list = await server(traceparent(21).split('-')[1]!);
    expect(list.name).toBe('GET /v1/models');
    expect(list.parentSpanId).toBe(CLIENT_SPAN);
    expect(list.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.route': '/v1/models', 'http.response.status_code': 200 });
    expect(list.attributes['switchyard.error.code']).toBeUndefined();
    const one = await server(traceparent(22).split('-')[1]!);
    expect(one.name).toBe('GET /v1/models/{model}');
    expect(one.attributes).toMatchObject({ 'http.response.status_code': 404, 'switchyard.error.code': 'model_not_found' });
    const stored = await server(traceparent(23).split('-')[1]!);
    expect(stored.name).toBe('GET /v1/responses/{response_id}');
    // The route answers its own errors: their code is on the span as on every other error span (it was left out).
    expect(stored.attributes).toMatchObject({
      'http.route': '/v1/responses/{response_id}',
      'http.response.status_code': 404,
      'switchyard.error.code': 'not_found',
    });
    const items = await server(traceparent(24).split('-')[1]!);
    expect(items.name).toBe('GET /v1/responses/{response_id}/input_items');
    expect(items.attributes['switchyard.error.code']).toBe('not_found');
    // A path no route serves is named by its method alone, as every unrouted 404 (it was named as the retrieve route).
    const unrouted = await server(traceparent(25).split('-')[1]!);
    expect(unrouted.name).toBe('GET');
    expect(unrouted.attributes['http.route']).toBeUndefined();
    for (const s of [list, one, stored]) expect(s.status.code ?? 0).toBe(0);
  });

  it('an attempt cancelled because the client left is not an error: status UNSET, no error.type', async () => {
    const tp = traceparent(10);
    const ctl = new AbortController();
    const sent = fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: tp },
      body: JSON.stringify({ model: 'probe-model', messages: [{ role: 'user', content: HANG }] }),
      signal: ctl.signal,
    }).catch(() => undefined);
    await hung;
    ctl.abort();
    await sent;
    const traceId = tp.split('-')[1]!;
    const attempt = await otlp.waitFor((s) => s.traceId === traceId && s.kind === 3);
    expect(attempt.attributes['switchyard.fault']).toBe('client_gone');
    expect(attempt.attributes['error.type']).toBeUndefined();
    expect(attempt.status.code ?? 0).toBe(0);
    const req = await server(traceId);
    expect(req.attributes).toMatchObject({ 'http.response.status_code': 499, 'switchyard.error.code': 'client_closed_request' });
    expect(req.status.code ?? 0).toBe(0);
    expect(req.attributes['switchyard.failover.reason']).toBeUndefined();
  });

  it('a stream that failed after it started: the span says the 200 the client got, and is still an ERROR with error.type', async () => {
    const tp = traceparent(15);
    const res = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: tp },
      body: JSON.stringify({ model: 'probe-model', stream: true, messages: [{ role: 'user', content: CUT }] }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('"error"');
    const req = await server(tp.split('-')[1]!);
    expect(req.attributes['http.response.status_code']).toBe(200);
    expect(req.attributes['error.type']).toBeTruthy();
    expect(req.status.code).toBe(2);
  });

  it("a stream continued on another model: the span's model and tier are the model it started on (the tier was the continuation's)", async () => {
    await sim.setFault('gpt-4.1', { kind: 'cut', afterTokens: 3 });
    const tp = traceparent(16);
    const res = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: tp },
      body: JSON.stringify({ model: 'gpt-4.1', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('[DONE]');
    await sim.clearFaults();
    const traceId = tp.split('-')[1]!;
    const req = await server(traceId);
    // Continued on claude-sonnet-4.5 (high_quality), which takes a prefill.
    const attempts = otlp.spans.filter((s) => s.traceId === traceId && s.kind === 3);
    expect(attempts.map((a) => a.attributes['gen_ai.provider.name'])).toContain('anthropic');
    expect(req.attributes['gen_ai.response.model']).toBe('gpt-4.1');
    expect(req.attributes['switchyard.tier']).toBe('balanced');
  });

  it('propagates traceparent upstream as the attempt span', async () => {
    const tp = traceparent(3);
    const traceId = tp.split('-')[1]!;
    await sc.client.chat.completions.create({ model: 'probe-model', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: tp } });
    const sent = String(probeHeaders.at(-1)?.traceparent ?? '');
    const [, sentTrace, sentParent] = sent.split('-');
    expect(sentTrace).toBe(traceId);
    const attempt = await otlp.waitFor((s) => s.traceId === traceId && s.kind === 3);
    expect(sentParent).toBe(attempt.spanId);
  });

  it("follows a client's unsampled traceparent (flags 00): no span is recorded, and the context still goes upstream", async () => {
    const unsampled = `00-${TRACE.slice(0, -2)}45-${CLIENT_SPAN}-00`;
    await sc.client.chat.completions.create({ model: 'probe-model', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: unsampled } });
    const sent = String(probeHeaders.at(-1)?.traceparent ?? '').split('-');
    expect([sent[1], sent[3]]).toEqual([unsampled.split('-')[1], '00']);
    // A sampled request after it: once its span is in, the unsampled one would have been too.
    const tp = traceparent(46);
    await sc.client.chat.completions.create({ model: 'probe-model', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: tp } });
    await server(tp.split('-')[1]!);
    expect(otlp.spans.filter((s) => s.traceId === unsampled.split('-')[1])).toEqual([]);
  });

  it('traces the other APIs with their operation', async () => {
    const tp = traceparent(4);
    await new Anthropic({ baseURL: sc.url, apiKey: 'unused', maxRetries: 0, defaultHeaders: { traceparent: tp } }).messages.create({
      model: 'claude-sonnet-4.5',
      max_tokens: 20,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const m = await server(tp.split('-')[1]!);
    expect(m.attributes).toMatchObject({ 'switchyard.api': 'messages', 'gen_ai.operation.name': 'chat', 'http.route': '/v1/messages' });
    const tp2 = traceparent(5);
    await sc.client.responses.create({ model: 'gpt-4.1', input: 'hi' }, { headers: { traceparent: tp2 } });
    expect((await server(tp2.split('-')[1]!)).attributes['switchyard.api']).toBe('responses');
    // The legacy Completions API is the conventions' text_completion; its upstream call is a chat one.
    const tp3 = traceparent(44);
    await sc.client.completions.create({ model: 'gpt-4.1', prompt: 'hi', max_tokens: 5 }, { headers: { traceparent: tp3 } });
    const c = await server(tp3.split('-')[1]!);
    expect(c.name).toBe('text_completion gpt-4.1');
    expect(c.attributes).toMatchObject({ 'switchyard.api': 'completions', 'gen_ai.operation.name': 'text_completion' });
    const cAttempt = await otlp.waitFor((s) => s.traceId === tp3.split('-')[1] && s.kind === 3);
    expect(cAttempt.attributes['gen_ai.operation.name']).toBe('chat');
  });
});

describe('OpenTelemetry to an authenticated collector', () => {
  it("sends OTEL_EXPORTER_OTLP_HEADERS, logs a collector's refusal at warn, and never writes the token", async () => {
    const TOKEN = 'collector-tok-7f3a9c21';
    const seen: Array<string | undefined> = [];
    const collector = createServer((req, res) => {
      seen.push(req.headers.authorization);
      req.resume();
      // The refusal's status text echoes the token, as a careless collector might.
      req.on('end', () => res.writeHead(401, `bad credentials Bearer ${TOKEN}`).end());
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const h = await startSidecar(
      { ...testConfig(sim.url), observe: { otlp: { endpoint: `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces` } } },
      { OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${TOKEN}` },
    );
    try {
      await h.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] });
      const out = await h.waitForOutput(/could not export OpenTelemetry spans/, 15_000);
      expect(seen[0]).toBe(`Bearer ${TOKEN}`);
      expect(out).not.toContain(TOKEN);
      expect(h.stderr()).not.toContain(TOKEN);
    } finally {
      await h.stop();
      await new Promise<void>((r) => collector.close(() => r()));
    }
  }, 40_000);
});

describe('OpenTelemetry to a collector that never answers', () => {
  it('does not hold the exit past server.shutdownGraceMs: the last spans are dropped with a warning', async () => {
    // Takes the connection and the spans, and never answers (the exporter's own time-out is 10 s).
    const held: IncomingMessage[] = [];
    const collector = createServer((req) => void held.push(req.resume()));
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
    try {
      const sc2 = await startSidecar({ ...testConfig(sim.url), server: { shutdownGraceMs: 1000 }, observe: { otlp: { endpoint: url } } });
      await sc2.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] });
      // The batch goes out after 500 ms: let it reach the collector.
      while (held.length === 0) await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      expect(await sc2.stop()).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(sc2.stdout()).toContain('the OpenTelemetry collector did not take the last spans in time');
    } finally {
      for (const r of held) r.socket.destroy();
      await new Promise<void>((r) => collector.close(() => r()));
    }
  }, 30_000);
});

describe('OpenTelemetry to a collector that refuses connections', () => {
  it('gives the last spans only the minimum at shutdown once an export failed, or when none finished yet and the collector cannot be connected to (the exporter retried for ~7 s of every restart)', async () => {
    // A port nothing listens on: every export is refused at once (ECONNREFUSED).
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const cfg = { ...testConfig(sim.url), observe: { otlp: { endpoint: `http://127.0.0.1:${port}/v1/traces` } } };
    // Stopped before any export finished (a pod that just started): the collector is probed, found absent.
    const early = await startSidecar(cfg);
    await early.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] });
    const t1 = Date.now();
    expect(await early.stop()).toBe(0);
    expect(Date.now() - t1).toBeLessThan(5000);
    // Stopped after an export failed.
    const sc2 = await startSidecar(cfg);
    await sc2.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] });
    await sc2.waitForOutput(/could not export OpenTelemetry spans/, 20_000);
    // One more span waits in the batch when the process is told to stop (server.shutdownGraceMs: 10 s by default).
    await sc2.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] });
    const t0 = Date.now();
    expect(await sc2.stop()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
  }, 40_000);
});

describe('OpenTelemetry off', () => {
  it('is never imported statically: only observe/otel.ts loads it, and only on demand', () => {
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else if (e.name.endsWith('.ts')) files.push(join(dir, e.name));
      }
    };
    walk(join(ROOT, 'src'));
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      const staticImports = [...text.matchAll(/^import (?!type )[^;]*from '(@opentelemetry\/[^']+)'/gm)];
      expect(staticImports, f).toEqual([]);
      if (!f.endsWith('observe/otel.ts')) expect(text.includes("import('@opentelemetry"), f).toBe(false);
      if (!f.endsWith('main.ts')) expect(text.includes("import('./observe/otel.js')"), f).toBe(false);
    }
  });
});
