/**
 * The `switchyard` command line (spec §2). Each command returns its exit code.
 */
import { parseArgs } from 'node:util';
import { loadConfigFile } from './config/load.js';

const USAGE = `switchyard — an LLM-routing sidecar

usage:
  switchyard serve [--config FILE] [--host H] [--port N] [--pretty]
  switchyard simulate [--port N] [--profile FILE] [--host H]
  switchyard demo [--port N] [--duration S]
  switchyard status [--url URL] [--json]
  switchyard check-config FILE
  switchyard calibrate [--config FILE] [--strong-share X] [--limit N]
`;

async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, pretty: { type: 'boolean' }, 'inspect-ws': { type: 'string' } },
  });
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    console.error(`--port must be a whole number from 0 to 65535, got "${values.port}"`);
    return 2;
  }
  const { serve, StartupError } = await import('./main.js');
  try {
    const s = await serve({
      ...(values.config ? { config: values.config } : {}),
      ...(values.host ? { host: values.host } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(values.pretty ? { pretty: true } : {}),
      ...(values['inspect-ws'] ? { inspectWs: values['inspect-ws'] } : {}),
      signals: true,
    });
    const banner = s.simulated
      ? `switchyard ${s.url}/v1 — SIMULATED: no provider key found, answering from the built-in simulator at ${s.simulator?.url}.\nSet OPENAI_API_KEY / ANTHROPIC_API_KEY / GEMINI_API_KEY / DEEPSEEK_API_KEY (or --config FILE) for real providers.`
      : `switchyard ${s.url}/v1 — ${s.runtime.handles.size} endpoints, ${Object.keys(s.runtime.cfg.models).length} models`;
    process.stderr.write(`${banner}\ninspector: ${s.url}/switchyard/inspect   state: ${s.url}/switchyard/state\n`);
    return await new Promise<number>(() => undefined);
  } catch (err) {
    if (err instanceof StartupError) {
      console.error(`switchyard: cannot start: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

async function checkConfigCommand(argv: string[]): Promise<number> {
  const file = argv[0];
  if (!file) {
    console.error('usage: switchyard check-config FILE');
    return 2;
  }
  const res = await loadConfigFile(file);
  if (res.ok) {
    console.log(`${file}: ok (${Object.keys(res.config.models).length} models, ${Object.keys(res.config.providers).length} providers, ${Object.keys(res.config.routing.routes).length} routes)`);
    return 0;
  }
  console.error(`${file}: ${res.errors.length} problem${res.errors.length === 1 ? '' : 's'}`);
  for (const e of res.errors) console.error(`  ${e}`);
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve':
      return serveCommand(rest);
    case 'simulate': {
      const { runSimulateCommand } = await import('./simulator/index.js');
      return runSimulateCommand(rest);
    }
    case 'check-config':
      return checkConfigCommand(rest);
    case 'calibrate': {
      const { calibrateCommand } = await import('./calibrate-command.js');
      return calibrateCommand(rest);
    }
    case 'status': {
      const { statusCommand } = await import('./observe/status.js');
      return statusCommand(rest);
    }
    case 'demo': {
      const { demoCommand } = await import('./observe/demo.js');
      return demoCommand(rest);
    }
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command "${cmd}"\n\n${USAGE}`);
      return 2;
  }
}
