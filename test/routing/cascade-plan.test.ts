/**
 * cascadeLadder(): the tiers a cascaded request climbs. Same catalogue as resolve.test.ts
 * (two models per tier but one at the top; prices order `*-cheap` before `*-dear`).
 */
import { describe, expect, it } from 'vitest';
import { configSchema, type Config, type ConfigInput } from '../../src/config/schema.js';
import { judgeVerdict, judgeWords } from '../../src/quality/judge.js';
import { cascadePlan } from '../../src/routing/cascade-plan.js';
import type { ResolveInput } from '../../src/routing/resolve.js';

const ep = [{ provider: 'p', upstreamModel: 'u' }];
const CFG: Config = configSchema.parse({
  providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:1/v1' } },
  models: {
    'fast-dear': { tier: 'fast_cheap', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 8_000, capabilities: ['chat'], endpoints: ep },
    'fast-cheap': {
      tier: 'fast_cheap',
      price: { inputPerMTok: 0.1, outputPerMTok: 0.1 },
      contextWindow: 8_000,
      capabilities: ['chat', 'tools'],
      endpoints: ep,
    },
    'bal-dear': {
      tier: 'balanced',
      price: { inputPerMTok: 5, outputPerMTok: 5 },
      contextWindow: 100_000,
      capabilities: ['chat', 'tools', 'json'],
      fallbacks: ['hq-big', 'fast-dear'],
      endpoints: ep,
    },
    'bal-cheap': { tier: 'balanced', price: { inputPerMTok: 2, outputPerMTok: 2 }, contextWindow: 100_000, capabilities: ['chat'], endpoints: ep },
    'hq-big': {
      tier: 'high_quality',
      price: { inputPerMTok: 10, outputPerMTok: 10 },
      contextWindow: 1_000_000,
      capabilities: ['chat', 'tools', 'json', 'vision'],
      endpoints: ep,
    },
  },
  routing: { strategy: 'cost', routes: { code: ['bal-cheap', 'hq-big', 'fast-cheap'] } },
} satisfies ConfigInput);

function input(model: string, over: { promptTokens?: number; tools?: boolean; tier?: string } = {}): ResolveInput {
  const promptTokens = over.promptTokens ?? 10;
  return {
    model,
    body: { messages: [{ content: 'hi' }], ...(over.tools ? { tools: [{ type: 'function' }] } : {}) },
    classify: { task: null, tier: over.tier ?? null, text: 'hi', promptTokens, turns: 1 },
    promptTokens,
    expectedOutputTokens: 100,
    liveStats: () => ({ latencyMs: 100, inFlight: 0 }),
    rng: () => 0.5,
  };
}
const cascadeLadder = (...a: Parameters<typeof cascadePlan>) => cascadePlan(...a).steps;
const shape = (l: ReturnType<typeof cascadeLadder>) => l.map((s) => [s.tier, s.plan.candidates]);

describe('cascadeLadder', () => {
  it("auto starts at the router's tier (its models and their same-tier fallbacks), then each tier up", () => {
    expect(shape(cascadeLadder(CFG, input('auto', { tier: 'fast_cheap' }), 'router', 2))).toEqual([
      ['fast_cheap', ['fast-cheap', 'fast-dear']],
      ['balanced', ['bal-cheap', 'bal-dear']],
      ['high_quality', ['hq-big']],
    ]);
    expect(shape(cascadeLadder(CFG, input('auto', { tier: 'balanced' }), 'router', 2))).toEqual([
      ['balanced', ['bal-cheap', 'bal-dear']],
      ['high_quality', ['hq-big']],
    ]);
  });
  it("leaves out a model that cannot take the request's fields (usable: an Anthropic-kind model and seed), in every step, as a plain route does", () => {
    const noBal = (m: string) => m !== 'bal-cheap' && m !== 'bal-dear';
    // The balanced tier has no usable model: the climb goes from fast_cheap to high_quality, and maxSteps still counts real steps.
    expect(shape(cascadeLadder(CFG, input('auto', { tier: 'fast_cheap' }), 'router', 1, noBal))).toEqual([
      ['fast_cheap', ['fast-cheap', 'fast-dear']],
      ['high_quality', ['hq-big']],
    ]);
    expect(shape(cascadeLadder(CFG, input('auto'), 'cheapest', 2, (m) => m !== 'fast-cheap'))[0]).toEqual(['fast_cheap', ['fast-dear']]);
    // A route's chain; a model the client named keeps its place (its attempt answers the 400 naming the field).
    expect(shape(cascadePlan(CFG, input('route/code'), 'router', 2, (m) => m !== 'hq-big').steps).map(([, c]) => c)).toEqual([
      ['bal-cheap', 'fast-cheap'],
      ['fast-cheap'],
    ]);
    expect(shape(cascadePlan(CFG, input('bal-dear'), 'router', 2, (m) => m !== 'bal-dear' && m !== 'hq-big').steps).map(([, c]) => c)).toEqual([
      ['bal-dear', 'fast-dear'],
      ['fast-dear'],
    ]);
  });

  it("climbs only the client key's models (auth.keys[].models): no step on a model off its list, a tier with none of them skipped", () => {
    const allowed = { keyId: 'team-a', models: new Set(['fast-cheap', 'bal-dear']) };
    const plan = cascadePlan(CFG, { ...input('auto', { tier: 'fast_cheap' }), allowed }, 'router', 2);
    expect(shape(plan.steps)).toEqual([
      ['fast_cheap', ['fast-cheap']],
      ['balanced', ['bal-dear']],
    ]);
    expect(plan.plain.candidates).toEqual(['fast-cheap', 'bal-dear']);
    // A named model: its fallbacks off the list are no steps (bal-dear's are hq-big and fast-dear).
    expect(shape(cascadePlan(CFG, { ...input('bal-dear'), allowed }, 'router', 2).steps)).toEqual([['balanced', ['bal-dear']]]);
  });
  it('maxSteps bounds the escalations', () => {
    expect(cascadeLadder(CFG, input('auto', { tier: 'fast_cheap' }), 'router', 1)).toHaveLength(2);
  });
  it('startAt cheapest: auto starts at the lowest tier with an adequate model, whatever tier the router scored', () => {
    expect(shape(cascadeLadder(CFG, input('auto'), 'cheapest', 2))[0]).toEqual(['fast_cheap', ['fast-cheap', 'fast-dear']]);
    expect(cascadeLadder(CFG, input('auto'), 'cheapest', 2)[0]!.plan.reason).toBe('cascade: cheapest adequate tier fast_cheap');
    // A task hint the router ignored is still said (the reason lost it).
    const unknown = { ...input('auto'), classify: { ...input('auto').classify, task: 'bogus-task' } };
    expect(cascadeLadder(CFG, unknown, 'cheapest', 2)[0]!.plan.reason).toBe('unknown task "bogus-task" ignored; cascade: cheapest adequate tier fast_cheap');
  });
  it("startAt cheapest never starts below the client's hint: a forced tier or a task's tier is the first step, as with startAt router", () => {
    for (const startAt of ['router', 'cheapest'] as const) {
      const forced = cascadePlan(CFG, input('auto', { tier: 'high_quality' }), startAt, 2);
      expect([startAt, forced.steps[0]!.tier, forced.steps[0]!.plan.reason]).toEqual([
        startAt,
        'high_quality',
        'tier forced by x-switchyard-tier: high_quality',
      ]);
      expect(cascadePlan(CFG, input('auto', { tier: 'balanced' }), startAt, 2).steps.map((s) => s.tier)).toEqual(['balanced', 'high_quality']);
    }
  });
  it('a named model stays inside what was named: the model, then its own fallbacks, in order, whatever startAt says', () => {
    for (const startAt of ['router', 'cheapest'] as const) {
      const p = cascadePlan(CFG, input('bal-dear'), startAt, 2);
      expect(p.kind).toBe('chain');
      expect(shape(p.steps)).toEqual([
        ['balanced', ['bal-dear', 'hq-big', 'fast-dear']],
        ['high_quality', ['hq-big', 'fast-dear']],
        ['fast_cheap', ['fast-dear']],
      ]);
      expect(p.steps[0]!.plan.reason).toBe('requested bal-dear');
      // Nothing to escalate to: one step (the cascade serves it as a plain request).
      expect(shape(cascadePlan(CFG, input('hq-big'), startAt, 2).steps)).toEqual([['high_quality', ['hq-big']]]);
    }
  });
  it("a route stays inside its chain, in the chain's order, after the capability filter", () => {
    const p = cascadePlan(CFG, input('route/code'), 'cheapest', 2);
    expect(shape(p.steps)).toEqual([
      ['balanced', ['bal-cheap', 'hq-big', 'fast-cheap']],
      ['high_quality', ['hq-big', 'fast-cheap']],
      ['fast_cheap', ['fast-cheap']],
    ]);
    expect(p.plain.candidates).toEqual(['bal-cheap', 'hq-big', 'fast-cheap']);
    expect(shape(cascadePlan(CFG, input('route/code', { tools: true }), 'router', 2).steps).map(([, c]) => c)).toEqual([
      ['hq-big', 'fast-cheap'],
      ['fast-cheap'],
    ]);
  });
  it("auto keeps the plain request's candidates beside the steps (what a refusal for money falls back along)", () => {
    expect(cascadePlan(CFG, input('auto', { tier: 'balanced' }), 'router', 2).plain.candidates).toEqual([
      'bal-cheap',
      'bal-dear',
      'hq-big',
      'fast-dear',
      'fast-cheap',
    ]);
  });
  it("the router's capability and context filters apply to every step", () => {
    expect(shape(cascadeLadder(CFG, input('auto', { tools: true, tier: 'fast_cheap' }), 'router', 2))).toEqual([
      ['fast_cheap', ['fast-cheap']],
      ['balanced', ['bal-dear']],
      ['high_quality', ['hq-big']],
    ]);
    expect(shape(cascadeLadder(CFG, input('auto', { promptTokens: 50_000 }), 'cheapest', 2))).toEqual([
      ['balanced', ['bal-cheap', 'bal-dear']],
      ['high_quality', ['hq-big']],
    ]);
  });
  it("when no model of the router's tier can take the request, the climb starts at the tier of the one that would serve it: no step asks a model again", () => {
    // fast_cheap scored, but the prompt is over both fast_cheap windows: the first step is balanced (it held
    // every candidate under fast_cheap, and the balanced step asked bal-cheap again, billed twice).
    expect(shape(cascadeLadder(CFG, input('auto', { tier: 'fast_cheap', promptTokens: 50_000 }), 'router', 2))).toEqual([
      ['balanced', ['bal-cheap', 'bal-dear']],
      ['high_quality', ['hq-big']],
    ]);
    // maxSteps 1 still reaches a stronger tier (it escalated to the same model and stopped there).
    expect(shape(cascadeLadder(CFG, input('auto', { tier: 'fast_cheap', promptTokens: 50_000 }), 'router', 1))).toEqual([
      ['balanced', ['bal-cheap', 'bal-dear']],
      ['high_quality', ['hq-big']],
    ]);
    // Nothing of fast_cheap or balanced usable: one step, on the top tier.
    const onlyTop = (m: string) => m === 'hq-big';
    expect(shape(cascadeLadder(CFG, input('auto', { tier: 'fast_cheap' }), 'router', 2, onlyTop))).toEqual([['high_quality', ['hq-big']]]);
    for (const startAt of ['router', 'cheapest'] as const)
      for (const tier of ['fast_cheap', 'balanced', 'high_quality'])
        for (const promptTokens of [10, 50_000]) {
          const models = cascadeLadder(CFG, input('auto', { tier, promptTokens }), startAt, 2).flatMap((st) => st.plan.candidates);
          expect(new Set(models).size, `${startAt} ${tier} ${promptTokens}`).toBe(models.length);
        }
  });
  it('throws what resolve throws (unknown model)', () => {
    expect(() => cascadeLadder(CFG, input('nope'), 'router', 2)).toThrow(/does not exist/);
  });
});

describe('judgeVerdict', () => {
  it('reads PASS or FAIL, and anything else as unclear', () => {
    expect(judgeVerdict('PASS')).toBe('pass');
    expect(judgeVerdict('fail.')).toBe('fail');
    expect(judgeVerdict('PASS or FAIL')).toBe('unclear');
    expect(judgeVerdict('passable')).toBe('unclear');
    // A participle is the same verdict (it was unclear, so a judge writing "FAILED" never escalated).
    expect(judgeVerdict('FAILED')).toBe('fail');
    expect(judgeVerdict('Passed.')).toBe('pass');
    expect(judgeVerdict('PASSED or FAILED')).toBe('unclear');
  });

  it('says which words an unclear answer had (x-switchyard-judge said "no PASS or FAIL" of "It does not PASS; FAIL.")', () => {
    expect(judgeWords('It does not PASS; FAIL.')).toEqual({ pass: true, fail: true });
    expect(judgeWords('no idea')).toEqual({ pass: false, fail: false });
    expect(judgeWords('Failed.')).toEqual({ pass: false, fail: true });
  });
});
