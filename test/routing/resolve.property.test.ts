/**
 * Property: for random catalogues, routes and requests, resolve() never names a candidate that
 * cannot serve the request — one lacking a capability the request needs (auto and routes; a model
 * requested by name keeps its place for capabilities by design, its fallbacks do not) or whose
 * context window is below the prompt — and drops nothing else: the candidates are exactly the
 * eligible models, in the documented order, without duplicates. When none is eligible it
 * refuses with invalid_request (context_length_exceeded when only windows were too small) instead
 * of answering an empty plan.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CAPABILITIES, TIERS, configSchema, type Capability, type Config, type Tier } from '../../src/config/schema.js';

const CHAT_CAPABILITIES = CAPABILITIES.filter((c) => c !== 'embeddings');
import { SwitchyardError } from '../../src/errors.js';
import { classify, requiredCapabilities } from '../../src/routing/classify.js';
import { resolve, type ResolveInput, type RoutePlan } from '../../src/routing/resolve.js';
import { resolveReference } from './resolve-reference.js';

const NAMES = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6'];
const WINDOWS = [1_000, 4_000, 8_000, 32_000, 128_000, 1_000_000];
const KEYWORDS = ['detailed', 'complex', 'design', 'architect', 'vergleiche'];

interface ModelSpec {
  tier: Tier;
  caps: Capability[];
  contextWindow: number;
  price: number;
  latencyPriorMs: number;
  fallbacks: number[];
}

const modelArb: fc.Arbitrary<ModelSpec> = fc.record({
  tier: fc.constantFrom(...TIERS),
  // Each capability present with probability 3/4, so most requests find someone to serve them.
  // Chat models only: embeddings models are kept out of chat routing (test/unit/apis-config.test.ts).
  caps: fc.tuple(...CHAT_CAPABILITIES.map(() => fc.integer({ min: 0, max: 3 }))).map((ns) => CHAT_CAPABILITIES.filter((_, i) => ns[i]! > 0)),
  contextWindow: fc.constantFrom(...WINDOWS),
  // Prices as a config holds them: micro-USD per million tokens (6 decimals at most).
  price: fc.integer({ min: 0, max: 20_000_000 }).map((n) => n / 1_000_000),
  latencyPriorMs: fc.integer({ min: 1, max: 3000 }),
  fallbacks: fc.array(fc.nat(NAMES.length - 1), { maxLength: 3 }),
});

const scenarioArb = fc
  .record({
    models: fc.array(modelArb, { minLength: 1, maxLength: NAMES.length }),
    routes: fc.array(fc.array(fc.nat(NAMES.length - 1), { minLength: 1, maxLength: 4 }), { maxLength: 3 }),
    strategy: fc.constantFrom('cost' as const, 'latency' as const, 'weighted' as const),
    pick: fc.nat(),
    kind: fc.constantFrom('auto', 'route', 'model'),
    vision: fc.boolean(),
    tools: fc.boolean(),
    json: fc.constantFrom(null, 'json_object', 'json_schema', 'text'),
    promptTokens: fc.oneof(
      { arbitrary: fc.integer({ min: 0, max: 10_000 }), weight: 4 },
      { arbitrary: fc.constantFrom(...WINDOWS.flatMap((w) => [w - 1, w, w + 1])), weight: 3 },
      { arbitrary: fc.integer({ min: 0, max: 1_200_000 }), weight: 1 },
    ),
    maxTokens: fc.option(fc.integer({ min: 1, max: 40_000 })),
    task: fc.constantFrom(null, 'greeting', 'analysis', 'chat', 'code', 'unknown-task'),
    tier: fc.constantFrom(null, ...TIERS, 'bogus'),
    keywords: fc.array(fc.constantFrom(...KEYWORDS), { maxLength: 5 }),
    stats: fc.array(fc.record({ latencyMs: fc.integer({ min: 0, max: 5000 }), inFlight: fc.nat(20) }), { minLength: NAMES.length, maxLength: NAMES.length }),
    seed: fc.integer(),
  })
  .map((s) => {
    const names = NAMES.slice(0, s.models.length);
    const models = Object.fromEntries(
      s.models.map((m, i) => [
        names[i]!,
        {
          tier: m.tier,
          capabilities: m.caps,
          contextWindow: m.contextWindow,
          price: { inputPerMTok: m.price, outputPerMTok: m.price * 2 },
          latencyPriorMs: m.latencyPriorMs,
          // A self-fallback and a repeated one are config errors.
          fallbacks: [...new Set(m.fallbacks.map((f) => names[f % names.length]!).filter((f) => f !== names[i]))],
          endpoints: [{ provider: 'p', upstreamModel: names[i]! }],
        },
      ]),
    );
    // Each model once in a route (the config refuses a repeat).
    const routes = Object.fromEntries(s.routes.map((chain, i) => [`r${i}`, [...new Set(chain.map((f) => names[f % names.length]!))]]));
    const cfg: Config = configSchema.parse({
      providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:1/v1' } },
      models,
      routing: { strategy: s.strategy, routes },
    });
    const routeNames = Object.keys(routes);
    const model =
      s.kind === 'auto' || (s.kind === 'route' && routeNames.length === 0)
        ? 'auto'
        : s.kind === 'route'
          ? `route/${routeNames[s.pick % routeNames.length]!}`
          : names[s.pick % names.length]!;
    const content: unknown = s.vision
      ? [
          { type: 'text', text: 'look' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } },
        ]
      : 'hi';
    const body = {
      messages: [{ content }],
      ...(s.maxTokens === null ? {} : { max_tokens: s.maxTokens }),
      ...(s.tools ? { tools: [{ type: 'function', function: { name: 'f' } }] } : {}),
      ...(s.json ? { response_format: { type: s.json } } : {}),
    };
    const text = `please ${s.keywords.join(' ')}`;
    let x = s.seed >>> 0;
    const rng = (): number => {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      return x / 4294967296;
    };
    const inp: ResolveInput = {
      model,
      body,
      classify: { task: s.task, tier: s.tier, text, promptTokens: s.promptTokens, turns: 1 },
      promptTokens: s.promptTokens,
      expectedOutputTokens: 256,
      liveStats: (m) => s.stats[NAMES.indexOf(m)]!,
      rng,
    };
    return { cfg, inp };
  });

/** What `auto` decides for this request (the scorer reads the whole body). */
const classifyAuto = (cfg: Config, inp: ResolveInput) => classify({ ...inp.classify, request: inp.body }, cfg.routing.classifier, cfg.routing.auto);

function run(cfg: Config, inp: ResolveInput): RoutePlan | SwitchyardError {
  try {
    return resolve(cfg, inp);
  } catch (err) {
    if (err instanceof SwitchyardError) return err;
    throw err;
  }
}

describe('resolve: property over random configs and requests', () => {
  it('never names an incapable or too-small candidate, drops nothing eligible, keeps the documented order', () => {
    fc.assert(
      fc.property(scenarioArb, ({ cfg, inp }) => {
        const needs = requiredCapabilities(inp.body);
        const capable = (m: string) => needs.every((c) => cfg.models[m]!.capabilities.includes(c));
        // The window holds the prompt and the answer: the client's max_tokens as sent (at most the model's cap), else 256.
        const asked = (inp.body as { max_tokens?: number }).max_tokens ?? null;
        const fits = (m: string) => {
          const mc = cfg.models[m]!;
          return mc.contextWindow - inp.promptTokens >= Math.min(asked ?? 256, mc.maxOutputTokens);
        };
        const byName = inp.model !== 'auto' && !inp.model.startsWith('route/') ? inp.model : null;

        // The eligible models, in the documented order (before dedupe).
        let expected: string[];
        let tierOrder: Tier[] | null = null;
        if (inp.model === 'auto') {
          const tier = classifyAuto(cfg, inp).tier;
          const i = TIERS.indexOf(tier);
          tierOrder = [TIERS[i], TIERS[i + 1], TIERS[i - 1], TIERS[i + 2], TIERS[i - 2]].filter((t): t is Tier => t !== undefined);
          // The chosen tier's models, then their own fallbacks (issue 11), then the other tiers.
          expected = tierOrder.flatMap((t) => {
            const inTier = Object.keys(cfg.models).filter((m) => cfg.models[m]!.tier === t && capable(m));
            const withFallbacks = t === tier ? [...inTier, ...inTier.flatMap((m) => cfg.models[m]!.fallbacks).filter(capable)] : inTier;
            return withFallbacks.filter(fits);
          });
        } else if (byName === null) {
          expected = cfg.routing.routes[inp.model.slice('route/'.length)]!.filter((m) => capable(m) && fits(m));
        } else {
          expected = [byName, ...cfg.models[byName]!.fallbacks.filter(capable)].filter(fits);
        }
        expected = [...new Set(expected)];

        const plan = run(cfg, inp);
        if (plan instanceof SwitchyardError) {
          // context_length_exceeded when only windows were too small, as a provider answers it.
          expect(['invalid_request', 'context_length_exceeded']).toContain(plan.code);
          expect(plan.status).toBe(400);
          expect(expected).toEqual([]);
          return;
        }
        const c = plan.candidates;
        // The invariant of issue 5.
        for (const m of c) {
          expect(cfg.models[m], m).toBeDefined();
          expect(fits(m), `${m}: contextWindow ${cfg.models[m]!.contextWindow} < ${inp.promptTokens} + answer`).toBe(true);
          if (m !== byName) expect(capable(m), `${m} lacks one of ${needs.join(',')}`).toBe(true);
        }
        expect(new Set(c).size).toBe(c.length);
        expect(c.length).toBeGreaterThan(0);
        if (tierOrder) {
          // Same set; the chosen tier's models first (the strategy may permute them), then its
          // models' own fallbacks, then the other tiers in order.
          expect([...c].sort()).toEqual([...expected].sort());
          const head = expected.filter((m) => cfg.models[m]!.tier === tierOrder[0]);
          const first = c.slice(0, head.length);
          expect([...first].sort()).toEqual([...head].sort());
          // Fallbacks of every capable model of the tier (a model too small for the prompt still brings its fallbacks).
          const tierAll = Object.keys(cfg.models).filter((m) => cfg.models[m]!.tier === tierOrder[0] && capable(m));
          const rest = c.slice(head.length).filter((m) => !isFallbackOfHead(m, tierAll));
          const rank = rest.map((m) => tierOrder.indexOf(cfg.models[m]!.tier));
          expect(rank).toEqual([...rank].sort((a, b) => a - b));
          expect(plan.tier).toBe(classifyAuto(cfg, inp).tier);
          if (cfg.routing.strategy === 'cost') {
            const byCost = (xs: string[]) => xs.slice().sort((a, b) => tierOf(a) - tierOf(b) || cost(a) - cost(b) || lat(a) - lat(b));
            const sortedHead = byCost(head);
            const fb = byCost(tierAll)
              .flatMap((m) => cfg.models[m]!.fallbacks)
              .filter((m) => capable(m) && fits(m));
            const others = byCost(expected.filter((m) => cfg.models[m]!.tier !== tierOrder[0]));
            expect(c).toEqual([...new Set([...sortedHead, ...fb, ...others])]);
          }
        } else {
          // Routes and named models: exactly the configured order.
          expect(c).toEqual(expected);
        }

        function isFallbackOfHead(m: string, head: string[]): boolean {
          return head.some((h) => cfg.models[h]!.fallbacks.includes(m));
        }
        function tierOf(m: string): number {
          return tierOrder!.indexOf(cfg.models[m]!.tier);
        }
        function cost(m: string): number {
          const p = cfg.models[m]!.price;
          return inp.promptTokens * p.inputPerMTok + inp.expectedOutputTokens * p.outputPerMTok;
        }
        function lat(m: string): number {
          return inp.liveStats(m).latencyMs;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the generator reaches every branch (so the property is not vacuous)', () => {
    const seen = { auto: 0, route: 0, model: 0, refused: 0, byNameIncapable: 0, droppedForCaps: 0, droppedForWindow: 0 };
    fc.assert(
      fc.property(scenarioArb, ({ cfg, inp }) => {
        const kind = inp.model === 'auto' ? 'auto' : inp.model.startsWith('route/') ? 'route' : 'model';
        seen[kind]++;
        const needs = requiredCapabilities(inp.body);
        const plan = run(cfg, inp);
        if (plan instanceof SwitchyardError) {
          seen.refused++;
          return;
        }
        if (kind === 'model' && plan.candidates[0] === inp.model && !needs.every((n) => cfg.models[inp.model]!.capabilities.includes(n)))
          seen.byNameIncapable++;
        const all = kind === 'route' ? cfg.routing.routes[inp.model.slice(6)]! : Object.keys(cfg.models);
        if (all.some((m) => !needs.every((n) => cfg.models[m]!.capabilities.includes(n)) && !plan.candidates.includes(m))) seen.droppedForCaps++;
        if (plan.reason.includes('skipped')) seen.droppedForWindow++;
      }),
      // A fixed seed: this test counts how often the generator reaches each branch, so a random
      // seed made it a coin toss on the rarest one (byNameIncapable came out at 9 once in CI).
      { numRuns: 1000, seed: 20261129 },
    );
    for (const [k, n] of Object.entries(seen)) expect(n, k).toBeGreaterThan(10);
  });
});

describe('resolve: equal to the reference (the code before its allocation cuts)', () => {
  const seeded = (seed: number) => {
    let x = seed >>> 0;
    return (): number => {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      return x / 4294967296;
    };
  };
  const outcome = (f: () => RoutePlan): unknown => {
    try {
      return f();
    } catch (err) {
      if (err instanceof SwitchyardError) return { code: err.code, status: err.status, message: err.message };
      throw err;
    }
  };
  it('gives the same plan, or the same refusal, on random configs and requests', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer(), ({ cfg, inp }, seed) => {
        const now = outcome(() => resolve(cfg, { ...inp, rng: seeded(seed) }));
        const ref = outcome(() => resolveReference(cfg, { ...inp, rng: seeded(seed) }));
        expect(now).toStrictEqual(ref);
      }),
      { numRuns: 3000 },
    );
  });
});
