/**
 * `POST /v1/messages` and `/v1/messages/count_tokens`: the Anthropic Messages API for the
 * official `@anthropic-ai/sdk` (`x-api-key` or bearer client keys). The body is translated
 * at the edge for routing and OpenAI-kind endpoints and carried as is for Anthropic-kind
 * ones; every error, ours or relayed, is in Anthropic's shape.
 */
import type { ServerResponse } from 'node:http';
import { clientToolTokens } from '../accounting/reservation.js';
import { countPromptTokens, tokenizerLoaded } from '../accounting/tokens.js';
import { anthropicError } from '../apis/messages-output.js';
import { anthropicHeaders, translateMessages } from '../apis/messages-request.js';
import { echoName, SwitchyardError } from '../errors.js';
import { isEmbeddingsModel } from '../routing/resolve.js';
import { currentScope, inScope, traceAnswered } from '../runtime/request-scope.js';
import { listModelIds } from '../routing/resolve.js';
import type { ChatBody } from '../upstream/types.js';
import { readEdge, type ApiRoute, type EdgeRequest } from './edge.js';
import { MessagesSink } from './messages-sink.js';
import { recordRefused } from './refused.js';
import { countPrompt, exactPromptCount, leftOutTokens } from '../runtime/request-prep.js';
import { sendJson } from './server.js';
import { HttpSink } from './sink.js';

function sendAnthropicError(res: ServerResponse, err: unknown, headers: Record<string, string>): void {
  const e = err instanceof SwitchyardError ? err : new SwitchyardError('internal_error', 'internal error in switchyard (the request id is in x-request-id)');
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, e.status, anthropicError(e, headers['request-id']), { ...headers, ...e.headers });
}

/** The request id under Anthropic's name too (`request-id`, which its SDK reads into `_request_id`) beside switchyard's own. */
const idHeaders = (requestId: string): Record<string, string> => ({ 'x-request-id': requestId, 'request-id': requestId });

async function read(
  deps: Parameters<ApiRoute>[0],
  req: Parameters<ApiRoute>[1],
  res: ServerResponse,
  requestId: string,
): Promise<{ e: EdgeRequest; chat: ChatBody } | null> {
  const base = idHeaders(requestId);
  const receivedAt = Date.now();
  try {
    const e = await readEdge(deps, req, res, requestId, { cascaded: true, anthropic: true });
    return { e, chat: translateMessages(e.body, anthropicHeaders(req.headers)) };
  } catch (err) {
    if (!(err instanceof SwitchyardError)) deps.log.error({ err, requestId }, 'error while reading a request');
    sendAnthropicError(res, err, base);
    recordRefused(deps, 'messages', req, requestId, receivedAt, err);
    return null;
  }
}

export const messagesRoute: ApiRoute = async (deps, req, res, requestId) => {
  const r = await read(deps, req, res, requestId);
  if (!r) return;
  const { e, chat } = r;
  const call = { requestId, body: chat, hints: e.hints, keyId: e.keyId, receivedAt: e.receivedAt, log: e.log };
  const out = new HttpSink(req, res, idHeaders(requestId));
  const sink = new MessagesSink(out, () => shownInputTokens(call), requestId);
  await inScope('messages', call, req, () => {
    out.bindTrace(currentScope()?.trace);
    return e.rt.chat(call, sink);
  });
};

/**
 * A translated stream's `message_start` input count: the exact o200k count once the tokenizer is
 * loaded (microseconds for a prompt the quick count serves; a replica on Redis loads it at start,
 * a lone sidecar on its first long prompt, tools or count_tokens), else the quick count, an upper
 * bound (about twice the real count for a short prompt): loading the tables takes a second of CPU,
 * which the stream's first byte must not wait for. `message_delta` carries the upstream's count.
 */
function shownInputTokens(call: { body: ChatBody }): number {
  if (!tokenizerLoaded()) return countPrompt(call);
  return exactPromptCount(call.body)?.() ?? countPrompt(call);
}

/**
 * Token count of a Messages request by switchyard's own tokenizer (the one its budget
 * reservations use), without calling any provider: an estimate for non-OpenAI models.
 */
export const countTokensRoute: ApiRoute = async (deps, req, res, requestId) => {
  const base = idHeaders(requestId);
  const receivedAt = Date.now();
  let body: Record<string, unknown>;
  let status = 200;
  let error: string | null = null;
  try {
    // A client that asks every call of its SDK for the cascade sends the header here too: nothing is generated, nothing to cascade.
    const e = await readEdge(deps, req, res, requestId, { cascaded: true, anthropic: true });
    body = e.body;
    if (body.model === undefined || body.model === null || body.model === '')
      throw new SwitchyardError('invalid_request', 'model: Field required (the model whose prompt to count)', { param: 'model' });
    if (typeof body.model !== 'string') throw new SwitchyardError('invalid_request', 'model: expected a string', { param: 'model' });
    const model = body.model;
    if (!listModelIds(e.rt.cfg).includes(model))
      throw new SwitchyardError('model_not_found', `The model "${echoName(model)}" does not exist`, { param: 'model' });
    // Refused as the create call refuses it (a count was answered for a model that is never served here).
    if (isEmbeddingsModel(e.rt.cfg, model))
      throw new SwitchyardError('invalid_request', `"${echoName(model)}" is an embeddings model: use POST /v1/embeddings`, { param: 'model' });
    // count_tokens has no max_tokens; the translation needs one.
    const chat = translateMessages({ ...body, max_tokens: 1, stream: false });
    // The blocks the chat form leaves out (documents, search results) are read by the model too.
    // So are the hidden definitions of Anthropic's client-run tools (bash, the text editor…).
    sendJson(res, 200, { input_tokens: countPromptTokens(chat.messages, chat.tools ?? undefined) + leftOutTokens(chat) + clientToolTokens(body.tools) }, base);
  } catch (err) {
    sendAnthropicError(res, err, base);
    status = err instanceof SwitchyardError ? err.status : 500;
    error = err instanceof SwitchyardError ? err.code : 'internal_error';
    // Logged and counted as every refusal is (a wrong key guessed here left no trace); its span is the one below.
    recordRefused(deps, 'messages', req, requestId, receivedAt, err, false);
  }
  // No model is called, so no chat span: an HTTP one, as for a 404 or 405.
  traceAnswered({ requestId, receivedAt, method: req.method, route: '/v1/messages/count_tokens', api: 'messages', status, error }, req.headers);
};
