/**
 * Requests by the API they came in through (chat, responses, messages, embeddings, completions): a
 * Prometheus counter `switchyard_api_requests_total{api,status}` and totals for
 * `/switchyard/state`. The API is the request record's (set on the call by `inScope`).
 */
import { Counter, type Registry } from 'prom-client';
import type { CascadeRecord } from '../runtime/cascade.js';
import type { RequestRecord } from '../runtime/core.js';
import { currentScope, type ApiName } from '../runtime/request-scope.js';

export class ApiCounts {
  private readonly counter: Counter<'api' | 'status'>;
  private readonly totals: Record<ApiName, number> = { chat: 0, responses: 0, messages: 0, embeddings: 0, completions: 0 };

  constructor(registry: Registry) {
    this.counter = new Counter({
      name: 'switchyard_api_requests_total',
      help: 'Requests answered, by client API and HTTP status',
      labelNames: ['api', 'status'],
      registers: [registry],
    });
  }

  record(r: RequestRecord): void {
    // A cascade step is not a client request: the cascade's own record counts it once.
    // A step is not the request either for its span: the cascade records the whole once (cascade.ts).
    if (r.cascadeStep === true) return;
    this.count(r.api, r.status);
    currentScope()?.trace?.record(r);
  }

  /** A cascaded request, once, with the status its client got (none when the client had gone). */
  /** A cascaded request counts once, with the status its client got: 499 when it went away before an answer (as a plain request's). */
  recordCascade(r: Pick<CascadeRecord, 'api' | 'status'>): void {
    this.count(r.api, r.status ?? 499);
  }

  private count(api: ApiName, status: number): void {
    this.totals[api]++;
    this.counter.inc({ api, status: String(status) });
  }

  view(): Record<ApiName, number> {
    return { ...this.totals };
  }
}
