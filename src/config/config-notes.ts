/**
 * What `switchyard check-config` points out in a valid config that will not do what it seems to:
 * settings that are valid alone but together leave part of the config without effect.
 */
import { knownOutputLimit } from './known-output-limits.js';
import { keyModels } from './lookup.js';
import { OUTPUT_CAP_DEFAULTED, type Config } from './schema.js';

/** At most this many chains are named one by one in the note on chains longer than the attempts allow. */
const CHAINS_NAMED = 10;

/**
 * Fallbacks and route chains that `resilience.retry.maxTotalAttempts: 1` leaves no attempt for;
 * with more attempts, chains of more models than attempts (a request that fails on each model in
 * turn ends before the last ones: they serve only when the ones before are passed over without an
 * attempt, their circuits open or windows full). A 250-model catalogue's 8-model routes failed
 * after 3 of their models, and nothing had said so.
 */
export function unreachableFallbacks(cfg: Config): string[] {
  const max = cfg.resilience.retry.maxTotalAttempts;
  if (max > 1) {
    const long = [
      ...Object.entries(cfg.models)
        .filter(([, m]) => 1 + m.fallbacks.length > max)
        .map(([id, m]) => ({ what: `models.${id} and its fallbacks`, chain: [id, ...m.fallbacks] })),
      ...Object.entries(cfg.routing.routes)
        .filter(([, chain]) => chain.length > max)
        .map(([name, chain]) => ({ what: `routing.routes.${name}`, chain })),
    ];
    const notes = long
      .slice(0, CHAINS_NAMED)
      .map(
        ({ what, chain }) =>
          `${what}: ${chain.length} models, more than resilience.retry.maxTotalAttempts (${max}): a request failing on each ends before ${chain.slice(max).join(', ')}, tried only when models before are passed over unattempted (circuit open, window full); raise maxTotalAttempts or shorten the chain`,
      );
    if (long.length > CHAINS_NAMED) notes.push(`… and ${long.length - CHAINS_NAMED} more chains longer than ${max} models`);
    return notes;
  }
  const models = Object.entries(cfg.models)
    .filter(([, m]) => m.fallbacks.length > 0)
    .map(([id, m]) => `models.${id}.fallbacks (${m.fallbacks.join(', ')})`);
  const routes = Object.entries(cfg.routing.routes)
    .filter(([, chain]) => chain.length > 1)
    .map(([name, chain]) => `routing.routes.${name} after ${chain[0]} (${chain.slice(1).join(', ')})`);
  return [...models, ...routes].map(
    (s) => `${s}: never tried, since resilience.retry.maxTotalAttempts is 1 (a failed attempt is the request's last; raise it to fail over)`,
  );
}

/**
 * Models without `maxOutputTokens` whose upstream model writes more than the default cap: every
 * answer there stops at the default (a request asking more is sent the cap and ends with
 * `finish_reason: "length"`), which nothing said (a user of the README's example config found
 * `max_output_tokens: 10000` answered as 4096).
 */
export function outputCapsDefaulted(cfg: Config): string[] {
  const out: string[] = [];
  for (const [id, m] of Object.entries(cfg.models)) {
    if (!OUTPUT_CAP_DEFAULTED.has(m) || m.capabilities.includes('embeddings')) continue;
    const known = m.endpoints
      .map((e) => ({ up: e.upstreamModel, n: knownOutputLimit(e.upstreamModel) }))
      .filter((k): k is { up: string; n: number } => k.n !== null && Math.min(k.n, m.contextWindow) > m.maxOutputTokens)
      .sort((a, b) => a.n - b.n)[0];
    if (known === undefined) continue;
    const fits = Math.min(known.n, m.contextWindow);
    out.push(
      `models.${id}.maxOutputTokens is not set, so its answers stop at ${m.maxOutputTokens} tokens (a request asking more is sent ${m.maxOutputTokens} and its answer is cut there: finish_reason "length", stop_reason "max_tokens"); ${known.up} writes up to ${known.n}: set maxOutputTokens: ${fits} (a request without max_tokens reserves that many output tokens against its budgets) or a lower cap you mean`,
    );
  }
  return out;
}

/** USD as the notes print it: to the nano-dollar a budget counts in, no exponent, no trailing zeros ($0.000000002, $0.04). */
const usd = (v: number): string => `$${(Math.round(v * 1e9) / 1e9).toFixed(9).replace(/\.?0+$/, '')}`;

/**
 * Budgets below what one answer's output alone can cost on a model they cover: the output cap a
 * request without `max_tokens` is reserved for (the model's `maxOutputTokens`) at its output price.
 * Every such request is refused by that budget (a lower `max_tokens` may fit).
 */
export function budgetsBelowOneAnswer(cfg: Config): string[] {
  const out: string[] = [];
  cfg.budget.limits.forEach((l, i) => {
    if (l.usd <= 0) {
      // Valid (a model's spend stopped), but it refuses every request it covers: said, in case it was meant as "no limit".
      const whom =
        l.scope === 'model' ? `every request for ${l.model ?? 'its model'}` : l.scope === 'key' ? `every request of key ${l.key ?? ''}` : 'every request';
      out.push(`budget.limits[${i}] is $0: ${whom} is refused by it (remove the line for no limit)`);
      return;
    }
    // A key's budget covers the models the key may use (auth.keys[].models), not the whole catalogue.
    const keyList = l.scope === 'key' ? keyModels(cfg, l.key ?? null) : null;
    const covered = l.scope === 'model' && l.model !== undefined ? [l.model] : keyList !== null ? [...keyList] : Object.keys(cfg.models);
    const over = covered.flatMap((id) => {
      const m = cfg.models[id];
      if (m === undefined || m.capabilities.includes('embeddings')) return [];
      const worst = (m.maxOutputTokens * m.price.outputPerMTok) / 1e6;
      return worst > l.usd ? [`${id} (${usd(worst)} for ${m.maxOutputTokens} tokens)`] : [];
    });
    if (over.length > 0)
      out.push(
        `budget.limits[${i}] (${usd(l.usd)}) is less than one answer's output at maxOutputTokens on ${over.join(', ')}: a request there without a lower max_tokens is always refused by it`,
      );
  });
  return out;
}

/** Below this, a time in the config is taken for seconds written where milliseconds are meant. */
const SECONDS_LIKE_MS = 100;

/**
 * Times too short to be meant: switchyard's are in milliseconds, LiteLLM's and Portkey's in
 * seconds, so `requestTimeoutMs: 30` (meant as 30 s) made every request time out, each billed its
 * reservation, with nothing said. Said: a time under 100 ms, and the limits a model's usual
 * latency (`latencyPriorMs`) does not fit in — the request's deadline under twice it, the wait
 * for a JSON answer's headers or a stream's first content under it.
 */
export function timesTooShort(cfg: Config): string[] {
  const out: string[] = [];
  const r = cfg.resilience;
  const times: Array<[string, number]> = [
    ['resilience.requestTimeoutMs', r.requestTimeoutMs],
    ['resilience.connectTimeoutMs', r.connectTimeoutMs],
    ['resilience.headersTimeoutMs', r.headersTimeoutMs],
    ['resilience.firstTokenTimeoutMs', r.firstTokenTimeoutMs],
    ['resilience.idleTimeoutMs', r.idleTimeoutMs],
    ['resilience.recoveryMs', r.recoveryMs],
    ['server.requestTimeoutMs', cfg.server.requestTimeoutMs],
    ['server.sendTimeoutMs', cfg.server.sendTimeoutMs],
  ];
  for (const [id, m] of Object.entries(cfg.models))
    for (const k of ['headersTimeoutMs', 'firstTokenTimeoutMs', 'idleTimeoutMs'] as const) {
      const v = m[k];
      if (v !== undefined) times.push([`models.${id}.${k}`, v]);
    }
  for (const [path, v] of times) if (v < SECONDS_LIKE_MS) out.push(`${path} is ${v} ms: switchyard's times are in milliseconds (${v} s would be ${v * 1000})`);
  for (const [id, m] of Object.entries(cfg.models)) {
    const usual = m.latencyPriorMs;
    const tight: string[] = [];
    if (r.requestTimeoutMs < 2 * usual) tight.push(`resilience.requestTimeoutMs (${r.requestTimeoutMs})`);
    const headers = m.headersTimeoutMs ?? r.headersTimeoutMs;
    if (headers < usual) tight.push(`${m.headersTimeoutMs !== undefined ? `models.${id}` : 'resilience'}.headersTimeoutMs (${headers})`);
    const first = m.firstTokenTimeoutMs ?? r.firstTokenTimeoutMs;
    // An embeddings model streams nothing: no first-token limit holds it.
    if (first < usual && !m.capabilities.includes('embeddings'))
      tight.push(`${m.firstTokenTimeoutMs !== undefined ? `models.${id}` : 'resilience'}.firstTokenTimeoutMs (${first})`);
    if (tight.length > 0)
      out.push(
        `models.${id}: ${tight.join(', ')} ${tight.length > 1 ? 'leave' : 'leaves'} no room for its usual latency (latencyPriorMs ${usual}): most of its requests would time out, each billed what was reserved for it`,
      );
  }
  return out;
}

/**
 * An OTLP endpoint with no path: the spans are POSTed to the URL as written (the signal's own URL,
 * as OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is), where a collector answers 404 and every span is lost
 * with a warning. Users of OTEL_EXPORTER_OTLP_ENDPOINT give the base URL and expect /v1/traces added.
 */
export function otlpWithoutPath(cfg: Config): string[] {
  const endpoint = cfg.observe.otlp?.endpoint;
  if (endpoint === undefined) return [];
  let path: string;
  try {
    path = new URL(endpoint).pathname;
  } catch {
    return [];
  }
  if (path !== '' && path !== '/') return [];
  const base = endpoint.replace(/\/+$/, '');
  return [
    `observe.otlp.endpoint (${base}) has no path: spans are POSTed to it as written, and an OTLP/HTTP collector takes traces at /v1/traces: write ${base}/v1/traces`,
  ];
}

/** Above this, stored Responses held in memory (a `memory` ledger) are noted: the sidecar's memory goals are ~150 MB. */
export const MEMORY_RESPONSES_NOTE_BYTES = 64 * 1024 ** 2;

/**
 * A `memory` ledger keeps the stored Responses in the process's memory too (SQLite `:memory:`), up
 * to `storage.responses.maxBytes` (1 GiB by default): any client could grow the sidecar by that
 * much with `store: true` requests (a helper grew one to 563 MB with 150 requests of 400 KB).
 */
export function memoryResponses(cfg: Config): string[] {
  const max = cfg.storage.responses.maxBytes;
  if (cfg.storage.ledger !== 'memory' || max <= MEMORY_RESPONSES_NOTE_BYTES) return [];
  return [
    `storage.ledger is memory, so stored Responses are held in this process's memory too, up to storage.responses.maxBytes (${max} bytes): set it lower (${MEMORY_RESPONSES_NOTE_BYTES} = 64 MiB, say) or use a sqlite: ledger`,
  ];
}

/** A price per million tokens below this (USD) is no model's: it reads as a price per token. */
const PER_TOKEN_PRICE = 0.001;

/**
 * Prices written per token, as LiteLLM's `input_cost_per_token` is (gpt-4.1's 0.000002), in
 * switchyard's per-million fields: every request is billed a millionth of its cost and no budget
 * ever trips. No model is priced under $0.001 per million tokens.
 */
export function pricesPerToken(cfg: Config): string[] {
  const out: string[] = [];
  for (const [id, m] of Object.entries(cfg.models)) {
    const p = m.price;
    const tiny = (['inputPerMTok', 'outputPerMTok', 'cachedInputPerMTok', 'cacheWritePerMTok'] as const).filter((k) => {
      const v = p[k];
      return v !== undefined && v > 0 && v < PER_TOKEN_PRICE;
    });
    if (tiny.length > 0)
      out.push(
        `models.${id}.price: ${tiny.map((k) => `${k} ${p[k]}`).join(', ')} reads as a price per token (LiteLLM's input_cost_per_token): switchyard's prices are USD per million tokens, so multiply by 1,000,000 (${tiny.map((k) => `${k}: ${+(p[k]! * 1e6).toPrecision(6)}`).join(', ')})`,
      );
  }
  return out;
}

/**
 * A quality cascade that cannot climb: every chat model in one tier (an `auto` request's first
 * step is then its last: served as a plain request), or a route listing a dearer model before a
 * cheaper one (a step that fails a check escalates down in price: `strong:empty>mid:pass`). Both
 * valid, both silent until a cascade round found them.
 */
export function cascadeGoesNowhere(cfg: Config): string[] {
  if (!cfg.routing.cascade.enabled) return [];
  const out: string[] = [];
  const chat = Object.values(cfg.models).filter((m) => !m.capabilities.includes('embeddings'));
  const tiers = new Set(chat.map((m) => m.tier));
  if (chat.length > 1 && tiers.size === 1)
    out.push(
      `routing.cascade.enabled: every chat model is tier ${[...tiers][0]!}, so an auto request has no tier to escalate to (it is served as a plain request, unchecked): give the models the tiers they are (fast_cheap, balanced, high_quality), or cascade along a route`,
    );
  const perM = (id: string): number | null => {
    const p = cfg.models[id]?.price;
    return p === undefined ? null : p.inputPerMTok + p.outputPerMTok;
  };
  for (const [name, models] of Object.entries(cfg.routing.routes))
    for (let i = 0; i + 1 < models.length; i++) {
      const [a, b] = [models[i]!, models[i + 1]!];
      const [pa, pb] = [perM(a), perM(b)];
      if (pa === null || pb === null || pb >= pa) continue;
      out.push(
        `routing.routes.${name}: with the cascade on, an answer of ${a} that fails a check escalates to ${b}, a cheaper model (${pa} → ${pb} USD per million tokens in and out): list a route's models cheapest first, or send its requests with x-switchyard-cascade: off`,
      );
      break;
    }
  return out;
}

/**
 * `observe.publicMetrics: true` on a loopback bind: `/metrics` answers without a token there anyway,
 * so the key does nothing until the sidecar is bound to another address (`--host` may do that).
 */
export function publicMetricsOnLoopback(cfg: Config, host: string, loopback: boolean, serving = false): string[] {
  if (!cfg.observe.publicMetrics || !loopback) return [];
  return [
    `observe.publicMetrics: true does nothing on a loopback bind (${host}): /metrics answers without the admin token there already; it opens /metrics when switchyard is bound to another address${serving ? '' : ' (server.host or serve --host)'}`,
  ];
}

type LimitConfig = Config['budget']['limits'][number];
const limitName = (l: LimitConfig): string =>
  `${l.scope}${l.scope === 'key' ? ` "${l.key ?? ''}"` : l.scope === 'model' ? ` "${l.model ?? ''}"` : ''} ${l.period === 'total' ? 'total' : `per ${l.period}`}`;

/**
 * What a reload takes away that guarded the running sidecar: every client key (a file without its
 * `auth` section, perhaps half-written, opens /v1/* to anyone who can reach it), a budget limit.
 * Applied, as the file says, but said: the reload's answer and the log carry it.
 */
export function reloadRemovals(running: Config, next: Config): string[] {
  const out: string[] = [];
  const keys = running.auth?.keys.length ?? 0;
  if (keys > 0 && next.auth === undefined)
    out.push(
      `this reload removes the auth section: client keys are no longer checked, so /v1/* answers every request without a key (it needed one of ${keys}); put auth back and reload to require them again`,
    );
  const kept = new Set(next.budget.limits.map(limitName));
  const sameScope = (a: LimitConfig, b: LimitConfig): boolean => a.scope === b.scope && a.key === b.key && a.model === b.model;
  for (const l of running.budget.limits) {
    if (kept.has(limitName(l))) continue;
    // The same scope over another period is not unlimited: said as what it is (it read "no longer limited").
    const other = next.budget.limits.find((n) => sameScope(n, l) && !running.budget.limits.some((r) => limitName(r) === limitName(n)));
    // The scope still limited over another period it already had: not "no longer limited".
    const still = next.budget.limits.find((n) => sameScope(n, l));
    out.push(
      other !== undefined
        ? `this reload replaces the budget limit ${limitName(l)} (${l.usd} USD) with ${limitName(other)} (${other.usd} USD): the new one counts what the ledger holds for its own period`
        : still !== undefined
          ? `this reload removes the budget limit ${limitName(l)} (${l.usd} USD): ${limitName(still)} (${still.usd} USD) still limits it`
          : `this reload removes the budget limit ${limitName(l)} (${l.usd} USD): what it limited is no longer limited`,
    );
  }
  return out;
}
