/**
 * `GET /switchyard/spend?group_by=model|endpoint|key|day&from=ISO&to=ISO`: ledger totals in
 * USD (exact: summed in nano-USD), and in the display currency when `budget.currency` is set.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LedgerStore, SpendGroup } from '../accounting/ledger.js';
import { nanoToUsd } from '../accounting/money.js';
import type { Config } from '../config/schema.js';
import { SwitchyardError } from '../errors.js';
import { sendJson } from '../http/server.js';

const GROUPS: SpendGroup[] = ['model', 'endpoint', 'key', 'day'];

function time(v: string | null, name: string): number | undefined {
  if (v === null || v === '') return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new SwitchyardError('invalid_request', `${name} must be an ISO 8601 date or time, got "${v}"`, { param: name });
  return t;
}

export function spendRoute(cfg: () => Config, ledger: LedgerStore) {
  return async (_req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const g = url.searchParams.get('group_by') ?? 'model';
    if (!GROUPS.includes(g as SpendGroup)) throw new SwitchyardError('invalid_request', `group_by must be one of ${GROUPS.join(', ')}`, { param: 'group_by' });
    const from = time(url.searchParams.get('from'), 'from');
    const to = time(url.searchParams.get('to'), 'to');
    const rows = await ledger.spendBy(g as SpendGroup, from, to);
    const cur = cfg().budget.currency;
    const totalNano = rows.reduce((s, r) => s + r.costNano, 0);
    const conv = (nano: number) => (cur ? { [cur.code.toLowerCase()]: Math.round(nanoToUsd(nano) * cur.perUsd * 1e6) / 1e6 } : {});
    sendJson(res, 200, {
      group_by: g,
      from: from === undefined ? null : new Date(from).toISOString(),
      to: to === undefined ? null : new Date(to).toISOString(),
      currency: cur ? { code: cur.code, perUsd: cur.perUsd } : null,
      total: { requests: rows.reduce((s, r) => s + r.requests, 0), usd: nanoToUsd(totalNano), ...conv(totalNano) },
      groups: rows.map((r) => ({ [g]: r.group, requests: r.requests, promptTokens: r.promptTokens, completionTokens: r.completionTokens, usd: nanoToUsd(r.costNano), ...conv(r.costNano) })),
    });
  };
}
