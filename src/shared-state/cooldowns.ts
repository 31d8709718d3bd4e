/**
 * Shared cooldowns: when an upstream answers 429 (or a 503/529 overload) with a `retry-after`, or its
 * `x-ratelimit-remaining` reaches 0, the endpoint actor of this replica is throttled until a
 * deadline. That deadline is published to Redis (a key that can only grow), and every replica's
 * reservation script refuses the endpoint until then. Circuits stay per replica (a 5xx can be
 * local); only these provider-announced deadlines are shared.
 */
import type { Logger } from 'pino';
import type { EndpointHandle } from '../runtime/endpoints.js';
import { redisFailure } from './redis-budget.js';

/** Reasons the endpoint machine records for provider-announced throttling (not the shared ones it learned). */
const PROVIDER_REASONS = /^(upstream 429|upstream overloaded|x-ratelimit)/;

export class CooldownPublisher {
  private readonly watched = new WeakSet<object>();
  private readonly published = new Map<string, number>();

  constructor(
    private readonly publish: (endpoint: string, at: number) => Promise<unknown>,
    private readonly log: Logger,
  ) {}

  watch(h: EndpointHandle): void {
    if (this.watched.has(h.actor)) return;
    this.watched.add(h.actor);
    h.actor.subscribe({
      next: (snap) => {
        const c = snap.context;
        if (c.retryAt === null || c.reason === null || !PROVIDER_REASONS.test(c.reason)) return;
        if ((this.published.get(h.id) ?? 0) >= c.retryAt) return;
        this.published.set(h.id, c.retryAt);
        this.publish(h.id, c.retryAt).catch((err: unknown) =>
          this.log.warn({ endpoint: h.id, err: redisFailure(err) }, 'could not share a cooldown with the other replicas'),
        );
      },
      error: () => undefined,
    });
  }
}
