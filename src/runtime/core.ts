/**
 * What the request flow needs from the runtime: config, endpoints, budget, ledger, clock.
 */
import type { Logger } from 'pino';
import type { ActorRefFrom } from 'xstate';
import type { supervisorMachine } from '../../machines/supervisor.machine.js';
import type { Usage } from '../accounting/cost.js';
import type { LedgerStore } from '../accounting/ledger.js';
import type { Config } from '../config/schema.js';
import type { BudgetStore } from './budget.js';
import type { CascadeRecord } from './cascade.js';
import type { EndpointHandle } from './endpoints.js';
import type { CapacityQueue } from './queue.js';

export interface RequestRecord {
  model: string | null;
  endpoint: string | null;
  status: number;
  attempts: number;
  latencyMs: number;
  ttftMs: number | null;
  usage: Usage;
  costNano: number;
  stream: boolean;
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
  now(): number;
  rng(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** Latency and load of a model's best endpoint, for the routing strategies. */
  modelStats(model: string): { latencyMs: number; inFlight: number };
  /** Seconds until the earliest of these models' endpoints may take traffic again. */
  retryAfterSeconds(models: string[]): number;
  recordRequest?(r: RequestRecord): void;
  /** A cascaded request ended (metrics, inspector timeline). */
  recordCascade?(r: CascadeRecord): void;
}
