/**
 * The `switchyard` command line (spec §2): the one entry. Each command lives in its own file
 * and is loaded only when named, so `--help` loads nothing else (no zod, YAML or tokenizer).
 * This is the only module that imports the composition root (`src/main.ts`); it hands
 * `serve` to the commands that start a sidecar. Each command returns its exit code.
 */

const USAGE = `switchyard — an LLM-routing sidecar

usage:
  switchyard serve [--config FILE] [--host H] [--port N] [--pretty] [--inspect-ws URL]
      the sidecar: an OpenAI/Anthropic-compatible API on 127.0.0.1:4141 (the built-in simulator without provider keys)
  switchyard simulate [--port N] [--profile FILE] [--host H]
      the provider simulator alone (127.0.0.1:4180)
  switchyard demo [--port N] [--duration S]
      simulator + sidecar + traffic with faults injected; prints the inspector URL
  switchyard status [--url URL] [--all] [--json]
      endpoints, budgets and spend of a running sidecar
  switchyard check-config FILE
      validate a config file: every problem with its path, exit 1 if any
  switchyard calibrate [--config FILE] [--strong-share X] [--limit N]
      auto's thresholds from the ledger's recent route scores
  switchyard --version

switchyard <command> --help shows a command's options and defaults.
`;

const COMMANDS = ['serve', 'simulate', 'demo', 'status', 'check-config', 'calibrate', 'version', 'help'];
/** Other tools' words for a command. */
const SYNONYMS: Record<string, string> = {
  start: 'serve',
  run: 'serve',
  server: 'serve',
  proxy: 'serve',
  validate: 'check-config',
  check: 'check-config',
  lint: 'check-config',
  config: 'check-config',
  sim: 'simulate',
  simulator: 'simulate',
  state: 'status',
  // The sidecar's options without the command.
  '--config': 'serve --config FILE',
  '--port': 'serve --port N',
  '--host': 'serve --host H',
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve': {
      // From the first moment: a SIGHUP before serve's handlers would end the process (node's default).
      (await import('../runtime/sidecar.js')).holdSighup();
      (await import('./heap.js')).applyHeapPolicy();
      const [{ serveCommand }, { serve }] = await Promise.all([import('./serve.js'), import('../main.js')]);
      return serveCommand(rest, serve);
    }
    case 'simulate': {
      const { runSimulateCommand } = await import('./simulate.js');
      return runSimulateCommand(rest);
    }
    case 'check-config': {
      const { checkConfigCommand } = await import('./check-config.js');
      return checkConfigCommand(rest);
    }
    case 'calibrate': {
      const { calibrateCommand } = await import('./calibrate.js');
      return calibrateCommand(rest);
    }
    case 'status': {
      const { statusCommand } = await import('./status.js');
      return statusCommand(rest);
    }
    case 'demo': {
      (await import('./heap.js')).applyHeapPolicy();
      const [{ demoCommand }, { serve }] = await Promise.all([import('./demo.js'), import('../main.js')]);
      return demoCommand(rest, serve);
    }
    case '-v':
    case '--version':
    case 'version': {
      // The package's own file: dist/src/cli/index.js → the package root.
      const { readFileSync } = await import('node:fs');
      const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
      process.stdout.write(`switchyard ${version}\n`);
      return 0;
    }
    case undefined:
      // No command is a usage mistake: the usage goes to stderr, as for an unknown command.
      process.stderr.write(USAGE);
      return 2;
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    default: {
      // The command meant, for a near miss (`serv`, `check-cofig`) or another tool's word for it (`start`, `validate`).
      const { nearest } = await import('../config/near.js');
      const meant = SYNONYMS[cmd.toLowerCase()] ?? nearest(cmd, COMMANDS);
      process.stderr.write(`unknown command "${cmd}"${meant === null ? '' : ` (did you mean "switchyard ${meant}"?)`}\n\n${USAGE}`);
      return 2;
    }
  }
}
