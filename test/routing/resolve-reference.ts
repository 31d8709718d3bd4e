/** resolve() as it was before its allocation cuts (commit 0178fb9): the reference resolve.equal.test.ts holds resolve() equal to. */
/**
 * Resolving the request's `model` into an ordered list of candidate models:
 *   a catalogue id → that model, then its own `fallbacks`;
 *   `route/<name>` → the route's chain, primary first;
 *   `auto`         → the classifier's tier ordered by the strategy, then the tier above,
 *                    then the one below.
 * Models whose context window is too small for the prompt, or that lack a capability the
 * request needs, are dropped (an explicitly requested model keeps its place for capabilities:
 * the client asked for it by name).
 */
import type { Capability, Config, Tier } from '../../src/config/schema.js';
import { TIERS } from '../../src/config/schema.js';
import { own } from '../../src/config/lookup.js';
import { echoName, SwitchyardError } from '../../src/errors.js';
import { nativeOf } from '../../src/apis/native.js';
import { classify, requiredCapabilities, type ClassifyInput } from '../../src/routing/classify.js';
import type { RouteRequest } from '../../src/routing/features.js';
import { order, type Rng, type Scored } from '../../src/routing/strategy.js';
import { answerRoom, MIN_ANSWER_ROOM, requestedOutputTokens } from '../../src/accounting/reservation.js';

function answerNote(embeddings: boolean, body: { max_tokens?: unknown; max_completion_tokens?: unknown }): string {
  const asked = requestedOutputTokens(body);
  return embeddings ? '' : asked === null ? ` + ${MIN_ANSWER_ROOM} for the answer` : ` + max_tokens ${asked}`;
}

interface RoutePlan {
  candidates: string[];
  tier: Tier | null;
  reason: string;
  /** The `auto` scorer's score; null (or absent) when a hint, a rule, a route or a model name decided. */
  score?: number | null;
}

interface ResolveInput {
  model: string;
  body: RouteRequest & { messages: Array<{ content?: unknown }> };
  classify: ClassifyInput;
  promptTokens: number;
  /** Expected output tokens (for the cost strategy). */
  expectedOutputTokens: number;
  /** Live latency and load of a model (its best endpoint). */
  liveStats: (model: string) => { latencyMs: number; inFlight: number };
  rng?: Rng;
}

function listModelIds(cfg: Config): string[] {
  return [...Object.keys(cfg.models), ...Object.keys(cfg.routing.routes).map((r) => `route/${r}`), 'auto'];
}

function expectedCost(cfg: Config, model: string, inp: ResolveInput): number {
  const p = cfg.models[model]!.price;
  return inp.promptTokens * p.inputPerMTok + inp.expectedOutputTokens * p.outputPerMTok;
}

function ordered(cfg: Config, models: string[], inp: ResolveInput): string[] {
  const scored: Array<Scored<string>> = models.map((m) => ({ item: m, cost: expectedCost(cfg, m, inp), ...live(inp, m) }));
  return order(scored, cfg.routing.strategy, inp.rng);
}

const live = (inp: ResolveInput, m: string) => {
  const s = inp.liveStats(m);
  return { latencyMs: s.latencyMs, inFlight: s.inFlight };
};

const tierIndex = (t: Tier): number => TIERS.indexOf(t);

/** Embeddings models serve `/v1/embeddings` only, and only they do. */
function checkPurpose(cfg: Config, inp: ResolveInput): (m: string) => boolean {
  const wantsEmbeddings = nativeOf(inp.body)?.kind === 'embeddings';
  const isEmb = (m: string): boolean => own(cfg.models, m)?.capabilities.includes('embeddings') === true;
  const named = own(cfg.models, inp.model) !== undefined;
  if (wantsEmbeddings && !named) {
    const embeddingModels = Object.keys(cfg.models).filter(isEmb);
    // `auto` and routes are chat choices; any other name is simply not in the catalogue.
    if (inp.model === 'auto' || inp.model.startsWith('route/')) {
      throw new SwitchyardError('invalid_request', `embeddings need a catalogue model with capability "embeddings", not "${echoName(inp.model)}"`, {
        param: 'model',
      });
    }
    throw new SwitchyardError(
      'model_not_found',
      `The model "${echoName(inp.model)}" does not exist. Embeddings models: ${embeddingModels.join(', ') || "none configured (add one to the config's models with capabilities: [embeddings] and its provider's upstreamModel, e.g. text-embedding-3-small)"}`,
      { param: 'model' },
    );
  }
  if (named && isEmb(inp.model) !== wantsEmbeddings) {
    const msg = wantsEmbeddings ? `"${inp.model}" is not an embeddings model` : `"${inp.model}" is an embeddings model: use POST /v1/embeddings`;
    throw new SwitchyardError('invalid_request', msg, { param: 'model' });
  }
  return (m) => isEmb(m) === wantsEmbeddings;
}

export function resolveReference(cfg: Config, inp: ResolveInput): RoutePlan {
  const purpose = checkPurpose(cfg, inp);
  const needs = requiredCapabilities(inp.body);
  const wantsEmbeddings = nativeOf(inp.body)?.kind === 'embeddings';
  // (Since: a chat model's window holds the prompt and the answer's room, answerRoom.)
  const fits = (m: string): boolean => {
    const mc = own(cfg.models, m);
    return mc !== undefined && mc.contextWindow - inp.promptTokens >= (wantsEmbeddings ? 0 : answerRoom(inp.body, mc.maxOutputTokens));
  };
  const capable = (m: string): boolean => purpose(m) && needs.every((c) => cfg.models[m]!.capabilities.includes(c));
  const dedupe = (xs: string[]): string[] => [...new Set(xs)];

  let plan: RoutePlan;
  if (inp.model === 'auto') {
    const c = classify({ ...inp.classify, request: inp.classify.request ?? inp.body }, cfg.routing.classifier, cfg.routing.auto);
    const idx = tierIndex(c.tier);
    const tiersInOrder = [c.tier, TIERS[idx + 1], TIERS[idx - 1], TIERS[idx + 2], TIERS[idx - 2]].filter((t): t is Tier => t !== undefined);
    const chain: string[] = [];
    let emptyTier = false;
    for (const t of tiersInOrder) {
      const inTier = ordered(
        cfg,
        Object.keys(cfg.models).filter((m) => cfg.models[m]!.tier === t && capable(m)),
        inp,
      );
      if (t === c.tier && inTier.length === 0) emptyTier = true;
      chain.push(...inTier);
      // The chosen tier's own fallbacks come before other tiers (balanced: gemini-2.5-flash, then deepseek-v3.2).
      if (t === c.tier) chain.push(...inTier.flatMap((m) => cfg.models[m]!.fallbacks).filter(capable));
    }
    const tierless = emptyTier && !Object.values(cfg.models).some((m) => m.tier === c.tier && !m.capabilities.includes('embeddings'));
    const note = !emptyTier
      ? ''
      : tierless
        ? `; the catalogue has no model of tier ${c.tier}: served from the nearest tier`
        : `; no model of tier ${c.tier} can take this request${needs.length > 0 ? ` (it needs ${needs.join(', ')})` : ''}: served from the nearest tier`;
    plan = { candidates: chain, tier: c.tier, reason: `${c.reason}${note}`, score: c.score ?? null };
  } else if (inp.model.startsWith('route/')) {
    const name = inp.model.slice('route/'.length);
    const chain = own(cfg.routing.routes, name);
    if (!chain) throw notFound(cfg, inp.model);
    const skipped = chain.filter((m) => !capable(m));
    plan = {
      candidates: chain.filter(capable),
      tier: null,
      reason: `${ignoredNote(inp)}route ${name}: ${chain.join(' → ')}${capabilityNote(cfg, skipped, needs)}`,
      score: null,
    };
  } else {
    const m = own(cfg.models, inp.model);
    if (!m) throw notFound(cfg, inp.model);
    plan = { candidates: [inp.model, ...m.fallbacks.filter(capable)], tier: m.tier, reason: `${ignoredNote(inp)}requested ${inp.model}`, score: null };
  }
  // (Since: each model named once.)
  const tooSmall = dedupe(plan.candidates.filter((m) => !fits(m)));
  const windowTooSmall = tooSmall.length > 0;
  plan.candidates = dedupe(plan.candidates.filter(fits));
  if (tooSmall.length > 0)
    plan.reason += `; skipped ${tooSmall.join(', ')} (context window < ${inp.promptTokens} tokens${answerNote(wantsEmbeddings, inp.body)})`;
  if (plan.candidates.length === 0) {
    throw new SwitchyardError(
      'invalid_request',
      `no model can serve this request${inp.model.startsWith('route/') ? ` on ${inp.model} (${cfg.routing.routes[inp.model.slice(6)]!.join(', ')})` : ''}: ${needs.length === 0 ? '' : windowTooSmall ? `the models that take ${needs.join(', ')} have too small a context window; ` : `it needs ${needs.join(', ')}; `}prompt is ${inp.promptTokens} tokens${answerNote(wantsEmbeddings, inp.body)}${windowTooSmall ? `; the largest context window of the models that take it is ${Math.max(...tooSmall.map((m) => own(cfg.models, m)?.contextWindow ?? 0))} tokens` : ''}`,
      { param: 'model', ...(windowTooSmall ? { upstreamCode: 'context_length_exceeded' } : {}) },
    );
  }
  return plan;
}

function notFound(cfg: Config, model: string): SwitchyardError {
  return new SwitchyardError('model_not_found', `The model "${echoName(model)}" does not exist. Available: ${listModelIds(cfg).join(', ')}`, {
    param: 'model',
  });
}

/**
 * The models of a route's chain dropped for what the request needs, grouped by what they lack
 * (`; skipped tiny, cheap (no vision)`), as context-window skips are named; empty when none.
 */
function capabilityNote(cfg: Config, skipped: string[], needs: readonly Capability[]): string {
  if (skipped.length === 0) return '';
  const groups = new Map<string, string[]>();
  for (const m of skipped) {
    const caps = cfg.models[m]!.capabilities;
    const lacks = needs.filter((c) => !caps.includes(c));
    // A chat request and an embeddings model (an embeddings request never resolves a route).
    const why = lacks.length > 0 ? `no ${lacks.join(', ')}` : 'an embeddings model';
    const g = groups.get(why);
    if (g) g.push(m);
    else groups.set(why, [m]);
  }
  return `; skipped ${[...groups].map(([why, ms]) => `${ms.join(', ')} (${why})`).join(', ')}`;
}

/** The hints do nothing when a model or a route is named: the reason says so. */
function ignoredNote(inp: ResolveInput): string {
  const names: string[] = [];
  if (inp.classify.tier !== null) names.push('x-switchyard-tier');
  if (inp.classify.task !== null) names.push('x-switchyard-task');
  if (names.length === 0) return '';
  return `${names.join(' and ')} ignored (${inp.model.startsWith('route/') ? 'a route' : 'a model'} was named; hints choose a tier for model auto); `;
}
