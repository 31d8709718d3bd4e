/**
 * `POST /v1/embeddings` (OpenAI format): an embeddings call rides the shared flow as a chat
 * body whose prompt is the input (routing, endpoint actors, fail-over, budget reservation
 * and ledger all read that) with the real request attached for the adapter
 * (apis/native.ts), which sends it to the provider's `/embeddings`.
 */
import { checkFields, present, unsupported } from '../apis/fields.js';
import { SwitchyardError } from '../errors.js';
import { inScope } from '../runtime/request-scope.js';
import { withNative } from '../apis/native.js';
import type { ChatBody } from '../upstream/types.js';
import { readEdge, type ApiRoute } from './edge.js';
import { sendError } from './server.js';
import { HttpSink } from './sink.js';

const HANDLED = new Set(['model', 'input', 'encoding_format', 'dimensions', 'user']);

function parse(body: Record<string, unknown>): ChatBody {
  checkFields(body, HANDLED, {}, {});
  if (typeof body.model !== 'string' || body.model === '') throw unsupported('model', 'expected a model id');
  const input = body.input;
  const list = typeof input === 'string' ? [input] : Array.isArray(input) ? input : null;
  if (list === null || list.length === 0 || list.length > 2048) throw unsupported('input', 'expected a string or an array of 1 to 2048 strings');
  list.forEach((s, i) => {
    if (typeof s !== 'string' || s === '')
      throw unsupported(Array.isArray(input) ? `input[${i}]` : 'input', 'expected a non-empty string (token arrays are not supported)');
  });
  const extra: Record<string, unknown> = {};
  if (present(body.encoding_format)) {
    if (body.encoding_format !== 'float' && body.encoding_format !== 'base64') throw unsupported('encoding_format', 'expected float or base64');
    extra.encoding_format = body.encoding_format;
  }
  if (present(body.dimensions)) {
    if (typeof body.dimensions !== 'number' || !Number.isInteger(body.dimensions) || body.dimensions < 1)
      throw unsupported('dimensions', 'expected a positive integer');
    extra.dimensions = body.dimensions;
  }
  if (present(body.user)) extra.user = body.user;
  const texts = list as string[];
  // The prompt as the flow sees it: counted for the reservation and TPM windows; nothing is generated.
  const chat: ChatBody = { model: body.model, messages: [{ role: 'user', content: texts.join('\n') }], max_tokens: 1 };
  return withNative(chat, { kind: 'embeddings', input: typeof input === 'string' ? input : texts, extra });
}

export const embeddingsRoute: ApiRoute = async (deps, req, res, requestId) => {
  const base = { 'x-request-id': requestId };
  try {
    const e = await readEdge(deps, req, requestId);
    const body = parse(e.body);
    const call = { requestId, body, hints: e.hints, keyId: e.keyId, receivedAt: e.receivedAt, log: e.log };
    await inScope('embeddings', call, req.headers, () => e.rt.chat(call, new HttpSink(req, res, base)));
  } catch (err) {
    if (!(err instanceof SwitchyardError)) deps.log.error({ err, requestId }, 'error in an embeddings request');
    sendError(res, err, base);
  }
};
