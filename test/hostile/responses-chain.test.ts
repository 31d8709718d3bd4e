/**
 * A `previous_response_id` chain re-reads and re-sends its whole stored conversation on every
 * step, so it is bounded: the stored conversation plus the new request may be no more than
 * `server.maxBodyBytes` (here 64 KiB), else a 400 naming previous_response_id that says how to go on.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from '../integration/harness.js';

const LIMIT = 64 * 1024;
let sim: SimHandle;
let sc: SidecarHandle;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 1, tokenGapMs: 0, outputTokens: 5 } });
  sc = await startSidecar(testConfig(sim.url, { server: { maxBodyBytes: LIMIT } }));
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

describe('previous_response_id chains', () => {
  it('refuses a step whose stored conversation and input come to more than server.maxBodyBytes, with a 400 naming previous_response_id', async () => {
    const big = (n: number) => `${n} ${'lorem ipsum '.repeat(2000)}`; // about 24 KB a step
    const first = await sc.client.responses.create({ model: 'gpt-4.1', input: big(1) });
    const second = await sc.client.responses.create({ model: 'gpt-4.1', input: big(2), previous_response_id: first.id });
    expect(second.status).toBe('completed');
    // About 48 KB stored plus 24 KB sent: over 64 KiB.
    const err = await sc.client.responses.create({ model: 'gpt-4.1', input: big(3), previous_response_id: second.id }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e).toMatchObject({ status: 400, param: 'previous_response_id', code: 'conversation_too_large', type: 'invalid_request_error' });
    expect(e.message).toMatch(/server\.maxBodyBytes \(65536 bytes\)/);
    expect(e.message).toMatch(/Start a new conversation without previous_response_id/);
    // A short step on the same chain still fits, and a new conversation is served.
    const short = await sc.client.responses.create({ model: 'gpt-4.1', input: 'and?', previous_response_id: second.id });
    expect(short.status).toBe('completed');
    const fresh = await sc.client.responses.create({ model: 'gpt-4.1', input: big(3) });
    expect(fresh.status).toBe('completed');
  });
});
