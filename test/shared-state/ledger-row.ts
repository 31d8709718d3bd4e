/** A settled ledger row of `usd` for the shared-state tests (their ledger is `memory`). */
import type { LedgerRow } from '../../src/accounting/ledger.js';

export const USD = 1_000_000_000;

export const ledgerRow = (requestId: string, usd: number, at: number, keyId: string | null = null, model = 'm'): LedgerRow => ({
  requestId,
  at,
  keyId,
  model,
  endpoint: `${model}@p`,
  attempts: 1,
  promptTokens: 1,
  completionTokens: 1,
  cachedTokens: 0,
  costNano: Math.round(usd * USD),
  estimated: false,
  status: 200,
  latencyMs: 1,
  ttftMs: null,
  stream: false,
  errorCode: null,
});
