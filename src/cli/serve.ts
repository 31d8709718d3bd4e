/**
 * `switchyard serve`: start the sidecar from the composition root's starter and keep running
 * until a signal stops it (the starter installs the handlers).
 */
import { parseArgs } from 'node:util';
import { StartupError, type StartSidecar } from '../runtime/sidecar.js';
import { emptyOption, joinNegativeValues, portNumber } from './args.js';
import { hostSchema, type Config } from '../config/schema.js';
import { leftOutOf } from '../config/left-out.js';
import { nearest } from '../config/near.js';
import { scrubKnown } from '../observe/scrub.js';

const USAGE = `usage: switchyard serve [--config FILE] [--host H] [--port N] [--pretty] [--inspect-ws URL]
  --config FILE      the config (default ./switchyard.yaml if present, else the built-in catalogue)
  --host H           listen address (default 127.0.0.1, or server.host)
  --port N           listen port (default 4141, or server.port; 0 picks a free one)
  --pretty           human-readable logs instead of JSON lines
  --inspect-ws URL   also forward sanitised inspection events to a Stately inspector
environment:
  OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, DEEPSEEK_API_KEY
                     provider keys of the built-in catalogue (none: it runs on the built-in simulator);
                     a config file names its own variables (apiKeyEnv, auth.keys[].keyEnv)
  SWITCHYARD_RELAY_URL, SWITCHYARD_RELAY_KEY
                     send the built-in catalogue through one OpenAI-compatible aggregator (both needed)
  SWITCHYARD_ADMIN_TOKEN
                     bearer token for /switchyard/* and /metrics when bound off loopback
  SWITCHYARD_REPLICA_ID
                     this replica's id with shared state on Redis (a pod name; default: generated)
signals: SIGTERM/SIGINT drain and exit 0 (a second one stops waiting), SIGHUP reloads the config file
`;

export async function serveCommand(argv: string[], serve: StartSidecar): Promise<number> {
  let values: { config?: string; host?: string; port?: string; pretty?: boolean; 'inspect-ws'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: joinNegativeValues(argv),
      options: {
        config: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        pretty: { type: 'boolean' },
        'inspect-ws': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    // An unknown option, a missing value or a stray argument: say which, not a stack trace.
    const unknown = /^Unknown option '(--?[^']*)'/.exec((err as Error).message)?.[1];
    const near = unknown === undefined ? null : nearest(unknown.replace(/^-+/, ''), ['config', 'host', 'port', 'pretty', 'inspect-ws', 'help']);
    process.stderr.write(`switchyard serve: ${(err as Error).message}${near === null ? '' : ` (did you mean --${near}?)`}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  // `--config "$CFG"` with CFG unset must not start on the built-in catalogue (or `--port ""` on a random port).
  const empty = emptyOption(values, ['config', 'host', 'port', 'inspect-ws']);
  if (empty) {
    console.error(`switchyard serve: ${empty}`);
    return 2;
  }
  const port = values.port === undefined ? undefined : portNumber(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    console.error(`switchyard serve: --port must be a whole number from 0 to 65535, got "${values.port}"`);
    return 2;
  }
  // The same rule as server.host: a port or a scheme here reached listen() and failed there.
  const host = values.host === undefined ? undefined : hostSchema.safeParse(values.host);
  if (host !== undefined && !host.success) {
    console.error(`switchyard serve: --host: ${host.error.issues[0]?.message ?? 'not a host'}, got "${values.host}"`);
    return 2;
  }
  // The same rule as observe.statelyInspectUrl: anything else would be taken and never connect.
  const inspectWs = values['inspect-ws'];
  if (inspectWs !== undefined && !/^wss?:\/\/.+/.test(inspectWs)) {
    console.error(`switchyard serve: --inspect-ws must be a ws:// or wss:// URL, got "${inspectWs}"`);
    return 2;
  }
  try {
    const s = await serve({
      ...(values.config ? { config: values.config } : {}),
      ...(values.host ? { host: values.host } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(values.pretty ? { pretty: true } : {}),
      ...(inspectWs ? { inspectWs } : {}),
      signals: true,
    });
    const banner = s.simulated
      ? `switchyard ${s.url}/v1 — SIMULATED: no provider key found, answering from the built-in simulator at ${s.simulator?.url}.\nSet OPENAI_API_KEY / ANTHROPIC_API_KEY / GEMINI_API_KEY / DEEPSEEK_API_KEY (or --config FILE) for real providers.${
          // The relay's key alone is no relay: said here, not only in the JSON log line.
          !process.env.SWITCHYARD_RELAY_URL && process.env.SWITCHYARD_RELAY_KEY
            ? '\nSWITCHYARD_RELAY_KEY is set without SWITCHYARD_RELAY_URL: no relay (set both).'
            : ''
        }`
      : `switchyard ${s.url}/v1 — ${plural(s.runtime.handles.size, 'endpoint')}, ${plural(Object.keys(s.runtime.cfg.models).length, 'model')}${leftOutLine(s.runtime.cfg)}`;
    // Bound beyond loopback, /switchyard/* takes the admin token (the page reads it from ?token=).
    const guarded = !/^http:\/\/(127\.[\d.]+|\[::1\]|localhost)(:\d+)?$/.test(s.url);
    const inspect = guarded ? `${s.url}/switchyard/inspect?token=<SWITCHYARD_ADMIN_TOKEN>` : `${s.url}/switchyard/inspect`;
    // Without a token set there, every /switchyard route answers 401 (the warning after says so): no URL to offer.
    const tokenless = guarded && (process.env.SWITCHYARD_ADMIN_TOKEN ?? '') === '';
    process.stderr.write(
      tokenless
        ? `${banner}\ninspector and state: closed (bound beyond loopback without SWITCHYARD_ADMIN_TOKEN; set it to open ${s.url}/switchyard/inspect?token=…)\n`
        : `${banner}\ninspector: ${inspect}   state: ${s.url}/switchyard/state${guarded ? ' (with the admin token)' : ''}\n`,
    );
    return await new Promise<number>(() => undefined);
  } catch (err) {
    if (err instanceof StartupError) {
      // The registered secrets scrubbed (a storage server may echo the password it was sent); config paths named like credentials stay.
      console.error(`switchyard: cannot start: ${scrubKnown(err.message)}`);
      // What the start opened before it failed (the ledger, actors' timers, the in-process
      // simulator) would keep the process alive: a failed start must end it, or a supervisor
      // (systemd, Kubernetes) sees a process that neither serves nor exits.
      process.exit(1);
    }
    throw err;
  }
}

/** "1 endpoint", "4 endpoints". */
function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The models and routes left out for want of a provider key, and the variables that bring them in (said only in the JSON log before). */
function leftOutLine(cfg: Config): string {
  const left = leftOutOf(cfg);
  if (left.size === 0) return '';
  const vars = [...new Set([...left.values()].flat())];
  return `\nleft out for want of a key: ${[...left.keys()].join(', ')}${vars.length > 0 ? ` (set ${vars.join(' / ')} to serve them)` : ''}`;
}
