/**
 * The runtime as one cascade step sees it: everything is the real runtime (endpoints,
 * budget, clock), except that the step's ledger row is held, not written — the cascade
 * writes it once the step's answer was checked, with the step's place and check outcome.
 */
import type { LedgerRow, LedgerStore } from '../accounting/ledger.js';
import type { Config } from '../config/schema.js';
import type { RequestRecord, RuntimeCore } from './core.js';
import type { CancelSignal } from './cancel.js';
import type { EndpointHandle } from './endpoints.js';

export class StepCore implements RuntimeCore {
  /** The rows the step's flow wrote (one per flow). */
  readonly rows: LedgerRow[] = [];
  readonly ledger: LedgerStore;

  constructor(private readonly rt: RuntimeCore) {
    const real = rt.ledger;
    this.ledger = {
      insert: (row) => {
        this.rows.push(row);
        // The step is settled but its row waits for the cascade's end: its in-flight journal line
        // says what it cost, no longer what it reserved (a process killed meanwhile counted an
        // early step that cost 18,000 nano-USD at its 1,884,000 reservation).
        const held = rt.holdInFlight?.({
          requestId: row.requestId,
          at: row.at,
          keyId: row.keyId,
          model: row.model,
          endpoint: row.endpoint,
          amountNano: row.costNano,
        });
        return held instanceof Promise
          ? held.then(
              () => 'inserted' as const,
              () => 'inserted' as const,
            )
          : Promise.resolve('inserted');
      },
      spentSince: (scope, from, to) => real.spentSince(scope, from, to),
      spendBy: (group, from, to) => real.spendBy(group, from, to),
      rows: (opts) => real.rows(opts),
      steps: (parentId) => real.steps(parentId),
      recordFeedback: (id, good, at) => real.recordFeedback(id, good, at),
      qualityStats: (from, to) => real.qualityStats(from, to),
      close: () => Promise.resolve(),
    };
  }

  get cfg(): Config {
    return this.rt.cfg;
  }
  get handles(): RuntimeCore['handles'] {
    return this.rt.handles;
  }
  get byModel(): RuntimeCore['byModel'] {
    return this.rt.byModel;
  }
  get budget(): RuntimeCore['budget'] {
    return this.rt.budget;
  }
  get supervisor(): RuntimeCore['supervisor'] {
    return this.rt.supervisor;
  }
  get queue(): RuntimeCore['queue'] {
    return this.rt.queue;
  }
  get log(): RuntimeCore['log'] {
    return this.rt.log;
  }
  /** Bound: the flow hands `rt.now` around as a plain function. */
  readonly now = (): number => this.rt.now();
  readonly rng = (): number => this.rt.rng();
  get scheduler(): RuntimeCore['scheduler'] {
    return this.rt.scheduler;
  }
  get stopping(): CancelSignal {
    return this.rt.stopping;
  }
  route(
    call: Parameters<RuntimeCore['route']>[0],
    promptTokens: number,
    opts: Parameters<RuntimeCore['route']>[2],
    bound?: () => number,
  ): ReturnType<RuntimeCore['route']> {
    return this.rt.route(call, promptTokens, opts, bound);
  }
  pick(requestId: string, req: Parameters<RuntimeCore['pick']>[1], pc: Parameters<RuntimeCore['pick']>[2]): ReturnType<RuntimeCore['pick']> {
    return this.rt.pick(requestId, req, pc);
  }
  modelStats(model: string): { latencyMs: number; inFlight: number } {
    return this.rt.modelStats(model);
  }
  retryAfterSeconds(models: string[], takes?: (h: EndpointHandle) => boolean, estTokens?: number): number {
    return this.rt.retryAfterSeconds(models, takes, estTokens);
  }
  endpointEvent(h: Parameters<RuntimeCore['endpointEvent']>[0], ev: Parameters<RuntimeCore['endpointEvent']>[1]): void {
    this.rt.endpointEvent(h, ev);
  }
  holdInFlight(h: Parameters<NonNullable<RuntimeCore['holdInFlight']>>[0]): ReturnType<NonNullable<RuntimeCore['holdInFlight']>> {
    return this.rt.holdInFlight?.(h);
  }
  /** The step's own record (its metrics), told once the cascade has written the rows (`cascade.ts` deliver). */
  readonly records: RequestRecord[] = [];
  recordRequest(r: RequestRecord): void {
    this.records.push({ ...r, cascadeStep: true });
  }
}
