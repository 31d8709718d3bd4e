/**
 * A `previous_response_id` chain re-reads and re-sends its whole stored conversation on every
 * step, so it is bounded: the stored conversation plus the new request may be no more than
 * `server.maxBodyBytes` (here 64 KiB), else a 400 naming previous_response_id that says how to go on.
 * And since every step stores its history again, the table is bounded in bytes
 * (`storage.responses.maxBytes`, here 100 KB on a second sidecar): the oldest go, and an answer
 * over the bound alone is returned but not stored.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from '../integration/harness.js';

const LIMIT = 64 * 1024;
const STORE_BYTES = 100_000;
let sim: SimHandle;
let sc: SidecarHandle;
let bounded: SidecarHandle;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 1, tokenGapMs: 0, outputTokens: 5 } });
  sc = await startSidecar(testConfig(sim.url, { server: { maxBodyBytes: LIMIT } }));
  const cfg = testConfig(sim.url, { server: { maxBodyBytes: LIMIT } });
  cfg.storage = { ...(cfg.storage as Record<string, unknown>), responses: { maxBytes: STORE_BYTES } };
  bounded = await startSidecar(cfg);
});

afterAll(async () => {
  await sc?.stop();
  await bounded?.stop();
  await sim?.stop();
});

const big = (n: number, times = 2000) => `${n} ${'lorem ipsum '.repeat(times)}`; // about 24 KB a step by default

describe('previous_response_id chains', () => {
  it('refuses a step whose stored conversation and input come to more than server.maxBodyBytes, with a 400 naming previous_response_id', async () => {
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

describe('the stored responses bounded in bytes', () => {
  const notFound = async (id: string) => {
    const err = await bounded.client.responses.create({ model: 'gpt-4.1', input: 'and?', previous_response_id: id }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, param: 'previous_response_id', code: 'previous_response_not_found' });
    expect((err as Error).message).toMatch(/100000 bytes in all/);
    const gone = await bounded.client.responses.retrieve(id).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(OpenAI.NotFoundError);
  };

  it('drops the oldest to make room, and returns but does not store an answer over the bound alone', async () => {
    // About 48 KB stored (conversation and input items), then about 72 KB: together over 100 KB.
    const first = await bounded.client.responses.create({ model: 'gpt-4.1', input: big(1) });
    const second = await bounded.client.responses.create({ model: 'gpt-4.1', input: big(2), previous_response_id: first.id });
    expect(second.status).toBe('completed');
    await notFound(first.id);
    expect((await bounded.client.responses.retrieve(second.id)).id).toBe(second.id);
    // About 53 KB of input, stored twice (conversation and input items): over 100 KB alone.
    const huge = await bounded.client.responses.create({ model: 'gpt-4.1', input: big(3, 4400) });
    expect(huge.status).toBe('completed');
    await notFound(huge.id);
    // Nothing was dropped for it.
    expect((await bounded.client.responses.retrieve(second.id)).id).toBe(second.id);
  });
});
