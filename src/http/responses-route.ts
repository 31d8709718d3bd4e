/**
 * `POST /v1/responses`: the OpenAI Responses API, translated at the edge into the shared
 * chat flow (same routing, fail-over, budget, ledger and inspection) and rendered back by
 * the ResponsesSink. `previous_response_id` continues a stored conversation.
 */
import type { ResponseStore } from '../accounting/response-store.js';
import { newId } from '../apis/responses-output.js';
import { translateResponses } from '../apis/responses-request.js';
import { SwitchyardError } from '../errors.js';
import { inScope } from '../runtime/request-scope.js';
import type { ChatMessage } from '../upstream/types.js';
import { readEdge, type ApiRoute, type EdgeRequest } from './edge.js';
import { ResponsesSink } from './responses-sink.js';
import { sendError, sendJson } from './server.js';
import { HttpSink } from './sink.js';

async function previous(e: EdgeRequest, store: ResponseStore | null): Promise<ChatMessage[]> {
  const id = e.body.previous_response_id;
  if (id === undefined || id === null) return [];
  if (typeof id !== 'string' || id === '')
    throw new SwitchyardError('invalid_request', 'previous_response_id must be a response id string', { param: 'previous_response_id' });
  const found = store ? await store.get(id, e.keyId, e.rt.now()) : null;
  if (!found) {
    const ttl = e.rt.cfg.storage.responses.ttlSeconds;
    throw new SwitchyardError(
      'invalid_request',
      `previous_response_id "${id.slice(0, 80)}" is unknown or expired (responses are kept ${ttl} s, at most ${e.rt.cfg.storage.responses.maxEntries}, and only for the key that created them; storage.responses)`,
      {
        param: 'previous_response_id',
        upstreamCode: 'previous_response_not_found',
      },
    );
  }
  return found;
}

export function responsesRoute(store: () => ResponseStore | null): ApiRoute {
  return async (deps, req, res, requestId) => {
    const base = { 'x-request-id': requestId };
    let e: EdgeRequest;
    let t: ReturnType<typeof translateResponses>;
    try {
      e = await readEdge(deps, req, requestId);
      t = translateResponses(e.body, await previous(e, store()));
    } catch (err) {
      if (!(err instanceof SwitchyardError)) deps.log.error({ err, requestId }, 'error while reading a request');
      sendError(res, err, base);
      return;
    }
    const shell = { id: newId('resp'), createdAt: Math.floor(e.receivedAt / 1000), model: t.chat.model, echo: t.echo };
    const sink = new ResponsesSink(new HttpSink(req, res, base), {
      shell,
      store: t.store ? store() : null,
      keyId: e.keyId,
      conversation: t.conversation,
      log: e.log,
    });
    const call = { requestId, body: t.chat, hints: e.hints, keyId: e.keyId, receivedAt: e.receivedAt, log: e.log };
    await inScope('responses', call, req.headers, () => e.rt.chat(call, sink));
  };
}

/**
 * `GET /v1/responses/{id}` (the SDK's `responses.retrieve`): the stored response object as it was
 * answered, for the key that created it, while it is kept (`storage.responses`); else 404.
 * `DELETE /v1/responses/{id}` (the SDK's `responses.delete`) forgets it, as OpenAI's does:
 * `{"id","object":"response","deleted":true}`, then it can be neither retrieved nor continued.
 */
export function retrieveResponseRoute(store: () => ResponseStore | null): ApiRoute {
  return async (deps, req, res, requestId) => {
    const base = { 'x-request-id': requestId };
    try {
      const xKey = req.headers['x-api-key'];
      const keyId = deps.keys.keyIdOf(req.headers.authorization ?? (typeof xKey === 'string' ? `Bearer ${xKey}` : undefined));
      const path = (req.url ?? '').split('?')[0]!;
      let id: string;
      try {
        id = decodeURIComponent(path.slice(path.indexOf('/responses/') + '/responses/'.length));
      } catch {
        throw new SwitchyardError('invalid_request', 'the response id in the path is not valid percent-encoding', { param: 'response_id' });
      }
      if (id.includes('/')) {
        // The SDK's responses.inputItems.list (…/{id}/input_items) and the like: say what is served.
        throw new SwitchyardError(
          'not_found',
          `no route ${req.method === 'DELETE' ? 'DELETE' : 'GET'} ${path.slice(0, 160)}: of the stored responses switchyard serves GET and DELETE /v1/responses/{id} only`,
        );
      }
      const rt = deps.runtime();
      const s = store();
      if (req.method === 'DELETE') {
        const gone = s !== null && id !== '' && (await s.delete(id, keyId, rt.now()));
        if (!gone)
          throw new SwitchyardError('not_found', `No response found with id "${id.slice(0, 80)}" (or it expired, or another key created it)`, {
            param: 'response_id',
          });
        sendJson(res, 200, { id, object: 'response', deleted: true }, base);
        return;
      }
      const found = s && id !== '' && !id.includes('/') ? await s.getResponse(id, keyId, rt.now()) : null;
      if (!found) {
        throw new SwitchyardError(
          'not_found',
          `No response found with id "${id.slice(0, 80)}" (responses are kept ${rt.cfg.storage.responses.ttlSeconds} s, at most ${rt.cfg.storage.responses.maxEntries}, only when stored and only for the key that created them)`,
          { param: 'response_id' },
        );
      }
      sendJson(res, 200, found, base);
    } catch (err) {
      sendError(res, err, base);
    }
  };
}
