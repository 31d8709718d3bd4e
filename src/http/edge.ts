/**
 * The common front of the routes that speak other APIs (Responses, Messages, embeddings):
 * draining check, client key, body size limit, JSON, routing hints. Each route renders the
 * errors thrown here in its own API's shape.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { withCatalogueModel } from '../config/lookup.js';
import { SwitchyardError } from '../errors.js';
import { requestLog, type RequestLog } from '../observe/request-log.js';
import type { Hints } from '../runtime/api.js';
import type { Runtime } from '../runtime/runtime.js';
import { clientAuthorization } from './auth.js';
import { checkJsonShape, checkRawDepth } from './json-limits.js';
import { bodyText, readBody, type ServerDeps } from './server.js';
import { clientRequestId } from './request-id.js';
import { parseHints } from './validate.js';

export interface EdgeRequest {
  rt: Runtime;
  requestId: string;
  receivedAt: number;
  keyId: string | null;
  body: Record<string, unknown>;
  /** The body's size in bytes, as read. */
  bodyBytes: number;
  hints: Hints;
  log: RequestLog;
}

/** `cascaded`: the route runs the quality cascade (Messages, Responses, legacy Completions); embeddings refuse `x-switchyard-cascade: on`. `anthropic`: the Messages API (a key's rpm window under Anthropic's header names). */
export async function readEdge(
  deps: ServerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  { cascaded = false, anthropic = false } = {},
): Promise<EdgeRequest> {
  const rt = deps.runtime();
  const receivedAt = rt.now();
  if (req.method !== 'POST') throw new SwitchyardError('method_not_allowed', `use POST for ${req.url ?? ''}`);
  if (deps.draining())
    throw new SwitchyardError('shutting_down', 'switchyard is shutting down; retry on another instance', { headers: { 'retry-after': '1' } });
  const window: Record<string, string> = {};
  const keyId = deps.keys.check(clientAuthorization(req), receivedAt, window, anthropic);
  for (const name in window) res.setHeader(name, window[name]!);
  const raw = await readBody(req, deps.maxBodyBytes(), undefined, undefined, res);
  checkRawDepth(raw);
  const text = bodyText(raw);
  if (text.trim() === '') throw new SwitchyardError('invalid_request', 'request body is empty: send a JSON object (content-type: application/json)');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SwitchyardError('invalid_request', `request body is not valid JSON: ${(err as Error).message}`);
  }
  checkJsonShape(json);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SwitchyardError('invalid_request', 'request body must be a JSON object');
  withCatalogueModel(rt.cfg, json);
  const hints = parseHints(req.headers, rt.cfg.resilience.requestTimeoutMs);
  // The quality cascade checks answers with text; embeddings are not cascaded (README).
  if (hints.cascade === true && !cascaded) throw cascadeRefused();
  return {
    rt,
    requestId,
    receivedAt,
    keyId,
    body: json as Record<string, unknown>,
    bodyBytes: raw.length,
    hints: cascaded ? hints : { ...hints, cascade: false },
    log: requestLog(deps.log, requestId, clientRequestId(req.headers)),
  };
}

/** A route of another API, registered by path (`ServerDeps.apis`); it answers every error itself. */
export type ApiRoute = (deps: ServerDeps, req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<void>;

/** `x-switchyard-cascade: on` on a route that is not cascaded (embeddings). */
function cascadeRefused(): SwitchyardError {
  return new SwitchyardError(
    'invalid_request',
    'x-switchyard-cascade: on is only supported on /v1/chat/completions, /v1/messages, /v1/responses and /v1/completions',
    {
      param: 'x-switchyard-cascade',
    },
  );
}
