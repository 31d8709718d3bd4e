/**
 * `switchyard status [--url URL] [--all] [--json]`: a table of every endpoint's live state, the
 * budgets and the spend by model, read from a running sidecar's `/switchyard/state` and
 * `/switchyard/spend?group_by=model`. ANSI colours only when stdout is a terminal (and
 * NO_COLOR is unset). `SWITCHYARD_ADMIN_TOKEN`, when set, is sent as a Bearer token; without
 * it, the `?token=` of the URL given (the serve banner's inspector URL, pasted whole).
 * Exit 0 on success, 1 when the sidecar cannot be reached or refuses, 2 on bad usage.
 */
import { parseArgs } from 'node:util';
import { joinNegativeValues } from './args.js';
import { escapeControls } from '../observe/log.js';
import { registerSecrets, scrub } from '../observe/scrub.js';
import { request, type Dispatcher } from 'undici';
import type { StateView } from '../runtime/state-view.js';

export const DEFAULT_STATUS_URL = 'http://127.0.0.1:4141';
const TIMEOUT_MS = 5000;

export interface SpendView {
  /** `budget.currency` (a display currency): each figure also comes converted, under its code in lower case. */
  currency?: { code: string; perUsd: number } | null;
  total: { requests: number; usd: number; [converted: string]: number };
  groups: Array<{
    model?: string;
    requests: number;
    promptTokens: number;
    completionTokens: number;
    usd: number;
    [converted: string]: number | string | undefined;
  }>;
}

/** A converted amount as the spend route gives it (6 decimals at most), with its code: "0.0873 CNY". */
function formatConverted(x: unknown, code: string): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${x >= 1 ? x.toFixed(2) : +x.toPrecision(3)} ${code}` : '-';
}

/** Up to this many endpoints, every one is listed; beyond, those with nothing to show (healthy, idle, no failures) are counted. */
export const ENDPOINTS_LISTED = 40;

const USAGE = `usage: switchyard status [--url URL] [--all] [--json]
  --url URL   the sidecar (default ${DEFAULT_STATUS_URL}; its SDK base URL, .../v1, works too)
  --all       list every endpoint (beyond ${ENDPOINTS_LISTED} endpoints, those healthy, idle and never failed are counted, not listed)
  --json      print the raw /switchyard/state JSON
  env SWITCHYARD_ADMIN_TOKEN is sent as "authorization: Bearer …" when set; without it, the
  token of a --url that carries one (the banner's inspector URL, ...?token=…)
`;

const ANSI = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', green: '\x1b[32m', yellow: '\x1b[33m', red: '\x1b[31m', blue: '\x1b[34m' } as const;
type Paint = keyof typeof ANSI;
const STATE_COLOUR: Record<string, Paint> = { healthy: 'green', throttled: 'yellow', 'circuit-open': 'red', 'half-open': 'blue' };

/** A cell: its plain text (for width) and an optional colour applied after padding. */
interface Cell {
  text: string;
  paint?: Paint;
  right?: boolean;
}

function table(head: string[], rows: Cell[][], color: boolean): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.text.length ?? 0)));
  const paint = (s: string, p: Paint | undefined) => (color && p && s.trim() !== '' ? `${ANSI[p]}${s}${ANSI.reset}` : s);
  const line = (cells: Cell[]) =>
    cells
      .map((c, i) => paint(c.right ? c.text.padStart(widths[i]!) : c.text.padEnd(widths[i]!), c.paint))
      .join('  ')
      .trimEnd();
  return [line(head.map((h) => ({ text: h, paint: 'bold' as const }))), ...rows.map(line)].join('\n');
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h ${m % 60}m` : `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** "in 12s" for a future time, "now" for a past one, "-" for none. */
export function until(iso: string | null, now: number): string {
  if (iso === null) return '-';
  const ms = Date.parse(iso) - now;
  return ms <= 0 ? 'now' : `in ${formatDuration(ms)}`;
}

export function formatUsd(x: number): string {
  if (x === 0) return '$0';
  if (x >= 100) return `$${x.toFixed(0)}`;
  if (x >= 1) return `$${x.toFixed(2)}`;
  const three = x.toPrecision(3);
  // Under a micro-dollar toPrecision writes an exponent ("6.00e-8"): amounts are whole nano-USD, so nine decimals hold them.
  return `$${three.includes('e') ? x.toFixed(9).replace(/0+$/, '') : three}`;
}

const n = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(1));
/** 2000000 → 2M, 12500 → 12.5k: TPM limits are long. */
const compact = (x: number): string => (x >= 1e6 ? `${+(x / 1e6).toFixed(1)}M` : x >= 1e4 ? `${+(x / 1e3).toFixed(1)}k` : n(x));
const lat = (x: number | null): string => (x === null ? '-' : `${Math.round(x)}ms`);

/** The whole report. `now` is the sidecar's clock (`state.at`), so "in 12s" is exact. */
export function formatStatus(url: string, state: StateView, spend: SpendView | null, color: boolean, spendError?: string, all = false): string {
  const now = Date.parse(state.at);
  const sup = state.supervisor;
  const out: string[] = [];
  const title = `switchyard ${url} — up ${formatDuration(state.uptimeMs)}, ${sup.requestsRouted} routed, ${sup.inFlight} in progress (${sup.queueDepth} of them queued for an endpoint)`;
  out.push(color ? `${ANSI.bold}${title}${ANSI.reset}` : title);
  if (state.shared) out.push(sharedLine(state.shared, color));
  out.push('');
  // A large catalogue's hundreds of endpoints: how many are in each state, and the ones worth a look listed.
  const byState = new Map<string, number>();
  for (const e of state.endpoints) byState.set(e.state, (byState.get(e.state) ?? 0) + 1);
  const quiet = (e: StateView['endpoints'][number]): boolean => e.state === 'healthy' && e.inFlight === 0 && e.consecutiveFailures === 0;
  const listed = all || state.endpoints.length <= ENDPOINTS_LISTED ? state.endpoints : state.endpoints.filter((e) => !quiet(e));
  if (state.endpoints.length > ENDPOINTS_LISTED) {
    const counts = [...byState].map(([st, k]) => `${k} ${st}`).join(', ');
    const left = state.endpoints.length - listed.length;
    out.push(`endpoints: ${state.endpoints.length} (${counts})${left > 0 ? `; ${left} healthy, idle and never failed are not listed (--all lists them)` : ''}`);
  }
  const eps = listed.map((e): Cell[] => [
    { text: e.id },
    { text: e.state, paint: STATE_COLOUR[e.state] ?? 'dim' },
    { text: `${n(e.rpm.used)}/${e.rpm.limit ?? '∞'}`, right: true },
    { text: `${compact(e.tpm.used)}/${e.tpm.limit === null ? '∞' : compact(e.tpm.limit)}`, right: true },
    { text: `${e.inFlight}/${e.maxConcurrent}`, right: true },
    { text: lat(e.latency.p50), right: true },
    { text: lat(e.latency.ewma), right: true },
    { text: String(e.consecutiveFailures), right: true, ...(e.consecutiveFailures > 0 ? { paint: 'red' as const } : {}) },
    { text: e.state === 'healthy' ? '-' : until(e.retryAt, now) },
    { text: e.state === 'healthy' ? '' : (e.reason ?? ''), paint: 'dim' },
  ]);
  if (eps.length > 0) out.push(table(['ENDPOINT', 'STATE', 'RPM', 'TPM', 'IN-FLIGHT', 'P50', 'EWMA', 'FAILS', 'RETRY', 'REASON'], eps, color));
  out.push('');
  // The display currency (`budget.currency`), as /switchyard/spend gives it: a column beside USD in both tables.
  const cur = spend?.currency && spend.currency.code !== 'USD' ? spend.currency : null;
  if (state.budgets.length === 0) out.push('budgets: none configured');
  else {
    // Limits are USD; spent and limit also in the display currency, rounded as /switchyard/spend rounds (6 decimals).
    const inCur = (usd: number, perUsd: number): number => Math.round(usd * perUsd * 1e6) / 1e6;
    const amount = (x: number): string => (x >= 1 ? x.toFixed(2) : String(+x.toPrecision(3)));
    const rows = state.budgets.map((b): Cell[] => {
      const used = b.limitUsd > 0 ? (b.spentUsd + b.reservedUsd) / b.limitUsd : 1;
      const paint: Paint = used >= 1 ? 'red' : used >= 0.8 ? 'yellow' : 'green';
      return [
        { text: b.id },
        { text: `${formatUsd(b.spentUsd)} / ${formatUsd(b.limitUsd)}`, right: true, paint },
        { text: `${(used * 100).toFixed(1)}%`, right: true, paint },
        { text: formatUsd(b.reservedUsd), right: true },
        { text: b.period },
        { text: b.resetsAt === null ? 'never' : until(b.resetsAt, now) },
        ...(cur === null
          ? []
          : [{ text: `${amount(inCur(b.spentUsd, cur.perUsd))} / ${amount(inCur(b.limitUsd, cur.perUsd))} ${cur.code}`, right: true, paint }]),
      ];
    });
    out.push(table(['BUDGET', 'SPENT / LIMIT', 'USED', 'RESERVED', 'PERIOD', 'RESETS', ...(cur === null ? [] : [cur.code])], rows, color));
  }
  out.push('');
  if (spend === null) out.push(spendError === undefined ? 'spend: unavailable' : `spend: unavailable (${spendError})`);
  else if (spend.groups.length === 0) out.push('spend: nothing recorded yet');
  else {
    const converted = (v: Record<string, unknown>, paint?: Paint): Cell[] =>
      cur === null ? [] : [{ text: formatConverted(v[cur.code.toLowerCase()], cur.code), right: true, paint }];
    const rows = spend.groups.map((g): Cell[] => [
      { text: g.model ?? '?' },
      { text: String(g.requests), right: true },
      { text: String(g.promptTokens), right: true },
      { text: String(g.completionTokens), right: true },
      { text: formatUsd(g.usd), right: true },
      ...converted(g),
    ]);
    rows.push([
      { text: 'total', paint: 'bold' },
      { text: String(spend.total.requests), right: true },
      { text: '' },
      { text: '' },
      { text: formatUsd(spend.total.usd), right: true, paint: 'bold' },
      ...converted(spend.total, 'bold'),
    ]);
    out.push(table(['MODEL', 'REQUESTS', 'PROMPT', 'COMPLETION', 'SPEND', ...(cur === null ? [] : [cur.code])], rows, color));
  }
  return `${out.join('\n')}\n`;
}

/** Replica id, shared store and its health, and what is shared (issue 13). */
function sharedLine(s: NonNullable<StateView['shared']>, color: boolean): string {
  if (s.health === 'local') return `replica ${s.replica} · shared state: in process (limits and budgets hold for this process only)`;
  const health = color ? `${ANSI[s.health === 'up' ? 'green' : 'red']}${s.health}${ANSI.reset}` : s.health;
  const why = s.health === 'down' && s.lastError ? ` (${s.lastError})` : '';
  return `replica ${s.replica} · shared state: ${s.store} ${health}${why}, lease ${s.leaseMs}ms · shared: ${s.shared.join(', ')}`;
}

class StatusError extends Error {
  /** A non-2xx answer: its status and what it said (the error's message), for a line of the table. */
  answered?: string;
}

/** A sidecar's state and spend are a few hundred KB at most: a server sending more is not one. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** A body's text, failing once it is over `max` bytes (it was read whole: a server streaming without end grew this process to ~1 GB). */
async function boundedText(body: Dispatcher.ResponseData['body'], max: number): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) {
      body.destroy();
      throw Object.assign(new Error(`over ${max} bytes`), { code: `more than ${max / 1024 / 1024} MB` });
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** An OpenAI-shaped error body's message, or null. */
function errorMessage(text: string): string | null {
  try {
    const m = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    // Printed to a terminal: its control characters escaped (a server's escape codes could rewrite the screen).
    return typeof m === 'string' && m !== '' ? escapeControls(m.slice(0, 300)) : null;
  } catch {
    return null;
  }
}

/**
 * The sidecar's base URL from `--url`: what a user has at hand names it too (the SDK's base URL
 * `…/v1`, the banner's state or inspector URL); no query, fragment or user:password. Null if no URL.
 */
export function sidecarBase(given: string): string | null {
  let u: URL;
  try {
    u = new URL(given);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  let path = u.pathname;
  while (path.endsWith('/')) path = path.slice(0, -1);
  const at = path.search(/\/switchyard(\/|$)/);
  if (at !== -1) path = path.slice(0, at);
  else if (path.endsWith('/v1')) path = path.slice(0, -3);
  return `${u.protocol}//${u.host}${path}`;
}

/**
 * The admin token a URL carries in its query (`?token=…`, as the banner's inspector URL
 * `…/switchyard/inspect?token=…` does), or undefined.
 */
export function urlToken(given: string): string | undefined {
  try {
    // A `+` of the token, unencoded in the pasted URL, is read as a space by the query's decoding: put back (a token has no space).
    return new URL(given).searchParams.get('token')?.replace(/ /g, '+') || undefined;
  } catch {
    return undefined;
  }
}

/** The error message an answer carries, without the token sent (a server that echoes the Authorization header it got). */
function scrubbedMessage(text: string): string | null {
  const said = errorMessage(text);
  return said === null ? null : scrub(said);
}

/**
 * undici's `request`, not `fetch`: fetch refuses the WHATWG "bad ports" (6000, 6665–6669, 10080, …)
 * without trying, so a sidecar started with `--port 6000` could never be reached from here.
 */
async function getJson<T>(base: string, path: string, token: string | undefined): Promise<T> {
  let res: Dispatcher.ResponseData;
  try {
    res = await request(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    const e = err as { code?: unknown; cause?: { code?: string }; name?: string };
    const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
    const cause = timedOut
      ? `no answer within ${TIMEOUT_MS / 1000} s`
      : ((typeof e.code === 'string' ? e.code : undefined) ?? e.cause?.code ?? e.name ?? 'error');
    // A sidecar draining after SIGTERM takes no new connection (its requests in flight finish): said, not only "running?".
    throw new StatusError(
      `cannot reach the sidecar at ${base} (${cause}): is \`switchyard serve\` running there? (--url URL to point elsewhere; a sidecar stopping after SIGTERM takes no new connection while its requests finish)`,
    );
  }
  let text: string;
  try {
    text = await boundedText(res.body, MAX_BODY_BYTES);
  } catch (err) {
    // Headers, then a body that stalls or breaks off (a proxy, another server on that port): no stack trace.
    const e = err as { name?: string; code?: unknown };
    const why =
      e.name === 'TimeoutError' || e.name === 'AbortError'
        ? `its body did not end within ${TIMEOUT_MS / 1000} s`
        : `its body broke off (${String(e.code ?? e.name)})`;
    throw new StatusError(`${base}${path} answered ${res.statusCode}, but ${why}: is that a switchyard sidecar?`);
  }
  if (res.statusCode === 401) {
    // The sidecar says which: no token sent, the wrong one, or none set on its side (then it must be restarted with one).
    const said = scrubbedMessage(text);
    throw new StatusError(
      said !== null
        ? `${base} refused ${path} (401): ${said}`
        : token === undefined
          ? `${base} refused ${path} (401): it needs an admin token; set SWITCHYARD_ADMIN_TOKEN`
          : `${base} refused ${path} (401): the admin token sent (SWITCHYARD_ADMIN_TOKEN, else --url's ?token=) is not the sidecar's; set the one it was started with`,
    );
  }
  if (res.statusCode === 404) throw new StatusError(`${base}${path} answered 404: is that a switchyard sidecar? (--url URL to point elsewhere)`);
  if (res.statusCode < 200 || res.statusCode > 299) {
    const answered = `${res.statusCode}: ${scrubbedMessage(text) ?? scrub(escapeControls(text.slice(0, 200)))}`;
    throw Object.assign(new StatusError(`${base}${path} answered ${answered}`), { answered });
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new StatusError(`${base}${path} did not answer JSON: is that a switchyard sidecar?`);
  }
}

export async function statusCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let values: { url?: string; json?: boolean; all?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: joinNegativeValues(argv),
      options: { url: { type: 'string' }, json: { type: 'boolean' }, all: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    process.stderr.write(`switchyard status: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  // The SDK's base URL (…/v1) names the same sidecar.
  const base = sidecarBase(values.url ?? DEFAULT_STATUS_URL);
  if (base === null) {
    // Shown without what may be a secret in it (user:password, the query).
    const given = values.url ?? '';
    const at = given.lastIndexOf('@');
    const scheme = given.indexOf('//');
    const shown = (scheme !== -1 && at > scheme ? `${given.slice(0, scheme + 2)}***${given.slice(at)}` : given).replace(/[?#].*$/, '?…').slice(0, 200);
    process.stderr.write(`switchyard status: --url must be an http:// or https:// URL with a valid host and port, got "${shown}"\n`);
    return 2;
  }
  // The environment's token, else the one the URL carries (the banner's inspector URL, pasted whole).
  const fromEnv = env.SWITCHYARD_ADMIN_TOKEN || undefined;
  const token = fromEnv ?? urlToken(values.url ?? DEFAULT_STATUS_URL);
  // Never printed back: an answer that echoes it (a proxy's error quoting the header) is scrubbed.
  registerSecrets([token]);
  // A header cannot carry it (a line break from a file, a non-Latin character): say so, not "cannot reach".
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) {
    process.stderr.write(
      `switchyard status: ${fromEnv === undefined ? "--url's ?token=" : 'SWITCHYARD_ADMIN_TOKEN'} ${/[\r\n]\s*$/.test(token) ? 'ends in a line break' : 'has a character an HTTP header cannot carry (a space, a control character or a non-ASCII one)'}: set it to the token alone\n`,
    );
    return 2;
  }
  try {
    const state = await getJson<StateView>(base, '/switchyard/state', token);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
      return 0;
    }
    // The spend comes from the ledger: while it cannot be read (PostgreSQL unreachable) the table says why.
    let spendError: string | undefined;
    const spend = await getJson<SpendView>(base, '/switchyard/spend?group_by=model', token).catch((err: unknown) => {
      spendError = err instanceof StatusError ? (err.answered !== undefined ? `/switchyard/spend answered ${err.answered}` : err.message) : undefined;
      return null;
    });
    const color = process.stdout.isTTY === true && !env.NO_COLOR;
    let table: string;
    try {
      table = formatStatus(base, state, spend, color, spendError, values.all === true);
    } catch {
      // JSON, but not a sidecar's state (another server on that port).
      throw new StatusError(
        `${base}/switchyard/state answered JSON that is not a switchyard state: is that a switchyard sidecar? (--json prints what it answered)`,
      );
    }
    process.stdout.write(table);
    return 0;
  } catch (err) {
    if (!(err instanceof StatusError)) throw err;
    process.stderr.write(`switchyard status: ${err.message}\n`);
    return 1;
  }
}
