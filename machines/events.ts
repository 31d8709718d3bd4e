/**
 * The event vocabulary shared by the machines. Facts are past tense (`upstream.failed`),
 * commands imperative (`endpoint.reset`). Every event from the outside carries `at` (epoch
 * ms on the runtime's clock), so machines never read a clock themselves.
 */

/** Fault classes the endpoint machine distinguishes (the runtime classifies raw errors). */
export type FaultClass = 'server_error' | 'overloaded' | 'connection' | 'timeout' | 'stream_cut' | 'bad_response' | 'auth' | 'other';

/**
 * On the events that end an attempt: the probe round (`halfOpenRound`: a half-open round, or the
 * single probe after an upstream 429's throttle) in which the attempt was dispatched as a probe,
 * absent when it was not a probe. Only a probe of the current round
 * frees a probe slot or decides whether the circuit closes; a request sent before the circuit
 * opened (or a probe of an earlier round) that ends while half-open is bookkeeping only.
 */
export interface ProbeOf {
  probe?: number;
}

export type EndpointEvent =
  /** A request was sent to this endpoint: counts in RPM/TPM and in-flight (while half-open: a probe of this round). */
  | { type: 'request.dispatched'; at: number; estTokens: number }
  /** The upstream answered completely. `tokens` are real, replacing the estimate in TPM. */
  | ({ type: 'upstream.succeeded'; at: number; latencyMs: number; ttftMs: number | null; tokens: number; estTokens: number } & ProbeOf)
  /**
   * A probe's answer began (a stream's first content; a JSON answer ends at once, with
   * `upstream.succeeded`): after an upstream 429's throttle, the upstream takes requests again,
   * so the requests that waited for the probe go now, not when its answer ends.
   */
  | ({ type: 'upstream.answering'; at: number } & ProbeOf)
  /**
   * The upstream failed. Only faults of the upstream count towards the circuit. `retryAt`: the
   * upstream asked for a pause with its failure (a 503 or 529 overload with `retry-after`): the
   * endpoint is held back until then (`throttled`, as after a 429), the failure still counts, and a
   * circuit it opens stays open at least that long.
   */
  | ({ type: 'upstream.failed'; at: number; fault: FaultClass; countsAsFailure: boolean; estTokens: number; tokens: number; retryAt?: number } & ProbeOf)
  /** The upstream answered 429: throttled until `retryAt`. */
  | ({ type: 'upstream.rateLimited'; at: number; retryAt: number; estTokens: number } & ProbeOf)
  /** The attempt ended without telling anything about the upstream (client's fault, client gone). */
  | ({ type: 'upstream.released'; at: number; estTokens: number; tokens: number } & ProbeOf)
  /** A window reported exhausted by headers (`x-ratelimit-remaining-*: 0`) or a shared store. */
  | { type: 'window.exhausted'; at: number; retryAt: number; reason: string }
  /** A shared store admitted a request here: a throttle learned from it (reason `shared …`) is over. */
  | { type: 'window.admitted'; at: number }
  /** Operator command: forget failures and throttling. */
  | { type: 'endpoint.reset'; at: number };

export type BudgetEvent =
  | { type: 'budget.restored'; at: number; spent: Record<string, number> }
  | { type: 'budget.reserve'; at: number; requestId: string; budgets: string[]; amount: number }
  /** `dated`: when the request's ledger row is dated; a line whose period began after it does not take the cost (the period before did, and has ended). */
  | { type: 'budget.settle'; at: number; requestId: string; budgets: string[]; reserved: number; actual: number; dated?: number | undefined }
  | { type: 'budget.release'; at: number; requestId: string; budgets: string[]; reserved: number }
  /**
   * Config reload: new limits; lines that stay keep their totals, new ones start from `spent` (rebuilt
   * from the ledger) and `reserved` (what requests in flight hold that the new line applies to: they
   * settle or release it there too).
   */
  | {
      type: 'budget.reconfigured';
      at: number;
      limits: import('./budget.machine.js').BudgetLimit[];
      spent: Record<string, number>;
      reserved?: Record<string, number>;
    };

/** What the budget machine emits for each reservation decision. */
export type BudgetEmitted =
  | { type: 'budget.granted'; requestId: string; amount: number }
  | { type: 'budget.refused'; requestId: string; amount: number; budget: string; limit: number; spent: number; reserved: number };

export type SupervisorEvent =
  /** Route this request (its body stays with the runtime: only the id travels, nothing secret in events). */
  | { type: 'request.route'; at: number; requestId: string }
  /** Choose the endpoint of this request's next attempt among its routed candidates, by their live state (serving and draining: in-flight requests still fail over). */
  | { type: 'request.pick'; at: number; requestId: string }
  /** `first`: the request's first time in the line (a request woken that waits again is not counted again in `queued`). */
  | { type: 'queue.entered'; at: number; first: boolean }
  | { type: 'queue.left'; at: number }
  | { type: 'endpoints.reconfigured'; at: number; add: EndpointSpawn[]; remove: string[] }
  | { type: 'supervisor.drain'; at: number }
  | { type: 'supervisor.drained'; at: number };

/** The supervisor's answer to `request.route` when it does not route (draining or stopped). */
export interface RouteRefused {
  type: 'request.refused';
  requestId: string;
  reason: 'draining';
}

/** What the supervisor needs to spawn an endpoint actor. */
export interface EndpointSpawn {
  id: string;
  input: import('./endpoint.machine.js').EndpointInput;
}
