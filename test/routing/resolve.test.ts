/**
 * resolve(): the request's `model` → ordered candidate models (spec §5, issue 5).
 * Example-based; the invariants over random configs are in resolve.property.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { configSchema, type Config, type ConfigInput } from '../../src/config/schema.js';
import { SwitchyardError } from '../../src/errors.js';
import { resolve, type ResolveInput } from '../../src/routing/resolve.js';
import { classify } from '../../src/routing/classify.js';
import { withNative } from '../../src/apis/native.js';
const CLASSIFIER = { simpleTasks: [], complexTasks: [], complexityKeywords: [], complexityThreshold: 3, tasks: {}, longPromptTokens: 8000 };

const ep = (p = 'p') => [{ provider: p, upstreamModel: 'u' }];

/** Two models per tier; prices so that the cost strategy orders `*-cheap` before `*-dear`. */
const CFG: Config = configSchema.parse({
  providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:1/v1' } },
  models: {
    'fast-dear': { tier: 'fast_cheap', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 8_000, capabilities: ['chat'], endpoints: ep() },
    'fast-cheap': {
      tier: 'fast_cheap',
      price: { inputPerMTok: 0.1, outputPerMTok: 0.1 },
      contextWindow: 8_000,
      capabilities: ['chat', 'tools'],
      endpoints: ep(),
    },
    'bal-dear': {
      tier: 'balanced',
      price: { inputPerMTok: 5, outputPerMTok: 5 },
      contextWindow: 100_000,
      capabilities: ['chat', 'tools', 'json'],
      fallbacks: ['hq-big', 'fast-dear'],
      endpoints: ep(),
    },
    'bal-cheap': { tier: 'balanced', price: { inputPerMTok: 2, outputPerMTok: 2 }, contextWindow: 100_000, capabilities: ['chat'], endpoints: ep() },
    'hq-big': {
      tier: 'high_quality',
      price: { inputPerMTok: 10, outputPerMTok: 10 },
      contextWindow: 1_000_000,
      capabilities: ['chat', 'tools', 'json', 'vision'],
      endpoints: ep(),
    },
  },
  routing: {
    strategy: 'cost',
    routes: { code: ['bal-cheap', 'hq-big', 'fast-cheap'], tooly: ['bal-cheap', 'fast-cheap', 'hq-big'] },
    // Every score is ≥ 0 and < 1: without a hint `auto` lands on balanced, so these tests see the chain order alone.
    auto: { thresholds: { balanced: 0, highQuality: 1 } },
    classifier: { complexityKeywords: ['detailed', 'complex', 'design'] },
  },
} satisfies ConfigInput);

function input(model: string, over: Partial<ResolveInput> & { task?: string; tier?: string; text?: string } = {}): ResolveInput {
  const { task, tier, text, ...rest } = over;
  const promptTokens = rest.promptTokens ?? 10;
  return {
    model,
    body: { messages: [{ content: text ?? 'hi' }] },
    classify: { task: task ?? null, tier: tier ?? null, text: text ?? 'hi', promptTokens, turns: 1 },
    promptTokens,
    expectedOutputTokens: 100,
    liveStats: () => ({ latencyMs: 100, inFlight: 0 }),
    rng: () => 0.5,
    ...rest,
  };
}

function thrown(f: () => unknown): SwitchyardError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(SwitchyardError);
    return err as SwitchyardError;
  }
  throw new Error('expected resolve() to throw');
}

describe('resolve: a catalogue id', () => {
  it('is the model itself, then its own fallbacks in order', () => {
    const p = resolve(CFG, input('bal-dear'));
    expect(p.candidates).toEqual(['bal-dear', 'hq-big', 'fast-dear']);
    expect(p.tier).toBe('balanced');
    expect(p.reason).toBe('requested bal-dear');
  });

  it('says the tier and task hints did nothing when a model or a route is named (they were passed over in silence)', () => {
    const p = resolve(CFG, input('bal-dear', { tier: 'fast_cheap' }));
    expect(p.candidates).toEqual(['bal-dear', 'hq-big', 'fast-dear']);
    expect(p.reason).toBe('x-switchyard-tier ignored (a model was named; hints choose a tier for model auto); requested bal-dear');
    const r = resolve(CFG, input('route/code', { tier: 'high_quality', task: 'greeting' }));
    expect(r.reason).toMatch(/^x-switchyard-tier and x-switchyard-task ignored \(a route was named; hints choose a tier for model auto\); route code: /);
  });

  it('keeps the requested model when it lacks a needed capability, but drops such fallbacks', () => {
    // tools needed: bal-cheap has no tools but was asked for by name; it has no fallbacks.
    const body = { messages: [{ content: 'x' }], tools: [{ type: 'function' }] };
    expect(resolve(CFG, input('bal-cheap', { body })).candidates).toEqual(['bal-cheap']);
    // vision needed: bal-dear is kept (by name), fast-dear (no vision) dropped, hq-big kept.
    const vision = { messages: [{ content: [{ type: 'image_url', image_url: { url: 'data:' } }] }] };
    expect(resolve(CFG, input('bal-dear', { body: vision })).candidates).toEqual(['bal-dear', 'hq-big']);
  });

  it("names each model too small once, though an auto chain holds it twice (its tier, and another model's fallback)", () => {
    const p = resolve(CFG, input('auto', { tier: 'balanced', promptTokens: 200_000 }));
    expect(p.candidates).toEqual(['hq-big']);
    expect(p.reason).toContain('skipped bal-cheap, bal-dear, fast-dear, fast-cheap (context window < 200000 tokens');
  });

  it('reads a file part (a PDF) as needing vision, as an image does; a plain-text file needs none', () => {
    const file = (file_data: string) => ({ messages: [{ content: [{ type: 'file', file: { file_data, filename: 'a' } }] }] });
    expect(resolve(CFG, input('auto', { tier: 'fast_cheap', body: file('data:application/pdf;base64,JVBERi0=') })).reason).toBe(
      'tier forced by x-switchyard-tier: fast_cheap; no model of tier fast_cheap can take this request (it needs vision): served from the nearest tier',
    );
    const byId = { messages: [{ content: [{ type: 'file', file: { file_id: 'file-abc' } }] }] };
    expect(resolve(CFG, input('bal-dear', { body: byId })).candidates).toEqual(['bal-dear', 'hq-big']);
    expect(resolve(CFG, input('bal-dear', { body: file('data:text/plain;base64,aGk=') })).candidates).toEqual(['bal-dear', 'hq-big', 'fast-dear']);
  });

  it('says what a request needs when no model of its tier has it', () => {
    const vision = { messages: [{ content: [{ type: 'image_url', image_url: { url: 'data:' } }] }] };
    expect(resolve(CFG, input('auto', { tier: 'fast_cheap', body: vision })).reason).toBe(
      'tier forced by x-switchyard-tier: fast_cheap; no model of tier fast_cheap can take this request (it needs vision): served from the nearest tier',
    );
  });

  it('drops every candidate whose context window is below the prompt, and says so', () => {
    const p = resolve(CFG, input('bal-dear', { promptTokens: 50_000 }));
    expect(p.candidates).toEqual(['bal-dear', 'hq-big']);
    expect(p.reason).toContain('skipped fast-dear (context window < 50000 tokens + 256 for the answer)');
    // The requested model itself is dropped too when too small: only its larger fallback stays.
    expect(resolve(CFG, input('bal-dear', { promptTokens: 200_000 })).candidates).toEqual(['hq-big']);
    // The boundary: the window holds the prompt and room for an answer (256 tokens without max_tokens).
    expect(resolve(CFG, input('bal-dear', { promptTokens: 7_744 })).candidates).toContain('fast-dear');
    expect(resolve(CFG, input('bal-dear', { promptTokens: 7_745 })).candidates).not.toContain('fast-dear');
    // With the client's max_tokens, that is the room (providers refuse a prompt plus max_tokens over the window).
    const asking = (max_tokens: number, promptTokens: number) =>
      resolve(CFG, input('bal-dear', { promptTokens, body: { messages: [{ content: 'x' }], max_tokens } }));
    expect(asking(1_000, 7_000).candidates).toContain('fast-dear');
    expect(asking(1_001, 7_000).candidates).not.toContain('fast-dear');
    expect(asking(1_001, 7_000).reason).toContain('skipped fast-dear (context window < 7000 tokens + max_tokens 1001)');
    // A max_tokens above the model's own cap is sent as the cap, so the cap is what must fit.
    expect(asking(100_000, 3_904).candidates).toContain('fast-dear');
  });
});

describe('resolve: a route', () => {
  it('is the chain, primary first, in the configured order (not by cost)', () => {
    const p = resolve(CFG, input('route/code'));
    expect(p.candidates).toEqual(['bal-cheap', 'hq-big', 'fast-cheap']);
    expect(p.tier).toBeNull();
    expect(p.reason).toBe('route code: bal-cheap → hq-big → fast-cheap');
  });

  it('drops chain members lacking a needed capability or context window, keeping the order', () => {
    const body = { messages: [{ content: 'x' }], tools: [{ type: 'function' }] };
    expect(resolve(CFG, input('route/tooly', { body })).candidates).toEqual(['fast-cheap', 'hq-big']);
    expect(resolve(CFG, input('route/tooly', { body, promptTokens: 9_000 })).candidates).toEqual(['hq-big']);
  });

  it('names the chain members it dropped for a capability, grouped by what they lack, as it names context-window skips', () => {
    const tools = { messages: [{ content: 'x' }], tools: [{ type: 'function' }] };
    expect(resolve(CFG, input('route/tooly', { body: tools })).reason).toBe('route tooly: bal-cheap → fast-cheap → hq-big; skipped bal-cheap (no tools)');
    expect(resolve(CFG, input('route/tooly', { body: tools, promptTokens: 9_000 })).reason).toBe(
      'route tooly: bal-cheap → fast-cheap → hq-big; skipped bal-cheap (no tools); skipped fast-cheap (context window < 9000 tokens + 256 for the answer)',
    );
    const image = { type: 'image_url', image_url: { url: 'data:image/png;base64,AA==' } };
    const vision = { messages: [{ content: [image] }], tools: [{ type: 'function' }] };
    const p = resolve(CFG, input('route/tooly', { body: vision }));
    expect(p.candidates).toEqual(['hq-big']);
    expect(p.reason).toBe('route tooly: bal-cheap → fast-cheap → hq-big; skipped bal-cheap (no vision, tools), fast-cheap (no vision)');
  });
});

describe('resolve: auto', () => {
  it('balanced (no hint): the tier by cost, the fallbacks of its models, then the tier above, then the one below', () => {
    const p = resolve(CFG, input('auto'));
    expect(p.tier).toBe('balanced');
    // bal-dear's fallbacks (hq-big, fast-dear) come right after the tier.
    expect(p.candidates).toEqual(['bal-cheap', 'bal-dear', 'hq-big', 'fast-dear', 'fast-cheap']);
    expect(p.reason).toContain('→ balanced');
    expect(p.score).toBeGreaterThan(0);
  });

  it('fast_cheap (task greeting): fast tier first, then balanced, then high_quality', () => {
    const p = resolve(CFG, input('auto', { task: 'greeting' }));
    expect(p.tier).toBe('fast_cheap');
    expect(p.candidates).toEqual(['fast-cheap', 'fast-dear', 'bal-cheap', 'bal-dear', 'hq-big']);
  });

  it('high_quality (three complexity keywords): high tier, then balanced, then fast_cheap', () => {
    const p = resolve(CFG, input('auto', { text: 'a detailed and complex design' }));
    expect(p.tier).toBe('high_quality');
    expect(p.candidates).toEqual(['hq-big', 'bal-cheap', 'bal-dear', 'fast-cheap', 'fast-dear']);
    expect(p.reason).toMatch(/3 complexity keywords .*→ high_quality/);
    expect(p.score).toBeNull();
  });

  it('x-switchyard-tier forces the tier', () => {
    const p = resolve(CFG, input('auto', { tier: 'high_quality', task: 'greeting' }));
    expect(p.tier).toBe('high_quality');
    expect(p.candidates[0]).toBe('hq-big');
    expect(p.reason).toBe('tier forced by x-switchyard-tier: high_quality; task "greeting" ignored (x-switchyard-tier decides)');
  });

  it('a forced tier the catalogue has no model of is served from the nearest tier, and the reason says the tier is empty (not what the request needs)', () => {
    const noHq: Config = { ...CFG, models: Object.fromEntries(Object.entries(CFG.models).filter(([id]) => id !== 'hq-big')) };
    const p = resolve(noHq, input('auto', { tier: 'high_quality' }));
    expect(p.candidates[0]).toBe('bal-cheap');
    expect(p.reason).toBe('tier forced by x-switchyard-tier: high_quality; the catalogue has no model of tier high_quality: served from the nearest tier');
    // With a model there, no note.
    expect(resolve(CFG, input('auto', { tier: 'high_quality' })).reason).toBe('tier forced by x-switchyard-tier: high_quality');
  });

  it('orders inside a tier by the strategy: latency picks the less loaded model first', () => {
    const cfg: Config = { ...CFG, routing: { ...CFG.routing, strategy: 'latency' } };
    const stats = (m: string) => (m === 'bal-cheap' ? { latencyMs: 900, inFlight: 3 } : { latencyMs: 50, inFlight: 0 });
    for (const r of [0, 0.3, 0.6, 0.99]) {
      expect(resolve(cfg, input('auto', { liveStats: stats, rng: () => r })).candidates.slice(0, 2)).toEqual(['bal-dear', 'bal-cheap']);
    }
  });

  it('skips models lacking a needed capability in every tier', () => {
    const body = { messages: [{ content: 'x' }], response_format: { type: 'json_object' } };
    expect(resolve(CFG, input('auto', { body })).candidates).toEqual(['bal-dear', 'hq-big']);
  });
});

describe('resolve: the long-prompt rule on the quick count', () => {
  // longPromptTokens 500: a prompt of 2,000 English bytes is 667 by the quick count (a third of its
  // bytes) and about 400 by the tokenizer; the rule decided on the quick count (high_quality).
  const cfg = configSchema.parse({
    ...(CFG as unknown as ConfigInput),
    routing: { ...CFG.routing, classifier: { ...CFG.routing.classifier, longPromptTokens: 500 } },
  });
  it('asks the exact count before calling a prompt long, and names it', () => {
    let asked = 0;
    const under = resolve(cfg, input('auto', { promptTokens: 667, exactContextTokens: () => (asked++, 410) }));
    expect(under.tier).toBe('balanced');
    expect(under.reason).not.toMatch(/long prompt/);
    expect(asked).toBe(1);
    const over = resolve(cfg, input('auto', { promptTokens: 667, exactContextTokens: () => 600 }));
    expect(over.tier).toBe('high_quality');
    expect(over.reason).toMatch(/^long prompt \(600 tokens > 500\)/);
    // An exact count (no quick estimate to correct) decides as it is.
    expect(resolve(cfg, input('auto', { promptTokens: 667 })).reason).toMatch(/^long prompt \(667 tokens > 500\)/);
  });
});

describe('resolve: refusals', () => {
  it('an unknown model or route → model_not_found (400) listing every model, route and auto', () => {
    for (const m of ['gpt-9', 'route/nope']) {
      const e = thrown(() => resolve(CFG, input(m)));
      expect(e.code).toBe('model_not_found');
      expect(e.status).toBe(400);
      expect(e.param).toBe('model');
      expect(e.message).toContain(`"${m}" does not exist`);
      expect(e.message).toContain('Available: fast-dear, fast-cheap, bal-dear, bal-cheap, hq-big, route/code, route/tooly, auto');
    }
  });

  it('an embeddings request with no embeddings model configured says how to add one', () => {
    const body = withNative(
      { messages: [{ role: 'user', content: 'hi' }] } as never,
      {
        kind: 'embeddings',
        input: 'hi',
        extra: {},
        longestInput: 2,
        longestParam: 'input',
      } as never,
    );
    const e = thrown(() => resolve(CFG, input('text-embedding-3-small', { body: body as never })));
    expect(e.code).toBe('model_not_found');
    expect(e.message).toBe(
      'The model "text-embedding-3-small" does not exist. Embeddings models: none configured (add one to the config\'s models with capabilities: [embeddings] and its provider\'s upstreamModel, e.g. text-embedding-3-small)',
    );
  });

  it('a near miss is named first; a large catalogue is listed in part, with how many more and where they all are (276 names made a 3 KB message)', () => {
    expect(thrown(() => resolve(CFG, input('hq-bgi'))).message).toBe(
      'The model "hq-bgi" does not exist. Did you mean "hq-big"? Available: fast-dear, fast-cheap, bal-dear, bal-cheap, hq-big, route/code, route/tooly, auto',
    );
    const models = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`model-${String(i).padStart(3, '0')}`, CFG.models['bal-cheap']!]));
    const big = { ...CFG, models: { ...CFG.models, ...models } };
    const e = thrown(() => resolve(big, input('gpt-4o')));
    expect(e.message).toMatch(/^The model "gpt-4o" does not exist\. Available: fast-dear, .*, model-024, … 18 more \(GET \/v1\/models lists them all\)$/);
    expect(e.message.length).toBeLessThan(600);
  });

  it('no model can serve the request → invalid_request naming the need', () => {
    const body = { messages: [{ content: [{ type: 'image_url', image_url: { url: 'data:' } }] }] };
    // No model of the route takes images (hq-big without vision here).
    const cfg = { ...CFG, models: { ...CFG.models, 'hq-big': { ...CFG.models['hq-big']!, capabilities: ['chat' as const, 'tools' as const] } } };
    const e = thrown(() => resolve(cfg, input('route/code', { body })));
    expect(e.code).toBe('invalid_request');
    expect(e.status).toBe(400);
    expect(e.headers['x-switchyard-error-code']).toBe('invalid_request');
    expect(e.message).toBe(
      'no model can serve this request on route/code (bal-cheap, hq-big, fast-cheap): it needs vision; prompt is 10 tokens + 256 for the answer',
    );
  });

  it('the models that take what it needs are there but their windows too small → context_length_exceeded, in the body and the header (it was invalid_request "it needs vision")', () => {
    const body = { messages: [{ content: [{ type: 'image_url', image_url: { url: 'data:' } }] }] };
    const e = thrown(() => resolve(CFG, input('route/code', { body, promptTokens: 2_000_000 })));
    expect([e.status, e.code, e.param, e.headers['x-switchyard-error-code']]).toEqual([400, 'context_length_exceeded', 'model', 'context_length_exceeded']);
    expect(e.message).toBe(
      `no model can serve this request on route/code (bal-cheap, hq-big, fast-cheap): the models that take vision have too small a context window; prompt is 2000000 tokens + 256 for the answer; the largest context window of the models that take it is ${Math.max(...['bal-cheap', 'hq-big', 'fast-cheap'].map((m) => CFG.models[m]!.contextWindow))} tokens`,
    );
  });

  it("a prompt no candidate's context window holds → 400 with code context_length_exceeded, a provider's code for it", () => {
    const e = thrown(() => resolve(CFG, input('route/code', { promptTokens: 2_000_000 })));
    expect([e.status, e.code, e.param, e.headers['x-switchyard-error-code']]).toEqual([400, 'context_length_exceeded', 'model', 'context_length_exceeded']);
    expect(e.message).toMatch(/^no model can serve this request on route\/code \(bal-cheap, hq-big, fast-cheap\): prompt is 2000000 tokens/);
  });
});

describe('a task hint beside a forced tier', () => {
  it('the reason says the task was ignored (it said only "tier forced")', () => {
    expect(classify({ task: 'analysis', tier: 'fast_cheap', text: 'x', promptTokens: 1, turns: 1 }, CLASSIFIER).reason).toBe(
      'tier forced by x-switchyard-tier: fast_cheap; task "analysis" ignored (x-switchyard-tier decides)',
    );
    expect(classify({ task: null, tier: 'fast_cheap', text: 'x', promptTokens: 1, turns: 1 }, CLASSIFIER).reason).toBe(
      'tier forced by x-switchyard-tier: fast_cheap',
    );
  });
});

describe("resolve: a client key's models (auth.keys[].models)", () => {
  const allowed = (...models: string[]) => ({ allowed: { keyId: 'team-a', models: new Set(models) } });

  it('refuses a named model off the list with 403 model_not_allowed, fallbacks or not; keeps only listed fallbacks', () => {
    const e = thrown(() => resolve(CFG, input('hq-big', allowed('fast-cheap'))));
    expect(e.status).toBe(403);
    expect(e.code).toBe('model_not_allowed');
    expect(e.type).toBe('permission_error');
    expect(e.message).toBe('client key "team-a" may not use the model "hq-big": its models (auth.keys[].models) are fast-cheap');
    // bal-dear's fallbacks are hq-big and fast-dear: only the listed one stays.
    expect(resolve(CFG, input('bal-dear', allowed('bal-dear', 'fast-dear'))).candidates).toEqual(['bal-dear', 'fast-dear']);
    // An unknown model is still not found (the list says nothing of it).
    expect(thrown(() => resolve(CFG, input('nope', allowed('fast-cheap')))).code).toBe('model_not_found');
    // No list: as before.
    expect(resolve(CFG, input('bal-dear', { allowed: null })).candidates).toEqual(['bal-dear', 'hq-big', 'fast-dear']);
  });

  it('serves auto and a route from the listed models, in the usual order, and says so; refuses when none of them could serve', () => {
    const auto = resolve(CFG, input('auto', { tier: 'high_quality', ...allowed('fast-cheap', 'bal-cheap') }));
    expect(auto.candidates).toEqual(['bal-cheap', 'fast-cheap']);
    expect(auto.reason).toContain("; key team-a's models only");
    expect(resolve(CFG, input('route/code', allowed('fast-cheap', 'hq-big'))).candidates).toEqual(['hq-big', 'fast-cheap']);
    const none = thrown(() => resolve(CFG, input('route/code', allowed('fast-dear'))));
    expect(none.code).toBe('model_not_allowed');
    expect(none.message).toBe('client key "team-a" may use none of the models that could serve "route/code": its models (auth.keys[].models) are fast-dear');
    // A list that leaves out nothing the plan had says nothing.
    expect(resolve(CFG, input('route/code', allowed('bal-cheap', 'hq-big', 'fast-cheap'))).reason).not.toContain('models only');
  });

  it('refuses with 403 when only a model off the list could serve, and says the window when none could', () => {
    // Only hq-big has vision; the key lists fast-cheap only.
    const body = { messages: [{ content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] };
    expect(thrown(() => resolve(CFG, { ...input('route/code', allowed('fast-cheap')), body })).code).toBe('model_not_allowed');
    // A prompt no window holds: the window is what the client must change, whatever the list.
    const big = thrown(() => resolve(CFG, input('route/code', { ...allowed('fast-cheap'), promptTokens: 2_000_000 })));
    expect(big.code).toBe('context_length_exceeded');
    expect(big.status).toBe(400);
  });
});

describe('resolve: an unknown model asked by a key with a model list', () => {
  it('is told only what the key may ask for (its models, the routes with one of them, auto), its near miss among those', () => {
    const allowed = { allowed: { keyId: 'team-a', models: new Set(['fast-cheap']) } };
    const e = thrown(() => resolve(CFG, input('fast-chep', allowed)));
    expect(e.code).toBe('model_not_found');
    expect(e.message).toBe('The model "fast-chep" does not exist. Did you mean "fast-cheap"? Available: fast-cheap, route/code, route/tooly, auto');
    // A near miss of another key's model is not offered (it listed the whole catalogue: a 403 to come, and the other teams' models).
    expect(thrown(() => resolve(CFG, input('hq-bigg', allowed))).message).toBe(
      'The model "hq-bigg" does not exist. Available: fast-cheap, route/code, route/tooly, auto',
    );
    expect(thrown(() => resolve(CFG, input('hq-bigg'))).message).toContain('Did you mean "hq-big"?');
  });
});
