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
import type { Capability, Config, Tier } from '../config/schema.js';
import { TIERS } from '../config/schema.js';
import { keyModels, own } from '../config/lookup.js';
import { leftOutFor } from '../config/left-out.js';
import { nearest } from '../config/near.js';
import { echoName, SwitchyardError } from '../errors.js';
import { nativeOf } from '../apis/native.js';
import { answerRoom, MIN_ANSWER_ROOM, requestedOutputTokens } from '../accounting/reservation.js';
import { classify, requiredCapabilities, type ClassifyInput } from './classify.js';
import type { RouteRequest } from './features.js';
import { byCost, order, type Rng, type Scored } from './strategy.js';

export interface RoutePlan {
  candidates: string[];
  tier: Tier | null;
  reason: string;
  /** The `auto` scorer's score; null (or absent) when a hint, a rule, a route or a model name decided. */
  score?: number | null;
}

export interface ResolveInput {
  model: string;
  body: RouteRequest & { messages: Array<{ content?: unknown }> };
  classify: ClassifyInput;
  promptTokens: number;
  /** What a candidate's context window must hold, when not the whole prompt (embeddings: the longest input). */
  contextTokens?: number;
  /** The field holding `contextTokens` (`input[3]`), named by the error when no window holds it (a function: asked then). */
  contextParam?: string | (() => string);
  /**
   * `contextTokens` is an upper bound (embeddings: the longest input's bytes), not a count: where it
   * leaves a window no room, `exactContextTokens` decides.
   */
  contextBound?: boolean;
  /**
   * The prompt's exact count, when `promptTokens` is the quick upper bound (a third of its bytes:
   * English runs 4–5 bytes a token). Asked only when that bound leaves a model's window no room:
   * the bound alone refused prompts that fit a small window (2,559 tokens counted as 4,256).
   */
  exactContextTokens?: () => number;
  /**
   * A true upper bound of the prompt's tokens (its bytes: a token is at least one), asked with
   * `exactContextTokens` when the quick count fits a window but the bound does not: the quick
   * count is an estimate that lists of digits, CSV, CJK and emoji exceed up to threefold.
   */
  boundContextTokens?: () => number;
  /** The client key's `auth.keys[].models`: only these are candidates (absent or null: every model). */
  allowed?: { keyId: string; models: ReadonlySet<string> } | null;
  /** Expected output tokens (for the cost strategy). */
  expectedOutputTokens: number;
  /** Live latency and load of a model (its best endpoint). */
  liveStats: (model: string) => { latencyMs: number; inFlight: number };
  rng?: Rng;
}

/** What `ResolveInput.allowed` is for client key `keyId`: its `auth.keys[].models`, or null (every model). */
export function keyAllowance(cfg: Config, keyId: string | null): ResolveInput['allowed'] {
  const models = keyModels(cfg, keyId);
  return models === null ? null : { keyId: keyId!, models };
}

/**
 * Whether a key with model list `models` may ask for `id` (a `/v1/models` id): one of its models,
 * a route with one of them, or `auto`. What its `/v1/models` lists and its `model_not_found` names.
 */
export function keyMayAsk(cfg: Config, models: ReadonlySet<string>, id: string): boolean {
  if (id === 'auto') return true;
  if (id.startsWith('route/')) return (own(cfg.routing.routes, id.slice('route/'.length)) ?? []).some((m) => models.has(m));
  return models.has(id);
}

export function listModelIds(cfg: Config): string[] {
  return [...Object.keys(cfg.models), ...Object.keys(cfg.routing.routes).map((r) => `route/${r}`), 'auto'];
}

function expectedCost(cfg: Config, model: string, inp: ResolveInput): number {
  const p = cfg.models[model]!.price;
  return inp.promptTokens * p.inputPerMTok + inp.expectedOutputTokens * p.outputPerMTok;
}

function ordered(cfg: Config, models: string[], inp: ResolveInput): string[] {
  // The cost order reads a model's live latency only to break a tie of costs.
  if (cfg.routing.strategy === 'cost')
    return byCost(
      models,
      (i) => expectedCost(cfg, models[i]!, inp),
      (i) => inp.liveStats(models[i]!).latencyMs,
    );
  const scored: Array<Scored<string>> = models.map((m) => ({ item: m, cost: expectedCost(cfg, m, inp), ...live(inp, m) }));
  return order(scored, cfg.routing.strategy, inp.rng);
}

const live = (inp: ResolveInput, m: string) => {
  const s = inp.liveStats(m);
  return { latencyMs: s.latencyMs, inFlight: s.inFlight };
};

const tierIndex = (t: Tier): number => TIERS.indexOf(t);

export const isEmbeddingsModel = (cfg: Config, m: string): boolean => own(cfg.models, m)?.capabilities.includes('embeddings') === true;

/** Embeddings models serve `/v1/embeddings` only, and only they do. Returns whether the request wants embeddings. */
function checkPurpose(cfg: Config, inp: ResolveInput): boolean {
  const wantsEmbeddings = nativeOf(inp.body)?.kind === 'embeddings';
  const named = own(cfg.models, inp.model) !== undefined;
  if (wantsEmbeddings && !named) {
    const embeddingModels = Object.keys(cfg.models).filter((m) => isEmbeddingsModel(cfg, m) && (inp.allowed == null || inp.allowed.models.has(m)));
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
  if (named && isEmbeddingsModel(cfg, inp.model) !== wantsEmbeddings) {
    const msg = wantsEmbeddings ? `"${inp.model}" is not an embeddings model` : `"${inp.model}" is an embeddings model: use POST /v1/embeddings`;
    throw new SwitchyardError('invalid_request', msg, { param: 'model' });
  }
  return wantsEmbeddings;
}

const dedupe = (xs: string[]): string[] => [...new Set(xs)];

const POOLS = new WeakMap<Config['models'], Map<Tier, string[]>>();
/** The chat models (not embeddings) of each tier, in catalogue order: listed once per config, not per `auto` request. */
function tierPools(cfg: Config): Map<Tier, string[]> {
  let pools = POOLS.get(cfg.models);
  if (pools === undefined) {
    pools = new Map();
    for (const [id, m] of Object.entries(cfg.models)) {
      if (m.capabilities.includes('embeddings')) continue;
      const pool = pools.get(m.tier);
      if (pool) pool.push(id);
      else pools.set(m.tier, [id]);
    }
    POOLS.set(cfg.models, pools);
  }
  return pools;
}

/** True when no string occurs twice in `xs` (a short list: compared pairwise, nothing allocated). */
function distinct(xs: readonly string[]): boolean {
  for (let i = 1; i < xs.length; i++) for (let j = 0; j < i; j++) if (xs[i] === xs[j]) return false;
  return true;
}

export function resolve(cfg: Config, inp: ResolveInput): RoutePlan {
  const wantsEmbeddings = checkPurpose(cfg, inp);
  const allowed = inp.allowed ?? null;
  // A model named by a key that may not use it is refused before anything is weighed (a fallback of it would be a way round).
  if (allowed !== null && !allowed.models.has(inp.model) && own(cfg.models, inp.model) !== undefined) throw notAllowed(allowed, inp.model);
  const needs = requiredCapabilities(inp.body);
  let contextTokens = inp.contextTokens ?? inp.promptTokens;
  let counted = inp.exactContextTokens === undefined || (inp.contextTokens !== undefined && inp.contextBound !== true);
  // The exact count, once: the window filter and the classifier's long-prompt rule may both ask.
  let exact: number | null = null;
  const exactCount = (): number => (exact ??= inp.exactContextTokens!());
  // A chat model's window holds the prompt and the answer (providers refuse a prompt plus max_tokens over
  // the window): the client's cap as it would be sent, or a minimal room for an answer (answerRoom).
  const asked = wantsEmbeddings ? null : requestedOutputTokens(inp.body);
  const roomFor = (max: number): number => (wantsEmbeddings ? 0 : answerRoom(inp.body, max));
  const fits = (m: string): boolean => {
    const mc = own(cfg.models, m);
    if (mc === undefined) return false;
    const room = roomFor(mc.maxOutputTokens);
    if (mc.contextWindow - contextTokens >= room) {
      // The quick count fits: certain once counted, or when the prompt's byte bound fits too.
      if (counted || inp.boundContextTokens === undefined || mc.contextWindow - inp.boundContextTokens() >= room) return true;
    } else if (counted) return false;
    // The quick count is no answer here: the exact count decides (and is what the messages then name).
    counted = true;
    contextTokens = exactCount();
    return mc.contextWindow - contextTokens >= room;
  };
  const capable = (m: string): boolean => {
    if (isEmbeddingsModel(cfg, m) !== wantsEmbeddings) return false;
    const caps = cfg.models[m]!.capabilities;
    for (let i = 0; i < needs.length; i++) if (!caps.includes(needs[i]!)) return false;
    return true;
  };

  let plan: RoutePlan;
  if (inp.model === 'auto') {
    const quick = inp.exactContextTokens !== undefined && inp.contextTokens === undefined;
    const c = classify(
      {
        ...inp.classify,
        request: inp.classify.request ?? inp.body,
        ...(quick && inp.classify.exactPromptTokens === undefined ? { exactPromptTokens: exactCount } : {}),
      },
      cfg.routing.classifier,
      cfg.routing.auto,
    );
    const idx = tierIndex(c.tier);
    const tiersInOrder = [c.tier, TIERS[idx + 1], TIERS[idx - 1], TIERS[idx + 2], TIERS[idx - 2]].filter((t): t is Tier => t !== undefined);
    const chain: string[] = [];
    let emptyTier = false;
    const pools = tierPools(cfg);
    // The chat models of a tier (the catalogue's, listed once per config) that have what the request needs.
    const hasNeeds = (m: string): boolean => {
      const caps = cfg.models[m]!.capabilities;
      for (let i = 0; i < needs.length; i++) if (!caps.includes(needs[i]!)) return false;
      return true;
    };
    for (const t of tiersInOrder) {
      const pool = pools.get(t) ?? [];
      const inTier = ordered(cfg, needs.length === 0 ? pool : pool.filter(hasNeeds), inp);
      if (t === c.tier && inTier.length === 0) emptyTier = true;
      chain.push(...inTier);
      // The chosen tier's own fallbacks come before other tiers (balanced: gemini-2.5-flash, then deepseek-v3.2).
      if (t === c.tier) for (const m of inTier) for (const f of cfg.models[m]!.fallbacks) if (capable(f)) chain.push(f);
    }
    // A tier the catalogue has no chat model in at all is said as such, not as this request's needs.
    const tierless = emptyTier && (pools.get(c.tier) ?? []).length === 0;
    const note = !emptyTier
      ? ''
      : tierless
        ? `; the catalogue has no model of tier ${c.tier}: served from the nearest tier`
        : `; no model of tier ${c.tier} can take this request${needs.length > 0 ? ` (it needs ${needs.join(', ')})` : ''}: served from the nearest tier`;
    plan = { candidates: chain, tier: c.tier, reason: `${c.reason}${note}`, score: c.score ?? null };
  } else if (inp.model.startsWith('route/')) {
    const name = inp.model.slice('route/'.length);
    const chain = own(cfg.routing.routes, name);
    if (!chain) throw notFound(cfg, inp.model, allowed);
    const skipped = chain.filter((m) => !capable(m));
    plan = {
      candidates: chain.filter(capable),
      tier: null,
      reason: `${hintsIgnored(inp)}route ${name}: ${chain.join(' → ')}${capabilityNote(cfg, skipped, needs)}`,
      score: null,
    };
  } else {
    const m = own(cfg.models, inp.model);
    if (!m) throw notFound(cfg, inp.model, allowed);
    plan = {
      candidates: m.fallbacks.length === 0 ? [inp.model] : [inp.model, ...m.fallbacks.filter(capable)],
      tier: m.tier,
      reason: `${hintsIgnored(inp)}requested ${inp.model}`,
      score: null,
    };
  }
  if (allowed !== null) {
    const kept = plan.candidates.filter((m) => allowed.models.has(m));
    // Only when the key's list emptied it: a list nothing could serve anyway (no model has vision) is said as that.
    if (kept.length === 0 && plan.candidates.length > 0) throw notAllowed(allowed, inp.model);
    if (kept.length < plan.candidates.length) {
      plan.candidates = kept;
      plan.reason += `; key ${allowed.keyId}'s models only`;
    }
  }
  // The usual plan (every candidate fits, none twice, a short list) is kept as built: what the
  // filters and the Set would copy unchanged.
  let windowTooSmall = false;
  /** The largest context window of the models whose windows were too small (tokens): what a client trims to. */
  let largestWindow = 0;
  if (plan.candidates.length > 16 || !plan.candidates.every(fits) || !distinct(plan.candidates)) {
    // Once each: an auto chain may name a model twice (its tier's, and another's fallback). Each
    // model's window is judged once (a 250-model chain judged each two or three times).
    const tooSmall: string[] = [];
    const kept: string[] = [];
    for (const m of dedupe(plan.candidates)) (fits(m) ? kept : tooSmall).push(m);
    windowTooSmall = tooSmall.length > 0;
    for (const m of tooSmall) largestWindow = Math.max(largestWindow, own(cfg.models, m)?.contextWindow ?? 0);
    plan.candidates = kept;
    if (tooSmall.length > 0) plan.reason += `; skipped ${tooSmall.join(', ')} (context window < ${contextTokens} tokens${answerNote(wantsEmbeddings, asked)})`;
  }
  if (plan.candidates.length === 0) {
    // A route is named, with its models (the need is said next): it said only "no model".
    const chain = inp.model.startsWith('route/') ? own(cfg.routing.routes, inp.model.slice('route/'.length)) : undefined;
    const which = chain ? ` on ${inp.model} (${chain.join(', ')})` : '';
    // A bound is no count to tell the client: count it (an error path only).
    if (!counted && inp.contextBound === true) {
      counted = true;
      contextTokens = exactCount();
    }
    const param = typeof inp.contextParam === 'function' ? inp.contextParam() : inp.contextParam;
    throw new SwitchyardError(
      'invalid_request',
      `no model can serve this request${which}: ${needNote(needs, windowTooSmall)}${param ?? 'prompt'} is ${contextTokens} tokens${answerNote(wantsEmbeddings, asked)}${
        windowTooSmall ? `; the largest context window of the models that take it is ${largestWindow} tokens` : ''
      }`,
      // Models that take it were there but their windows too small: the code a provider gives the same case (clients trim their
      // history on it; the header says it too), and the field too long when it is one input of a batch.
      windowTooSmall ? { param: param ?? 'model', upstreamCode: CONTEXT_CODE, headers: { 'x-switchyard-error-code': CONTEXT_CODE } } : { param: 'model' },
    );
  }
  return plan;
}

const CONTEXT_CODE = 'context_length_exceeded';

/** What the request needs, when no model takes it; when models do but their windows are too small, that. */
const needNote = (needs: readonly string[], windowTooSmall: boolean): string =>
  needs.length === 0 ? '' : windowTooSmall ? `the models that take ${needs.join(', ')} have too small a context window; ` : `it needs ${needs.join(', ')}; `;

/** The answer's part of what a chat model's window must hold: the client's max_tokens (a lower one may fit), or the minimal room. */
const answerNote = (embeddings: boolean, asked: number | null): string =>
  embeddings ? '' : asked === null ? ` + ${MIN_ANSWER_ROOM} for the answer` : ` + max_tokens ${asked}`;

/**
 * The tier and task hints choose a tier for `model: auto` only: with a model or a route named they
 * do nothing, and the reason says so (they were passed over in silence).
 */
function hintsIgnored(inp: ResolveInput): string {
  const names = [inp.classify.tier !== null ? 'x-switchyard-tier' : null, inp.classify.task !== null ? 'x-switchyard-task' : null].filter((n) => n !== null);
  return names.length === 0
    ? ''
    : `${names.join(' and ')} ignored (${inp.model.startsWith('route/') ? 'a route' : 'a model'} was named; hints choose a tier for model auto); `;
}

/** 403: client key `keyId` may not use `model` (a catalogue model), or none of the models a route or `auto` would serve it from. */
function notAllowed(allowed: { keyId: string; models: ReadonlySet<string> }, model: string): SwitchyardError {
  const list = [...allowed.models];
  const shown = list.length <= NOT_FOUND_LISTED ? list.join(', ') : `${list.slice(0, NOT_FOUND_LISTED).join(', ')}, … ${list.length - NOT_FOUND_LISTED} more`;
  const what =
    model === 'auto' || model.startsWith('route/')
      ? `may use none of the models that could serve "${echoName(model)}"`
      : `may not use the model "${echoName(model)}"`;
  return new SwitchyardError('model_not_allowed', `client key "${allowed.keyId}" ${what}: its models (auth.keys[].models) are ${shown}`, {
    param: 'model',
  });
}

/** The most model ids a `model_not_found` message lists. */
const NOT_FOUND_LISTED = 30;

function notFound(cfg: Config, model: string, allowed: ResolveInput['allowed'] = null): SwitchyardError {
  const vars = leftOutFor(cfg, model);
  const why =
    vars === null
      ? `The model "${echoName(model)}" does not exist.`
      : `The model "${echoName(model)}" is in the built-in catalogue but was left out at start-up: no key for ${model.startsWith('route/') ? "any of its models' providers" : 'its provider'} in the environment (set ${vars.join(' or ')} and restart switchyard).`;
  // A large catalogue is not listed whole (276 names made a 3 KB message): the first ones, how many
  // more, and where they all are; a near miss of a name is said first.
  // A key with a model list is shown what it may ask for (as its /v1/models), never the other keys' models.
  const ids = allowed === null ? listModelIds(cfg) : listModelIds(cfg).filter((id) => keyMayAsk(cfg, allowed.models, id));
  const near = vars === null && model.length <= 64 ? nearest(model, ids) : null;
  const list =
    ids.length <= NOT_FOUND_LISTED
      ? ids.join(', ')
      : `${ids.slice(0, NOT_FOUND_LISTED).join(', ')}, … ${ids.length - NOT_FOUND_LISTED} more (GET /v1/models lists them all)`;
  return new SwitchyardError('model_not_found', `${why}${near === null ? '' : ` Did you mean "${near}"?`} Available: ${list}`, { param: 'model' });
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
