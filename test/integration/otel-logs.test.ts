/**
 * With OpenTelemetry on, a request's log lines carry its span's ids (`trace_id`, `span_id`, the
 * OpenTelemetry log data model's names), so a log backend joins each line to the request's trace.
 * They had only `requestId`: a line about a failed attempt could not be found from the trace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import { OtlpReceiver } from './otlp-receiver.js';

let sim: SimHandle;
let sc: SidecarHandle;
const otlp = new OtlpReceiver();

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const traceparent = `00-${TRACE}-00f067aa0ba902b7-01`;

beforeAll(async () => {
  await otlp.start();
  sim = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: 6 } });
  sc = await startSidecar({ ...testConfig(sim.url), logging: { level: 'info' }, observe: { otlp: { endpoint: otlp.url, serviceName: 'switchyard-test' } } });
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
  await otlp.stop();
});

describe('log lines and traces', () => {
  it("a failed attempt's log line names the request's trace and span", async () => {
    await sim.setFault('gpt-4.1', { kind: 'http_error', status: 500, times: 1 });
    const { response } = await sc.client.chat.completions
      .create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent } })
      .withResponse();
    const requestId = response.headers.get('x-request-id');
    const span = await otlp.waitFor((s) => s.traceId === TRACE && s.kind === 2);
    await sc.waitForOutput(/attempt failed/);
    const lines = sc
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.requestId === requestId);
    const failed = lines.find((l) => String(l.msg).startsWith('attempt failed'));
    expect(failed).toMatchObject({ trace_id: TRACE, span_id: span.spanId });
  });
});
