/**
 * `GET /switchyard/spend?group_by=model|endpoint|key|day|escalation&from=ISO&to=ISO`: ledger totals in
 * USD (exact: summed in nano-USD; `escalation` groups cascade steps as `<model>:<check outcome>`), and in the display currency when `budget.currency` is set.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LedgerStore, SpendGroup } from '../accounting/ledger.js';
import { nanoToUsd } from '../accounting/money.js';
import type { Config } from '../config/schema.js';
import { echoName, SwitchyardError } from '../errors.js';
import { sendJson } from './server.js';

const GROUPS: SpendGroup[] = ['model', 'endpoint', 'key', 'day', 'escalation'];

/** A date, or a date-time with an optional offset: `2025-03-02`, `2025-03-02T10:30`, `…:00.5+01:00`. */
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * `Date.parse` alone is too lenient for a report boundary: it reads a date-time without an
 * offset in the server's local zone (days and budget periods are UTC), rolls impossible
 * dates over (`2025-02-30` is March 2) and accepts non-ISO text (`03/02/2025`, `1`).
 */
function time(raw: string | null, name: string): number | undefined {
  if (raw === null || raw === '') return undefined;
  // RFC 3339's other spellings, as psql and sqlite3 print times: a space (or `t`) between date and
  // time, `z`, an offset without its colon or minutes (`+0100`, `+01`). A `+01:00` offset typed into
  // a URL unencoded arrives as ` 01:00` (a query's `+` is a space); nothing else can be meant there.
  const v = raw
    .replace(/^(\d{4}-\d{2}-\d{2})[ t](?=\d{2}:)/, '$1T')
    .replace(/^(\d{4}-\d{2}-\d{2}T[\d:.]+) (\d{2}(?::?\d{2})?)$/, '$1+$2')
    .replace(/(T[\d:.]+)z$/, '$1Z')
    .replace(
      /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)([+-]\d{2}):?(\d{2})?$/,
      (_, at: string, h: string, m: string | undefined) => `${at}${h}:${m ?? '00'}`,
    );
  const m = ISO_RE.exec(v);
  const t = m ? Date.parse(m[4] !== undefined && m[5] === undefined ? `${v}Z` : v) : NaN;
  const day = m ? `${m[1]}-${m[2]}-${m[3]}` : '';
  if (Number.isNaN(t) || new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day) {
    throw new SwitchyardError('invalid_request', `${name} must be an ISO 8601 date or time (UTC unless it names an offset), got "${echoName(v)}"`, {
      param: name,
    });
  }
  return t;
}

export function spendRoute(cfg: () => Config, ledger: LedgerStore) {
  return async (_req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    // A parameter given twice (the later one was ignored) or one this route does not read is named, not passed over.
    for (const name of new Set(url.searchParams.keys())) {
      if (name !== 'group_by' && name !== 'from' && name !== 'to')
        throw new SwitchyardError('invalid_request', `unknown parameter "${echoName(name)}": /switchyard/spend takes group_by, from and to`, { param: name });
      if (url.searchParams.getAll(name).length > 1)
        throw new SwitchyardError('invalid_request', `${name} is given more than once: give it once`, { param: name });
    }
    const g = url.searchParams.get('group_by') ?? 'model';
    if (!GROUPS.includes(g as SpendGroup)) throw new SwitchyardError('invalid_request', `group_by must be one of ${GROUPS.join(', ')}`, { param: 'group_by' });
    const from = time(url.searchParams.get('from'), 'from');
    const to = time(url.searchParams.get('to'), 'to');
    if (from !== undefined && to !== undefined && to < from)
      throw new SwitchyardError(
        'invalid_request',
        `to (${new Date(to).toISOString()}) is before from (${new Date(from).toISOString()}); the window is [from, to)`,
        { param: 'to' },
      );
    const rows = await ledger.spendBy(g as SpendGroup, from, to);
    const cur = cfg().budget.currency;
    const totalNano = rows.reduce((s, r) => s + r.costNano, 0);
    // USD as the display currency adds no column: its figure is `usd` itself, exact (the rounded conversion had replaced it).
    const conv = (nano: number) => (cur && cur.code !== 'USD' ? { [cur.code.toLowerCase()]: Math.round(nanoToUsd(nano) * cur.perUsd * 1e6) / 1e6 } : {});
    sendJson(res, 200, {
      group_by: g,
      from: from === undefined ? null : new Date(from).toISOString(),
      to: to === undefined ? null : new Date(to).toISOString(),
      currency: cur ? { code: cur.code, perUsd: cur.perUsd } : null,
      total: { requests: rows.reduce((s, r) => s + r.clientRequests, 0), usd: nanoToUsd(totalNano), ...conv(totalNano) },
      groups: rows.map((r) => ({
        [g]: r.group,
        requests: r.requests,
        promptTokens: r.promptTokens,
        completionTokens: r.completionTokens,
        usd: nanoToUsd(r.costNano),
        ...conv(r.costNano),
      })),
    });
  };
}
