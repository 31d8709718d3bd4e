/**
 * The HTTP surface (node:http, one port): the OpenAI-compatible routes, health, and the
 * operations routes. Bodies are read with a size limit and validated at the edge; every
 * error is OpenAI-shaped and every response carries `x-request-id`.
 */
import { crossSiteRefusal } from './cross-site.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { anthropicError, anthropicModel, anthropicModelsList } from '../apis/messages-output.js';
import { echoName, SwitchyardError, errorBody } from '../errors.js';
import { catalogueModel, keyModels, withCatalogueModel } from '../config/lookup.js';
import { keyMayAsk } from '../routing/resolve.js';
import type { Config } from '../config/schema.js';
import { requestLog } from '../observe/request-log.js';
import { ByteCollector } from '../upstream/byte-collector.js';
import { HeldShare, REQUEST_BODIES_LIMIT, requestBodies } from '../upstream/held-bytes.js';
import type { Runtime } from '../runtime/runtime.js';
import { currentScope, inScope, traceAnswered } from '../runtime/request-scope.js';
import { clientAuthorization, type ClientKeys } from './auth.js';
import { checkAdmin } from './admin.js';
import { headerCountBody, isMessagesPath, MAX_HEADER_FIELDS, onClientError, refuseConnect, requestTimedOut } from './client-error.js';
import { recordRefused } from './refused.js';
import type { ApiName } from '../runtime/request-scope.js';
import type { ApiRoute } from './edge.js';
import { checkJsonShape, checkRawDepth } from './json-limits.js';
import { checkMethod, parseTarget, routeOf } from './routes.js';
import { HttpSink } from './sink.js';
import { WAITING_LIMIT, watchStalledClients } from './send-timeout.js';
import { clientRequestId, timeOrderedId } from './request-id.js';
import { parseChatBody, parseHints } from './validate.js';
import { dryRoute } from '../runtime/dry-route.js';
import { anthropicHeaders, translateMessages } from '../apis/messages-request.js';
import { translateResponses } from '../apis/responses-request.js';

/** Operations handlers the composition root plugs in (metrics, events, inspector, reload, spend). */
export interface OpsRoutes {
  [path: string]: (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;
}

export interface ServerDeps {
  runtime: () => Runtime;
  keys: ClientKeys;
  log: Logger;
  maxBodyBytes: () => number;
  models: () => unknown;
  ops: OpsRoutes;
  /** Required for `/switchyard/*` when bound to a non-loopback host. */
  adminToken: () => string | null;
  loopbackOnly: boolean;
  draining: () => boolean;
  /** Routes of the other APIs (Responses, Messages, embeddings), by path. */
  apis?: Record<string, ApiRoute>;
  /** `observe.publicMetrics`: `/metrics` without the admin token off loopback. */
  publicMetrics?: () => boolean;
  /** `server.requestTimeoutMs`: the whole request (headers and body) must arrive within it. */
  requestTimeoutMs?: number;
  /** `server.sendTimeoutMs`: a client that takes none of its answer's waiting bytes for this long is cut (see {@link watchStalledClients}). */
  sendTimeoutMs?: number;
}

/** Headers get at most this long, within the request timeout. */
const HEADERS_TIMEOUT_MS = 10_000;

/** node:http timeouts: slow clients (byte by byte, or stalled half way) are cut, and checked for often enough to be cut on time. */
function timeouts(requestTimeoutMs: number): { requestTimeout: number; headersTimeout: number; connectionsCheckingInterval: number } {
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeoutMs),
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(requestTimeoutMs / 4))),
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown, headers: Record<string, string> = {}): void {
  const e = errorBody(err);
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, e.status, e.body, { ...headers, ...e.headers });
}

/**
 * Where a caller that already listens to the request's 'error' takes the body read's failure:
 * the read sets `gone`, and the caller's listener calls it (one 'error' listener on the request,
 * not two). Without one, the read listens to 'error' itself.
 */
export interface BodyGone {
  gone: (() => void) | null;
}

/**
 * The 400 for a body under a coding nothing here decodes, or null. A content coding: a gzip body
 * was read as JSON (a 400 quoting binary noise) and a plain body under a declared coding was
 * served as if decoded. A transfer coding but chunked (`gzip, chunked`): node undoes only the
 * chunking, so the body was read still gzipped.
 */
function codingRefused(req: IncomingMessage): SwitchyardError | null {
  const coding = req.headers['content-encoding']?.trim().toLowerCase();
  if (coding && coding !== 'identity')
    return new SwitchyardError(
      'invalid_request',
      `content-encoding ${JSON.stringify(echoName(coding))} is not supported: send the request body uncompressed (no content-encoding header)`,
      { param: 'content-encoding' },
    );
  const transfer = req.headers['transfer-encoding']?.trim().toLowerCase();
  if (transfer && transfer.split(',').some((c) => c.trim() !== 'chunked'))
    return new SwitchyardError(
      'invalid_request',
      `transfer-encoding ${JSON.stringify(echoName(transfer))} is not supported: send the request body uncompressed (transfer-encoding chunked, or a content-length)`,
      { param: 'transfer-encoding' },
    );
  return null;
}

/**
 * What a request body read for an API request holds, counted against the bodies' process-wide
 * limit until its response ends: the body, its text, the parsed request and what is built from it
 * for the upstream (measured: ~6 MB of RSS a 4 MB chat body). Counted only while being read, 360
 * queued 4 MB requests (the upstream slow to answer) held 3.7 GB.
 */
export const HELD_BODY_FACTOR = 4;

/**
 * Read the body up to `limit` bytes; 413 beyond it, naming `limitName` (what sets the limit).
 * `holdUntil`: the body stays counted (at {@link HELD_BODY_FACTOR} times its size) against the
 * process-wide limit until that response closes; past the limit the request is a 503 `server_busy`.
 */
export function readBody(req: IncomingMessage, limit: number, hook?: BodyGone, limitName = 'server.maxBodyBytes', holdUntil?: ServerResponse): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const refused = codingRefused(req);
    if (refused) {
      reject(refused);
      req.resume();
      return;
    }
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) {
      // The rest is read and dropped (until the request timeout at most), so a client that reads
      // the answer only once it has sent its body still gets the 413, and its connection stays usable.
      reject(new SwitchyardError('body_too_large', `request body of ${declared} bytes is over the limit of ${limit} bytes (${limitName})`));
      req.resume();
      return;
    }
    // One buffer for the pieces (byte-collector.ts): never a Buffer object per chunk; all bodies
    // being read at once are bounded together (held-bytes.ts).
    const shared = Math.max(REQUEST_BODIES_LIMIT, 4 * limit);
    const body = new ByteCollector(limit, Number.isFinite(declared) ? declared : NaN, new HeldShare(shared, requestBodies));
    const busy = () =>
      new SwitchyardError(
        'server_busy',
        `switchyard holds ${Math.round(shared / 1048576)} MiB of request bodies at once (many large requests being read, queued or answered): this one is refused; retry shortly`,
        { headers: { 'retry-after': '1' } },
      );
    req.on('data', (c: Buffer) => {
      if (body.add(c)) return;
      reject(body.overShared ? busy() : new SwitchyardError('body_too_large', `request body is over the limit of ${limit} bytes (${limitName})`));
      req.removeAllListeners('data');
      req.resume();
    });
    req.on('end', () => {
      if (holdUntil === undefined || holdUntil.destroyed || holdUntil.writableFinished) {
        body.release();
        resolve(body.bytes());
        return;
      }
      if (!body.hold(body.size * HELD_BODY_FACTOR)) {
        body.release();
        reject(busy());
        return;
      }
      holdUntil.once('close', () => body.release());
      resolve(body.bytes());
    });
    // A client that goes away mid-body is routine (logged at debug by the caller), not a switchyard
    // error. Node 20 ends every such case (the socket closed, reset or half-closed, the request
    // timeout, a broken chunk) in `req.destroy(err)`: 'error' (emitted because a listener
    // exists) and then 'close'. A 'close' without 'end' or 'error' would take a `req.destroy()`
    // without an error, which nothing does; so 'close' gets no listener of its own.
    // Node's request timeout (server.requestTimeoutMs) also ends here (as `aborted`, once its 408 was
    // written: client-error.ts): so say its metrics and log line (they said 499, with no line).
    const gone = () => {
      body.release();
      reject(
        requestTimedOut(req.socket)
          ? new SwitchyardError('request_timeout', 'the request body was not received within server.requestTimeoutMs; the connection is closed')
          : new SwitchyardError('client_closed_request', 'the client closed the connection before the body was complete'),
      );
    };
    if (hook) hook.gone = gone;
    else req.on('error', gone);
  });
}

/**
 * A request body's text: UTF-8, without a leading byte order mark (some clients write one before
 * their JSON; body-parser and the JSON specification's "MAY ignore" accept it).
 */
export function bodyText(raw: Buffer): string {
  // JSON is UTF-8 (RFC 8259): other bytes were read as U+FFFD and the model saw "h�llo" for a
  // Latin-1 "héllo" with a 200; UTF-16 got a parse error of garbled characters.
  if (!isUtf8(raw)) {
    const utf16 = (raw[0] === 0xff && raw[1] === 0xfe) || (raw[0] === 0xfe && raw[1] === 0xff) || raw[0] === 0 || raw[1] === 0;
    throw new SwitchyardError(
      'invalid_request',
      `request body is not UTF-8${utf16 ? ' (it looks like UTF-16)' : ''}: JSON must be sent as UTF-8 (RFC 8259); encode the body as UTF-8`,
    );
  }
  return raw.length >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? raw.toString('utf8', 3) : raw.toString('utf8');
}

async function readJson(deps: ServerDeps, req: IncomingMessage, res: ServerResponse, hook?: BodyGone): Promise<unknown> {
  const raw = await readBody(req, deps.maxBodyBytes(), hook, undefined, res);
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
  withCatalogueModel(deps.runtime().cfg, json);
  return json;
}

/**
 * `base` holds the response's own headers (x-request-id, x-client-request-id when given): the
 * chat path sets no header on `res` ahead of `writeHead` (node then takes the headers object as
 * is, instead of a setHeader per header), so every answer of this path passes `base`.
 */
async function chat(
  deps: ServerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  base: Record<string, string>,
  hook: BodyGone,
): Promise<void> {
  const rt = deps.runtime();
  const receivedAt = rt.now();
  let body;
  let hints;
  let keyId: string | null;
  try {
    if (deps.draining())
      throw new SwitchyardError('shutting_down', 'switchyard is shutting down; retry on another instance', { headers: { 'retry-after': '1' } });
    keyId = deps.keys.check(clientAuthorization(req), receivedAt, base);
    body = parseChatBody(await readJson(deps, req, res, hook));
    hints = parseHints(req.headers, rt.cfg.resilience.requestTimeoutMs);
  } catch (err) {
    if (!(err instanceof SwitchyardError)) deps.log.error({ err, requestId }, 'error while reading a request');
    else if (err.status === 499) deps.log.debug({ requestId }, err.message);
    sendError(res, err, base);
    recordRefused(deps, 'chat', req, requestId, receivedAt, err);
    return;
  }
  const log = requestLog(deps.log, requestId, base['x-client-request-id']);
  const sink = new HttpSink(req, res, base);
  const call = { requestId, body, hints, keyId, receivedAt, log };
  await inScope('chat', call, req, () => {
    sink.bindTrace(currentScope()?.trace);
    return rt.chat(call, sink);
  });
}

const DRY_RUN_APIS = ['chat', 'messages', 'responses'] as const;

/**
 * Which API's body a dry run was sent: `?api=chat|messages|responses`, else told by the request
 * as its route would see it — an `anthropic-version` header (every Anthropic SDK request has
 * one) or a top-level `system` is a Messages body, an `input` without `messages` a Responses body.
 */
function dryRunApi(req: IncomingMessage, url: URL, json: unknown): (typeof DRY_RUN_APIS)[number] {
  const asked = url.searchParams.get('api');
  if (asked !== null) {
    const api = DRY_RUN_APIS.find((a) => a === asked);
    if (api === undefined)
      throw new SwitchyardError(
        'invalid_request',
        `api ${JSON.stringify(echoName(asked))} is not one of ${DRY_RUN_APIS.join(', ')}: the API whose body is sent`,
        {
          param: 'api',
        },
      );
    return api;
  }
  const body = typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
  if (req.headers['anthropic-version'] !== undefined || Object.hasOwn(body, 'system')) return 'messages';
  if (Object.hasOwn(body, 'input') && !Object.hasOwn(body, 'messages')) return 'responses';
  return 'chat';
}

/**
 * `POST /switchyard/route` (issue 11): the routing decision alone; the same body and header checks
 * as the route of the body's API (chat completions, Messages or Responses; see dryRunApi), each
 * cascaded as on its own route.
 */
async function routeDryRun(deps: ServerDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const rt = deps.runtime();
  const json = await readJson(deps, req, res);
  const hints = parseHints(req.headers, rt.cfg.resilience.requestTimeoutMs);
  const api = dryRunApi(req, url, json);
  if (api === 'chat') return sendJson(res, 200, dryRoute(rt, parseChatBody(json), hints));
  const raw = (typeof json === 'object' && json !== null && !Array.isArray(json) ? json : {}) as Record<string, unknown>;
  if (api === 'messages') return sendJson(res, 200, dryRoute(rt, translateMessages(raw, anthropicHeaders(req.headers)), hints, api));
  // A stored conversation is the client key's own, and the dry run reads no client key.
  if (raw.previous_response_id !== undefined && raw.previous_response_id !== null)
    throw new SwitchyardError(
      'invalid_request',
      'previous_response_id is not read by the dry run (a stored conversation belongs to a client key): send the whole conversation as input',
      { param: 'previous_response_id' },
    );
  sendJson(res, 200, dryRoute(rt, translateResponses({ ...raw, store: false }, []).chat, hints, api));
}

/**
 * A models route's client key: a refused one is logged as every refused request is (a key guessed
 * here left no trace); the models routes are not counted in the request metrics (README).
 */
function modelsKey(deps: ServerDeps, req: IncomingMessage, requestId: string): string | null {
  try {
    return deps.keys.keyIdOf(clientAuthorization(req));
  } catch (err) {
    if (err instanceof SwitchyardError && deps.log.isLevelEnabled('info'))
      deps.log.info({ requestId, api: 'models', status: err.status, keyId: null, error: err.code }, `request refused: ${err.message}`);
    throw err;
  }
}

/**
 * Which ids of `/v1/models` client key `keyId` sees: with `auth.keys[].models`, its models, the
 * routes with one of them and `auto`; null when it sees them all. A model it may not use is not
 * found, as OpenAI answers for a model a project has no access to.
 */
function usableBy(cfg: Config, keyId: string | null): ((id: string) => boolean) | null {
  const models = keyModels(cfg, keyId);
  return models === null ? null : (id) => keyMayAsk(cfg, models, id);
}

/** Each server's open connections (for {@link stopKeepAlive}). */
const openSockets = new WeakMap<Server, Set<Duplex>>();

/**
 * Shutting down: the answers still to be written on open connections say `Connection: close`
 * (they said keep-alive, and the connection then closed under a client that meant to reuse it).
 */
export function stopKeepAlive(server: Server): void {
  for (const socket of openSockets.get(server) ?? []) {
    // The response in progress on the connection (node's own link from a socket to its current response).
    const res = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (res && !res.headersSent) res.shouldKeepAlive = false;
  }
}

/** Servers whose connections switchyard itself closed ({@link closeAllConnections}): their requests' 'aborted' is no client's doing. */
const closedByShutdown = new WeakSet<Server>();

/**
 * Shutting down, the last step: every connection still open is closed (an event stream's, an idle
 * keep-alive one). Their requests' connection errors that follow are switchyard's own doing, not
 * logged as a client's (a `/switchyard/events` subscriber's was, after `stopped`, as a client
 * connection error while reading the request).
 */
export function closeAllConnections(server: Server): void {
  closedByShutdown.add(server);
  server.closeAllConnections();
}

export function createHttpServer(deps: ServerDeps): Server {
  // A request without a Host header is served (a loopback sidecar routes nothing by it); node's
  // own refusal of it was a bare 400 with no body, outside every handler.
  const server = createServer({ keepAliveTimeout: 65_000, requireHostHeader: false, ...timeouts(deps.requestTimeoutMs ?? 30_000) }, (req, res) => {
    // The request id is always switchyard's own (unique, time-ordered): it keys the ledger row, so a
    // client id reused across requests must not make two requests one row (spend would leave the
    // ledger). A client's own id (`x-client-request-id`, or `x-request-id` as some SDKs send it)
    // comes back as `x-client-request-id`, as OpenAI's API does.
    const requestId = timeOrderedId();
    // A request that arrives on a kept-alive connection while shutting down: its answer closes it.
    if (deps.draining()) res.shouldKeepAlive = false;
    const given = clientRequestId(req.headers);
    const base: Record<string, string> = given !== undefined ? { 'x-request-id': requestId, 'x-client-request-id': given } : { 'x-request-id': requestId };
    // More header fields than MAX_HEADER_FIELDS: 431 before any route (node keeps them all, see client-error.ts).
    // On the Messages API every answer carries `request-id` (the Anthropic SDK's `requestID`), refusals before any route included.
    const anthropic = anthropicShaped(req);
    const idHeaders: Record<string, string> = anthropic ? { ...base, 'request-id': requestId } : base;
    if (req.rawHeaders.length > 2 * MAX_HEADER_FIELDS) {
      const body = headerCountBody(req.rawHeaders.length / 2, anthropic, requestId);
      deps.log.debug({ requestId, headerFields: req.rawHeaders.length / 2, status: 431 }, 'refused a request with too many header fields');
      res.writeHead(431, { ...idHeaders, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
      res.end(body);
      req.resume();
      return;
    }
    // A web page of another site, or one that re-bound its name to this loopback address: 403 before any route.
    const crossSite = crossSiteRefusal(req, deps.loopbackOnly);
    if (crossSite !== null) {
      const body = JSON.stringify(
        anthropic
          ? { type: 'error', error: { type: 'permission_error', message: crossSite }, request_id: requestId }
          : { error: { message: crossSite, type: 'permission_error', param: null, code: 'cross_site_request' } },
      );
      // Logged and counted as every refusal before routing is (`request refused: …`).
      const api = apiOfPath((req.url ?? '').split('?', 1)[0]!);
      if (api !== null) recordRefused(deps, api, req, requestId, Date.now(), new SwitchyardError('cross_site_request', crossSite));
      else deps.log.info({ requestId, status: 403, error: 'cross_site_request' }, `request refused: ${crossSite}`);
      res.writeHead(403, {
        ...idHeaders,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-switchyard-error-code': 'cross_site_request',
        connection: 'close',
      });
      res.end(body);
      req.resume();
      return;
    }
    // The chat route's exact targets pass every header of their answers in `writeHead` (see
    // `chat`); every other route gets them set here, before it runs.
    const chatTarget = req.url === '/v1/chat/completions' || req.url === '/chat/completions';
    if (!chatTarget) for (const name in base) res.setHeader(name, base[name]!);
    // A client that goes away mid-request is routine, not an error (and must never be an unhandled
    // 'error' event). One listener for both: the emitter (`this`) tells which side it was. It is
    // the chat route's only 'error' listener on `req`: the body read takes its failure from it
    // (`hook`), logged first, as when the read had a listener of its own after this one.
    const hook: BodyGone = { gone: null };
    const connError = function (this: IncomingMessage | ServerResponse, err: Error): void {
      const ours = closedByShutdown.has(server);
      if (this !== req) {
        if (!ours) deps.log.debug({ err: err.message, requestId }, 'client connection error while answering');
        return;
      }
      // A request read whole ('aborted' then is the connection closing before its answer ended: an
      // event stream's subscriber leaving) was not being read.
      if (!ours)
        deps.log.debug(
          { err: err.message, requestId },
          req.complete ? 'client connection closed before the answer ended' : 'client connection error while reading the request',
        );
      if (hook.gone !== null) hook.gone();
    };
    req.on('error', connError);
    res.on('error', connError);
    let path = '?';
    // A 404 for no route or a 405 for a wrong method, answered before any route ran: traced here
    // (`traceAnswered`). `routed` turns true once the method passed, so a 405 is told apart
    // without a closure per request.
    let routed = false;
    let notFound: SwitchyardError | null = null;
    // The models and stored-response routes (answered here, not by a routed request) get a SERVER
    // span named by this route once answered; set before the route's first await.
    let traceRoute: string | null = null;
    let tracedHere = false;
    const receivedAt = Date.now();
    const handle = async (): Promise<void> => {
      if (chatTarget) {
        // The target is the path itself (what parseTarget would make of it): no URL to parse.
        path = req.url!;
        checkMethod(path, req.method);
        routed = true;
        return chat(deps, req, res, requestId, base, hook);
      }
      const target = parseTarget(req.url);
      path = target.path;
      const url = target.url;
      checkMethod(path, req.method);
      routed = true;
      if (path === '/v1/chat/completions' || path === '/chat/completions') return chat(deps, req, res, requestId, base, hook);
      const api = deps.apis?.[path];
      if (api) return api(deps, req, res, requestId);
      if (path.startsWith('/v1/responses/') || path.startsWith('/responses/')) {
        const retrieve = deps.apis?.['/v1/responses/'];
        if (retrieve) {
          tracedHere = true;
          traceRoute = storedResponseRoute(path);
          return retrieve(deps, req, res, requestId);
        }
      }
      if (isModelsPath(path)) {
        tracedHere = true;
        traceRoute = routeOf(path);
      }
      if (path === '/v1/models' || path === '/models') {
        // With auth.keys on, the catalogue is for key holders too (as OpenAI's and LiteLLM's /v1/models).
        const visible = usableBy(deps.runtime().cfg, modelsKey(deps, req, requestId));
        const all = deps.models() as { data: Array<{ id: string; created: number }> };
        const list = visible === null ? all : { ...all, data: all.data.filter((m) => visible(m.id)) };
        return sendJson(res, 200, fromAnthropicClient(req) ? anthropicModelsList(list, url.searchParams) : list);
      }
      if (path.startsWith('/v1/models/') || path.startsWith('/models/')) {
        // OpenAI's GET /v1/models/{model} (the SDK's models.retrieve); a route id keeps its `/`.
        const visible = usableBy(deps.runtime().cfg, modelsKey(deps, req, requestId));
        const raw = path.slice(path.indexOf('/models/') + '/models/'.length);
        let id: string;
        try {
          id = decodeURIComponent(raw);
        } catch {
          throw new SwitchyardError('invalid_request', 'the model id in the path is not valid percent-encoding', { param: 'model' });
        }
        const list = deps.models() as { data: Array<{ id: string; created: number }> };
        // An alias is found as the model it names, under the name asked for (as a provider answers its own aliases).
        const own = catalogueModel(deps.runtime().cfg, id);
        const entry = visible === null || visible(own) ? list.data.find((m) => m.id === own) : undefined;
        if (!entry) throw new SwitchyardError('model_not_found', `The model "${echoName(id)}" does not exist`, { param: 'model', status: 404 });
        const found = own === id ? entry : { ...entry, id };
        return sendJson(res, 200, fromAnthropicClient(req) ? anthropicModel(found) : found);
      }
      if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
      if (path === '/readyz') {
        const reason = deps.draining() ? 'shutting down' : deps.runtime().unready();
        return sendJson(res, reason === null ? 200 : 503, reason === null ? { status: 'ready' } : { status: 'not ready', reason });
      }
      checkAdmin({ loopbackOnly: deps.loopbackOnly, adminToken: deps.adminToken, publicMetrics: deps.publicMetrics ?? (() => false) }, req, url, path);
      if (path === '/switchyard/route') return routeDryRun(deps, req, res, url);
      const op = Object.hasOwn(deps.ops, path) ? deps.ops[path] : undefined;
      if (op) return op(req, res, url);
      notFound = new SwitchyardError('not_found', `no route ${req.method} ${echoName(path)}${notServedHint(path)}`);
      throw notFound;
    };
    const handled = handle();
    if (tracedHere) {
      const route = traceRoute;
      // A route that answered its own error (the stored responses' 404, 400, 405) says its code in the header every error answer has.
      const errorCode = (): string | null => {
        const code = res.statusCode >= 400 ? res.getHeader('x-switchyard-error-code') : undefined;
        return typeof code === 'string' ? code : null;
      };
      handled.then(
        () => traceAnswered({ requestId, receivedAt, method: req.method, route, api: null, status: res.statusCode, error: errorCode() }, req.headers),
        () => undefined, // traced below
      );
    }
    // Anything thrown while handling a request, synchronously or not, ends in a response.
    handled.catch((err: unknown) => {
      if (!(err instanceof SwitchyardError)) deps.log.error({ err, requestId, path }, 'unhandled error in a route');
      try {
        // The Messages API's paths answer in Anthropic's error shape, their 405s and 404s included;
        // so do the models routes asked by Anthropic's SDK (its models.list / retrieve), and a path
        // it asks that no route serves or a method no route takes (404 / 405, or a target that
        // does not parse): its SDK reads only that shape.
        const unrouted = !routed || (notFound !== null && err === notFound);
        if ((isMessagesPath(path) || ((isModelsPath(path) || unrouted) && fromAnthropicClient(req))) && !res.headersSent) {
          const e =
            err instanceof SwitchyardError ? err : new SwitchyardError('internal_error', 'internal error in switchyard (the request id is in x-request-id)');
          // Anthropic's SDK reads the id from `request-id` (the messages route sets it on its own answers).
          sendJson(res, e.status, anthropicError(e, requestId), { ...base, 'request-id': requestId, ...e.headers });
        } else sendError(res, err, base);
      } catch {
        res.destroy();
      }
      const wrongMethod = !routed && err instanceof SwitchyardError && err.code === 'method_not_allowed';
      if (wrongMethod || (notFound !== null && err === notFound) || tracedHere) {
        const e = err instanceof SwitchyardError ? err : null;
        const route = wrongMethod ? routeOf(path) : traceRoute;
        traceAnswered(
          { requestId, receivedAt, method: req.method, route, api: null, status: e?.status ?? 500, error: e?.code ?? 'internal_error' },
          req.headers,
        );
      }
    });
  });
  // Expect: 100-continue: a body declared over the limit, or sent to an API route without a client
  // key it takes, is not invited (the route answers 413 or 401 and the connection closes).
  const sockets = new Set<Duplex>();
  openSockets.set(server, sockets);
  server.on('connection', (socket: Duplex) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    let invite = !(Number.isFinite(declared) && declared > deps.maxBodyBytes());
    if (invite && !(req.url ?? '').startsWith('/switchyard/')) {
      try {
        deps.keys.authenticate(clientAuthorization(req));
      } catch {
        invite = false;
      }
    }
    if (invite) res.writeContinue();
    else res.shouldKeepAlive = false;
    server.emit('request', req, res);
  });
  // An Expect other than 100-continue: node's bare 417 gets a JSON body in the path's API shape.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const e = new SwitchyardError('invalid_request', 'only the expectation 100-continue is supported (header expect)', { status: 417 });
    // Its own id, as every answer to a request read whole has (the handler, which makes it, does not run).
    const requestId = timeOrderedId();
    const headers = { ...e.headers, 'x-request-id': requestId, connection: 'close' };
    if (anthropicShaped(req)) sendJson(res, e.status, anthropicError(e, requestId), { ...headers, 'request-id': requestId });
    else sendError(res, e, headers);
  });
  // Every header field is kept (node's default drops those after the 1000th silently); the handler refuses over MAX_HEADER_FIELDS.
  server.maxHeadersCount = 0;
  watchStalledClients(server, deps.sendTimeoutMs ?? 60_000, (ms, why) =>
    why === 'timeout'
      ? deps.log.info({ sendTimeoutMs: ms }, 'closed a connection whose client took none of its answer for server.sendTimeoutMs')
      : deps.log.warn(
          { waitingLimitMiB: WAITING_LIMIT / 1048576 },
          'closed a connection whose client took none of its answer for a while: answers waiting for clients that take nothing passed their process-wide bound',
        ),
  );
  // CONNECT is a proxy's method: node hands it to 'connect' listeners and, with none, drops the
  // socket without a byte. Refused in the API's own shape instead.
  server.on('connect', (req: IncomingMessage, socket: Duplex) => refuseConnect(req, socket));
  server.on('clientError', (err: Error & { code?: string }, socket) =>
    onClientError(err, socket, (code, status) => deps.log.debug({ code, status }, 'refused a request the HTTP parser could not accept')),
  );
  return server;
}

/** A stored response's route for traces: its id a template, its known sub-resource kept (`/v1/responses/{response_id}/input_items`). */
function storedResponseRoute(path: string): string | null {
  const base = path.startsWith('/v1/') ? '/v1/responses/' : '/responses/';
  const parts = path.slice(base.length).split('/');
  if (parts.length === 1) return `${base}{response_id}`;
  // A path no route serves (`…/resp_x/zzz`) is named by its method alone, as every unrouted 404 is.
  return parts.length === 2 && (parts[1] === 'input_items' || parts[1] === 'cancel') ? `${base}{response_id}/${parts[1]}` : null;
}

/** What a 404 adds for a path of OpenAI's or Anthropic's API that switchyard does not serve: what is served. */
function notServedHint(path: string): string {
  if (path === '/v1/messages/batches' || path.startsWith('/v1/messages/batches/'))
    return ': Message Batches are not supported by switchyard; send each request to POST /v1/messages';
  // LiteLLM's and other gateways' probe paths (a Kubernetes manifest brought along): switchyard's own named.
  if (/^(\/v1)?\/(health|healthcheck|health\/(liveliness|liveness|readiness)|ping|live|ready|status)$/.test(path))
    return ": switchyard's health routes are GET /healthz (the process is up) and GET /readyz (ready to serve: 503 with the reason while not)";
  if (path.startsWith('/v1/'))
    return ': switchyard serves /v1/chat/completions, /v1/completions, /v1/responses, /v1/messages (and /v1/messages/count_tokens), /v1/embeddings and /v1/models';
  return '';
}

/** Anthropic's SDK sends `anthropic-version` on every call; OpenAI's never does. */
const fromAnthropicClient = (req: IncomingMessage): boolean => req.headers['anthropic-version'] !== undefined;

/**
 * A refusal before any route (too many headers, cross-site, an unsupported Expect) answers in
 * Anthropic's shape on the Messages API's paths, and for Anthropic's SDK (`anthropic-version`) on
 * any path but OpenAI's API routes, as the 404 / 405 of a path no route serves does.
 */
function anthropicShaped(req: IncomingMessage): boolean {
  const path = (req.url ?? '').split('?', 1)[0]!;
  return isMessagesPath(path) || (fromAnthropicClient(req) && apiOfPath(path) === null);
}

const isModelsPath = (path: string): boolean => /^\/(v1\/)?models(\/|$)/.test(path);

/** The API a request path belongs to (for counting a refusal before routing), or null for the operations routes. */
function apiOfPath(path: string): ApiName | null {
  const p = path.startsWith('/v1/') ? path.slice(3) : path;
  if (p === '/chat/completions') return 'chat';
  if (p === '/completions') return 'completions';
  if (p === '/embeddings') return 'embeddings';
  if (p === '/messages' || p.startsWith('/messages/')) return 'messages';
  if (p === '/responses' || p.startsWith('/responses/')) return 'responses';
  return null;
}

export { isLoopback } from './loopback.js';
