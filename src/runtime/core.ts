/**
 * What the request driver needs from the runtime: config, endpoints, budget, ledger, clock.
 */
import type { Logger } from 'pino';
import type { ActorRefFrom } from 'xstate';
import type { supervisorMachine } from '../../machines/supervisor.machine.js';
import type { Usage } from '../accounting/cost.js';
import type { InFlight, LedgerStore } from '../accounting/ledger.js';
import type { Config } from '../config/schema.js';
import type { BudgetStore } from './budget.js';
import type { CascadeRecord } from './cascade.js';
import type { EndpointHandle } from './endpoints.js';
import type { EndpointEvent } from '../../machines/events.js';
import type { CapacityQueue } from './queue.js';
import type { PickContext, PickRequest, PickResult } from './pick.js';
import type { RoutePlan } from '../routing/resolve.js';
import type { ChatCall } from './api.js';
import type { RequestOptions } from './request-driver.js';
import type { Scheduler } from './scheduler.js';
import type { ApiName } from './request-scope.js';
import type { CancelSignal } from './cancel.js';

export interface RequestRecord {
  model: string | null;
  endpoint: string | null;
  status: number;
  attempts: number;
  latencyMs: number;
  ttftMs: number | null;
  usage: Usage;
  costNano: number;
  /**
   * `costNano` by the model whose budgets each part was charged to, when parts were charged to
   * other models than `model` (an attempt that failed over, a stream continued elsewhere); the
   * ledger row's shares. Absent: all of it is `model`'s.
   */
  costByModel?: ReadonlyMap<string, number>;
  stream: boolean;
  /** The client API the request came in through. */
  api: ApiName;
  /** The error code it ended with (`upstream_error`, `timeout`, …); absent or null when it succeeded. */
  error?: string | null;
  /**
   * The status line the client got, when it is not `status`: a stream that failed after it
   * started answered 200 (then an error event), while `status` (metrics, the log line) is the
   * error's. Absent otherwise.
   */
  httpStatus?: number;
  /** Set on one step of a cascaded request: the client request is counted once, by the cascade's record. */
  cascadeStep?: true;
}

export interface RuntimeCore {
  readonly cfg: Config;
  readonly handles: Map<string, EndpointHandle>;
  readonly byModel: Map<string, EndpointHandle[]>;
  readonly budget: BudgetStore;
  readonly ledger: LedgerStore;
  readonly supervisor: ActorRefFrom<typeof supervisorMachine>;
  readonly queue: CapacityQueue;
  readonly log: Logger;
  readonly scheduler: Scheduler;
  now(): number;
  rng(): number;
  /** The route of one request: its candidate models in order, and why (throws a SwitchyardError to refuse). */
  /** `bound`: the prompt's byte bound, when the caller keeps it (else it is made when routing needs it). */
  route(call: ChatCall, promptTokens: number, opts: RequestOptions, bound?: () => number): RoutePlan;
  /** The endpoint of a request's next attempt: the supervisor decides (`request.pick`), from live endpoint state. */
  pick(requestId: string, req: PickRequest, pc: PickContext): PickResult;
  /** Aborted (with an UpstreamFault `shutting_down`) when the shutdown stops waiting for requests in flight. */
  readonly stopping: CancelSignal;
  /** Latency and load of a model's best endpoint, for the routing strategies. */
  modelStats(model: string): { latencyMs: number; inFlight: number };
  /** Seconds until the earliest of these models' endpoints may take traffic again. */
  retryAfterSeconds(models: string[], takes?: (h: EndpointHandle) => boolean, estTokens?: number): number;
  /** What happened to one of an endpoint's requests (dispatched, answered, failed): to its actor, or as bookkeeping in place (src/runtime/endpoints.ts `recordOn`). */
  endpointEvent(h: EndpointHandle, ev: EndpointEvent): void;
  /** Journal a request's attempt before it is sent (a lone process; see LedgerStore.hold): send it once the promise, if any, resolves. */
  holdInFlight?(h: InFlight): Promise<void> | void;
  /** A request's ledger row was committed to the ledger (or failed to be): BudgetStore.rowWritten. A cascade step's held row is not. */
  rowWritten?(requestId: string): void;
  recordRequest?(r: RequestRecord): void;
  /** A cascaded request ended (metrics, inspector timeline). */
  recordCascade?(r: CascadeRecord): void;
  /** A request's next attempt went to another endpoint than its last one (a fail-over). */
  recordFailover?(from: EndpointHandle, to: EndpointHandle): void;
}
