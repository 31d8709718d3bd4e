/**
 * An upstream's own error text can quote the request (a validation error echoing the prompt): at
 * info, the default level, the `attempt failed` and `request failed` lines say an upstream message
 * was there without its words; at debug they have them. The client's error keeps them (its own).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';

const PROMPT = 'my private diagnosis notes 7f3a';
const ECHO = `could not process messages[0].content: '${PROMPT}'`;

let sim: SimHandle;
let info: SidecarHandle;
let debug: SidecarHandle;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 1, tokenGapMs: 0, outputTokens: 5 } });
  info = await startSidecar(testConfig(sim.url));
  debug = await startSidecar({ ...testConfig(sim.url), logging: { level: 'debug' } });
});

afterAll(async () => {
  await info?.stop();
  await debug?.stop();
  await sim?.stop();
});

/** The JSON log lines of one request. */
function linesOf(sc: SidecarHandle, requestId: string): Array<Record<string, unknown>> {
  return sc
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.requestId === requestId);
}

async function failedRequest(sc: SidecarHandle): Promise<{ requestId: string; clientMessage: string }> {
  await sim.clearFaults();
  for (const model of ['gpt-4.1', 'claude-sonnet-4-5']) await sim.setFault(model, { kind: 'http_error', status: 500, message: ECHO });
  const r = await fetch(`${sc.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4.1', messages: [{ role: 'user', content: PROMPT }] }),
  });
  expect(r.status).toBe(502);
  const body = (await r.json()) as { error: { message: string } };
  await sim.clearFaults();
  const requestId = r.headers.get('x-request-id')!;
  await sc.waitForOutput(new RegExp(`"requestId":"${requestId}".*request failed`));
  return { requestId, clientMessage: body.error.message };
}

describe("an upstream's error text in the logs", () => {
  it('is left out of the info lines, and said to be at debug', async () => {
    const { requestId, clientMessage } = await failedRequest(info);
    expect(clientMessage).toContain(PROMPT);
    const lines = linesOf(info, requestId);
    const attempts = lines.filter((l) => String(l.msg).startsWith('attempt failed'));
    const end = lines.find((l) => String(l.msg).startsWith('request failed'));
    expect(attempts.length).toBeGreaterThan(0);
    expect(end).toBeDefined();
    expect(JSON.stringify(lines)).not.toContain(PROMPT);
    for (const l of [...attempts, end!]) expect(String(l.msg)).toContain('[upstream message: logged at debug level]');
    expect(String(end!.msg)).toContain('upstream failed on every attempt');
  });

  it('is in the lines when the level is debug', async () => {
    const { requestId } = await failedRequest(debug);
    const lines = linesOf(debug, requestId);
    expect(String(lines.find((l) => String(l.msg).startsWith('attempt failed'))?.msg)).toContain(ECHO);
    expect(String(lines.find((l) => String(l.msg).startsWith('request failed'))?.msg)).toContain(ECHO);
  });
});
