import { describe, expect, it, vi } from 'vitest';
import { translatableCandidates, untakeableEndpoints, untranslatableBy } from '../../src/runtime/translatable.js';
import { SwitchyardError } from '../../src/errors.js';
import type { RuntimeCore } from '../../src/runtime/core.js';
import type { EndpointHandle } from '../../src/runtime/endpoints.js';
import type { ChatBody } from '../../src/upstream/types.js';

/** A runtime of `n` models, each with an Anthropic-kind endpoint (and an OpenAI-kind one when `mixed`), whose Messages build is counted. */
function runtime(n: number, mixed: boolean, refuse: boolean) {
  const buildRequest = vi.fn(() => {
    if (refuse) throw new SwitchyardError('invalid_request', 'seed has no Messages form', { param: 'seed' });
    return {};
  });
  const handle = (model: string, kind: 'openai' | 'anthropic'): EndpointHandle =>
    ({
      id: `${model}@${kind}`,
      model,
      adapter: { kind, buildRequest },
      endpoint: { upstreamModel: `up-${model}` },
      provider: { anthropicVersion: '2023-06-01' },
      modelCfg: { maxOutputTokens: 1000 },
    }) as unknown as EndpointHandle;
  const models = Array.from({ length: n }, (_, i) => `m${i}`);
  const byModel = new Map(models.map((m) => [m, mixed ? [handle(m, 'anthropic'), handle(m, 'openai')] : [handle(m, 'anthropic')]]));
  const rt = { byModel, cfg: { models: Object.fromEntries(models.map((m) => [m, {}])) } } as unknown as RuntimeCore;
  return { rt, models, buildRequest };
}

const body = { model: 'auto', messages: [{ role: 'user', content: 'hi' }] } as unknown as ChatBody;

describe("a chat body's check on Anthropic-kind endpoints", () => {
  it('builds the Messages request once per body, not once per endpoint (a 250-model auto chain built it for each)', () => {
    const a = runtime(50, false, false);
    expect(translatableCandidates(a.rt, body, a.models)).toBe(a.models);
    expect(a.buildRequest).toHaveBeenCalledTimes(1);
    const b = runtime(50, true, true);
    // Every Anthropic-kind endpoint refuses it: each mixed model's is untakeable, all 50 named, one build.
    expect(untakeableEndpoints(b.rt, body, b.models)).toEqual(b.models.map((m) => `${m}@anthropic`));
    expect(b.buildRequest).toHaveBeenCalledTimes(1);
    const c = runtime(50, false, true);
    expect(untranslatableBy(c.rt, body, c.models)?.message).toBe('seed has no Messages form');
    expect(c.buildRequest).toHaveBeenCalledTimes(1);
  });
});
