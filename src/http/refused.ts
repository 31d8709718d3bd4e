/**
 * A request refused at the HTTP edge, before it is routed (a wrong client key, a client key over
 * its rpm, a body that is not JSON or fails validation, a bad routing hint, a body over the
 * limit, shutting down): counted in `/metrics` like every other request (model and endpoint
 * `none`), logged at info with its status and error code, and (when tracing) one SERVER span. It writes no ledger row: nothing
 * was routed or billed, and an unauthenticated caller must not be able to grow the ledger.
 */
import type { IncomingMessage } from 'node:http';
import { SwitchyardError } from '../errors.js';
import { traceRefused, type ApiName } from '../runtime/request-scope.js';
import { clientAuthorization } from './auth.js';
import { clientRequestId } from './request-id.js';
import type { ServerDeps } from './server.js';

/**
 * The client key id of a refused request when its key was a known one (a 429 over the key's rpm,
 * a 400 for a bad body): asked again here, on the refusal path only, so the accepted path pays
 * nothing. Null without auth or for an unknown key (a 401).
 */
function refusedKeyId(deps: ServerDeps, req: IncomingMessage, status: number): string | null {
  if (status === 401) return null;
  try {
    return deps.keys.keyIdOf(clientAuthorization(req));
  } catch {
    return null;
  }
}

/**
 * `receivedAt`: when the request came in, by the runtime's clock or `Date.now()` (the same in a
 * running sidecar). `trace: false` for a route that writes its own span (count_tokens,
 * input_tokens, a stored response's routes).
 */
export function recordRefused(deps: ServerDeps, api: ApiName, req: IncomingMessage, requestId: string, receivedAt: number, err: unknown, trace = true): void {
  try {
    const rt = deps.runtime();
    const e = err instanceof SwitchyardError ? err : null;
    const status = e?.status ?? 500;
    const latencyMs = Math.max(0, rt.now() - receivedAt);
    rt.recordRequest({
      model: null,
      endpoint: null,
      status,
      attempts: 0,
      latencyMs,
      ttftMs: null,
      usage: { promptTokens: 0, completionTokens: 0 },
      costNano: 0,
      stream: false,
      api,
      error: e?.code ?? 'internal_error',
    });
    const span = trace ? traceRefused(api, { requestId, receivedAt, status, error: e?.code ?? 'internal_error' }, req) : null;
    // A client gone mid-body is routine (logged at debug where it is read); an internal error is logged as one.
    if (e !== null && status !== 499 && deps.log.isLevelEnabled('info')) {
      const clientId = clientRequestId(req.headers);
      deps.log.info(
        {
          requestId,
          ...(clientId === undefined ? {} : { clientRequestId: clientId }),
          api,
          status,
          latencyMs,
          keyId: refusedKeyId(deps, req, status),
          error: e.code,
          // Its span's ids, as a routed request's lines carry them: a log backend joins the refusal to its trace.
          ...(span === null ? {} : { trace_id: span.traceId, span_id: span.spanId }),
        },
        `request refused: ${e.message}`,
      );
    }
  } catch {
    // Bookkeeping must never turn a refusal into a crash.
  }
}
