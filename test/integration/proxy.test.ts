/**
 * The foundation end to end: the official OpenAI SDK against the real sidecar process, in
 * front of the real simulator process (and, where the test must see the exact upstream body,
 * a recording upstream on port 0).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerRow } from './ledger-row.js';
import { sleep, startSidecar, startSimulatorProc, testConfig, TEST_KEYS, type SidecarHandle, type SimHandle } from './harness.js';

let sim: SimHandle;
let sc: SidecarHandle;
let ledgerFile: string;

/** An upstream that records what it was sent and answers a fixed stream or completion. */
let recorder: Server;
let recorderUrl = '';
const recorded: Array<{ headers: IncomingMessage['headers']; body: Record<string, unknown> }> = [];

beforeAll(async () => {
  recorder = createServer((req, res) => {
    let data = '';
    req.on('data', (d: Buffer) => (data += d.toString()));
    req.on('end', () => {
      const body = JSON.parse(data) as Record<string, unknown>;
      recorded.push({ headers: req.headers, body });
      if (body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const base = { id: 'rec-1', object: 'chat.completion.chunk', created: 1, model: 'rec' };
        res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'echo' }, finish_reason: null }] })}\n\n`);
        res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
        const usage = {
          prompt_tokens: 5,
          completion_tokens: 1,
          total_tokens: 6,
          prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 1, rejected_prediction_tokens: 0 },
        };
        res.write(`data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`);
        res.end('data: [DONE]\n\n');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'rec-2',
            object: 'chat.completion',
            created: 1,
            model: 'rec',
            choices: [{ index: 0, message: { role: 'assistant', content: 'echo' }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
          }),
        );
      }
    });
  });
  await new Promise<void>((r) => recorder.listen(0, '127.0.0.1', r));
  recorderUrl = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
  sim = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: 20 } });
  const cfg = testConfig(sim.url);
  const providers = cfg.providers as Record<string, unknown>;
  providers.recorder = { kind: 'openai', baseUrl: `${recorderUrl}/v1`, apiKeyEnv: 'SY_TEST_OPENAI_KEY' };
  (cfg.models as Record<string, unknown>)['rec-model'] = {
    tier: 'balanced',
    price: { inputPerMTok: 1, outputPerMTok: 1 },
    contextWindow: 100000,
    endpoints: [{ provider: 'recorder', upstreamModel: 'upstream-rec' }],
  };
  cfg.server = { maxBodyBytes: 20000 };
  ledgerFile = String((cfg.storage as { ledger: string }).ledger).slice('sqlite:'.length);
  sc = await startSidecar(cfg);
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
  recorder?.close();
});

describe('OpenAI-compatible surface', () => {
  it('answers a non-streaming completion with the routing headers', async () => {
    const { data, response } = await sc.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'Say hello' }] }).withResponse();
    expect(data.model).toBe('gpt-4.1');
    expect(data.choices[0]!.message.content!.split(' ').length).toBe(20);
    expect(data.usage!.completion_tokens).toBe(20);
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers.get('x-switchyard-model')).toBe('gpt-4.1');
    expect(response.headers.get('x-switchyard-endpoint')).toBe('gpt-4.1@openai');
    expect(response.headers.get('x-switchyard-attempts')).toBe('1');
    // 2.00/8.00 per MTok: prompt × 2000 + 20 × 8000 nano-USD.
    const cost = Number(response.headers.get('x-switchyard-cost-usd'));
    expect(cost).toBeCloseTo((data.usage!.prompt_tokens * 2 + 20 * 8) / 1e6, 12);
  });

  it('streams chunk by chunk and sends the usage chunk only when asked', async () => {
    const plain = await sc.client.chat.completions.create({ model: 'deepseek-v3.2', stream: true, messages: [{ role: 'user', content: 'Stream please' }] });
    let text = '';
    let chunks = 0;
    let sawUsage = false;
    for await (const c of plain) {
      chunks++;
      text += c.choices[0]?.delta.content ?? '';
      if (c.usage) sawUsage = true;
      expect(c.model).toBe('deepseek-v3.2');
    }
    expect(chunks).toBeGreaterThanOrEqual(20);
    expect(text.split(' ').length).toBe(20);
    expect(sawUsage).toBe(false);

    const withUsage = await sc.client.chat.completions.create({
      model: 'deepseek-v3.2',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Stream please' }],
    });
    let usage: OpenAI.CompletionUsage | undefined;
    let text2 = '';
    const fingerprints = new Set<string | undefined>();
    for await (const c of withUsage) {
      text2 += c.choices[0]?.delta.content ?? '';
      if (c.usage) usage = c.usage;
      fingerprints.add(c.system_fingerprint);
    }
    expect(text2).toBe(text);
    expect(usage?.completion_tokens).toBe(20);
    // The usage chunk carries the upstream's system_fingerprint as its other chunks do (OpenAI's own does; it had none).
    expect([...fingerprints]).toEqual(['fp_simulator']);
  });

  it('closes the connection after a stream when the client sent connection: close', async () => {
    const u = new URL(sc.url);
    const body = JSON.stringify({ model: 'deepseek-v3.2', stream: true, messages: [{ role: 'user', content: 'Stream please' }] });
    const socket = connect(Number(u.port), u.hostname);
    socket.on('error', () => undefined);
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    const closed = await Promise.race([new Promise<boolean>((r) => socket.once('close', () => r(true))), sleep(10_000).then(() => false)]);
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toContain('data: [DONE]');
    expect(text.slice(0, text.indexOf('\r\n\r\n'))).toMatch(/\r\nconnection: close\r\n/i);
    expect(closed, 'the sidecar kept the connection open').toBe(true);
  });

  it("relays the upstream's usage details in the stream's usage chunk (audio, prediction tokens), as the JSON answer has them", async () => {
    const r = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'rec-model', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'x' }] }),
    });
    const chunks = (await r.text())
      .split('\n\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)) as { usage?: Record<string, unknown> });
    expect(chunks.at(-1)!.usage).toEqual({
      prompt_tokens: 5,
      completion_tokens: 1,
      total_tokens: 6,
      prompt_tokens_details: { audio_tokens: 0, cached_tokens: 0 },
      completion_tokens_details: { audio_tokens: 0, accepted_prediction_tokens: 1, rejected_prediction_tokens: 0, reasoning_tokens: 0 },
    });
  });

  it('always asks the upstream for usage, passes unknown fields through, and records real usage for streams', async () => {
    recorded.length = 0;
    const body = { model: 'rec-model', stream: true, messages: [{ role: 'user', content: 'x' }], vendor_extra: { a: 1 }, temperature: 0.3 };
    const r = await fetch(`${sc.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await r.text();
    expect(text).toContain('"content":"echo"');
    expect(text).not.toContain('"usage"');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const sent = recorded[0]!.body;
    expect(sent.model).toBe('upstream-rec');
    expect(sent.vendor_extra).toEqual({ a: 1 });
    expect(sent.temperature).toBe(0.3);
    expect(sent.stream_options).toEqual({ include_usage: true });
    expect(recorded[0]!.headers.authorization).toBe(`Bearer ${TEST_KEYS.SY_TEST_OPENAI_KEY}`);
    const db = new Database(ledgerFile, { readonly: true });
    const row = db.prepare('select * from ledger where request_id = ?').get(r.headers.get('x-request-id')) as Record<string, unknown> | undefined;
    db.close();
    expect(row).toBeDefined();
    expect(row!.prompt_tokens).toBe(5);
    expect(row!.completion_tokens).toBe(1);
    expect(row!.estimated).toBe(0);
  });

  it('leaves out a field sent as null (the client\'s "not set"), which OpenAI refuses for some (tools: null was relayed as the upstream\'s 400, while a Claude model took it)', async () => {
    recorded.length = 0;
    const nulls = { tools: null, tool_choice: null, response_format: null, stop: null, seed: null, max_completion_tokens: null, user: null };
    const body = { model: 'rec-model', messages: [{ role: 'user', content: 'x' }], temperature: 0.3, ...nulls };
    const r = await fetch(`${sc.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(r.status).toBe(200);
    const sent = recorded[0]!.body;
    for (const k of Object.keys(nulls)) expect(sent, k).not.toHaveProperty(k);
    expect(sent.temperature).toBe(0.3);
    // The simulator refuses tools: null as OpenAI does; through switchyard the request is served.
    const sim = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }], ...nulls }),
    });
    expect(sim.status).toBe(200);
  });

  it('lists models, routes and auto', async () => {
    const list = await sc.client.models.list();
    const ids = list.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['gpt-4.1', 'claude-sonnet-4.5', 'gemini-2.5-flash', 'deepseek-v3.2', 'route/chatbot', 'route/code', 'auto']));
  });

  it("a path of the providers' APIs that is not served is a 404 saying what is", async () => {
    const images = (await (await fetch(`${sc.url}/v1/images/generations`, { method: 'POST', body: '{}' })).json()) as {
      error: { code: string; message: string };
    };
    expect(images.error).toMatchObject({
      code: 'not_found',
      message: expect.stringContaining('switchyard serves /v1/chat/completions, /v1/completions, /v1/responses'),
    });
    // A long path is echoed bounded.
    const long = (await (await fetch(`${sc.url}/v1/${'x'.repeat(6000)}`)).json()) as { error: { message: string } };
    expect(long.error.message.length).toBeLessThan(600);
  });

  it('retrieves one model, route or auto (GET /v1/models/{id}); an unknown one is 404 model_not_found', async () => {
    for (const id of ['gpt-4.1', 'route/code', 'auto']) {
      const m = await sc.client.models.retrieve(id);
      expect(m).toMatchObject({ id, object: 'model' });
    }
    const e = await sc.client.models.retrieve('gpt-9').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenAI.NotFoundError);
    expect((e as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
    expect((await fetch(`${sc.url}/v1/models/%zz`)).status).toBe(400);
    const post = await fetch(`${sc.url}/v1/models/gpt-4.1`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers health and readiness', async () => {
    expect((await fetch(`${sc.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${sc.url}/readyz`)).status).toBe(200);
    // LiteLLM's probe paths (a manifest brought along): a 404 that names switchyard's own (it said only "no route").
    for (const path of ['/health', '/health/liveliness', '/health/readiness', '/v1/health']) {
      const res = await fetch(`${sc.url}${path}`);
      expect([path, res.status]).toEqual([path, 404]);
      expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
        `no route GET ${path}: switchyard's health routes are GET /healthz (the process is up) and GET /readyz (ready to serve: 503 with the reason while not)`,
      );
    }
  });
});

describe('client errors are OpenAI-shaped 4xx', () => {
  it('rejects a body that is not JSON', async () => {
    const r = await fetch(`${sc.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(r.status).toBe(400);
    const j = (await r.json()) as { error: { code: string; type: string; message: string } };
    expect(j.error.code).toBe('invalid_request');
    expect(j.error.message).toMatch(/not valid JSON/);
    expect(r.headers.get('x-request-id')).toBeTruthy();
  });

  it('refuses stream_options without stream: true as OpenAI does (400 param stream_options; it was served and the usage chunk the client asked for never came); null is taken', async () => {
    for (const stream of [undefined, false]) {
      const e = (await sc.client.chat.completions
        .create({
          model: 'gpt-4.1',
          messages: [{ role: 'user', content: 'hi' }],
          stream_options: { include_usage: true },
          ...(stream === undefined ? {} : { stream }),
        })
        .catch((x: unknown) => x)) as InstanceType<typeof OpenAI.APIError>;
      expect(e).toBeInstanceOf(OpenAI.BadRequestError);
      expect([e.param, e.code, e.message]).toEqual([
        'stream_options',
        'invalid_request',
        "400 The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      ]);
    }
    const ok = await sc.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }], stream_options: null });
    expect(ok.object).toBe('chat.completion');
  });

  it('takes a JSON body that begins with a UTF-8 byte order mark, as body-parser does (it was a 400 "not valid JSON")', async () => {
    const bom = (o: unknown): Buffer => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(o))]);
    const chat = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: bom({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'with a BOM' }] }),
    });
    expect(chat.status, await chat.clone().text()).toBe(200);
    expect(((await chat.json()) as { object: string }).object).toBe('chat.completion');
    const messages = await fetch(`${sc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: bom({ model: 'gpt-4.1', max_tokens: 16, messages: [{ role: 'user', content: 'with a BOM' }] }),
    });
    expect(messages.status, await messages.clone().text()).toBe(200);
    expect(((await messages.json()) as { type: string }).type).toBe('message');
    // A BOM alone is still an empty body.
    const empty = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from([0xef, 0xbb, 0xbf]),
    });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: { message: string } }).error.message).toMatch(/body is empty/);
  });

  it('rejects a body that fails validation, naming the field', async () => {
    const err = await sc.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'wizard', content: 'x' }] } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.code).toBe('invalid_request');
    expect(e.message).toMatch(/messages\[0\]\.role/);
  });

  it("refuses a response_format of a type OpenAI does not have, or json_schema without its schema, with a 400 naming the field, whatever the model (it reached the upstream, or Anthropic's 'no JSON output mode')", async () => {
    const before = recorded.length;
    const cases: Array<[unknown, string, RegExp]> = [
      [
        { type: 'xml' },
        'response_format.type',
        /Invalid value for 'response_format.type': "xml"; supported values are 'text', 'json_object' and 'json_schema'$/,
      ],
      [{ type: 'json_schema' }, 'response_format.json_schema', /Missing required parameter: 'response_format.json_schema'/],
      [{ type: 'json_schema', json_schema: { schema: {} } }, 'response_format.json_schema', /an object with a "name"/],
    ];
    for (const [rf, param, message] of cases) {
      for (const model of ['rec-model', 'claude-sonnet-4.5', 'auto']) {
        const err = (await sc.client.chat.completions
          .create({ model, messages: [{ role: 'user', content: 'x' }], response_format: rf } as never)
          .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
        expect(err).toBeInstanceOf(OpenAI.BadRequestError);
        expect([err.status, err.param, err.type]).toEqual([400, param, 'invalid_request_error']);
        expect(err.message).toMatch(message);
      }
    }
    expect(recorded.length).toBe(before);
  });

  it('refuses a tool_choice naming a function that is not in tools (or with no tools) with 400 param tool_choice, before any upstream call or ledger row', async () => {
    const fn = (name: string) => ({ type: 'function' as const, function: { name, parameters: { type: 'object', properties: {} } } });
    const before = recorded.length;
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ tools: [fn('lookup')], tool_choice: { type: 'function', function: { name: 'x' } } }, /function "x" is not in 'tools' \(declared: lookup\)/],
      [{ tool_choice: { type: 'function', function: { name: 'x' } } }, /only allowed when 'tools' are specified/],
      [{ tools: [], tool_choice: { type: 'function', function: { name: 'x' } } }, /only allowed when 'tools' are specified/],
      [{ tool_choice: 'required' }, /only allowed when 'tools' are specified \(it is "required"/],
      [{ tool_choice: 'auto' }, /only allowed when 'tools' are specified/],
      [{ tools: [], tool_choice: 'none' }, /only allowed when 'tools' are specified/],
      [{ tools: [fn('lookup')], tool_choice: { type: 'function' } }, /a function choice is/],
    ];
    for (const [extra, message] of cases) {
      for (const stream of [false, true]) {
        const err = (await sc.client.chat.completions
          .create({ model: 'rec-model', messages: [{ role: 'user', content: 'x' }], stream, ...extra } as never)
          .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
        expect(err).toBeInstanceOf(OpenAI.BadRequestError);
        expect([err.status, err.param, err.type]).toEqual([400, 'tool_choice', 'invalid_request_error']);
        expect(err.message).toMatch(message);
        const db = new Database(ledgerFile, { readonly: true });
        expect(db.prepare('select 1 from ledger where request_id = ?').get(err.headers.get('x-request-id'))).toBeUndefined();
        db.close();
      }
    }
    expect(recorded.length).toBe(before);
    // The declared name is served as before.
    const ok = await sc.client.chat.completions.create({
      model: 'rec-model',
      messages: [{ role: 'user', content: 'x' }],
      tools: [fn('lookup')],
      tool_choice: { type: 'function', function: { name: 'lookup' } },
    });
    expect(ok.choices[0]!.message.content).toBe('echo');
    expect(recorded.at(-1)!.body.tool_choice).toEqual({ type: 'function', function: { name: 'lookup' } });
  });

  it('answers model_not_found listing what exists', async () => {
    const err = (await sc.client.chat.completions
      .create({ model: 'gpt-9', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(err.status).toBe(400);
    expect(err.code).toBe('model_not_found');
    expect(err.message).toMatch(/gpt-4\.1.*route\/chatbot.*auto/);
  });

  it('answers 413 for a body over server.maxBodyBytes', async () => {
    const err = (await sc.client.chat.completions
      .create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'x'.repeat(30000) }] })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(413);
    expect(err.code).toBe('body_too_large');
  });
});

describe('upstream failures', () => {
  it('a 503 no_endpoint_available that reached no endpoint names the model it was for (headers, ledger row) and why in its reason', async () => {
    const r = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-switchyard-max-latency-ms': '1' },
      body: JSON.stringify({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(503);
    expect(r.headers.get('x-switchyard-model')).toBe('gpt-4.1');
    expect(r.headers.get('x-switchyard-tier')).toBe('balanced');
    expect(r.headers.get('x-switchyard-endpoint')).toBeNull();
    expect(r.headers.get('x-switchyard-attempts')).toBe('0');
    expect(r.headers.get('x-switchyard-reason')).toMatch(/over x-switchyard-max-latency-ms 1 ms/);
    const row = ledgerRow(ledgerFile, r.headers.get('x-request-id'));
    expect(row).toMatchObject({ model: 'gpt-4.1', endpoint: null, status: 503, error_code: 'no_endpoint_available' });
  });

  it('a streamed request refused before any upstream (unknown model) has a row that says it asked for a stream', async () => {
    const r = await fetch(`${sc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'no-such-model', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(400);
    expect(ledgerRow(ledgerFile, r.headers.get('x-request-id'))).toMatchObject({ status: 400, error_code: 'model_not_found', stream: 1 });
  });

  it('a 503 because every candidate is throttled says so for each one in its reason (it said only "requested gpt-4.1")', async () => {
    const own = await startSidecar(testConfig(sim.url));
    try {
      await sim.setFault('gpt-4.1', { kind: 'rate_limit', retryAfterSec: 30, times: 1 });
      await sim.setFault('claude-sonnet-4-5', { kind: 'rate_limit', retryAfterSec: 30, times: 1 });
      // The first request meets both 429s; afterwards neither endpoint takes a request for 30 s.
      await own.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] }, { maxRetries: 0 }).catch(() => null);
      const r = await fetch(`${own.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-switchyard-timeout-ms': '2000' },
        body: JSON.stringify({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(r.status).toBe(503);
      expect(r.headers.get('x-switchyard-attempts')).toBe('0');
      expect(r.headers.get('x-switchyard-reason')).toMatch(
        /^requested gpt-4\.1; gpt-4\.1 throttled \(upstream 429\); claude-sonnet-4\.5 throttled \(upstream 429\): nothing served$/,
      );
    } finally {
      await sim.clearFaults();
      await own.stop();
    }
  });

  it('answers 502 upstream_error when every attempt fails', async () => {
    await sim.setFault('gpt-4.1', { kind: 'http_error', status: 500 });
    await sim.setFault('claude-sonnet-4-5', { kind: 'http_error', status: 500 });
    try {
      const err = (await sc.client.chat.completions
        .create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] })
        .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err.status).toBe(502);
      expect(err.code).toBe('upstream_error');
      expect(err.message).toMatch(/status 500/);
    } finally {
      await sim.clearFaults();
    }
  });

  it('answers 504 timeout when the request deadline passes', async () => {
    await sim.setFault('gemini-2.5-flash', { kind: 'hang' });
    await sim.setFault('deepseek-chat', { kind: 'hang' });
    try {
      const started = Date.now();
      const r = await fetch(`${sc.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-switchyard-timeout-ms': '600' },
        body: JSON.stringify({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }] }),
      });
      expect(r.status).toBe(504);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('timeout');
      // At the deadline, not after a headers timeout (3 s each, on both models: 6 s). The cut attempt is
      // billed at its prompt's count, which may load the tokenizer first (about a second, once a process).
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await sim.clearFaults();
    }
  });
});

describe('logs', () => {
  it('never contain a provider key', async () => {
    const logs = await sc.waitForOutput('request served');
    expect(logs).toContain('request served');
    for (const v of Object.values(TEST_KEYS)) expect(logs).not.toContain(v);
  });
});
