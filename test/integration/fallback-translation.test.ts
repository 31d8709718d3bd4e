/**
 * A fail-over must not turn a valid chat request into a client error: when the primary fails
 * and the next candidate is Anthropic-kind, a field with no Messages form (`seed`, `logprobs`,
 * `response_format`) used to end the request with that fallback's 400 ("seed cannot be
 * translated for Anthropic models") although the client's request was fine. Such candidates
 * (and, for a Messages request with `thinking` or `top_k`, OpenAI-kind ones) are now left out of routes, `auto` and fallbacks; a model the client names keeps its 400.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';

let sim: SimHandle;
let sc: SidecarHandle;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 5, tokenGapMs: 1, outputTokens: 8 } });
  // route analysis: gpt-4.1 (OpenAI-kind) first, claude-sonnet-4.5 (Anthropic-kind) after it.
  const cfg = testConfig(sim.url);
  // route thinkers: an Anthropic-kind model whose output cap leaves no room for a 1,024-token thinking budget first.
  const models = cfg.models as Record<string, Record<string, unknown>>;
  models['claude-short'] = { ...models['claude-sonnet-4.5'], maxOutputTokens: 1024, fallbacks: [] };
  (cfg.routing as { routes: Record<string, string[]> }).routes.thinkers = ['claude-short', 'claude-sonnet-4.5'];
  sc = await startSidecar(cfg);
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

const err = async (p: Promise<unknown>) => {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(OpenAI.APIError);
  return e as InstanceType<typeof OpenAI.APIError>;
};

describe('a thinking budget and the output cap a model is sent', () => {
  const ask = (model: string, extra: Record<string, unknown> = {}) =>
    fetch(`${sc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'unused', ...extra },
      body: JSON.stringify({ model, max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: 'hi' }] }),
    });

  it('a route passes over the model whose maxOutputTokens leaves no room for the budget (Anthropic would refuse the capped max_tokens)', async () => {
    await sim.clearLog();
    const r = await ask('route/thinkers');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
    expect((await sim.log()).map((e) => e.status)).toEqual([200]);
  });

  it('named, that model answers a 400 in Anthropic shape naming thinking.budget_tokens and the config key to raise, nothing sent upstream', async () => {
    await sim.clearLog();
    const r = await ask('claude-short');
    expect(r.status).toBe(400);
    const body = (await r.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toBe(
      "thinking.budget_tokens (1024) must be less than max_tokens; switchyard sends max_tokens 1024, claude-short's maxOutputTokens (the request asked 2048): raise models.claude-short.maxOutputTokens in the config, or lower budget_tokens",
    );
    expect(await sim.log()).toEqual([]);
  });

  it("with interleaved thinking (the budget is the whole turn's, as Anthropic allows) the same request is sent", async () => {
    const r = await ask('claude-short', { 'anthropic-beta': 'interleaved-thinking-2025-05-14' });
    expect(r.status).toBe(200);
  });
});

describe('fail-over past an Anthropic-kind fallback that cannot take the body', () => {
  // First: the fault tests below open gpt-4.1's circuit.
  it('a Messages request with thinking on a route whose primary is OpenAI-kind is served by its Anthropic-kind model', async () => {
    const body = {
      model: 'route/analysis',
      max_tokens: 2048,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: [{ role: 'user', content: 'hello' }],
    };
    const r = await fetch(`${sc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'unused' },
      body: JSON.stringify(body),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
    // Naming the OpenAI-kind model keeps the 400 that names the field.
    const named = await fetch(`${sc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'unused' },
      body: JSON.stringify({ ...body, model: 'gpt-4.1' }),
    });
    expect(named.status).toBe(400);
    expect(((await named.json()) as { error: { message: string } }).error.message).toMatch(/^thinking has no chat-completions form/);
    // It names the model as the client knows it (deepseek-v3.2), not its upstream name (deepseek-chat).
    const deepseek = await fetch(`${sc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'unused' },
      body: JSON.stringify({ ...body, model: 'deepseek-v3.2' }),
    });
    expect(((await deepseek.json()) as { error: { message: string } }).error.message).toMatch(/\(deepseek-v3\.2 is OpenAI-kind\)$/);
    // The dry run leaves out the same candidates as the real request, and says so.
    const dry = await fetch(`${sc.url}/switchyard/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'route/analysis', seed: 3, messages: [{ role: 'user', content: 'hello' }] }),
    });
    const d = (await dry.json()) as { model: string; reason: string };
    expect(d.model).toBe('gpt-4.1');
    expect(d.reason).toContain("skipped claude-sonnet-4.5 (cannot take this request's fields: seed)");
  });
  it("a route whose primary fails answers 502 upstream_error, not the fallback's 400, and never calls the fallback", async () => {
    await sim.setFault('gpt-4.1', { kind: 'http_error', status: 503 });
    try {
      for (const extra of [{ seed: 3 }, { logprobs: true }]) {
        await sim.clearLog();
        const e = await err(sc.client.chat.completions.create({ model: 'route/analysis', messages: [{ role: 'user', content: 'hello' }], ...extra }));
        expect(e.status).toBe(502);
        expect(e.code).toBe('upstream_error');
        expect((await sim.log()).filter((l) => l.wire === 'anthropic')).toEqual([]);
      }
    } finally {
      await sim.clearFaults();
    }
  });

  it('without the field the same fail-over reaches claude', async () => {
    await sim.setFault('gpt-4.1', { kind: 'http_error', status: 503 });
    try {
      const r = await sc.client.chat.completions.create({ model: 'route/analysis', messages: [{ role: 'user', content: 'hello' }] }).withResponse();
      expect(r.response.headers.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
    } finally {
      await sim.clearFaults();
    }
  });

  it('a request naming the Anthropic model still gets the 400 that names the field', async () => {
    const e = await err(sc.client.chat.completions.create({ model: 'claude-sonnet-4.5', seed: 3, messages: [{ role: 'user', content: 'hello' }] }));
    expect(e.status).toBe(400);
    expect(e.param).toBe('seed');
  });
});
