/** Which candidates can take a body at all (shared by the request driver and the dry run). */
import { requestedOutputTokens } from '../accounting/reservation.js';
import { nativeOf } from '../apis/native.js';
import { thinkingError, thinkingFits } from '../upstream/adapters/anthropic-native.js';
import { untranslatedError } from '../upstream/adapters/openai-native.js';
import { own } from '../config/lookup.js';
import { echoName, SwitchyardError } from '../errors.js';
import type { ChatBody } from '../upstream/types.js';
import type { RuntimeCore } from './core.js';
import type { EndpointHandle } from './endpoints.js';

/**
 * The 400 an endpoint's adapter answers for a body it cannot take, null when it can take it: a
 * chat field with no Messages form on an Anthropic-kind endpoint; a Messages field with no chat
 * form on an OpenAI-kind one, or a thinking budget not below the max_tokens an Anthropic-kind one
 * is sent. What an attempt there would answer, without sending anything (the dry run gives it as
 * its own 400).
 */
export function translationError(h: EndpointHandle, body: ChatBody): SwitchyardError | null {
  const native = nativeOf(body);
  if (native !== undefined) {
    if (native.kind !== 'anthropic-messages') return null;
    if (h.adapter.kind === 'openai') return untranslatedError(native, h.model);
    return thinkingError(native, Math.min(requestedOutputTokens(body) ?? Infinity, h.modelCfg.maxOutputTokens), h.model);
  }
  if (h.adapter.kind === 'openai') return null;
  try {
    h.adapter.buildRequest({
      body,
      upstreamModel: h.endpoint.upstreamModel,
      model: h.model,
      stream: body.stream === true,
      apiKey: undefined,
      headers: {},
      basePath: '',
      maxOutputTokens: 1,
      anthropicVersion: h.provider.anthropicVersion,
      prefill: null,
    });
    return null;
  } catch (err) {
    if (err instanceof SwitchyardError && err.status === 400) return err;
    throw err;
  }
}

/**
 * `translationError` over the endpoints of many candidates, for one body. A chat body's check on an
 * Anthropic-kind endpoint builds the whole Messages request, and its verdict does not depend on the
 * endpoint (the request names only the upstream model), so it is built once per body, not once per
 * Anthropic-kind endpoint: a 250-model `auto` chain built it for each of them on every request.
 */
function translationCheck(body: ChatBody): (h: EndpointHandle) => SwitchyardError | null {
  if (nativeOf(body) !== undefined) return (h) => translationError(h, body);
  let anthropic: SwitchyardError | null | undefined;
  return (h) => (h.adapter.kind === 'openai' ? null : anthropic === undefined ? (anthropic = translationError(h, body)) : anthropic);
}

/**
 * Candidates whose endpoints can all not take this body are left out while another candidate
 * remains, so routing or a fail-over does not turn a valid request into one model's 400: a
 * chat field with no Messages form (`seed`, `logprobs`, `response_format`, …) on an
 * Anthropic-kind endpoint, or a Messages field with no chat form (`thinking`, `top_k`, …) on
 * an OpenAI-kind one. A model the client named, or one left alone, stays: its attempt
 * answers the 400 that names the field.
 */
export function translatableCandidates(rt: RuntimeCore, body: ChatBody, candidates: string[]): string[] {
  if (candidates.length < 2) return candidates;
  const native = nativeOf(body);
  let ok: (h: EndpointHandle) => boolean;
  if (native === undefined) {
    const check = translationCheck(body);
    ok = (h) => check(h) === null;
  } else if (native.kind === 'anthropic-messages' && native.untranslated.length > 0) {
    // An enabled thinking budget must also fit under the max_tokens the model is sent (its maxOutputTokens at most).
    const asked = requestedOutputTokens(body);
    ok = (h) => h.adapter.kind === 'anthropic' && thinkingFits(native, Math.min(asked ?? Infinity, h.modelCfg.maxOutputTokens));
  } else {
    return candidates;
  }
  // A model the client named keeps its place (its 400 names the field); routes, `auto` and fallbacks do not.
  const named = own(rt.cfg.models, body.model) !== undefined ? body.model : null;
  const kept = candidates.filter((m) => m === named || (rt.byModel.get(m) ?? []).some(ok));
  return kept.length > 0 && kept.length < candidates.length ? kept : candidates;
}

/**
 * The 400 of a body that the request's first candidate cannot take when it is the model the
 * client named (`translatableCandidates` keeps it first: its 400 names the field), or that no
 * endpoint of any candidate can take; null when it can be sent. A chat body: every endpoint
 * Anthropic-kind, and the body has a field with no Messages form (an OpenAI-kind endpoint takes
 * any chat body: the common case asks nothing more). A Messages body: a field with no chat form
 * and no Anthropic-kind endpoint, or a thinking budget none fits; the 400 is then an
 * Anthropic-kind endpoint's when there is one (it names what to change: the budget), not an
 * OpenAI-kind one's about fields it has no form for.
 */
export function untranslatableBy(rt: RuntimeCore, body: ChatBody, candidates: readonly string[]): SwitchyardError | null {
  const native = nativeOf(body);
  if ((native !== undefined && native.kind !== 'anthropic-messages') || candidates.length === 0) return null;
  const named = candidates[0] === body.model && own(rt.cfg.models, body.model) !== undefined;
  let first: SwitchyardError | null = null;
  let anthropic: SwitchyardError | null = null;
  const check = translationCheck(body);
  for (const m of named ? candidates.slice(0, 1) : candidates) {
    for (const h of rt.byModel.get(m) ?? []) {
      if (native === undefined && h.adapter.kind === 'openai') return null;
      const err = check(h);
      if (err === null) return null;
      first ??= err;
      if (h.adapter.kind !== 'openai') anthropic ??= err;
    }
  }
  return anthropic ?? first;
}

const NO_ENDPOINTS: readonly string[] = Object.freeze([]);

/**
 * The endpoints of a model with endpoints of both kinds that cannot take this body while another
 * of its endpoints can: its Anthropic-kind ones, for a chat field with no Messages form; its
 * OpenAI-kind ones, for a Messages field with no chat form (`thinking`, `top_k`, a document
 * block…). The pick passes them over for the model's others. Picked, they answered the 400 after
 * taking a slot of their rpm window, and the same request was a 400 or a 200 as the endpoints'
 * state went (a Messages request with thinking was a 400 every time the OpenAI-kind endpoint came
 * first). A model of one kind is decided by `translatableCandidates` / `untranslatableBy`; none is
 * asked here.
 */
export function untakeableEndpoints(rt: RuntimeCore, body: ChatBody, candidates: readonly string[]): readonly string[] {
  const native = nativeOf(body);
  if (native !== undefined && native.kind !== 'anthropic-messages') return NO_ENDPOINTS;
  let out: string[] | null = null;
  const check = translationCheck(body);
  for (const m of candidates) {
    const eps = rt.byModel.get(m);
    if (eps === undefined || eps.length < 2 || !eps.some((h) => h.adapter.kind === 'openai') || eps.every((h) => h.adapter.kind === 'openai')) continue;
    const bad = eps.filter((h) => check(h) !== null);
    if (bad.length < eps.length) for (const h of bad) (out ??= []).push(h.id);
  }
  return out ?? NO_ENDPOINTS;
}

/**
 * The reason's note for the candidates `translatableCandidates` left out (the same in a real
 * request and the dry run), naming the field that kept the first of them out, as the 400 a
 * client-named model answers would.
 */
export function untranslatableNote(rt: RuntimeCore, body: ChatBody, before: readonly string[], after: readonly string[]): string {
  const skipped = before.filter((m) => !after.includes(m));
  const native = nativeOf(body);
  let field: string | null = native?.kind === 'anthropic-messages' ? (native.untranslated[0] ?? null) : null;
  if (field === null && native === undefined)
    for (const h of rt.byModel.get(skipped[0] ?? '') ?? []) {
      field = translationError(h, body)?.param ?? null;
      if (field !== null) break;
    }
  return `; skipped ${skipped.join(', ')} (cannot take this request's fields${field === null ? '' : `: ${echoName(field)}`})`;
}

/** A model some endpoint of which can take this body (the cascade's steps leave out the others: cascade-plan.ts). */
export function usableFor(rt: RuntimeCore, body: ChatBody): (m: string) => boolean {
  return (m) => (rt.byModel.get(m) ?? []).some((h) => translationError(h, body) === null);
}
