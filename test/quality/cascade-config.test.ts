/**
 * `routing.cascade` in the config: defaults are the deterministic checks, and what is not
 * coherent is refused with the key named (a judge check without a judge, an unknown judge
 * model, a judge configured but not switched on, an unknown check, a setting no listed check reads).
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { DEFAULT_CONFIG } from '../../src/config/defaults.js';

function withCascade(cascade: unknown) {
  const cfg = structuredClone(DEFAULT_CONFIG) as { routing?: Record<string, unknown> };
  cfg.routing = { ...(cfg.routing ?? {}), cascade };
  return validateConfig(cfg);
}

describe('routing.cascade config', () => {
  it('defaults: off, router start, 2 escalations, the deterministic checks', () => {
    const r = withCascade({});
    expect(r.ok && r.config.routing.cascade).toEqual({
      enabled: false,
      startAt: 'router',
      maxSteps: 2,
      checks: ['empty', 'refusal', 'truncated', 'invalid_json', 'schema', 'tool_args'],
      minLogprob: -1,
      schemaCacheSize: 256,
    });
  });
  it('refuses incoherent settings, naming the key', () => {
    const errors = (c: unknown): string => {
      const r = withCascade(c);
      return r.ok ? '' : r.errors.join('\n');
    };
    expect(errors({ checks: ['judge'] })).toMatch(/routing\.cascade\.judge.*needs routing\.cascade\.judge\.model/);
    expect(errors({ checks: ['judge'], judge: { model: 'gpt-9' } })).toMatch(/routing\.cascade\.judge\.model.*unknown model "gpt-9"/);
    expect(errors({ judge: { model: 'gpt-4.1' } })).toMatch(/"judge" is not in routing\.cascade\.checks/);
    expect(errors({ checks: ['vibes'] })).toMatch(/routing\.cascade\.checks/);
    expect(errors({ maxSteps: 0 })).toMatch(/routing\.cascade\.maxSteps/);
    expect(errors({ minLogprob: 0.5 })).toMatch(/routing\.cascade\.minLogprob/);
    expect(errors({ checks: ['judge'], judge: { model: 'gpt-4.1' } })).toBe('');
  });
  it('refuses an embeddings model as the judge (it answers no rubric: every request paid for an unclear verdict)', () => {
    const cfg = structuredClone(DEFAULT_CONFIG) as { models: Record<string, Record<string, unknown>>; routing?: Record<string, unknown> };
    const { maxOutputTokens: _cap, imageTokens: _img, ...chat } = cfg.models['gpt-4.1']!;
    cfg.models.emb = { ...chat, capabilities: ['embeddings'], fallbacks: [], aliases: [] };
    cfg.routing = { ...(cfg.routing ?? {}), cascade: { checks: ['judge'], judge: { model: 'emb' } } };
    const r = validateConfig(cfg);
    expect(r.ok ? [] : r.errors).toEqual([
      expect.stringMatching(/^routing\.cascade\.judge\.model: "emb" is an embeddings model: the judge must be a chat model/),
    ]);
  });
  it('refuses a setting that no listed check reads (it would be taken and do nothing)', () => {
    const errors = (c: unknown): string => {
      const r = withCascade(c);
      return r.ok ? '' : r.errors.join('\n');
    };
    expect(errors({ minLogprob: -0.5 })).toMatch(
      /routing\.cascade\.minLogprob: only read by the "confidence" check.*add "confidence" to checks, or remove minLogprob/,
    );
    expect(errors({ minLogprob: -0.5, checks: ['empty'] })).toMatch(/routing\.cascade\.minLogprob/);
    expect(errors({ minLogprob: -0.5, checks: ['empty', 'confidence'] })).toBe('');
    expect(errors({ schemaCacheSize: 64, checks: ['empty', 'refusal'] })).toMatch(
      /routing\.cascade\.schemaCacheSize: only read by the "schema" and "tool_args" checks/,
    );
    expect(errors({ schemaCacheSize: 64 })).toBe('');
    expect(errors({ schemaCacheSize: 64, checks: ['tool_args'] })).toBe('');
  });
});
