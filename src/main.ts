/**
 * The composition root of `switchyard serve`: config, logger, ledger, runtime, HTTP server,
 * signals. Nothing imports this file but the CLI entry (`src/cli/index.ts`), which hands
 * `serve` to the commands that start a sidecar.
 */
import type { Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { JOURNAL_LOCKED, openLedger, type LedgerStore } from './accounting/ledger.js';
import { DEFAULT_CONFIG } from './config/defaults.js';
import { defaultConfigFile, loadConfigFile, validateConfig } from './config/load.js';
import { pgJournal, type Config } from './config/schema.js';
import { ClientKeys } from './http/auth.js';
import { watchLedgerWrites } from './accounting/ledger-watch.js';
import { closeAllConnections, createHttpServer, isLoopback, sendJson, stopKeepAlive } from './http/server.js';
import { modelsList, opsRoutes } from './http/ops-routes.js';
import { createLogger, logWritesSettled } from './observe/log.js';
import { Runtime } from './runtime/runtime.js';
import { undersizedPools } from './config/pool-size.js';
import {
  budgetsBelowOneAnswer,
  cascadeGoesNowhere,
  memoryResponses,
  outputCapsDefaulted,
  pricesPerToken,
  publicMetricsOnLoopback,
  reloadRemovals,
  timesTooShort,
} from './config/config-notes.js';
import { recordLeftOut } from './config/left-out.js';
import { holdSighup, releaseSighup, StartupError, type ReloadResult, type ServeOptions, type Sidecar } from './runtime/sidecar.js';
import { startSimulator, type Simulator } from './simulator/index.js';
import { InspectionHub } from './observe/hub.js';
import { startStatelyBridge } from './observe/stately-bridge.js';
import { registerSecrets, secretsOf, shortSecrets, withoutPassword } from './observe/scrub.js';
import { attemptOutcome, Metrics } from './observe/metrics.js';
import { LEDGER_MARK_FRESH_MS, openRedisShared, REPLICA_ID_RE } from './shared-state/index.js';
import { noteEscalations } from './observe/cascade-ops.js';
import { openResponseStore, type ResponseStore } from './accounting/response-store.js';
import { sharedClientKeys, unusableSecrets } from './config/secrets.js';
import { apiRoutes } from './http/api-routes.js';
import { ApiCounts } from './observe/api-counts.js';
import { setTracer } from './runtime/request-scope.js';
import { pgUnavailable } from './accounting/pg-unavailable.js';
import { nanoToUsd } from './accounting/money.js';
import { SwitchyardError } from './errors.js';
import { budgetLimits } from './runtime/budget.js';

/** Beyond `server.shutdownGraceMs`, how long a start waits for another sidecar's journal lock (its close after the grace). */
const LOCK_WAIT_MARGIN_MS = 2_000;

const PROVIDER_PATHS: Record<string, string> = { openai: '/openai/v1', gemini: '/gemini/v1', deepseek: '/deepseek/v1', anthropic: '/anthropic' };

/** Where the config comes from, and whether it is the built-in catalogue. */
async function loadConfig(opts: ServeOptions): Promise<{ cfg: Config; file: string | null; label: string }> {
  const file = opts.config ?? defaultConfigFile();
  const label = file === null ? '' : configLabel(file, opts.config !== undefined);
  const res = file ? await loadConfigFile(file) : validateConfig(DEFAULT_CONFIG);
  if (!res.ok) throw new StartupError(`invalid config${file ? ` ${label}` : ''}:\n  ${res.errors.join('\n  ')}`);
  return { cfg: res.config, file, label };
}

/**
 * A config file in a start error: one `serve` found by itself (./switchyard.yaml, no --config)
 * says so, as without it the start would have run on the built-in catalogue (the simulator
 * without keys): a stray file otherwise read as "missing secrets" after `npm start`.
 */
function configLabel(file: string, explicit: boolean): string {
  return explicit
    ? file
    : `${file} (found in the working directory and read as no --config was given; without it switchyard runs on the built-in catalogue: fix it, name another with --config FILE, or move it away)`;
}

/** With the built-in catalogue: a relay, real keys, or the simulator. */
function applyDefaults(cfg: Config, env: NodeJS.ProcessEnv): { cfg: Config; simulate: boolean; note: string } {
  const relay = env.SWITCHYARD_RELAY_URL;
  if (relay) {
    // Checked here, as a config's baseUrl is by its schema: a bad value would otherwise surface
    // as a stack trace from the connection pool, and a missing key as 401s from the relay.
    let protocol: string | null = null;
    try {
      protocol = new URL(relay).protocol;
    } catch {
      protocol = null;
    }
    if (protocol !== 'http:' && protocol !== 'https:')
      throw new StartupError(
        `SWITCHYARD_RELAY_URL must be an http:// or https:// URL (the relay's OpenAI-compatible base, e.g. https://openrouter.ai/api/v1), got "${withoutPassword(relay)}"`,
      );
    // As a provider's baseUrl: the key goes in SWITCHYARD_RELAY_KEY, and the API paths are appended (a query would end up in the middle).
    const u = new URL(relay);
    if (u.username !== '' || u.password !== '' || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(relay))
      throw new StartupError(
        'SWITCHYARD_RELAY_URL takes no user name or password (secrets only by environment variable): remove it and put the key in SWITCHYARD_RELAY_KEY',
      );
    if (u.search !== '' || u.hash !== '' || relay.includes('?') || relay.includes('#'))
      throw new StartupError('SWITCHYARD_RELAY_URL takes no query string or fragment (switchyard appends the API path to it): remove the ? or # part');
    if (!env.SWITCHYARD_RELAY_KEY)
      throw new StartupError("SWITCHYARD_RELAY_URL is set but SWITCHYARD_RELAY_KEY is not: set the relay's API key there (or unset SWITCHYARD_RELAY_URL)");
    const providers = Object.fromEntries(
      Object.entries(cfg.providers).map(([n, p]) => [n, { ...p, kind: 'openai' as const, baseUrl: relay, apiKeyEnv: 'SWITCHYARD_RELAY_KEY' }]),
    );
    return { cfg: { ...cfg, providers }, simulate: false, note: `all providers through the relay ${relay}` };
  }
  const withKey = Object.entries(cfg.providers).filter(([, p]) => p.apiKeyEnv && env[p.apiKeyEnv]);
  if (withKey.length === 0) return { cfg, simulate: true, note: 'no provider key in the environment: routing to the built-in provider simulator' };
  const ok = new Set(withKey.map(([n]) => n));
  const usable = Object.entries(cfg.models).filter(([, m]) => m.endpoints.some((e) => ok.has(e.provider)));
  const keep = new Set(usable.map(([id]) => id));
  const models = Object.fromEntries(
    usable.map(([id, m]) => [id, { ...m, endpoints: m.endpoints.filter((e) => ok.has(e.provider)), fallbacks: m.fallbacks.filter((f) => keep.has(f)) }]),
  );
  const routes: Record<string, string[]> = {};
  // What is left out, with the variables that would bring it in (a request naming it is told so).
  const keyVars = (model: string): string[] => [
    ...new Set((cfg.models[model]?.endpoints ?? []).map((e) => cfg.providers[e.provider]?.apiKeyEnv).filter((v): v is string => v !== undefined)),
  ];
  const leftOut = new Map<string, string[]>();
  for (const id of Object.keys(cfg.models)) if (!keep.has(id)) leftOut.set(id, keyVars(id));
  for (const [r, chain] of Object.entries(cfg.routing.routes)) {
    const c = chain.filter((m) => keep.has(m));
    if (c.length > 0) routes[r] = c;
    else leftOut.set(`route/${r}`, [...new Set(chain.flatMap(keyVars))]);
  }
  const out = { ...cfg, models, routing: { ...cfg.routing, routes } };
  recordLeftOut(out, leftOut);
  const dropped = [...leftOut.keys()];
  return {
    cfg: out,
    simulate: false,
    note: `providers with keys: ${[...ok].join(', ')}${dropped.length > 0 ? `; left out for want of a key: ${dropped.join(', ')}` : ''}`,
  };
}

function simulated(cfg: Config, sim: Simulator): Config {
  const providers = Object.fromEntries(
    Object.entries(cfg.providers).map(([n, p]) => {
      // The simulator takes no key: neither the provider's nor a gateway's (headersEnv).
      const { apiKeyEnv: _drop, ...rest } = p;
      return [n, { ...rest, headersEnv: {}, baseUrl: `${sim.url}${PROVIDER_PATHS[n] ?? `/${n}/v1`}` }];
    }),
  );
  return { ...cfg, providers };
}

/** The variables a config file names that the environment lacks (a config file never falls back). */
function missingSecrets(cfg: Config, env: NodeJS.ProcessEnv): string[] {
  // An empty value is as good as none, but the message says which it is (the variable may well be set, to nothing).
  const unset = (name: string): string => `environment variable ${name} is ${env[name] === '' ? 'set but empty' : 'not set'}`;
  const missing = Object.entries(cfg.providers)
    .filter(([, p]) => p.apiKeyEnv && !env[p.apiKeyEnv])
    .map(([n, p]) => `providers.${n}.apiKeyEnv: ${unset(p.apiKeyEnv!)}`);
  const headers = Object.entries(cfg.providers).flatMap(([n, p]) =>
    Object.entries(p.headersEnv)
      .filter(([, v]) => !env[v])
      .map(([h, v]) => `providers.${n}.headersEnv.${h}: ${unset(v)}`),
  );
  const keys = (cfg.auth?.keys ?? []).filter((k) => !env[k.keyEnv]).map((k) => `auth.keys (${k.id}).keyEnv: ${unset(k.keyEnv)}`);
  return [...missing, ...headers, ...keys];
}

/** The secrets' problems with the line of the file each is on, as every other problem of a file says it (the text the reload read and validated). */
async function secretLines(problems: string[], cfg: Config, text: string | undefined): Promise<string[]> {
  if (text === undefined) return problems;
  const { withKeyLines } = await import('./config/lines.js');
  return withKeyLines(
    problems,
    (cfg.auth?.keys ?? []).map((k) => k.id),
    text,
    await import('yaml'),
  );
}

/** A config file's secrets must all be set; any secret set must be usable (config/secrets.ts). */
function checkKeys(cfg: Config, env: NodeJS.ProcessEnv, file: string | null): void {
  const missing = file !== null ? missingSecrets(cfg, env) : [];
  if (missing.length > 0) throw new StartupError(`missing secrets of config ${file}:\n  ${missing.join('\n  ')}`);
  const unusable = unusableSecrets(cfg, env);
  if (unusable.length > 0) throw new StartupError(`secrets that cannot be used:\n  ${unusable.join('\n  ')}`);
}

/**
 * Stores opened once at start-up: a reload that names another one is refused (answering ok
 * would keep writing to the old one). Other start-up-only keys are applied at the next restart
 * and named in the reload's `restartRequired` (startupOnlyChanges).
 */
const STARTUP_ONLY: ReadonlyArray<readonly [string, (c: Config) => unknown]> = [
  ['storage.ledger', (c) => c.storage.ledger],
  ['storage.shared', (c) => c.storage.shared],
  ['storage.leaseMs', (c) => c.storage.leaseMs],
  ['storage.keyPrefix', (c) => c.storage.keyPrefix],
  ['storage.journal', (c) => c.storage.journal],
];

/** What to do about a PostgreSQL ledger that cannot be opened, by the driver's error code. */
function pgHint(err: unknown, ledger: string): string {
  if (!/^postgres(ql)?:/.test(ledger)) return '';
  const code = (err as { code?: unknown }).code;
  let where = 'the server in storage.ledger';
  let db = 'the database';
  try {
    const u = new URL(ledger);
    where = u.host || where;
    db = decodeURIComponent(u.pathname.slice(1)) || db;
  } catch {
    // the message says enough
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH')
    return ` (is PostgreSQL running and reachable at ${where}? every replica needs the ledger at start-up)`;
  if (code === '3D000') return ` (create it first, e.g. psql -c 'CREATE DATABASE ${db}'; switchyard creates its tables itself)`;
  if (code === '28P01' || code === '28000')
    return ' (check the user and password in storage.ledger, or use PGPASSWORD / ~/.pgpass instead of a password in the URL)';
  // 42501 insufficient_privilege: the user may not create the ledger's tables (PostgreSQL 15 takes CREATE on public from every user).
  if (code === '42501') {
    let user = 'the user in storage.ledger';
    try {
      user = decodeURIComponent(new URL(ledger).username) || user;
    } catch {
      // the message says enough
    }
    return ` (switchyard creates and writes its own tables: connect as the database's owner, or let ${user} create them, e.g. psql -d ${db} -c 'GRANT CREATE, USAGE ON SCHEMA public TO ${user}' as the owner)`;
  }
  // The connection was taken and then dropped: a proxy or pooler in between, a server restarting, or TLS expected.
  if (code === 'ECONNRESET' || /Connection terminated|connection timeout/i.test((err as Error).message ?? ''))
    return ` (the server at ${where} dropped the connection: is it restarting, or does a proxy or pooler in front of it refuse this client? try again, or check with psql)`;
  return '';
}

/** Listens on host:port; a failure is a StartupError that says what to do. */
function listenOn(server: NetServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new StartupError(
          err.code === 'EADDRINUSE'
            ? `port ${port} on ${host} is already in use: stop the other process or pass --port N`
            : err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' || err.code === 'EADDRNOTAVAIL'
              ? `cannot listen on ${host}:${port}: ${err.message} (server.host or --host names no address of this machine: use 127.0.0.1, ::1, 0.0.0.0 or one of its addresses)`
              : `cannot listen on ${host}:${port}: ${err.message}`,
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
}

/**
 * Whether the port can be listened on, before anything else is opened: a second sidecar started
 * beside a serving one (the same port, the same ledger file) is told the port is taken at once,
 * not after waiting for the ledger's lock and then told about the ledger. A predecessor that is
 * draining (a restart in place) has closed its listener already, so the new one goes on to wait
 * for its lock.
 */
async function checkPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return;
  const probe = createNetServer();
  await listenOn(probe, port, host);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

/** How long requests cut by the shutdown get to write their last answer and their row before their connections close. */
const CUT_SETTLE_MS = 2000;
/** At shutdown, how long ledger rows queued behind another process's lock may still wait to commit. */
const LEDGER_DRAIN_MS = 5000;
/**
 * The least time the last spans' export gets at shutdown; otherwise it gets what is left of
 * `server.shutdownGraceMs`. A collector that accepts the connection and never answers held the
 * exit for the exporter's own 10 s time-out, past a shorter grace (and with nothing in flight).
 */
const OTEL_FLUSH_MIN_MS = 1000;
/**
 * A sidecar without Redis on a PostgreSQL ledger that replicas on Redis write (one config without
 * storage.shared): it would keep budgets of its own beside theirs, each limit spent once by them
 * and once more by it. Refused while they marked the ledger lately; an old mark is only logged.
 */
async function refuseBesideReplicas(ledger: LedgerStore, cfg: Config, log: Logger): Promise<void> {
  const mark = await ledger.sharedMark?.().catch(() => null);
  if (!mark) return;
  const ago = Math.max(0, Date.now() - mark.at);
  const what = `storage.ledger ${withoutPassword(cfg.storage.ledger)} is written by replicas that share their budgets through Redis (keyPrefix ${mark.keyPrefix}, last seen ${Math.round(ago / 1000)} s ago)`;
  if (ago >= LEDGER_MARK_FRESH_MS) {
    log.warn(
      `${what}: this sidecar has no storage.shared, so it keeps budgets of its own; if those replicas still run, give it their storage.shared and keyPrefix`,
    );
    return;
  }
  await ledger.close();
  throw new StartupError(
    `${what}, and this sidecar has no storage.shared: it would keep budgets of its own beside theirs, so together they could spend each limit twice. Give it the same storage.shared and storage.keyPrefix as theirs, or a ledger of its own (once the last of them has stopped it starts; after a kill, ${LEDGER_MARK_FRESH_MS / 60_000} minutes later, with a warning)`,
  );
}

/**
 * What to do about a ledger that could not be opened at start. With no config file (the built-in
 * catalogue) the ledger is ./switchyard.db of the working directory and cannot be set: a second
 * sidecar is told to start from another directory.
 */
export function ledgerOpenHint(err: unknown, ledger: string, pgJournalSet: boolean, configFile: boolean): string {
  // The SQLite driver's native module built for another node (an upgrade of node after npm ci): said as a lock's problem before.
  if (/NODE_MODULE_VERSION|compiled against a different Node\.js version/.test((err as Error).message ?? ''))
    return ` (better-sqlite3 was built for another Node.js version than this one, ${process.version}: run npm rebuild better-sqlite3 with this node)`;
  if ((err as { code?: unknown }).code === JOURNAL_LOCKED) {
    if (pgJournalSet) return ' (one sidecar per journal: stop the other one, or give this one its own storage.journal)';
    return configFile
      ? ' (one sidecar per ledger file: stop the other one, or give this one its own storage.ledger)'
      : ' (one sidecar per ledger file: stop the other one, or start this one from another directory: with no config file the ledger is ./switchyard.db of the directory it starts in)';
  }
  if ((err as Error).message.startsWith('cannot open the in-flight journal'))
    return ' (set storage.journal to a writable path prefix, or to off to run without a journal: a request in flight when the process is killed is then not counted)';
  // A SQLite ledger's journal and its lock beside the file, not writable (the file's own refusal has its hint already).
  const code = (err as { code?: unknown }).code;
  if (
    ledger.startsWith('sqlite:') &&
    (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || /in-flight journal's lock.*readonly database/.test((err as Error).message))
  ) {
    const file = ledger.slice('sqlite:'.length);
    return ` (switchyard writes, beside the ledger file, its in-flight journal ${file}-inflight-0 and -1 and their lock ${file}-inflight.lock: give its user write access to them and to their directory)`;
  }
  return pgHint(err, ledger);
}

export async function serve(opts: ServeOptions = {}): Promise<Sidecar> {
  // Until the handlers are installed, a SIGHUP is held (node's default would end the process).
  if (opts.signals) holdSighup();
  const env = opts.env ?? process.env;
  const wanted = env.SWITCHYARD_REPLICA_ID;
  if (wanted !== undefined && wanted !== '' && !REPLICA_ID_RE.test(wanted))
    throw new StartupError(
      `SWITCHYARD_REPLICA_ID ${JSON.stringify(wanted.slice(0, 80))} is not a replica id: use 1-64 letters, digits, '_', '.' or '-' (a pod name like web-0), or unset it for a generated one`,
    );
  const loaded = await loadConfig(opts);
  let cfg = loaded.cfg;
  let simulator: Simulator | null = null;
  let note = `config ${loaded.file}`;
  if (loaded.file) checkKeys(cfg, env, loaded.label);
  else {
    const d = applyDefaults(cfg, env);
    cfg = d.cfg;
    // Half a relay is none: said in the banner rather than passed over.
    note = !env.SWITCHYARD_RELAY_URL && env.SWITCHYARD_RELAY_KEY ? `${d.note}; SWITCHYARD_RELAY_KEY is set without SWITCHYARD_RELAY_URL: no relay` : d.note;
    checkKeys(cfg, env, null);
    if (d.simulate) {
      // Its tokenizer loads on the first request: an idle sidecar does not hold the o200k tables.
      simulator = await startSimulator({ host: '127.0.0.1', port: 0, tokenizer: 'lazy' });
      cfg = simulated(cfg, simulator);
    }
  }
  registerSecrets(secretsOf(cfg, env));
  const host = opts.host ?? cfg.server.host;
  const port = opts.port ?? cfg.server.port;
  const log = createLogger({
    level: cfg.logging.level,
    pretty: opts.pretty ?? cfg.logging.pretty,
    ...(opts.logDestination ? { destination: opts.logDestination } : {}),
  });
  const keys = new ClientKeys(cfg, env);
  await checkPortFree(port, host);
  let ledger: LedgerStore;
  const journal = pgJournal(cfg.storage);
  try {
    ledger = await openLedger(cfg.storage.ledger, {
      ...(journal === undefined ? {} : { journal }),
      // A predecessor still draining (a restart in place) ends within its grace period.
      lockWaitMs: cfg.server.shutdownGraceMs + LOCK_WAIT_MARGIN_MS,
      onLockWait: (lock, ms) => log.warn({ lock }, `another switchyard process holds ${lock}: waiting up to ${Math.ceil(ms / 1000)} s for it to stop`),
      onLost: (message) => log.error(`ledger: ${message}`),
      onUpgrade: (message) => log.warn(`${message} (once; a large file takes a while, and older switchyard versions cannot open it afterwards)`),
      // A PostgreSQL ledger's losses: a row refused for good, the rows still unwritten at shutdown (by request id),
      // an idle connection's error. They went nowhere: a shutdown during an outage dropped rows without a line.
      onError: (err) => ((err as { idle?: boolean }).idle === true ? log.warn(`ledger: ${err.message}`) : log.error({ err }, `ledger: ${err.message}`)),
    });
  } catch (err) {
    const hint = ledgerOpenHint(err, cfg.storage.ledger, journal !== undefined, Boolean(loaded.file));
    throw new StartupError(`cannot open the ledger ${withoutPassword(cfg.storage.ledger)}: ${(err as Error).message}${hint}`);
  }
  if (!cfg.storage.shared.startsWith('redis')) await refuseBesideReplicas(ledger, cfg, log);
  let responses: ResponseStore;
  try {
    responses = await openResponseStore(cfg.storage.ledger, () => ({
      ttlMs: runtime.cfg.storage.responses.ttlSeconds * 1000,
      maxEntries: runtime.cfg.storage.responses.maxEntries,
      maxBytes: runtime.cfg.storage.responses.maxBytes,
    }));
  } catch (err) {
    throw new StartupError(`cannot open the response store in ${withoutPassword(cfg.storage.ledger)}: ${(err as Error).message}`);
  }
  // OpenTelemetry is imported only when configured (observe.otlp); changes apply at restart.
  const otel = cfg.observe.otlp ? await (await import('./observe/otel.js')).startOtel(cfg.observe.otlp, log) : null;
  setTracer(otel?.tracer ?? null);
  const hub = new InspectionHub(cfg.observe.historySize);
  // Before the runtime starts, so the inspector also sees the actors being created.
  const wsUrl = opts.inspectWs ?? cfg.observe.statelyInspectUrl;
  let stately: { stop(): void } | null = null;
  if (wsUrl) {
    const bridge = await startStatelyBridge(wsUrl, log);
    stately = bridge;
    hub.addRawObserver(bridge.observer);
  }
  let metrics: Metrics | null = null;
  let apiCounts: ApiCounts | null = null;
  // Shared state reads the live config (reloads change limits); the runtime holds it.
  let liveCfg = (): Config => cfg;
  const shared = cfg.storage.shared.startsWith('redis') ? await openRedisShared({ cfg: () => liveCfg(), ledger, log, env }) : undefined;
  const runtime = new Runtime({
    cfg,
    ledger,
    log,
    env,
    inspect: hub.observe,
    onRequest: (r) => {
      metrics?.onRequest(r);
      apiCounts?.record(r);
    },
    onCascade: (r) => {
      metrics?.onCascade(r);
      apiCounts?.recordCascade(r);
      noteEscalations(hub, r);
    },
    // Attempts by outcome, counted where they happen (per-request bookkeeping need not pass through the actors).
    onEndpointEvent: (endpointId, e) => {
      const outcome = attemptOutcome(e);
      if (outcome !== null) metrics?.onAttempt(endpointId, outcome);
    },
    onFailover: (from) => metrics?.onFailover(from),
    watched: () => hub.watched(),
    onBudgetGranted: hub.budgetApplied,
    ...(shared ? { shared } : {}),
  });
  hub.replacedActor = (id) => runtime.replacedActor(id);
  liveCfg = () => runtime.cfg;
  metrics = new Metrics(() => runtime.state());
  const counts = new ApiCounts(metrics.registry);
  apiCounts = counts;
  const m = metrics;
  hub.subscribe((r) => m.onRecord(r));
  try {
    await runtime.restoreBudgets();
  } catch (err) {
    // A SQLite file whose pages are damaged opens, then fails the first read of them: said as a
    // start that cannot go on, with what to do (it was an uncaught SqliteError's stack trace).
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code))
      throw new StartupError(
        `the ledger ${withoutPassword(cfg.storage.ledger)} is damaged (${code}: ${(err as Error).message}): restore it from a backup, or move it and its -wal and -shm files aside to start a new one (the spend it held is then not counted)`,
      );
    throw err;
  }
  const simulatedMode = simulator !== null;

  // What a config's values suggest the operator did not mean, said at start and after every reload.
  const configWarnings = (c: Config): string[] => [
    ...undersizedPools(c),
    ...timesTooShort(c),
    ...memoryResponses(c),
    ...pricesPerToken(c),
    ...outputCapsDefaulted(c),
    ...cascadeGoesNowhere(c),
    ...shortSecrets(c, env),
    ...publicMetricsOnLoopback(c, host, isLoopback(host), true),
  ];
  // A limit at or below what its period has spent refuses every request it covers until it resets: said at start and after a reload.
  const spentOut = (): string[] =>
    runtime.budget
      .lines()
      .filter((l) => l.limit > 0 && l.spent >= l.limit)
      .map(
        (l) =>
          `budget ${l.id}: its limit ($${nanoToUsd(l.limit)}) is at or below what its period has spent ($${nanoToUsd(l.spent)}): every request it covers is refused (429 budget_exceeded) ${l.resetsAt === null ? 'for good (a total budget)' : `until it resets at ${new Date(l.resetsAt).toISOString()}`}`,
      );
  const reloadNow = async (): Promise<ReloadResult> => {
    // Shutting down: the endpoints' actors are stopping, so a reload could not spawn new ones (a
    // SIGHUP during the drain failed half-applied); the instance that replaces this one reads the file.
    if (runtime.draining)
      return { ok: false, errors: ['switchyard is shutting down: nothing was reloaded (the instance that replaces this one reads the file)'] };
    if (!loaded.file) return { ok: false, errors: ['switchyard runs on the built-in catalogue: there is no config file to reload (start with --config FILE)'] };
    const file = loaded.file;
    const res = await loadConfigFile(file);
    // Each problem names the file it is in (a read or parse error already does), as check-config's output does.
    if (!res.ok) return { ok: false, errors: res.errors.map((e) => (e.startsWith(`${file}: `) ? e : `${file}: ${e}`)) };
    // A store opened at start-up cannot follow a reload: refuse the whole reload rather than claim to have applied it.
    const changed = STARTUP_ONLY.filter(([, of]) => JSON.stringify(of(res.config)) !== JSON.stringify(of(cfg))).map(([path]) => path);
    if (changed.length > 0)
      return {
        ok: false,
        errors: [
          `${file}: ${changed.join(', ')} ${changed.length === 1 ? 'is' : 'are'} read at start-up: restart switchyard to change ${changed.length === 1 ? 'it' : 'them'} (nothing was reloaded)`,
        ],
      };
    // The process reads the environment it was started with: a variable exported since is not in it.
    let missing = [...missingSecrets(res.config, env), ...unusableSecrets(res.config, env, { shared: false })];
    const shared = sharedClientKeys(res.config, env);
    if (missing.length > 0) missing = await secretLines(missing, res.config, res.text);
    if (missing.length > 0 || shared.length > 0)
      return {
        ok: false,
        errors: [
          // Each starting with the file's path, as every refusal of a reload does.
          ...missing.map(
            (m) => `${file}: ${m} (a running switchyard sees only the environment it was started with: restart it with the variable set; nothing was reloaded)`,
          ),
          // A value two keys share: point one at a variable with a value of its own (or restart with the values changed).
          ...shared.map((m) => `${file}: ${m}; nothing was reloaded`),
        ],
      };
    // The budget lines it adds are rebuilt from the ledger before anything is applied: a ledger that
    // cannot be read refuses the whole reload (it was a 500, with the new prices in force and the
    // new budget lines missing).
    let applyBudgets: Awaited<ReturnType<typeof runtime.prepareBudgets>>;
    try {
      applyBudgets = await runtime.prepareBudgets(res.config);
    } catch (err) {
      const e = pgUnavailable(err);
      if (!(e instanceof SwitchyardError) || e.code !== 'storage_unavailable') throw e;
      const known = new Set(runtime.budget.lines().map((l) => l.id));
      const adds = budgetLimits(res.config)
        .map((l) => l.id)
        .filter((id) => !known.has(id));
      throw new SwitchyardError(
        'storage_unavailable',
        `${e.message}; it is read to rebuild the budget lines this reload adds (${adds.join(', ')}), so nothing was reloaded`,
        { headers: { 'retry-after': '1' } },
      );
    }
    try {
      keys.configure(res.config, env);
      registerSecrets(secretsOf(res.config, env));
    } catch (err) {
      return { ok: false, errors: [(err as Error).message] };
    }
    const restartRequired = startupOnlyChanges(cfg, res.config, opts);
    if (restartRequired.length > 0)
      log.warn({ keys: restartRequired }, `${restartRequired.join(', ')} changed: read at start-up only, the running values stay until a restart`);
    const removals = reloadRemovals(runtime.cfg, res.config);
    const r = runtime.reload(res.config);
    applyBudgets();
    log.info(r, 'config reloaded');
    const warnings = [...removals, ...configWarnings(res.config), ...budgetsBelowOneAnswer(res.config), ...spentOut()];
    for (const w of warnings) log.warn(w);
    return { ok: true, ...r, restartRequired, warnings };
  };

  // One reload at a time, each reading the file when its turn comes: two at once (a SIGHUP and a
  // POST, or two SIGHUPs) could finish out of order, the one that read the older file last (one
  // that adds a budget line waits for the ledger), leaving the older config running.
  let reloading: Promise<unknown> = Promise.resolve();
  const reload = (): Promise<ReloadResult> => {
    const turn = reloading.then(reloadNow, reloadNow);
    reloading = turn.catch(() => undefined);
    return turn;
  };

  // A refused reload is logged as SIGHUP's is (the HTTP answer alone left no trace in the log).
  const reloadFromHttp = async (): Promise<ReloadResult> => {
    const r = await reload().catch((err: unknown) => {
      log.error({ err }, 'POST /switchyard/reload failed, the running config stays');
      throw err;
    });
    if (!r.ok) log.error({ errors: r.errors }, `POST /switchyard/reload refused, the running config stays: ${r.errors.join('; ')}`);
    return r;
  };
  const ops = opsRoutes({ runtime, ledger, hub, metrics: m, reload: reloadFromHttp });
  ops['/switchyard/state'] = (_req, res) => sendJson(res, 200, { ...runtime.state(), apis: counts.view() });

  const server: Server = createHttpServer({
    runtime: () => runtime,
    keys,
    log,
    maxBodyBytes: () => runtime.cfg.server.maxBodyBytes,
    models: () => modelsList(runtime.cfg, simulatedMode),
    ops,
    adminToken: () => env.SWITCHYARD_ADMIN_TOKEN ?? null,
    loopbackOnly: isLoopback(host),
    // The supervisor's state: `serving` until shutdown sends it to `draining`.
    draining: () => runtime.draining,
    apis: apiRoutes({ responses: () => responses }),
    requestTimeoutMs: cfg.server.requestTimeoutMs,
    sendTimeoutMs: cfg.server.sendTimeoutMs,
    publicMetrics: () => runtime.cfg.observe.publicMetrics,
  });
  await listenOn(server, port, host);
  if (!isLoopback(host) && (cfg.auth?.keys ?? []).length === 0) {
    log.warn(
      { host },
      'bound to a non-loopback address without auth.keys: anyone who can reach this port can spend on your provider keys; set auth.keys (client keys) or bind to 127.0.0.1',
    );
  }
  if (!isLoopback(host) && !env.SWITCHYARD_ADMIN_TOKEN) {
    log.warn(
      { host },
      `bound to a non-loopback address without SWITCHYARD_ADMIN_TOKEN: /switchyard/*${runtime.cfg.observe.publicMetrics ? '' : ' and /metrics'} answer 401 to everyone until it is set${runtime.cfg.observe.publicMetrics ? '' : ' (or observe.publicMetrics: true opens /metrics)'}`,
    );
  }
  for (const w of [...configWarnings(runtime.cfg), ...spentOut()]) log.warn(w);
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  // A second signal while draining ends the wait for the requests in flight (see installSignals).
  let stopWaiting = (): void => undefined;
  // Says in the log when the ledger stops taking rows (a full disk, a lock) and when it takes them again.
  const unwatchLedger = watchLedgerWrites(ledger, log);
  const shutdown = async (): Promise<void> => {
    if (runtime.draining) return;
    runtime.drain();
    log.info({ inFlight: runtime.requestsInFlight }, 'shutting down: no new requests, waiting for in-flight ones');
    server.close();
    stopKeepAlive(server);
    const graceEndsAt = Date.now() + runtime.cfg.server.shutdownGraceMs;
    const grace = delay(runtime.cfg.server.shutdownGraceMs, undefined, { ref: false });
    const waited = await Promise.race([runtime.whenIdle(), grace.then(() => 'grace' as const), new Promise<void>((r) => (stopWaiting = r))]);
    const cut = runtime.requestsInFlight;
    if (waited === 'grace' && cut > 0)
      log.warn(
        { inFlight: cut },
        `server.shutdownGraceMs (${runtime.cfg.server.shutdownGraceMs} ms) is over: closing the ${cut} request${cut === 1 ? '' : 's'} still in flight (billed as a client that leaves: a stream what it delivered, a JSON answer what it reserved)`,
      );
    if (cut > 0) {
      // Each request ends as shutting_down (a 503, or an error event on a started stream) and
      // writes its row, then the connections close: a client is not left with a bare TCP close
      // and a row that says it went away. Bounded: a write that cannot finish is cut with the socket.
      runtime.cutInFlight();
      await Promise.race([runtime.whenIdle(), delay(CUT_SETTLE_MS, undefined, { ref: false })]);
    }
    // Rows still queued behind another process's lock on the ledger file: a few seconds to commit,
    // then their requests answer without them (the in-flight journal keeps them for the next start),
    // so a client waiting on its row gets its answer, not a bare close.
    if (ledger.writeBlocked && runtime.requestsInFlight > 0) {
      await ledger.drainQueued?.(LEDGER_DRAIN_MS);
      await Promise.race([runtime.whenIdle(), delay(CUT_SETTLE_MS, undefined, { ref: false })]);
    }
    closeAllConnections(server);
    unwatchLedger();
    stately?.stop();
    await runtime.close();
    await ledger.close();
    await responses.close();
    if (otel) {
      // A collector whose last export failed gets the minimum: the exporter's retries would hold the exit for seconds.
      const bound = (await otel.collectorFailing()) ? OTEL_FLUSH_MIN_MS : Math.max(OTEL_FLUSH_MIN_MS, graceEndsAt - Date.now());
      const flushed = await Promise.race([otel.shutdown().then(() => true), delay(bound, false, { ref: false })]);
      if (!flushed) log.warn({ waitedMs: bound }, 'the OpenTelemetry collector did not take the last spans in time: they are dropped');
    }
    setTracer(null);
    await simulator?.close();
    log.info('stopped');
    log.flush();
  };

  const hurry = (): void => {
    const n = runtime.requestsInFlight;
    log.warn(
      { inFlight: n },
      `not waiting for the ${n} request${n === 1 ? '' : 's'} in flight any longer: closing ${n === 1 ? 'it' : 'them'} (billed as a client that leaves: a stream what it delivered, a JSON answer what it reserved)`,
    );
    stopWaiting();
  };
  // Before the line that says it listens: whoever waits for that line may stop it at once, and a
  // signal with no handler yet would end the process without its shutdown.
  if (opts.signals) installSignals(log, shutdown, reload, hurry, releaseSighup());
  log.info(
    {
      url,
      models: Object.keys(runtime.cfg.models).length,
      endpoints: runtime.handles.size,
      simulated: simulatedMode,
      ledger: withoutPassword(cfg.storage.ledger),
      replica: runtime.replica,
      shared: runtime.state().shared?.store,
    },
    `switchyard listening on ${url} (${note})`,
  );

  return { url, runtime, simulated: simulatedMode, simulator, reload, shutdown };
}

/** Keys read once at start-up whose value in the reloaded file differs from the one running (a CLI flag that overrides a key makes its file value irrelevant). */
function startupOnlyChanges(running: Config, next: Config, opts: ServeOptions): string[] {
  const keys: Array<[string, (c: Config) => unknown, boolean]> = [
    ['server.host', (c) => c.server.host, opts.host === undefined],
    ['server.port', (c) => c.server.port, opts.port === undefined],
    ['server.requestTimeoutMs', (c) => c.server.requestTimeoutMs, true],
    ['server.sendTimeoutMs', (c) => c.server.sendTimeoutMs, true],
    ['logging.level', (c) => c.logging.level, true],
    ['logging.pretty', (c) => c.logging.pretty, opts.pretty === undefined],
    ['observe.statelyInspectUrl', (c) => c.observe.statelyInspectUrl, opts.inspectWs === undefined],
    ['observe.historySize', (c) => c.observe.historySize, true],
    ['observe.otlp', (c) => c.observe.otlp, true],
  ];
  return keys.filter(([, get, fromFile]) => fromFile && JSON.stringify(get(running)) !== JSON.stringify(get(next))).map(([k]) => k);
}

/**
 * SIGTERM/SIGINT drain and exit 0. A second one while draining stops the wait for the requests in
 * flight (they are cut and settled, the ledger closed, exit 0 as when the grace runs out); a third
 * exits at once with 1. The handlers stay installed: a repeated signal never kills the process
 * where it stands (node's default), before the ledger has the rows of the requests it cut.
 */
function installSignals(log: Logger, shutdown: () => Promise<void>, reload: () => Promise<ReloadResult>, hurry: () => void, hupWhileStarting: boolean): void {
  let signals = 0;
  // Once a third signal came, every way out exits 1: a shutdown that completes while the log
  // settles must not turn it into a clean stop (it did: exit 0).
  const code = (clean: 0 | 1): 0 | 1 => (signals > 2 ? 1 : clean);
  const stop = (sig: string) => {
    signals += 1;
    if (signals === 2) {
      log.warn({ signal: sig }, `${sig} again while draining`);
      hurry();
      return;
    }
    if (signals > 2) {
      log.error({ signal: sig }, `${sig} a third time: exiting now, without closing the ledger`);
      void logWritesSettled(200).then(() => process.exit(1));
      return;
    }
    log.info({ signal: sig }, 'signal received');
    shutdown().then(
      () => logWritesSettled().then(() => process.exit(code(0))),
      (err: unknown) => {
        log.error({ err }, 'error during shutdown');
        void logWritesSettled().then(() => process.exit(1));
      },
    );
  };
  // A stray rejection must not take every in-flight request down with the process.
  process.on('unhandledRejection', (err: unknown) => log.error({ err }, 'unhandled promise rejection (a switchyard bug); the sidecar keeps serving'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const onHup = (): void => {
    reload().then(
      // The log is the only answer a signal gets: a refusal is an error that says why.
      (r) =>
        r.ok
          ? log.info({ result: r }, 'SIGHUP reload')
          : log.error({ errors: r.errors }, `SIGHUP reload refused, the running config stays: ${r.errors.join('; ')}`),
      (err: unknown) => log.error({ err }, 'SIGHUP reload failed'),
    );
  };
  process.on('SIGHUP', onHup);
  // One sent while it started: the file may have changed since it was read.
  if (hupWhileStarting) {
    log.info('SIGHUP came while starting: reloading the config file now');
    onHup();
  }
}
