/**
 * `switchyard calibrate [--config FILE] [--strong-share X] [--limit N]`: reads the route scores
 * of the newest `auto` requests from the configured ledger (no prompt text is stored, only the
 * score) and prints the thresholds that give the wished strong share on that traffic, as the
 * `routing.auto.thresholds` block to paste into the config. Exit 0 on success, 1 when the
 * ledger holds too few scored requests or cannot be read, 2 on bad arguments.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { openLedger, type LedgerStore } from '../accounting/ledger.js';
import { DEFAULT_CONFIG } from '../config/defaults.js';
import { defaultConfigFile, loadConfigFile, validateConfig } from '../config/load.js';
import { calibrate, formatThreshold, MIN_SCORES } from '../routing/calibrate.js';
import { formatProposals, proposeCascadeAdjustments, tierQuality } from '../routing/calibrate-cascade.js';
import { withoutPassword } from '../observe/scrub.js';
import { emptyOption, joinNegativeValues } from './args.js';

const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

const USAGE = `usage: switchyard calibrate [--config FILE] [--strong-share X] [--limit N]
  --config FILE        the config whose ledger to read (default ./switchyard.yaml if present, else the built-in catalogue)
  --strong-share X     the wished share of auto requests sent to high_quality, 0 to 1 (default routing.auto.strongShare)
  --limit N            read at most the N newest ledger rows (default 10000)`;

export async function calibrateCommand(argv: string[]): Promise<number> {
  let values: { config?: string; 'strong-share'?: string; limit?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: joinNegativeValues(argv),
      options: { config: { type: 'string' }, 'strong-share': { type: 'string' }, limit: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    console.error(`switchyard calibrate: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const empty = emptyOption(values, ['config', 'strong-share', 'limit']);
  if (empty) {
    console.error(`switchyard calibrate: ${empty}`);
    return 2;
  }
  const share = values['strong-share'] === undefined ? undefined : Number(values['strong-share']);
  if (share !== undefined && !(share >= 0 && share <= 1)) {
    console.error(`switchyard calibrate: --strong-share must be a number from 0 to 1, got "${values['strong-share']}"`);
    return 2;
  }
  const limit = values.limit === undefined ? 10_000 : Number(values.limit);
  if (!Number.isSafeInteger(limit) || limit < 1) {
    console.error(`switchyard calibrate: --limit must be a positive whole number, got "${values.limit}"`);
    return 2;
  }
  const file = values.config ?? defaultConfigFile();
  const res = file ? await loadConfigFile(file) : validateConfig(DEFAULT_CONFIG);
  if (!res.ok) {
    console.error(`switchyard calibrate: invalid config${file ? ` ${file}` : ''}:\n  ${res.errors.join('\n  ')}`);
    return 1;
  }
  const strongShare = share ?? res.config.routing.auto.strongShare;
  // Reading a ledger must not create one (a stray switchyard.db in whatever directory this ran in).
  const ledgerUrl = res.config.storage.ledger;
  if (ledgerUrl === 'memory' || ledgerUrl === 'sqlite::memory:') {
    console.error(
      `switchyard calibrate: storage.ledger${file ? ` of ${file}` : ''} is ${ledgerUrl}: a ledger in the sidecar's memory cannot be read from another process. Keep the ledger in SQLite or PostgreSQL to calibrate on your traffic`,
    );
    return 1;
  }
  if (ledgerUrl.startsWith('sqlite:') && ledgerUrl !== 'sqlite::memory:' && !existsSync(ledgerUrl.slice('sqlite:'.length))) {
    console.error(
      `switchyard calibrate: no ledger at ${ledgerUrl.slice('sqlite:'.length)} (storage.ledger${file ? ` of ${file}` : ', the built-in default'}): run it where switchyard serve keeps its ledger, or pass --config`,
    );
    return 1;
  }
  try {
    let read: [Awaited<ReturnType<LedgerStore['rows']>>, Awaited<ReturnType<LedgerStore['qualityStats']>>];
    try {
      const ledger = await openLedger(res.config.storage.ledger, { reader: true });
      read = await Promise.all([ledger.rows({ limit }), ledger.qualityStats()]).finally(() => ledger.close());
    } catch (err) {
      // Which ledger, as serve says it: "file is not a database" alone named neither the file nor the config key.
      const msg = (err as Error).message;
      const where = withoutPassword(ledgerUrl);
      throw new Error(msg.includes(where) ? msg : `cannot read the ledger ${where} (storage.ledger${file ? ` of ${file}` : ''}): ${msg}`);
    }
    const [rows, quality] = read;
    // Escalations and the apps' feedback per tier: what the cascade and the router would change, and why.
    const proposals = formatProposals(proposeCascadeAdjustments(tierQuality(quality, res.config), res.config));
    const scores = rows.flatMap((r) => (r.routeScore === null || r.routeScore === undefined ? [] : [r.routeScore]));
    if (scores.length < MIN_SCORES && rows.length >= limit) {
      // The ledger may hold more: the read stopped at --limit (cascade steps and hinted requests have no score).
      console.error(
        `switchyard calibrate: only ${scores.length} request${scores.length === 1 ? '' : 's'} with a route score in the newest ${limit} ledger rows read (--limit ${limit}); calibrate needs at least ${MIN_SCORES}: raise --limit`,
      );
      return 1;
    }
    const c = calibrate(scores, strongShare === undefined ? {} : { strongShare });
    const t = c.thresholds;
    console.log(`calibrated on the route scores of the newest ${c.scores} auto requests (of ${rows.length} ledger rows read)`);
    console.log(
      `wished strong share ${pct(c.strongShare)}; on this traffic: high_quality ${pct(c.shares.high_quality)}, balanced ${pct(c.shares.balanced)}, fast_cheap ${pct(c.shares.fast_cheap)}`,
    );
    console.log(`\nrouting:\n  auto:\n    thresholds: { balanced: ${formatThreshold(t.balanced)}, highQuality: ${formatThreshold(t.highQuality)} }`);
    if (proposals) console.log(`\nper tier, from cascade escalations and feedback:\n${proposals}`);
    return 0;
  } catch (err) {
    console.error(`switchyard calibrate: ${(err as Error).message}`);
    return 1;
  }
}
