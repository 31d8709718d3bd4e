/**
 * `POST /v1/responses`: the OpenAI Responses API, translated at the edge into the shared
 * chat flow (same routing, fail-over, budget, ledger and inspection) and rendered back by
 * the ResponsesSink. `previous_response_id` continues a stored conversation.
 */
import type { ResponseStore } from '../accounting/response-store.js';
import { includeOf, itemPage, itemsOfConversation, parseItemQuery } from '../apis/responses-items.js';
import { isObj } from '../apis/fields.js';
import { newId, responseOfItem } from '../apis/responses-output.js';
import { translateResponses } from '../apis/responses-request.js';
import { countPromptTokens } from '../accounting/tokens.js';
import { own } from '../config/lookup.js';
import { echoName, SwitchyardError } from '../errors.js';
import { isEmbeddingsModel } from '../routing/resolve.js';
import { listModelIds } from '../routing/resolve.js';
import { currentScope, inScope, traceAnswered } from '../runtime/request-scope.js';
import type { ChatMessage } from '../upstream/types.js';
import { clientAuthorization } from './auth.js';
import { readEdge, type ApiRoute, type EdgeRequest } from './edge.js';
import { recordRefused } from './refused.js';
import { ResponsesSink } from './responses-sink.js';
import { parseTarget } from './routes.js';
import { sendError, sendJson } from './server.js';
import { HttpSink } from './sink.js';

/**
 * A continued conversation is re-read and re-sent whole on every step, so it is held to the size
 * one request may carry (`server.maxBodyBytes`): a client sending its history itself could send
 * no more, and a chain of big steps cannot grow without bound (4 MiB of text, the default, is
 * about a million tokens, the largest context windows).
 */
function conversationTooLarge(id: string, storedBytes: number, bodyBytes: number, limit: number): SwitchyardError {
  return new SwitchyardError(
    'invalid_request',
    `previous_response_id "${id.slice(0, 80)}": its stored conversation (${storedBytes} bytes) and this request (${bodyBytes} bytes) come to more than server.maxBodyBytes (${limit} bytes), the most one request may carry. Start a new conversation without previous_response_id, sending as input only the turns you need (trimmed or summarised).`,
    { param: 'previous_response_id', upstreamCode: 'conversation_too_large' },
  );
}

async function previous(e: EdgeRequest, store: ResponseStore | null): Promise<ChatMessage[]> {
  const id = e.body.previous_response_id;
  if (id === undefined || id === null) return [];
  if (typeof id !== 'string' || id === '')
    throw new SwitchyardError('invalid_request', 'previous_response_id must be a response id string', { param: 'previous_response_id' });
  const limit = e.rt.cfg.server.maxBodyBytes;
  const found = store ? await store.get(id, e.keyId, e.rt.now(), limit - e.bodyBytes) : null;
  if (typeof found === 'number') throw conversationTooLarge(id, found, e.bodyBytes, limit);
  if (!found) {
    const ttl = e.rt.cfg.storage.responses.ttlSeconds;
    throw new SwitchyardError(
      'invalid_request',
      `previous_response_id "${id.slice(0, 80)}" is unknown or expired (responses are kept ${ttl} s, at most ${e.rt.cfg.storage.responses.maxEntries} of them and ${e.rt.cfg.storage.responses.maxBytes} bytes in all, and only for the key that created them; storage.responses)`,
      {
        param: 'previous_response_id',
        upstreamCode: 'previous_response_not_found',
      },
    );
  }
  return found;
}

/** How far back a `previous_response_id` chain is walked for items a request would send twice (see refuseDuplicates). */
const CHAIN_WALK = 64;

const duplicate = (id: string, i: number, why: string): SwitchyardError =>
  new SwitchyardError('invalid_request', `Duplicate item found with id ${id.slice(0, 80)}: ${why}. Remove duplicate items from your input and try again.`, {
    param: `input[${i}].id`,
  });

/**
 * Input items (references already resolved) a request would send, and have billed, twice, refused
 * as OpenAI refuses them: a switchyard output item given twice, and, with `previous_response_id`,
 * a function call its conversation holds (by `call_id`) or an output item of a response in its
 * chain (walked by the stored responses' own `previous_response_id`, at most {@link CHAIN_WALK} back).
 */
async function refuseDuplicates(e: EdgeRequest, store: ResponseStore | null, input: unknown[], prior: ChatMessage[]): Promise<void> {
  const seen = new Set<string>();
  const mine: Array<{ i: number; id: string; resp: string }> = [];
  input.forEach((it, i) => {
    const resp = isObj(it) && typeof it.id === 'string' ? responseOfItem(it.id) : null;
    if (resp === null) return;
    const id = (it as { id: string }).id;
    if (seen.has(id)) throw duplicate(id, i, 'the input holds it twice');
    seen.add(id);
    mine.push({ i, id, resp });
  });
  const prev = e.body.previous_response_id;
  if (mine.length === 0 || typeof prev !== 'string' || prev === '') return;
  const calls = new Set(prior.flatMap((m) => (Array.isArray(m.tool_calls) ? m.tool_calls.map((c) => (isObj(c) ? c.id : undefined)) : [])));
  for (const m of mine) {
    const it = input[m.i] as Record<string, unknown>;
    if (it.type === 'function_call' && calls.has(it.call_id)) throw duplicate(m.id, m.i, "previous_response_id's conversation already holds its call");
  }
  if (store === null) return;
  const wanted = new Set(mine.map((m) => m.resp));
  let id: unknown = prev;
  for (let step = 0; typeof id === 'string' && step < CHAIN_WALK; step++) {
    if (wanted.has(id)) {
      const m = mine.find((x) => x.resp === id)!;
      throw duplicate(m.id, m.i, "previous_response_id's conversation already holds it");
    }
    id = (await store.getResponse(id, e.keyId, e.rt.now()))?.previous_response_id;
  }
}

/**
 * `item_reference` input items (the AI SDK sends one for each earlier output item when `store` is
 * on, its default, instead of the item) replaced by the items they name: output items of a stored
 * response (their ids tell it: responseOfItem), under the rules `previous_response_id` reads it by;
 * then the input is checked for items it would send twice (refuseDuplicates). The body as it came
 * when it holds no reference.
 */
async function withReferences(e: EdgeRequest, store: ResponseStore | null, prior: ChatMessage[]): Promise<Record<string, unknown>> {
  const input = e.body.input;
  if (!Array.isArray(input)) return e.body;
  if (!input.some((it) => isObj(it) && it.type === 'item_reference')) {
    await refuseDuplicates(e, store, input, prior);
    return e.body;
  }
  const responses = new Map<string, Promise<Record<string, unknown> | null>>();
  const resolved = await Promise.all(
    input.map(async (it: unknown, i) => {
      if (!isObj(it) || it.type !== 'item_reference') return it;
      const id = it.id;
      if (typeof id !== 'string' || id === '')
        throw new SwitchyardError('invalid_request', 'an item_reference needs id: the id of an output item', { param: `input[${i}].id` });
      const respId = responseOfItem(id);
      let response: Promise<Record<string, unknown> | null> | null = null;
      if (respId !== null && store !== null) {
        response = responses.get(respId) ?? store.getResponse(respId, e.keyId, e.rt.now());
        responses.set(respId, response);
      }
      const output = (await response)?.output;
      const item = Array.isArray(output) ? output.find((o: unknown) => isObj(o) && o.id === id) : undefined;
      if (!isObj(item)) {
        const r = e.rt.cfg.storage.responses;
        throw new SwitchyardError(
          'invalid_request',
          `item_reference "${id.slice(0, 80)}" is not an output item of a stored response, or it expired (an item_reference names an output item of an earlier response switchyard stored with store: true; responses are kept ${r.ttlSeconds} s, at most ${r.maxEntries} of them and ${r.maxBytes} bytes in all, and only for the key that created them; storage.responses): send the item itself, or previous_response_id`,
          { param: `input[${i}].id`, upstreamCode: 'item_not_found' },
        );
      }
      return item;
    }),
  );
  await refuseDuplicates(e, store, resolved, prior);
  return { ...e.body, input: resolved };
}

export function responsesRoute(store: () => ResponseStore | null): ApiRoute {
  return async (deps, req, res, requestId) => {
    const base = { 'x-request-id': requestId };
    let e: EdgeRequest;
    let t: ReturnType<typeof translateResponses>;
    const receivedAt = Date.now();
    try {
      e = await readEdge(deps, req, res, requestId, { cascaded: true });
      const prior = await previous(e, store());
      t = translateResponses(await withReferences(e, store(), prior), prior);
    } catch (err) {
      if (!(err instanceof SwitchyardError)) deps.log.error({ err, requestId }, 'error while reading a request');
      sendError(res, err, base);
      recordRefused(deps, 'responses', req, requestId, receivedAt, err);
      return;
    }
    const shell = { id: newId('resp'), createdAt: Math.floor(e.receivedAt / 1000), model: t.chat.model, echo: t.echo };
    const sink = new ResponsesSink(new HttpSink(req, res, base), {
      shell,
      store: t.store ? store() : null,
      keyId: e.keyId,
      conversation: t.conversation,
      inputItems: t.inputItems,
      log: e.log,
      outputCapOf: (model) => own(e.rt.cfg.models, model)?.maxOutputTokens ?? null,
    });
    const call = { requestId, body: t.chat, hints: e.hints, keyId: e.keyId, receivedAt: e.receivedAt, log: e.log };
    await inScope('responses', call, req, () => {
      sink.bindTrace(currentScope()?.trace ?? null);
      return e.rt.chat(call, sink);
    });
  };
}

/**
 * `POST /v1/responses/input_tokens` (the SDK's `responses.inputTokens.count`): the input tokens a
 * Responses request would send — its input, instructions, tools and a `previous_response_id`'s
 * stored conversation — counted with switchyard's own tokenizer (the one its reservations use;
 * exact for OpenAI models, an estimate for others), without calling a provider. `model` is
 * optional, as OpenAI's; when given it must be one switchyard serves.
 */
export function inputTokensRoute(store: () => ResponseStore | null): ApiRoute {
  return async (deps, req, res, requestId) => {
    const base = { 'x-request-id': requestId };
    const receivedAt = Date.now();
    let status = 200;
    let error: string | null = null;
    try {
      // A client that asks every call of its SDK for the cascade sends the header here too: nothing is generated, nothing to cascade.
      const e = await readEdge(deps, req, res, requestId, { cascaded: true });
      const model = e.body.model;
      if (model !== undefined && model !== null) {
        if (typeof model !== 'string') throw new SwitchyardError('invalid_request', 'model: expected a string', { param: 'model' });
        if (!listModelIds(e.rt.cfg).includes(model))
          throw new SwitchyardError('model_not_found', `The model "${echoName(model)}" does not exist`, { param: 'model' });
        // Refused as the create call refuses it (a count was answered for a model that is never served here).
        if (isEmbeddingsModel(e.rt.cfg, model))
          throw new SwitchyardError('invalid_request', `"${echoName(model)}" is an embeddings model: use POST /v1/embeddings`, { param: 'model' });
      }
      // The translation reads a model and a request's own options; a count has neither to honour.
      const prior = await previous(e, store());
      const body = await withReferences(e, store(), prior);
      const t = translateResponses({ ...body, model: typeof model === 'string' ? model : 'auto', stream: false, store: false }, prior);
      sendJson(res, 200, { object: 'response.input_tokens', input_tokens: countPromptTokens(t.chat.messages, t.chat.tools ?? undefined) }, base);
    } catch (err) {
      if (!(err instanceof SwitchyardError)) deps.log.error({ err, requestId }, 'error while counting input tokens');
      sendError(res, err, base);
      status = err instanceof SwitchyardError ? err.status : 500;
      error = err instanceof SwitchyardError ? err.code : 'internal_error';
      // Logged and counted as every refusal is; its span is the one below.
      recordRefused(deps, 'responses', req, requestId, receivedAt, err, false);
    }
    // No model is called, so no chat span: an HTTP one, as for count_tokens.
    traceAnswered({ requestId, receivedAt, method: req.method, route: '/v1/responses/input_tokens', api: 'responses', status, error }, req.headers);
  };
}

/** Methods per stored-response path: `{id}`, `{id}/input_items`, `{id}/cancel`. */
const SUB_METHODS: Record<string, readonly string[]> = {
  '': ['GET', 'HEAD', 'DELETE'],
  input_items: ['GET', 'HEAD'],
  cancel: ['POST'],
};

/**
 * The stored responses, for the key that created them while they are kept (`storage.responses`);
 * else 404 in OpenAI's shape.
 * - `GET /v1/responses/{id}` (the SDK's `responses.retrieve`): the response object as it was answered.
 * - `DELETE /v1/responses/{id}` (`responses.delete`) removes it and answers OpenAI's
 *   `{id, object: "response", deleted: true}`; afterwards every route here and
 *   `previous_response_id` treat the id as unknown.
 * - `GET /v1/responses/{id}/input_items` (`responses.inputItems.list`): that request's own input
 *   items, paged (responses-items.ts).
 * - `POST /v1/responses/{id}/cancel` (`responses.cancel`): there is no background mode, so a stored
 *   response is refused as OpenAI refuses one not created with `background: true`.
 */
export function retrieveResponseRoute(store: () => ResponseStore | null): ApiRoute {
  return async (deps, req, res, requestId) => {
    const base = { 'x-request-id': requestId };
    const receivedAt = Date.now();
    try {
      const { url, path } = parseTarget(req.url);
      const rest = path.slice(path.indexOf('/responses/') + '/responses/'.length).split('/');
      const sub = rest.length === 2 ? rest[1]! : rest.length === 1 ? '' : null;
      const allowed = sub !== null && Object.hasOwn(SUB_METHODS, sub) ? SUB_METHODS[sub]! : null;
      if (!allowed) {
        throw new SwitchyardError(
          'not_found',
          `no route ${req.method ?? 'GET'} ${path.slice(0, 160)}: of a stored response switchyard serves /v1/responses/{id}, /v1/responses/{id}/input_items and /v1/responses/{id}/cancel`,
        );
      }
      // A POST to `/v1/responses/{name}` is another endpoint of OpenAI's (`compact`, …), not a stored response's.
      if (sub === '' && req.method === 'POST')
        throw new SwitchyardError(
          'not_found',
          `no route POST ${path.slice(0, 160)}: switchyard serves POST /v1/responses and /v1/responses/input_tokens, and of a stored response GET or DELETE /v1/responses/{id}, GET …/input_items and POST …/cancel`,
        );
      if (req.method !== undefined && !allowed.includes(req.method)) {
        throw new SwitchyardError('method_not_allowed', `use ${allowed.filter((m) => m !== 'HEAD').join(' or ')} for ${path}`, {
          headers: { allow: allowed.join(', ') },
        });
      }
      const keyId = deps.keys.keyIdOf(clientAuthorization(req));
      let id: string;
      try {
        id = decodeURIComponent(rest[0]!);
      } catch {
        throw new SwitchyardError('invalid_request', 'the response id in the path is not valid percent-encoding', { param: 'response_id' });
      }
      const rt = deps.runtime();
      const s = id === '' ? null : store();
      const notFound = (): SwitchyardError =>
        new SwitchyardError(
          'not_found',
          `No response found with id "${id.slice(0, 80)}" (responses are kept ${rt.cfg.storage.responses.ttlSeconds} s, at most ${rt.cfg.storage.responses.maxEntries} of them and ${rt.cfg.storage.responses.maxBytes} bytes in all, only when stored and only for the key that created them)`,
          { param: 'response_id' },
        );
      if (sub === 'input_items') {
        const q = parseItemQuery(url.searchParams);
        const found = s ? await s.findItems(id, keyId, rt.now()) : null;
        if (!found) throw notFound();
        sendJson(res, 200, itemPage('inputItems' in found ? found.inputItems : itemsOfConversation(id, found.messages), q), base);
        return;
      }
      if (sub === 'cancel') {
        // Whether it is there, without decoding it (a conversation over 0 bytes comes back as its size).
        if (!(s && (await s.get(id, keyId, rt.now(), 0)) !== null)) throw notFound();
        // OpenAI's answer for a response not created with background: true (switchyard has no background mode).
        throw new SwitchyardError('invalid_request', 'Cannot cancel a synchronous response.');
      }
      if (req.method === 'DELETE') {
        const deleted = s ? await s.delete(id, keyId, rt.now()) : false;
        if (!deleted) throw notFound();
        sendJson(res, 200, { id, object: 'response', deleted: true }, base);
        return;
      }
      // The SDK's `retrieve(id, { stream: true })` asks for the event stream of a background
      // response; a JSON answer there would read as an empty stream, so it is refused instead.
      const stream = url.searchParams.get('stream');
      if (stream !== null && stream !== 'false') {
        throw new SwitchyardError(
          'invalid_request',
          'stream: a stored response is only retrieved as JSON (streaming it is for responses created with background: true, which switchyard does not offer)',
          { param: 'stream' },
        );
      }
      // The SDK's `retrieve(id, { include })`: an unknown value is refused as on input_items (it was taken silently);
      // a known one names data a stored response holds as it is, or never has (as POST takes them).
      includeOf(url.searchParams);
      const found = s ? await s.getResponse(id, keyId, rt.now()) : null;
      if (!found) throw notFound();
      sendJson(res, 200, found, base);
    } catch (err) {
      sendError(res, err, base);
      // Logged and counted as every refusal is (a wrong key guessed here left no trace); the server writes its span.
      recordRefused(deps, 'responses', req, requestId, receivedAt, err, false);
    }
  };
}
