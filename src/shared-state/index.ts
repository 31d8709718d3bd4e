/**
 * `storage.shared`: the in-process store (one replica) or Redis (many replicas). This is what
 * the runtime sees of the shared state: the budget store, readiness and a view for
 * `/switchyard/state`, `switchyard status` and the inspector.
 */
import { loadTokenizer } from '../accounting/tokens.js';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { LedgerStore } from '../accounting/ledger.js';
import type { Config } from '../config/schema.js';
import { withoutPassword } from '../observe/scrub.js';
import { StartupError } from '../runtime/sidecar.js';
import { Keys } from './keys.js';
import { LeaseKeeper } from './lease.js';
import { SharedBudgetStore, type SharedCounters } from './redis-budget.js';

/** What is decided across replicas with Redis, and what each replica keeps to itself. */
export const SHARED_LIMITS = [
  'budgets',
  'endpoint rpm',
  'endpoint tpm',
  'client-key rpm',
  'upstream 429 / x-ratelimit cooldowns',
  'half-open probe slot',
] as const;
export const LOCAL_STATE = ['circuit breakers', 'latency statistics', 'endpoint maxConcurrent', 'capacity queue'] as const;

export interface SharedView {
  replica: string;
  store: string;
  health: 'up' | 'down' | 'local';
  /** Whether this replica admits requests (ready): Redis up, its counters rebuilt, its ledger the others'. */
  admitting: boolean;
  since: string | null;
  lastError: string | null;
  epoch: string | null;
  leaseMs: number | null;
  lastLeaseRenewal: string | null;
  shared: readonly string[];
  local: readonly string[];
  pendingSettles: number;
  counters: (SharedCounters & { outages: number }) | null;
}

export interface SharedState {
  readonly replica: string;
  readonly store: SharedBudgetStore;
  start(): Promise<void>;
  ready(): boolean;
  view(): SharedView;
  close(): Promise<void>;
}

/**
 * How often a replica marks its PostgreSQL ledger as written by replicas on Redis (its table's
 * comment), and how recent a mark makes a sidecar without Redis refuse to start on it.
 */
export const LEDGER_MARK_EVERY_MS = 60_000;
export const LEDGER_MARK_FRESH_MS = 3 * LEDGER_MARK_EVERY_MS;

/** What `SWITCHYARD_REPLICA_ID` may be. */
export const REPLICA_ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** This process's id among the replicas: `SWITCHYARD_REPLICA_ID` (checked at start-up, see main.ts), else host, pid and a random suffix. */
export function replicaId(env: NodeJS.ProcessEnv): string {
  const fromEnv = env.SWITCHYARD_REPLICA_ID;
  if (fromEnv && REPLICA_ID_RE.test(fromEnv)) return fromEnv;
  return `${hostname()
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .slice(0, 32)}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export function localView(replica: string): SharedView {
  return {
    replica,
    store: 'memory',
    health: 'local',
    admitting: true,
    since: null,
    lastError: null,
    epoch: null,
    leaseMs: null,
    lastLeaseRenewal: null,
    shared: [],
    local: [...SHARED_LIMITS, ...LOCAL_STATE],
    pendingSettles: 0,
    counters: null,
  };
}

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/**
 * Replicas on two key prefixes writing one ledger keep two sets of budget counters in Redis, each
 * blind to the other's spend: each limit could be spent once through each (and each rebuild counts
 * the other's rows too). A replica whose ledger another key prefix's replicas marked lately is
 * refused at start-up; an older mark (they were killed, or stopped minutes ago) is only logged.
 */
async function refuseBesideOtherPrefix(ledger: LedgerStore, storage: Config['storage'], log: Logger, now: () => number): Promise<void> {
  const mark = await ledger.sharedMark?.(storage.keyPrefix).catch(() => null);
  if (!mark) return;
  const ago = Math.max(0, now() - mark.at);
  const what = `storage.ledger ${withoutPassword(storage.ledger)} is written by replicas on keyPrefix ${mark.keyPrefix} (last seen ${Math.round(ago / 1000)} s ago), and this replica's keyPrefix is ${storage.keyPrefix}`;
  if (ago >= LEDGER_MARK_FRESH_MS) {
    log.warn(`${what}: if those replicas still run, give this one their storage.keyPrefix (and storage.shared), or each deployment a ledger of its own`);
    return;
  }
  throw new StartupError(
    `${what}: each key prefix keeps budgets of its own in Redis, blind to the other's spend, so together they could spend each limit twice. ` +
      `Give every replica of a deployment the same storage.keyPrefix (and storage.shared), or each deployment a ledger of its own ` +
      `(the mark goes when the last of them stops; after a kill, ${LEDGER_MARK_FRESH_MS / 60_000} minutes later this one starts, with a warning)`,
  );
}

/**
 * The start-up message for a Redis connection refused in a way that waiting cannot end, or null
 * for one that may (Redis not up yet, not reachable yet: the sidecar then starts not ready). A
 * wrong password or an answer that is not Redis's protocol left a replica running, never ready,
 * its reason in a log line.
 */
function refusedForGood(error: string, url: string): string | null {
  if (/^(WRONGPASS|NOAUTH)\b/.test(error))
    return `storage.shared ${url}: Redis refused this replica's credentials (${error.split('\n')[0]!.slice(0, 200)}): check the user and password in storage.shared (redis://:PASSWORD@HOST:PORT, or redis://USER:PASSWORD@HOST:PORT for an ACL user; percent-encode @ : / ? # in them)`;
  if (/^(Unknown RESP type|Protocol error)/i.test(error))
    return `storage.shared ${url}: what answers there does not speak Redis's protocol (its answer was not a Redis reply: another service's port?): check the host and port in storage.shared (Redis listens on 6379 by default)`;
  return null;
}

/**
 * What answers at a `redis://` URL's host and port when it is not Redis: the first bytes of its
 * answer to an inline PING (an HTTP server's `HTTP/1.1 400…`), or null when it answers as Redis
 * does (a reply of any RESP type, an error included), says nothing within a second, or cannot be
 * reached (those are for the reconnects to find).
 */
async function notRedisAt(url: string): Promise<string | null> {
  let host: string;
  let port: number;
  try {
    const u = new URL(url);
    if (u.protocol !== 'redis:') return null;
    host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    port = Number(u.port || 6379);
  } catch {
    return null;
  }
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let got = '';
    const done = (v: string | null): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), 1000);
    sock.setEncoding('latin1');
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d: string) => {
      got += d;
      if (got.length === 0) return;
      done('+-:$*_,#!=(%~>|'.includes(got[0]!) ? null : got.slice(0, 16).replace(/[^\x20-\x7e]/g, '?'));
    });
    sock.on('error', () => done(null));
    sock.on('close', () => done(null));
  });
}

/**
 * Redis shared state. The Redis client (ioredis, ~2 MB of live heap and its code) is loaded
 * here, only when `storage.shared` names Redis: a single replica never holds it.
 */
export async function openRedisShared(opts: {
  cfg: () => Config;
  ledger: LedgerStore;
  log: Logger;
  env: NodeJS.ProcessEnv;
  now?: () => number;
}): Promise<SharedState> {
  const { SharedConnection } = await import('./connection.js');
  const now = opts.now ?? Date.now;
  const storage = opts.cfg().storage;
  const replica = replicaId(opts.env);
  const log = opts.log.child({ replica });
  const conn = new SharedConnection(storage.shared, log, now);
  const keys = new Keys(storage.keyPrefix);
  // The lease and the reservations belong to this process, not to the replica id: a replica
  // restarted under the same SWITCHYARD_REPLICA_ID (a StatefulSet pod) must neither renew its
  // dead predecessor's lease (whose reservations would then never be reclaimed) nor reuse its
  // reservation tokens (found open or settled in Redis: admitted unchecked, or answered "late").
  const owner = `${replica}~${randomBytes(4).toString('hex')}`;
  const store = new SharedBudgetStore({ conn, keys, owner, cfg: opts.cfg, ledger: opts.ledger, log, now });
  const ledgerId = (await opts.ledger.identity?.()) ?? null;
  let marking: NodeJS.Timeout | null = null;
  let marked: Promise<void> = Promise.resolve();
  const admitting = (): boolean => conn.health.up && store.epoch !== null && store.seedFailing === null && store.wrongLedger === null;
  const lease = new LeaseKeeper({ conn, keys, owner, leaseMs: storage.leaseMs, ledger: opts.ledger, log, now, store, ledgerId });
  return {
    replica,
    store,
    async start() {
      await refuseBesideOtherPrefix(opts.ledger, storage, log, now);
      // The first exact token count loads the o200k tables: a second or more of CPU during which no
      // timer runs, so no lease renews; under a cold-start burst on a busy machine that outlasted
      // leaseMs and live replicas' reservations were reclaimed as dead (phantom spend for the rest of
      // the period). A replica pays the load here, before it takes its lease.
      loadTokenizer();
      try {
        await conn.connect();
        await warnIfEvicting(conn.redis, conn.url, log);
        lease.checkedAtStart();
        const wrong = await lease.checkLedger();
        if (wrong !== null) {
          await conn.close();
          throw new StartupError(wrong.detail);
        }
        await lease.tick();
      } catch (err) {
        if (err instanceof StartupError) throw err;
        const message = (err as Error).message;
        // A database the server does not have will not appear by waiting: a configuration error.
        if (/DB index is out of range/i.test(message)) {
          await conn.close();
          throw new StartupError(
            `storage.shared ${conn.url} names a database that this Redis does not have (${message}): use one below its "databases" setting (16 by default)`,
          );
        }
        // A refusal that waiting cannot end (the password, or no Redis at that port): a configuration error, as for the ledger.
        const refused = refusedForGood(conn.health.lastError ?? message, conn.url);
        if (refused !== null) {
          await conn.close();
          throw new StartupError(refused);
        }
        // The reply that said it (an HTTP server's "HTTP/1.1 400") can be lost to the reset that follows it
        // (3 of 5 starts on an HTTP port refused, 2 ran not ready for good): asked once more, on a socket of its own.
        const other = await notRedisAt(storage.shared);
        if (other !== null) {
          await conn.close();
          throw new StartupError(
            refusedForGood('Protocol error', conn.url)!.replace(
              'its answer was not a Redis reply',
              `its answer began ${JSON.stringify(other)}, not a Redis reply`,
            ),
          );
        }
        // Not fatal: the sidecar starts not ready and answers 503 until Redis is reachable.
        // ioredis rejects with "Connection is closed."; the reply that closed it (WRONGPASS, NOAUTH,
        // a TLS error) came as an error event before.
        // rediss:// to a plain Redis (or redis:// to a TLS one) only times out: said as the likely cause.
        const tls = /^rediss:/i.test(storage.shared) ? ' (rediss:// is TLS: is this Redis serving TLS? a plain Redis is redis://)' : '';
        log.error({ err: conn.health.lastError ?? (err as Error).message, store: conn.url }, `shared state (Redis) unreachable at startup${tls}`);
      }
      // Only now: a connection that comes up at start-up on the wrong database must not renew a lease there first.
      conn.onHealth((up) => {
        if (up) void lease.tick();
      });
      lease.start();
      // A sidecar started on this ledger without Redis (storage.shared forgotten in one config) would
      // keep budgets of its own beside the shared ones: the ledger says replicas on Redis write it.
      const mark = (): Promise<void> =>
        (marked = (opts.ledger.markShared?.(storage.keyPrefix, now()) ?? Promise.resolve()).catch((err: unknown) =>
          log.debug({ err: (err as Error).message }, 'could not mark the ledger as written by replicas on Redis'),
        ));
      // Awaited: a replica on another key prefix started just after this one must find the mark.
      await mark();
      marking = setInterval(() => void mark(), LEDGER_MARK_EVERY_MS);
      marking.unref();
    },
    ready: admitting,
    view: () => ({
      replica,
      store: conn.url,
      health: conn.health.up ? 'up' : 'down',
      admitting: admitting(),
      since: iso(conn.health.since),
      lastError: conn.health.up ? (store.wrongLedger?.detail ?? store.seedFailing) : conn.health.lastError,
      epoch: store.epoch,
      leaseMs: storage.leaseMs,
      lastLeaseRenewal: iso(lease.lastRenewed),
      shared: SHARED_LIMITS,
      local: LOCAL_STATE,
      pendingSettles: store.pendingFinishes,
      counters: { ...store.counters, outages: conn.health.outages },
    }),
    async close() {
      if (marking) clearInterval(marking);
      await marked;
      // The last replica of the key prefix to stop takes its mark off the ledger: the deployment may
      // start again at once on another key prefix (or a sidecar without Redis on this ledger).
      if (await lease.stop())
        await opts.ledger
          .unmarkShared?.(storage.keyPrefix)
          .catch((err: unknown) => log.debug({ err: (err as Error).message }, 'could not take the mark of replicas on Redis off the ledger'));
      await conn.close();
    },
  };
}

/**
 * A Redis that evicts keys under memory pressure (`maxmemory` set, a policy other than
 * `noeviction`) may drop a reservation or a budget counter: the budget then undercounts what is
 * in flight or spent, and nothing says so. Warned at start-up (refusing would stop deployments
 * whose Redis never fills); a server that does not let CONFIG be read (a managed Redis, an ACL)
 * is not judged.
 */
export async function warnIfEvicting(redis: { config(op: 'GET', key: string): Promise<unknown> }, url: string, log: Logger): Promise<void> {
  let reply: unknown;
  let max: unknown;
  try {
    reply = await redis.config('GET', 'maxmemory-policy');
    max = await redis.config('GET', 'maxmemory');
  } catch {
    return;
  }
  const value = (r: unknown): string | null => (Array.isArray(r) && typeof r[1] === 'string' ? r[1] : null);
  const policy = value(reply);
  const bytes = value(max);
  if (policy === null || bytes === null || policy === 'noeviction' || Number(bytes) === 0) return;
  log.warn(
    { store: url, maxmemoryPolicy: policy, maxmemory: Number(bytes) },
    `shared state (Redis) at ${url} evicts keys when it reaches maxmemory (${bytes} bytes, maxmemory-policy ${policy}): a budget counter or reservation it evicts is lost and the budgets undercount; set maxmemory-policy noeviction (switchyard's keys are few and small), or give Redis no maxmemory`,
  );
}
