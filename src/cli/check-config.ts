/** `switchyard check-config FILE`: validate a config file without starting anything. */
import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { unusableSecrets } from '../config/secrets.js';
import { shortSecrets } from '../observe/scrub.js';
import { undersizedPools } from '../config/pool-size.js';
import {
  budgetsBelowOneAnswer,
  memoryResponses,
  otlpWithoutPath,
  outputCapsDefaulted,
  pricesPerToken,
  cascadeGoesNowhere,
  publicMetricsOnLoopback,
  timesTooShort,
  unreachableFallbacks,
} from '../config/config-notes.js';
import { isLoopback } from '../http/loopback.js';

/**
 * Secrets the file names that this environment lacks. Not a config error (check-config often
 * runs where the secrets are not, e.g. in CI), but `serve` would refuse to start: say so.
 */
function unsetSecrets(cfg: Config, env: NodeJS.ProcessEnv): string[] {
  const providers = Object.entries(cfg.providers)
    .filter(([, p]) => p.apiKeyEnv && !env[p.apiKeyEnv])
    .map(([n, p]) => `providers.${n}.apiKeyEnv: ${p.apiKeyEnv}`);
  const headers = Object.entries(cfg.providers).flatMap(([n, p]) =>
    Object.entries(p.headersEnv)
      .filter(([, v]) => !env[v])
      .map(([h, v]) => `providers.${n}.headersEnv.${h}: ${v}`),
  );
  const keys = (cfg.auth?.keys ?? []).filter((k) => !env[k.keyEnv]).map((k) => `auth.keys (${k.id}).keyEnv: ${k.keyEnv}`);
  return [...providers, ...headers, ...keys];
}

const USAGE =
  'usage: switchyard check-config FILE\n  validates FILE (YAML or JSON), prints every problem with its path; exit 0 when valid, 1 when not, 2 for a usage mistake';

export async function checkConfigCommand(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')) {
    console.log(USAGE);
    return 0;
  }
  const file = argv[0];
  // An option beside the file (`--json FILE`): named, not counted as a second file.
  const option = argv.find((a) => a.startsWith('-') && a !== '-' && a !== '--config');
  // Each mistake said, then the usage (it printed the usage alone; an option was read as a file name).
  const why =
    argv.length === 0
      ? 'no config file given'
      : argv.length > 1
        ? argv[0] === '--config'
          ? 'the file is given alone, without --config'
          : option !== undefined
            ? `unknown option ${option}`
            : `one file at a time, got ${argv.length} arguments`
        : file === ''
          ? 'the file name is empty'
          : file!.startsWith('-') && file !== '-'
            ? `unknown option ${file}`
            : null;
  if (why !== null || !file) {
    console.error(`switchyard check-config: ${why ?? 'no config file given'}\n${USAGE}`);
    return 2;
  }
  const res = await loadConfigFile(file);
  if (res.ok) {
    console.log(
      `${file}: ok (${count(Object.keys(res.config.models).length, 'model')}, ${count(Object.keys(res.config.providers).length, 'provider')}, ${count(Object.keys(res.config.routing.routes).length, 'route')})`,
    );
    const unset = unsetSecrets(res.config, process.env);
    if (unset.length > 0) {
      console.error(`note: not set in this environment (switchyard serve would refuse to start without them):`);
      for (const u of unset) console.error(`  ${u}`);
    }
    const undersized = undersizedPools(res.config);
    if (undersized.length > 0) {
      console.error('note: connection pools smaller than the concurrency allowed:');
      for (const u of undersized) console.error(`  ${u}`);
    }
    const unreachable = unreachableFallbacks(res.config);
    if (unreachable.length > 0) {
      console.error('note: fallbacks and routes not all used:');
      for (const u of unreachable) console.error(`  ${u}`);
    }
    const short = timesTooShort(res.config);
    if (short.length > 0) {
      console.error('note: time limits too short to be meant:');
      for (const u of short) console.error(`  ${u}`);
    }
    const small = budgetsBelowOneAnswer(res.config);
    if (small.length > 0) {
      console.error('note: budgets smaller than one answer:');
      for (const u of small) console.error(`  ${u}`);
    }
    for (const u of [
      ...otlpWithoutPath(res.config),
      ...memoryResponses(res.config),
      ...pricesPerToken(res.config),
      ...outputCapsDefaulted(res.config),
      ...cascadeGoesNowhere(res.config),
      ...publicMetricsOnLoopback(res.config, res.config.server.host, isLoopback(res.config.server.host)),
    ])
      console.error(`note: ${u}`);
    const shortKeys = shortSecrets(res.config, process.env);
    if (shortKeys.length > 0) {
      console.error('note: secrets too short to be scrubbed:');
      for (const u of shortKeys) console.error(`  ${u}`);
    }
    const unusable = unusableSecrets(res.config, process.env);
    if (unusable.length > 0) {
      console.error(`note: set in this environment but not usable as secrets (switchyard serve would refuse to start with them):`);
      for (const u of unusable) console.error(`  ${u}`);
    }
    return 0;
  }
  console.error(`${file}: ${res.errors.length} problem${res.errors.length === 1 ? '' : 's'}`);
  for (const e of res.errors) console.error(`  ${e}`);
  return 1;
}

/** "1 model", "2 models". */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
