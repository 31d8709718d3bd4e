/**
 * The one Redis connection of a process (ioredis) and its health. Commands fail at once while
 * the connection is down (no offline queue, nothing resent after a reconnect): a decision that
 * cannot be made now is answered 503 `shared_state_unavailable`, never replayed later behind
 * the caller's back. ioredis keeps reconnecting, so service resumes without a restart.
 */
import { withoutPassword } from '../observe/scrub.js';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export type RedisReply = string | number | null | RedisReply[];

export interface Health {
  up: boolean;
  since: number;
  lastError: string | null;
  /** Times the connection went down. */
  outages: number;
}

/** A Redis URL without its password, for logs and `/switchyard/state`. */
export function redactUrl(url: string): string {
  try {
    new URL(url);
  } catch {
    return 'redis://(unparsable url)';
  }
  return withoutPassword(url);
}

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');

export class SharedConnection {
  readonly redis: Redis;
  readonly url: string;
  readonly health: Health;
  private readonly onChange: Array<(up: boolean) => void> = [];

  constructor(
    url: string,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    private readonly commandTimeoutMs = 5000,
  ) {
    this.url = redactUrl(url);
    this.health = { up: false, since: this.now(), lastError: null, outages: 0 };
    this.redis = new Redis(url, {
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: commandTimeoutMs,
      connectTimeout: commandTimeoutMs,
      retryStrategy: (times) => Math.min(100 * times, 1000),
      lazyConnect: true,
    });
    this.redis.on('ready', () => this.set(true, null, this.now()));
    this.redis.on('error', (err: Error) => this.set(false, err.message, this.now()));
    this.redis.on('close', () => this.set(false, this.health.lastError ?? 'connection closed', this.now()));
  }

  /** Resolves when connected (or throws the connection error). */
  async connect(): Promise<void> {
    await this.redis.connect();
    // ioredis selects the URL's database on connect, but a refused SELECT leaves the connection
    // on database 0, "ready": the state would be shared with whatever else lives there. Asked
    // again here, so the refusal reaches the caller.
    const db = this.redis.options.db ?? 0;
    if (db !== 0) await this.redis.select(db);
  }

  private closing = false;

  onHealth(f: (up: boolean) => void): void {
    this.onChange.push(f);
  }

  private set(up: boolean, error: string | null, at: number): void {
    // Our own quit at shutdown closes the connection: not an outage (it logged one, at error level, on every clean stop).
    if (this.closing) return;
    if (error !== null) this.health.lastError = error;
    if (up === this.health.up) return;
    this.health.up = up;
    this.health.since = at;
    if (up) this.log.info({ store: this.url }, 'shared state (Redis) reachable: shared limits and budgets admit again');
    else {
      this.health.outages++;
      this.log.error(
        { store: this.url, reason: this.health.lastError },
        'shared state (Redis) unreachable: requests that need it get 503 shared_state_unavailable',
      );
    }
    for (const f of this.onChange) f(up);
  }

  /** Runs a script by its SHA, loading it once (NOSCRIPT after a Redis restart included). */
  async run(script: string, keys: string[], args: Array<string | number>): Promise<RedisReply> {
    const sha = shaOf(script);
    try {
      try {
        return (await this.redis.evalsha(sha, keys.length, ...keys, ...args)) as RedisReply;
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return (await this.redis.eval(script, keys.length, ...keys, ...args)) as RedisReply;
      }
    } catch (err) {
      if (err instanceof Error && err.message === 'Command timed out') this.stalled();
      throw err;
    }
  }

  /**
   * A command timed out on an open connection: Redis is paused, overloaded or cut off without a
   * reset. Left alone, the connection would stay "up" (ready, metrics and state say so) while
   * every request waits out the timeout; so it is down from now, and dropped: ioredis reconnects,
   * and only its ready check answered brings it back up.
   */
  private stalled(): void {
    if (!this.health.up) return;
    this.set(false, `Redis did not answer within ${this.commandTimeoutMs} ms`, this.now());
    this.redis.disconnect(true);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.onChange.length = 0;
    if (this.redis.status === 'end') return;
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}

const shas = new Map<string, string>();
function shaOf(script: string): string {
  let s = shas.get(script);
  if (s === undefined) {
    s = sha1(script);
    shas.set(script, s);
  }
  return s;
}
