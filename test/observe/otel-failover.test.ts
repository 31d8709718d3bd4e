/**
 * `switchyard.failover.reason` of a request span, driven through the tracer itself: the error.type of
 * the attempt a fail-over left, and only then (a retry on the same endpoint is none, and neither
 * is a cascade's next step after an answered attempt).
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtel, type OtelHandle } from '../../src/observe/otel.js';
import type { AttemptInfo } from '../../src/runtime/request-scope.js';
import type { ChatCall } from '../../src/runtime/api.js';
import type { RequestRecord } from '../../src/runtime/core.js';
import { OtlpReceiver } from '../integration/otlp-receiver.js';
import { registerSecrets } from '../../src/observe/scrub.js';

const otlp = new OtlpReceiver();
let otel: OtelHandle;

beforeAll(async () => {
  await otlp.start();
  otel = await startOtel({ endpoint: otlp.url, captureContent: false }, pino({ level: 'silent' }));
});
afterAll(async () => {
  await otlp.stop();
});

const info = (endpoint: string): AttemptInfo => ({
  endpoint,
  model: endpoint.split('@')[0]!,
  tier: 'fast_cheap',
  provider: 'openai',
  providerKind: 'openai',
  upstreamModel: 'up',
});
const record = (attempts: number): RequestRecord => ({
  model: 'b',
  endpoint: 'b@openai',
  status: 200,
  attempts,
  latencyMs: 1,
  ttftMs: null,
  usage: { promptTokens: 1, completionTokens: 1 } as RequestRecord['usage'],
  costNano: 1,
  stream: false,
  api: 'chat',
});

/** One request through the tracer: each step is an attempt on an endpoint that failed (a fault) or answered (null). */
function request(id: string, steps: Array<[string, string | null]>): void {
  const call = { requestId: id, body: { model: 'auto', messages: [] } } as unknown as ChatCall;
  const t = otel.tracer.startRequest('chat', call, { headers: {}, method: 'POST', url: '/v1/chat/completions' });
  for (const [endpoint, fault] of steps) t.attempt(info(endpoint)).end(fault === null ? { ok: true, usage: null } : { ok: false, fault, status: 500 });
  t.record(record(steps.length));
  t.end();
}

describe('switchyard.failover.reason', () => {
  it('is the fault a fail-over left; a same-endpoint retry or a cascade step after an answer is none; an upstream id echoing a key is scrubbed (gen_ai.response.id carried it)', async () => {
    registerSecrets(['sk-LEAKCANARY-otel-0123456789']);
    const call = { requestId: 'echoed', body: { model: 'auto', messages: [] } } as unknown as ChatCall;
    const echoed = otel.tracer.startRequest('chat', call, { headers: {}, method: 'POST', url: '/v1/chat/completions' });
    echoed.attempt(info('b@openai')).end({ ok: true, usage: null });
    echoed.responseId?.('chatcmpl-sk-LEAKCANARY-otel-0123456789');
    echoed.record(record(1));
    echoed.end();
    request('over', [
      ['a@openai', 'http_status'],
      ['b@openai', null],
    ]);
    request('retried', [
      ['a@openai', 'http_status'],
      ['a@openai', null],
    ]);
    // A failed attempt retried on its endpoint and answered there; then the cascade's next step, on another model.
    request('escalated', [
      ['a@openai', 'timeout'],
      ['a@openai', null],
      ['b@openai', null],
    ]);
    await otel.shutdown();
    const reason = (id: string) =>
      otlp.spans.find((s) => s.kind === 2 && s.attributes['switchyard.request_id'] === id)?.attributes['switchyard.failover.reason'];
    // The failed attempt's error.type: its status code (it was the fault kind, http_status).
    expect(reason('over')).toBe('500');
    expect(reason('retried')).toBeUndefined();
    expect(reason('escalated')).toBeUndefined();
    const id = otlp.spans.find((s) => s.kind === 2 && s.attributes['switchyard.request_id'] === 'echoed')?.attributes['gen_ai.response.id'];
    expect(id).toBe('chatcmpl-[redacted]');
  });
});
