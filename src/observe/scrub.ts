/**
 * One scrubber for every text switchyard relays or logs: error messages passed on from an
 * upstream (which may echo the key it was sent), log lines, inspection events. It removes
 * every configured secret (provider keys, client keys, the admin token) and anything that
 * looks like a bearer token or a provider key, whether or not it is ours.
 *
 * The set of secrets is process-wide (like a logger's redaction paths): the composition root
 * registers them at start and on reload; a secret once registered stays scrubbed.
 */
import type { Config } from '../config/schema.js';

const REDACTED = '[redacted]';
/** Shorter values are not treated as secrets: scrubbing them would mangle ordinary text (a warning names them: {@link shortSecrets}). */
export const MIN_SECRET_CHARS = 8;

/**
 * Shapes of credentials: `Bearer …`, an echoed `Authorization:` header of any scheme (`Basic …`),
 * `x-api-key: …` / Azure's `api-key: …` / `x-goog-api-key: …`, OpenAI/Anthropic `sk-…`, Google `AIza…`,
 * a JSON Web Token, GitHub tokens (`ghp_…`, `github_pat_…`), AWS access key ids (`AKIA…`, `ASIA…`).
 */
const LOOKS_SECRET = [
  /\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi,
  /\b(authorization["']?\s*[:=]\s*["']?(?:[A-Za-z][A-Za-z0-9-]*\s+)?)[^\s"',;]{8,}/gi,
  /\b(api-key["']?\s*[:=]\s*["']?)[^\s"',;]{8,}/gi,
  /\b()sk-[A-Za-z0-9_-]{16,}/g,
  /\b()AIza[0-9A-Za-z_-]{30,}/g,
  // A JSON Web Token (header.payload.signature, both JSON parts base64url of '{"'), GitHub's tokens, AWS access key ids.
  /\b()eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
  /\b()(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})/g,
  /\b()(?:AKIA|ASIA)[0-9A-Z]{16}\b/g,
];

const secrets = new Set<string>();
/**
 * Every registered secret in every form an upstream or a client may echo it in, as one pattern
 * made when secrets are registered: the value itself in any letter case (an upstream that
 * upper- or lower-cases what it quotes, `SK-…`), the hex of its UTF-8 bytes in either case
 * (`736b2d…`, `736B2D…`), and its base64 cores (matched ignoring case too: 8 or more base64
 * characters that differ from a core only in case are no text anyone writes), and the value with
 * its leading prefixes cut off (`sk-…` echoed without its `sk-`; {@link withoutPrefixes}). Longest first, so
 * a secret that contains another is removed whole. One pass over the text per call, whatever
 * the number of secrets' forms.
 */
let exact: RegExp | null = null;

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The parts of any base64 text (standard or URL-safe) that holds `secret`, at each of the three
 * byte alignments it can have there: the characters made of the secret's bits alone. An upstream
 * echoing a credential base64-encoded (a Basic header, a token blob) shows one of them.
 */
export function base64Cores(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const out: string[] = [];
  for (let k = 0; k < 3; k++) {
    const enc = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64');
    const core = enc.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + bytes.length)) / 6));
    out.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

/** Shortest rest of a secret, once a leading prefix is cut off, that is still scrubbed (see {@link withoutPrefixes}). */
const MIN_CORE_CHARS = 12;

/**
 * The secret without each of its leading prefixes (`sk-ant-api03-XYZ…` → `ant-api03-XYZ…`,
 * `api03-XYZ…`, `XYZ…`): an upstream or a client that quotes a key may drop its `sk-` (or
 * `sk-proj-`, `pk_live_`) part. Each rest of {@link MIN_CORE_CHARS} characters or more, cut after
 * a `-`, `_` or `.` among the first half of the secret.
 */
export function withoutPrefixes(secret: string): string[] {
  const out: string[] = [];
  const half = secret.length >> 1;
  for (let i = 0; i < half; i++) {
    const c = secret[i];
    if (c !== '-' && c !== '_' && c !== '.') continue;
    const rest = secret.slice(i + 1);
    if (rest.length >= MIN_CORE_CHARS) out.push(rest);
  }
  return out;
}

/**
 * The secret as text that quotes it escaped: inside a JSON string (`\"`, `\\`, and `\/` as PHP's
 * json_encode writes a `/`, or every character `\u`-escaped), percent-encoded in a URL, or as an
 * HTML attribute. An upstream's error body relayed whole (a `{"detail": …}` or vLLM shape, a cut
 * JSON text) showed a key with a `/` or `+` in it past the plain form.
 */
export function escapedForms(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const unicode = [...secret].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
  const html = secret.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return [json, json.replace(/\//g, '\\/'), unicode, encodeURIComponent(secret), html].filter((f) => f !== secret);
}

/** The forms of every registered secret {@link exact} matches, by their lower-case spelling (the pattern ignores case). */
const forms = new Map<string, string>();

/** Adds secret values (absent or short ones are ignored), and the forms they may be echoed in (see {@link exact}). */
export function registerSecrets(values: Iterable<string | null | undefined>): void {
  let added = false;
  for (const v of values) {
    if (typeof v !== 'string' || v.length < MIN_SECRET_CHARS || secrets.has(v)) continue;
    secrets.add(v);
    for (const form of [v, Buffer.from(v, 'utf8').toString('hex'), ...base64Cores(v), ...withoutPrefixes(v), ...escapedForms(v)])
      if (form.length >= MIN_SECRET_CHARS && !forms.has(form.toLowerCase())) forms.set(form.toLowerCase(), form);
    added = true;
  }
  if (!added) return;
  // Longest first, so a secret that contains another is removed whole.
  const alts = [...forms.values()].sort((a, b) => b.length - a.length).map(escape);
  exact = new RegExp(alts.join('|'), 'gi');
  // A secret with a mask's characters in it would be matched by its own text in part.
  maskable = [...secrets].filter((v) => !MASK_RUN_TEST.test(v)).map((v) => v.toLowerCase());
  maskableMax = maskable.reduce((n, v) => Math.max(n, v.length), 0);
}

/** Dots, an ellipsis, stars or bullets, alone or mixed: how providers mask the middle of a key they quote. */
const MASK_RUN = /(?:\.{2,}|\*{2,}|[…•]+)[.*…•]*/g;
const MASK_RUN_TEST = /\.\.|\*\*|…|•/;
/** What is shown of a masked key, head and tail together, for it to be scrubbed (the tail at least {@link MASKED_TAIL_MIN}). */
const MASKED_SHOWN_MIN = 8;
const MASKED_TAIL_MIN = 2;
/** A head shown alone is scrubbed from this many characters, and a third of the key (`sk-proj-****` is what many texts show). */
const HEAD_ALONE_MIN = 12;
/** The registered secrets, lower-cased, that {@link scrubMasked} looks for. */
let maskable: string[] = [];
/** The longest of {@link maskable}: how far the words around a mask are read. */
let maskableMax = 0;
/** Characters of a key as a masked echo shows it (a dot, slash, plus or equals sign inside one included). */
const KEY_CHAR = /[A-Za-z0-9_\-./+=~]/;
/** Punctuation a sentence may put before or after a key, not part of it. */
const LEADING_EDGE = /^[./+=~]+/;
const TRAILING_EDGE = /[./+=~]+$/;

/**
 * A secret as a provider's error masks it: a head of it, a mask (dots, an ellipsis, stars, bullets,
 * mixed, with up to two spaces either side or none), a tail of it (`sk-hostileOA...defXYZ`, `sk-proj-****Ab12`,
 * `sk-host*****fXYZ`, `...hijklmnopqrstudefXYZ`, `proj.Ab12 ... mnOPQ`): what is shown is still part of
 * the key (a hostile-input round found 18 of a 37-character key relayed and logged so). Removed, mask
 * included, when the word before the mask ends in a prefix of a registered secret (or nothing: the
 * word whole, or after a join such as `=`, `/`, `%3D` or `\u003d`) and the word after it begins with a
 * suffix of the same secret, any letter case, with at least {@link MASKED_SHOWN_MIN} characters shown
 * and {@link MASKED_TAIL_MIN} of them the tail's — or a head alone of {@link HEAD_ALONE_MIN}
 * characters and a third of the key; head and tail may overlap (all of the key shown around a mask).
 * One pass over the text, each mask looked at once, the words around it read and cut into candidates
 * once (a pattern that backtracked through long words took seconds on a 256 KB body), each secret
 * then compared with at most {@link MAX_JOINS} candidates a side.
 */
function scrubMasked(text: string): string {
  if (maskable.length === 0 || !MASK_RUN_TEST.test(text)) return text;
  let out = '';
  let from = 0;
  for (const m of text.matchAll(MASK_RUN)) {
    if (m.index < from) continue;
    // "head ... tail", "head ...tail": up to two spaces a side belong to the mask, a key's character beyond them.
    const a = pastSpaces(text, m.index, -1, from);
    const b = pastSpaces(text, m.index + m[0].length, 1, text.length);
    // The word before the mask and the one after it, read no further than the longest secret. Neither
    // crosses another mask's dots (no key has two dots in a row): "ab..ab..ab.." read each head back
    // across every mask before it, a secret's length a run (182 ms on 256 KB).
    let h = a;
    while (h > from && a - h <= maskableMax && KEY_CHAR.test(text[h - 1]!) && !(text[h - 1] === '.' && text[h - 2] === '.')) h--;
    let t = b;
    while (t < text.length && t - b <= maskableMax && KEY_CHAR.test(text[t]!) && !(text[t] === '.' && text[t + 1] === '.')) t++;
    // Without punctuation a sentence puts around a key ("key proj.Ab12...mnOPQ." ends a sentence).
    const headWord = text.slice(h, a);
    const tailWord = text.slice(b, t);
    const hw = headWord.replace(TRAILING_EDGE, '');
    const tw = tailWord.replace(LEADING_EDGE, '');
    // Too little shown around this mask to be any key's: no secret is compared.
    if (hw.length + tw.length < MASKED_SHOWN_MIN && hw.length < HEAD_ALONE_MIN) continue;
    const heads = headCandidates(hw.toLowerCase(), h > 0 ? text[h - 1]! : '');
    const tails = tailCandidates(tw.toLowerCase());
    let start = -1;
    let end = -1;
    for (const secret of maskable) {
      const head = heads.find((c) => secret.startsWith(c)) ?? '';
      const tail = tails.find((c) => secret.endsWith(c)) ?? '';
      const shown = tail.length >= MASKED_TAIL_MIN ? head.length + tail.length >= MASKED_SHOWN_MIN : head.length >= Math.max(HEAD_ALONE_MIN, secret.length / 3);
      if (!shown) continue;
      // The punctuation between a shown head or tail and the mask goes with them; with nothing shown on a side, that side's text stays.
      start = head === '' ? m.index : a - head.length - (headWord.length - hw.length);
      end = tail === '' ? m.index + m[0].length : b + (tailWord.length - tw.length) + tail.length;
      break;
    }
    if (start < 0) continue;
    out += `${text.slice(from, start)}${REDACTED}`;
    from = end;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** `at` moved past up to two spaces in direction `dir` (-1 before it, 1 from it), when a key's character is beyond them; else `at`. */
function pastSpaces(text: string, at: number, dir: -1 | 1, bound: number): number {
  const first = dir < 0 ? at - 1 : at;
  let n = 0;
  while (n < 2 && text[first + dir * n] === ' ' && (dir < 0 ? first - n > bound : first + n < bound)) n++;
  if (n === 0) return at;
  const beyond = text[first + dir * n];
  return beyond !== undefined && KEY_CHAR.test(beyond) ? at + dir * n : at;
}

/** Characters that may join a key to the word before or after it (`api_key=sk-…`, `/v1/keys/sk-…`, `token~sk-…`). */
const JOINS = new Set(['=', '/', '~', '+', '.', '_', '-']);
/** Candidates looked at on each side of a mask (a word of nothing but joins is read no further). */
const MAX_JOINS = 16;
/** An escaped join's rest as the word before a key begins with it: `%3D` (`3d`), `\u003d` (`u003d`), `\x3d` (`x3d`). */
const ESCAPED = { '%': /^[0-9a-f]{2}/, '\\': /^(u[0-9a-f]{4}|x[0-9a-f]{2})/ } as const;

/**
 * The ends of the word before a mask that may begin a secret, longest first: the word whole
 * (without the punctuation a sentence puts before it), past an escape the word began after
 * (`api_key%3Dsk-…` is the word `3Dsk-…`), and what follows each of its joins — `api_key=sk-oa-SECRET`
 * shows `sk-oa-SECRET` of the key (the whole word, no key's head, hid 16 of a 29-character key).
 */
function headCandidates(word: string, before: string): string[] {
  const out: string[] = [];
  const whole = word.replace(LEADING_EDGE, '');
  if (whole !== '') out.push(whole);
  const esc = before === '%' ? ESCAPED['%'] : before === '\\' ? ESCAPED['\\'] : null;
  const skip = esc?.exec(word)?.[0].length ?? 0;
  if (skip > 0 && skip < word.length) out.push(word.slice(skip));
  for (let p = 1; p < word.length && out.length < MAX_JOINS; p++) if (JOINS.has(word[p - 1]!)) out.push(word.slice(p));
  return out;
}

/** The starts of the word after a mask that may end a secret, longest first: the word whole (without a sentence's punctuation after it), and what comes before each of its joins. */
function tailCandidates(word: string): string[] {
  const out: string[] = [];
  const whole = word.replace(TRAILING_EDGE, '');
  if (whole !== '') out.push(whole);
  for (let q = word.length - 1; q > 0 && out.length < MAX_JOINS; q--) if (JOINS.has(word[q]!)) out.push(word.slice(0, q));
  return out;
}

/**
 * The secret values a config names through the environment, plus the admin and relay tokens
 * and the passwords written into the storage URLs (`postgres://user:pw@…`, `redis://:pw@…`).
 */
export function secretsOf(cfg: Config, env: NodeJS.ProcessEnv): Array<string | undefined> {
  const named = [
    ...Object.values(cfg.providers).map((p) => p.apiKeyEnv),
    ...(cfg.auth?.keys ?? []).map((k) => k.keyEnv),
    'SWITCHYARD_ADMIN_TOKEN',
    'SWITCHYARD_RELAY_KEY',
  ];
  // A gateway header's value, and its token alone when it has a scheme (`Bearer <token>`): an echo may show either.
  const headerValues = Object.values(cfg.providers).flatMap((p) =>
    Object.values(p.headersEnv).flatMap((name) => {
      const v = env[name];
      const token = v === undefined ? undefined : /^[A-Za-z][A-Za-z0-9-]* +(\S+)$/.exec(v)?.[1];
      return token === undefined ? [v] : [v, token];
    }),
  );
  return [
    ...named.map((name) => (name ? env[name] : undefined)),
    ...headerValues,
    passwordOf(cfg.storage.ledger),
    passwordOf(cfg.storage.shared),
    ...otlpHeaderValues(env.OTEL_EXPORTER_OTLP_HEADERS),
    ...otlpHeaderValues(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS),
  ];
}

/**
 * The values of OpenTelemetry's exporter headers (`key=value,key2=value2`, values percent-encoded),
 * which the OTLP exporter sends to the collector: a collector's token must not reach a log line
 * either. "Bearer tok" is registered whole and as its token.
 */
function otlpHeaderValues(spec: string | undefined): string[] {
  if (!spec) return [];
  const out: string[] = [];
  for (const pair of spec.split(',')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    let value = pair.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // kept as written
    }
    out.push(value);
    const space = value.lastIndexOf(' ');
    if (space > 0) out.push(value.slice(space + 1));
  }
  return out;
}

/** A storage URL's password: in its user info (`redis://:pw@…`) or as `?password=` (which ioredis and pg send as well). */
function passwordOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    const pw = u.password === '' ? u.searchParams.get('password') : decodeURIComponent(u.password);
    return pw === null || pw === '' ? undefined : pw;
  } catch {
    return undefined;
  }
}

/** Query parameters that carry a credential (`?password=`, `?token=`, `?key=`, `?sig=`…). */
const SECRET_PARAM = /pass|secret|token|key|auth|sig|cred/i;

/**
 * A URL fit for logs and errors: its password, and the value of any query parameter named like a
 * credential (PostgreSQL's `?password=`, an inspector's `?token=`), replaced by `***` (other URLs
 * unchanged).
 */
export function withoutPassword(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url.includes('@') || url.includes('?') ? `${url.split(':')[0]}://(unparsable url)` : url;
  }
  let changed = false;
  if (u.password !== '') {
    u.password = '***';
    changed = true;
  }
  for (const [k] of [...u.searchParams])
    if (SECRET_PARAM.test(k)) {
      u.searchParams.set(k, '***');
      changed = true;
    }
  return changed ? u.toString() : url;
}

/**
 * switchyard's own config keys that hold a word of {@link CREDENTIAL_NAME} and a number or a
 * prefix, never a credential: their values are shown (a parse error on `maxOutputTokens: 8O92`
 * hid the very value to fix).
 */
const OWN_NUMBER_KEYS = ['maxOutputTokens', 'imageTokens', 'firstTokenTimeoutMs', 'maxTokens', 'keyPrefix'].join('|');

/**
 * A key whose value may be a credential, as a config file (or a header map in one) names it: a
 * name holding one of the words, as the config's own rule for a credential header reads it — so
 * `apiKey`, `apiKey2`, `x-api-key`, `token`, `access_token_v2`, `client_secret`, `password_hash`,
 * `pass`, `auth_header`, `authorization`, `bearer`, `jwt`, `session`, `dsn`, `connectionString`
 * are, and so are `max_tokens` (a value hidden in an error costs little; switchyard's own keys
 * in {@link OWN_NUMBER_KEYS} are not). A name
 * ending in `Env` names an environment variable (`apiKeyEnv`, `keyEnv`): its value is shown.
 */
const CREDENTIAL_NAME = String.raw`(?<![A-Za-z0-9_.-])["']?(?!(?:${OWN_NUMBER_KEYS})["']?\s*[:=])[A-Za-z0-9_.-]*?(?:key|token|secret|pass|pwd|auth|credential|cookie|signature|bearer|jwt|session|dsn|connection)[A-Za-z0-9_.-]*(?<!Env)["']?`;
/**
 * Such a key, `:` or `=`, and its value on the line: a quoted one to its closing quote (or the
 * line's end, when it has none), a plain one to the `,` `}` `]` or ` #` that ends it in YAML. A
 * `{` or `[` opens a collection, whose own keys are looked at in turn.
 */
const CREDENTIAL_VALUE = new RegExp(
  String.raw`(${CREDENTIAL_NAME}\s*[:=][ \t]*)("(?:[^"\\\r\n]|\\.)*"?|'(?:[^'\r\n]|'')*'?|(?![{[\s])(?:(?![ \t]#)[^,}\]\r\n])+)`,
  'gi',
);
/** A line that leaves a credential's value to the next lines: `apiKey:` (a YAML block value, `|` or `>` too) or an unclosed quote. */
const CREDENTIAL_OPENED = new RegExp(String.raw`${CREDENTIAL_NAME}\s*:[ \t]*(?:[|>][-+0-9]*[ \t]*)?(?:#.*)?$`, 'i');
/** The password in a URL's user info (`postgres://user:pw@host`). */
const USERINFO_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@"']*:)[^\s/@"']+@/gi;

function redactValue(pre: string, value: string): string {
  const q = value[0];
  if (q === '"' || q === "'") return `${pre}${q}${REDACTED}${value.length > 1 && value.endsWith(q) ? q : ''}`;
  return `${pre}${REDACTED}${/\s*$/.exec(value)![0]}`;
}

/**
 * A line of a config file fit to quote in an error (a parse error's excerpt, which reaches the
 * reload's HTTP answer, check-config's output and the log): the value after every
 * credential-named key, a URL's password, and whatever {@link scrub} removes (a registered
 * secret, `sk-…`, `Bearer …`), each replaced by `[redacted]`.
 */
export function redactSourceLine(line: string): string {
  return scrub(line.replace(USERINFO_PASSWORD, `$1${REDACTED}@`).replace(CREDENTIAL_VALUE, (_m, pre: string, value: string) => redactValue(pre, value)));
}

/**
 * Whether a config line leaves a credential's value to the lines below it: `apiKey:` alone (a
 * YAML block value; `|` or `>` too), an `apiKey: "…` whose quote does not close on the line, or
 * a plain `apiKey: abc` that runs to the line's end (a more indented line below continues it).
 * Those lines are the value, and are quoted in no error.
 */
export function opensCredentialValue(line: string): boolean {
  if (CREDENTIAL_OPENED.test(line)) return true;
  let last: RegExpMatchArray | undefined;
  for (const m of line.matchAll(CREDENTIAL_VALUE)) last = m;
  if (last === undefined) return false;
  const value = last[2]!;
  const q = value[0];
  if (q === '"' || q === "'") return value.length === 1 || !value.endsWith(q);
  return /^\s*(?:#.*)?$/.test(line.slice(last.index! + last[0].length));
}

/** A base64 blob wrapped in lines (MIME's 76 columns, with real or escaped line breaks): a secret may straddle a break. */
// Starts only where a run starts (the lookbehind): tried from every character of a long run not
// followed by a break, it was quadratic (64 KB of base64 in an upstream's error: 10 s).
const WRAPPED_BASE64 = /(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{8,}={0,2}(?:(?:\r?\n|\\r\\n|\\n)[A-Za-z0-9+/_-]+={0,2})+/g;
const LINE_BREAK = /\r?\n|\\r\\n|\\n/g;

/** `text` without any registered secret or credential-looking string. */
export function scrub(text: string): string {
  let out = scrubKnown(text);
  for (const re of LOOKS_SECRET) out = out.replace(re, `$1${REDACTED}`);
  return out;
}

/**
 * Only the registered secrets, in every form they may be echoed in, not the shapes of credentials:
 * for switchyard's own messages that name config paths (`headersEnv.cf-aig-authorization: …` is
 * no header being echoed), where a storage server may still have echoed a password.
 */
export function scrubKnown(text: string): string {
  let out = exact === null ? text : scrubMasked(text).replace(exact, REDACTED);
  if (exact !== null && (out.includes('\n') || out.includes('\\n'))) {
    const re = exact;
    out = out.replace(WRAPPED_BASE64, (blob) => {
      const joined = blob.replace(LINE_BREAK, '');
      re.lastIndex = 0;
      return re.test(joined) ? REDACTED : blob;
    });
  }
  return out;
}

/**
 * The variables of `secretsOf` whose values are set but too short to be scrubbed (a local vLLM's
 * `dummy`, a 7-character token): an upstream that echoes one shows it in errors and logs. Named,
 * never shown; check-config notes them and serve warns.
 */
export function shortSecrets(cfg: Config, env: NodeJS.ProcessEnv): string[] {
  const named: Array<[string, string | undefined]> = [
    ...Object.entries(cfg.providers).map(([n, p]): [string, string | undefined] => [
      `providers.${n}.apiKeyEnv (${p.apiKeyEnv ?? ''})`,
      p.apiKeyEnv ? env[p.apiKeyEnv] : undefined,
    ]),
    ...Object.entries(cfg.providers).flatMap(([n, p]) =>
      Object.entries(p.headersEnv).map(([h, v]): [string, string | undefined] => [`providers.${n}.headersEnv.${h} (${v})`, env[v]]),
    ),
    ...(cfg.auth?.keys ?? []).map((k): [string, string | undefined] => [`auth.keys (${k.id}).keyEnv (${k.keyEnv})`, env[k.keyEnv]]),
    ['SWITCHYARD_ADMIN_TOKEN', env.SWITCHYARD_ADMIN_TOKEN],
    ['SWITCHYARD_RELAY_KEY', env.SWITCHYARD_RELAY_KEY],
  ];
  return named
    .filter(([, v]) => v !== undefined && v !== '' && v.length < MIN_SECRET_CHARS)
    .map(
      ([where]) =>
        `${where}: its value is shorter than ${MIN_SECRET_CHARS} characters, too short to be scrubbed from logs and relayed errors (it would mangle ordinary text): an upstream that echoes it shows it`,
    );
}
