import { parseArgs } from 'node:util';
import { loadProfile } from '../simulator/profile.js';
import type { SimulatorProfile } from '../simulator/profile.js';
import { startSimulator } from '../simulator/start.js';
import { emptyOption, joinNegativeValues, portNumber } from './args.js';

/** Port of `switchyard simulate` when --port is not given. */
export const DEFAULT_SIMULATOR_PORT = 4180;

const USAGE = `usage: switchyard simulate [--port N] [--profile FILE] [--host H]
  a fake provider speaking the OpenAI and Anthropic wire formats (chat, embeddings, /_sim/log), for demos and tests
  --port N         listen port (default ${DEFAULT_SIMULATOR_PORT}; 0 picks a free one)
  --profile FILE   per-model latency, length, rpm and faults (YAML or JSON: defaults, models, faults; keys in docs/simulator.md)
  --host H         listen address (default 127.0.0.1)`;

/** `switchyard simulate`: runs until SIGINT/SIGTERM; returns the process exit code. */
export async function runSimulateCommand(argv: string[]): Promise<number> {
  let values: { port?: string; profile?: string; host?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: joinNegativeValues(argv),
      options: {
        port: { type: 'string' },
        profile: { type: 'string' },
        host: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`switchyard simulate: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const empty = emptyOption(values, ['port', 'profile', 'host']);
  if (empty) {
    console.error(`switchyard simulate: ${empty}\n${USAGE}`);
    return 2;
  }
  const port = values.port === undefined ? DEFAULT_SIMULATOR_PORT : portNumber(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`switchyard simulate: --port must be a whole number from 0 to 65535, got ${JSON.stringify(values.port)}\n${USAGE}`);
    return 2;
  }
  let profile: SimulatorProfile = {};
  if (values.profile !== undefined) {
    try {
      profile = await loadProfile(values.profile);
    } catch (err) {
      console.error(`switchyard simulate: ${err instanceof Error ? err.message : String(err)}`);
      return 1;
    }
  }
  let sim;
  try {
    sim = await startSimulator({ host: values.host ?? '127.0.0.1', port, profile });
  } catch (err) {
    const host = values.host ?? '127.0.0.1';
    console.error(
      (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
        ? `switchyard simulator: port ${port} on ${host} is already in use: stop the other process or pass --port N`
        : `switchyard simulator: cannot listen: ${err instanceof Error ? err.message : String(err)}`,
    );
    return 1;
  }
  console.log(`switchyard simulator listening on ${sim.url}`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const stop = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(sig);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await sim.close();
  console.log(`switchyard simulator stopped (${signal})`);
  return 0;
}
