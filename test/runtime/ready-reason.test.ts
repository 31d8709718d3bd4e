/**
 * What `/readyz` says while the ledger cannot write (Runtime.unready): a PostgreSQL ledger's own
 * words (unreachable, or refusing with its SQLSTATE: fixed words and a code, no error text), as
 * the README promises; another ledger's generic reason, since its error text may hold paths.
 */
import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import { openLedger, type LedgerStore } from '../../src/accounting/ledger.js';
import { configSchema } from '../../src/config/schema.js';
import { Runtime } from '../../src/runtime/runtime.js';

let rt: Runtime | null = null;
afterEach(async () => {
  await rt?.close();
  rt = null;
});

async function runtimeWith(blocked: LedgerStore['writeBlocked']): Promise<Runtime> {
  const cfg = configSchema.parse({
    providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    models: {
      a: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100_000, endpoints: [{ provider: 'p', upstreamModel: 'up-a' }] },
    },
  });
  const ledger = await openLedger('memory');
  Object.defineProperty(ledger, 'writeBlocked', { get: () => blocked });
  rt = new Runtime({ cfg, ledger, log: pino({ level: 'silent' }) });
  return rt;
}

it("names PostgreSQL's refusal and its SQLSTATE while its rows wait (the README's /readyz words); a ledger with no words of its own gets the generic reason", async () => {
  const pg = await runtimeWith({
    since: 1,
    reason: "PostgreSQL refuses the ledger's writes (55000): 3 ledger rows wait to be written",
    shown: "PostgreSQL refuses the ledger's writes (55000)",
  });
  expect(pg.unready()).toBe("the ledger cannot write its rows now: PostgreSQL refuses the ledger's writes (55000)");
  await rt?.close();
  const file = await runtimeWith({ since: 1, reason: 'SQLITE_FULL: database or disk is full at /var/lib/switchyard/ledger.db' });
  expect(file.unready()).toBe('the ledger cannot write its rows now (a lock, a full disk, or PostgreSQL unreachable)');
  await rt?.close();
  expect((await runtimeWith(null)).unready()).toBeNull();
});
