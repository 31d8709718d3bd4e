/**
 * Key names. Every key of a deployment carries the same hash tag `{prefix}`, so each script's
 * keys sit in one slot (Redis Cluster, Valkey) and one prefix isolates a deployment (or a test).
 */
import { periodEnd, periodStart, type BudgetLimit } from '../../machines/budget.machine.js';

/** Kept a week past their period, so a late settle still finds the period's counters. */
const KEEP_AFTER_PERIOD_MS = 7 * 86_400_000;

export class Keys {
  readonly tag: string;

  constructor(prefix: string) {
    this.tag = `{${prefix}}:`;
  }

  get epoch(): string {
    return `${this.tag}epoch`;
  }
  get replicas(): string {
    return `${this.tag}replicas`;
  }
  /** The run_id of the Redis server process that holds this state (scripts.ts RESTARTED). */
  get runId(): string {
    return `${this.tag}runid`;
  }
  /** A KEYS pattern matching every key of this deployment (glob characters of the prefix escaped). */
  get all(): string {
    return `${this.tag.replace(/[*?[\]\\]/g, '\\$&')}*`;
  }
  /** Which ledger the replicas write (scripts.ts LEDGER_MARK). */
  get ledger(): string {
    return `${this.tag}ledger`;
  }
  get reclaimed(): string {
    return `${this.tag}reclaimed`;
  }
  lease(replica: string): string {
    return `${this.tag}lease:${replica}`;
  }
  owned(replica: string): string {
    return `${this.tag}own:${replica}`;
  }
  reservation(token: string): string {
    return `${this.tag}res:${token}`;
  }
  window(endpoint: string, kind: 'rpm' | 'tpm'): string {
    return `${this.tag}w:${kind}:${endpoint}`;
  }
  cooldown(endpoint: string): string {
    return `${this.tag}cd:${endpoint}`;
  }
  probe(endpoint: string): string {
    return `${this.tag}probe:${endpoint}`;
  }
  keyRpm(keyId: string): string {
    return `${this.tag}krpm:${keyId}`;
  }
  keyOnce(requestId: string): string {
    return `${this.tag}konce:${requestId}`;
  }
  /** A budget's counters for the period that contains `at`. */
  budget(l: BudgetLimit, at: number): string {
    return `${this.tag}b:${l.id}:${periodStart(l.period, at)}`;
  }
  /** When a budget key may expire (0: never, for `total`). */
  budgetExpireAt(l: BudgetLimit, at: number): number {
    const end = periodEnd(l.period, at);
    return end === null ? 0 : end + KEEP_AFTER_PERIOD_MS;
  }
}
