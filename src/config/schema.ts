/**
 * The whole config shape of spec §6, validated with zod at boot (and on reload). Every key of
 * the contract is accepted here, including those used by later features. Unknown keys are
 * refused (a typo must not silently fall back to a default), and secrets are only ever named
 * by environment variable (`apiKeyEnv`, `keyEnv`), never written inline.
 */
import { constants } from 'node:buffer';
import { z } from 'zod';
import { nearest, unknownModel } from './near.js';

export const TIERS = ['fast_cheap', 'balanced', 'high_quality'] as const;
export type Tier = (typeof TIERS)[number];

/** `embeddings` marks an embeddings model: only `/v1/embeddings` uses it (chat routes and `auto` never do). */
export const CAPABILITIES = ['chat', 'code', 'reasoning', 'tools', 'json', 'vision', 'prefill', 'embeddings'] as const;
export type Capability = (typeof CAPABILITIES)[number];

const positiveInt = z.number().int().positive();
/** A rate limit (`rpm`, `tpm`): set, it is a limit; 0 is not "none", which is the key left out. */
const rateLimit = z.number().int().positive({ error: 'leave the key out for no limit' }).optional();
const nonNegInt = z.number().int().nonnegative();
/**
 * The longest wait a Node timer takes: 2^31-1 ms (about 24.8 days). A longer one is not refused
 * by Node but fires after 1 ms (TimeoutOverflowWarning), so a duration above it would end at
 * once (a request timeout of 3e9 ms cut every request after a few ms). Every duration in
 * milliseconds is bounded by it.
 */
export const MAX_TIMER_MS = 2_147_483_647;
const timerBound = {
  error: (iss: { input?: unknown }) =>
    `got ${String(iss.input)}: a duration in milliseconds is waited for with a Node timer, which holds at most ${MAX_TIMER_MS} ms (about 24.8 days) and fires a longer one at once`,
};
/** A duration in ms, > 0 (at most MAX_TIMER_MS). */
const durationMs = positiveInt.max(MAX_TIMER_MS, timerBound);
/** A duration in ms, >= 0 (at most MAX_TIMER_MS). */
const durationMs0 = nonNegInt.max(MAX_TIMER_MS, timerBound);
/**
 * A variable written the LiteLLM or shell way (`os.environ/X`, `$X`, `${X}`) is told the name to
 * write; anything else is not echoed, as it may be the secret itself.
 */
/**
 * A "name" of 24 characters or more with lower and upper case and at least three digits is a
 * key pasted where its variable's name goes (random base-62 text; a CamelCase name rarely has
 * three digits); so is one of 32 hex digits or more (an Azure key was printed back as the
 * variable that was not set).
 */
const looksLikeKey = (v: string): boolean =>
  (v.length >= 24 && /[a-z]/.test(v) && /[A-Z]/.test(v) && (v.match(/[0-9]/g)?.length ?? 0) >= 3) ||
  // 32 or more hex digits with both letters and digits (Azure OpenAI's keys, many gateways' tokens): a key, not a name.
  (v.length >= 32 && /^[0-9a-fA-F]+$/.test(v) && /[0-9]/.test(v) && /[a-fA-F]/.test(v));
const envName = z.string().superRefine((v, ctx) => {
  // One message a value (not a refine that aborts: an aborted issue kept the cross-checks, an unknown model or provider, from being said at all).
  if (looksLikeKey(v))
    ctx.addIssue({
      code: 'custom',
      message:
        'this looks like a key itself, not the name of a variable: put the key in an environment variable and write that name here (the value is not shown)',
    });
  else if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) {
    const name = /^(?:os\.environ\/|\$\{|\$)([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(v)?.[1];
    ctx.addIssue({
      code: 'custom',
      message: name
        ? `expected the name of an environment variable: write ${name}, not "${v}"`
        : 'expected the name of an environment variable (letters, digits and _, like OPENAI_API_KEY), not a value',
    });
  }
});

/** A listen address: `server.host` and `serve --host` alike. */
export const hostSchema = z
  .string()
  .min(1)
  // A host name or an address (IPv6 without brackets); a space or a scheme passed every check and failed at start.
  .regex(
    /^[A-Za-z0-9.:_%-]*$/,
    'not a host name or an IP address (letters, digits, dots, dashes, colons; no scheme, port, brackets or spaces): for example 127.0.0.1, 0.0.0.0 or ::1',
  )
  // One colon is a host and a port (an IPv6 address has two or more): the port is server.port.
  .refine(
    (h) => !/^[A-Za-z0-9.:_%-]*$/.test(h) || h.split(':').length !== 2,
    'a host without a port (the port is server.port or --port): for example 127.0.0.1',
  );

/**
 * The largest `server.maxBodyBytes` that can be honoured: a body is read into one buffer and then
 * one string for JSON.parse, and V8's strings hold at most this many characters (about 512 MiB).
 */
export const MAX_BODY_BYTES = constants.MAX_STRING_LENGTH;

const serverSchema = z.strictObject({
  host: hostSchema.default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(4141),
  maxBodyBytes: positiveInt
    .max(MAX_BODY_BYTES, {
      error: `at most ${MAX_BODY_BYTES} bytes: a request body is read into one string for its JSON, and a JavaScript string holds at most that many characters (a larger limit let a client that declared a body of more than 4 GiB crash the process)`,
    })
    .default(4 * 1024 * 1024),
  /** How long SIGTERM waits for in-flight requests before closing them. */
  shutdownGraceMs: durationMs0.default(10_000),
  /**
   * Time a client has to send one whole request, headers and body (node's requestTimeout; the
   * headers alone get at most 10 s of it): slow or stalled senders are cut with 408. Read at start.
   */
  requestTimeoutMs: durationMs.default(30_000),
  /**
   * nginx's send_timeout: a connection with answer bytes waiting whose client has taken none of
   * them for this long is closed (a stream's request ends as the client's going away). A slow
   * reader that takes some bytes now and then is not cut. Read at start.
   */
  sendTimeoutMs: durationMs.default(60_000),
});

/** Header names that carry a provider credential. */
/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** An HTTP header value undici sends: tab and visible characters (and obs-text), no line breaks or other controls. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Headers of the connection and the body that switchyard (and undici) set for each request. */
const TRANSPORT_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
]);
const CREDENTIAL_HEADERS = new Set(['authorization', 'x-api-key', 'api-key', 'x-goog-api-key', 'proxy-authorization', 'cookie']);

/** ` (did you mean "x"?)` for a near miss among `known` names, else ''. */
function nearHint(name: string, known: readonly string[]): string {
  const near = nearest(name, known);
  return near === null ? '' : ` (did you mean "${near}"?)`;
}

/**
 * Header names that carry a credential by their words (Azure API Management's
 * `ocp-apim-subscription-key`, `helicone-auth`, `cf-aig-authorization`, `x-auth-token`,
 * `private-token`, `apikey`…): their values would sit in the file, and an upstream echoing its
 * request headers would show them, as the scrubber knows only secrets given by environment variable.
 */
/** A list of names where one written twice is a mistake (taken silently, it hid a typo of another). */
function noRepeats(items: readonly string[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  items.forEach((c, i) => {
    if (seen.has(c)) ctx.addIssue({ code: 'custom', path: [i], message: `"${c}" is already in this list: remove it` });
    seen.add(c);
  });
}

const CREDENTIAL_WORDS = /auth|key|token|secret|passw|credential|cookie|signature/i;

const NOT_FROM_ENV =
  'expected an http:// or https:// URL written out: config values are not read from environment variables (a variable is named by a key ending in Env, such as apiKeyEnv): write the URL, or generate the file';

/** An http(s) URL, and the parsed form of it for `refine` (nothing when it does not parse: zod's own check says so). */
function httpUrl(refine: (v: string, u: URL, ctx: z.RefinementCtx) => void) {
  return z
    .url({
      protocol: /^https?$/,
      // `${VAR}` / `$VAR` / `os.environ/VAR` (LiteLLM's) are not read from the environment anywhere but in the key's variable.
      // A value written as a variable (`${SIM_URL}`, `$SIM_URL`) is also told that config values are not read from the environment (envReferences).
      error: (iss) => (typeof iss.input === 'string' && /^\$[A-Za-z_]/.test(iss.input) ? NOT_FROM_ENV : 'expected an http:// or https:// URL'),
    })
    .superRefine((v, ctx) => {
      let u: URL;
      try {
        u = new URL(v);
      } catch {
        return;
      }
      refine(v, u, ctx);
    });
}

/** A user name or password in the URL (`http://@host` too, which URL parsing drops). */
const hasUserinfo = (v: string, u: URL): boolean => u.username !== '' || u.password !== '' || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(v);

const providerSchema = z.strictObject({
  kind: z.enum(['openai', 'anthropic']),
  baseUrl: httpUrl((v, u, ctx) => {
    // Secrets by environment variable only: a user:password in the URL would sit in the file, the logs and /switchyard/state.
    if (hasUserinfo(v, u))
      ctx.addIssue({
        code: 'custom',
        message:
          'a base URL with a user name or password is not accepted (secrets only by environment variable name): remove it and put the key in the variable apiKeyEnv names',
      });
    // Paths are appended to it (/chat/completions, /v1/messages): a query or fragment would end up in the middle.
    if (u.search !== '' || u.hash !== '' || v.includes('?') || v.includes('#'))
      ctx.addIssue({ code: 'custom', message: 'a base URL takes no query string or fragment (switchyard appends the API path to it): remove the ? or # part' });
  }),
  apiKeyEnv: envName.optional(),
  /** Extra non-secret headers (e.g. an organisation id); a credential header is refused (secrets by environment variable only). */
  headers: z
    .record(z.string(), z.string())
    .default({})
    .superRefine((h, ctx) => {
      for (const [name, value] of Object.entries(h)) {
        if (CREDENTIAL_HEADERS.has(name.toLowerCase()) || CREDENTIAL_WORDS.test(name))
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: `a credential header is not accepted inline (secrets only by environment variable name): put the provider's key in an environment variable and name it in apiKeyEnv (sent as the provider's own key header); a gateway's second key goes in headersEnv ({"${name}": "VARIABLE_NAME"})`,
          });
        // A header that can never be sent failed every request to the provider as a transport error (and opened its circuit).
        else if (!HEADER_NAME.test(name))
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: "not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only, no spaces or colons): fix the name",
          });
        else if (TRANSPORT_HEADERS.has(name.toLowerCase()))
          ctx.addIssue({ code: 'custom', path: [name], message: `switchyard sets ${name.toLowerCase()} itself for each request: remove it` });
        else if (!HEADER_VALUE.test(value))
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: 'not a valid HTTP header value (no line breaks or control characters): write it on one line',
          });
      }
    }),
  /**
   * Headers whose values are secrets, each read from the environment variable it names (a
   * gateway's own key beside the provider's: `helicone-auth`, `cf-aig-authorization`, …): never
   * in the file, scrubbed from logs and relayed errors like the provider's key.
   */
  headersEnv: z
    .record(z.string(), envName)
    .default({})
    .superRefine((h, ctx) => {
      for (const name of Object.keys(h)) {
        const lower = name.toLowerCase();
        if (!HEADER_NAME.test(name))
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: "not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only, no spaces or colons): fix the name",
          });
        else if (TRANSPORT_HEADERS.has(lower))
          ctx.addIssue({ code: 'custom', path: [name], message: `switchyard sets ${lower} itself for each request: remove it` });
        else if (lower === 'authorization' || lower === 'x-api-key')
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: `${lower} carries the provider's own key: name its variable in apiKeyEnv instead (sent in the header the provider's kind expects)`,
          });
      }
    }),
  /** Anthropic-kind only: the `anthropic-version` header. */
  anthropicVersion: z
    .string()
    .regex(/^[\x21-\x7e]+$/, 'not a valid anthropic-version header value (printable characters, no spaces): for example 2023-06-01')
    .default('2023-06-01'),
  /**
   * OpenAI-kind only: the field the output cap goes in. `auto`: `max_completion_tokens` on OpenAI's
   * and Azure OpenAI's hosts (their reasoning models refuse `max_tokens`), `max_tokens` on
   * DeepSeek's (it ignores `max_completion_tokens`), else the field the client used (`max_tokens`
   * when none: the one every compatible API takes).
   */
  outputCapField: z.enum(['auto', 'max_tokens', 'max_completion_tokens']).default('auto'),
  /**
   * Connections to its origin (the provider's own pool). Unset: the sum of its endpoints'
   * `maxConcurrent`, so every request its endpoints may have in flight has a connection at once.
   */
  connections: positiveInt.optional(),
});

const endpointSchema = z.strictObject({
  /** Defaults to `<model>@<provider>`; must be unique. */
  id: z.string().min(1).optional(),
  provider: z.string().min(1),
  upstreamModel: z.string().min(1),
  rpm: rateLimit,
  tpm: rateLimit,
  maxConcurrent: positiveInt.default(64),
});

/**
 * Money is exact integer nano-USD (money.ts): a price above this would overflow a request's
 * worst case, which then failed every request to the model with a 500. No model costs near it.
 */
export const MAX_PRICE_PER_MTOK = 10_000;
/** The largest budget in whole dollars whose nano-USD stays an exact integer (2^53 − 1 nano-USD ≈ $9.007M). */
export const MAX_BUDGET_USD = 9_000_000;

const price = z
  .number()
  .nonnegative()
  .max(MAX_PRICE_PER_MTOK, { error: `at most ${MAX_PRICE_PER_MTOK} USD per million tokens (switchyard counts money in exact nano-USD)` })
  // Prices are held in micro-USD per million tokens: a finer one was rounded (0.0000001 priced at $0).
  // (Not said of a price over the maximum: "at most 6 decimals" of 1e308 made no sense.)
  .refine((v) => v > MAX_PRICE_PER_MTOK || Math.abs(v * 1_000_000 - Math.round(v * 1_000_000)) < 1e-6, {
    error: 'at most 6 decimals (switchyard holds prices in micro-USD per million tokens; a finer price would be rounded)',
  });

const priceSchema = z.strictObject({
  inputPerMTok: price,
  outputPerMTok: price,
  cachedInputPerMTok: price.optional(),
  cacheWritePerMTok: price.optional(),
});

const DEFAULT_MAX_OUTPUT_TOKENS = 4096;
/** Parsed models whose `maxOutputTokens` is the default, not the config's (config-notes.ts `outputCapsDefaulted` names them). */
export const OUTPUT_CAP_DEFAULTED = new WeakSet<object>();
/** The most one request may reserve ($1,000,000 = 10^15 nano-USD): sums of many stay exact integers (below 2^53 ≈ 9.007 · 10^15). */
const MAX_REQUEST_WORST_USD = 1_000_000;
/**
 * gpt-4o-mini bills an image at 2,833 + 5,667 tokens a tile, 8 tiles at most: the name as OpenAI, a
 * relay (`openai/gpt-4o-mini`) or a deployment (`azure-gpt-4o-mini`, `prod_gpt-4o-mini`) writes it.
 */
const GPT_4O_MINI = /(^|[^a-z0-9])gpt-4o-mini/i;
const GPT_4O_MINI_IMAGE_TOKENS = 2_833 + 8 * 5_667;

const modelSchema = z
  .strictObject({
    tier: z.enum(TIERS),
    price: priceSchema,
    contextWindow: positiveInt,
    capabilities: z.array(z.enum(CAPABILITIES)).default(['chat']).superRefine(noRepeats),
    latencyPriorMs: z.number().positive().default(500),
    /** Default: 4096, or the context window when that is smaller. */
    maxOutputTokens: positiveInt.optional(),
    /**
     * The most prompt tokens one image can bill on this model, when more than the 6,400 every
     * reservation holds per image (IMAGE_PART_TOKENS_BOUND). Default: 48,169 for an endpoint whose
     * upstreamModel is gpt-4o-mini (OpenAI bills its images at 2,833 + 5,667 a tile, up to 8 tiles).
     */
    imageTokens: positiveInt.optional(),
    /**
     * This model's own time limits per attempt, over `resilience`'s (absent: those). For a model slow
     * to begin by nature: OpenAI's reasoning models send nothing on a stream while they reason, and
     * a JSON answer only once it is whole.
     */
    headersTimeoutMs: durationMs.optional(),
    firstTokenTimeoutMs: durationMs.optional(),
    idleTimeoutMs: durationMs.optional(),
    fallbacks: z
      .array(z.string().min(1))
      .default([])
      .superRefine((chain, ctx) => {
        const seen = new Set<string>();
        chain.forEach((m, i) => {
          if (seen.has(m))
            ctx.addIssue({ code: 'custom', path: [i], message: `"${m}" is already in fallbacks (a model is tried once per request): remove the repeat` });
          seen.add(m);
        });
      }),
    endpoints: z.array(endpointSchema).min(1),
    /**
     * Other names a request may give this model by (a provider's own id, such as Anthropic's
     * `claude-sonnet-4-5-20250929`, which an SDK or a tool sends): served as the model itself.
     */
    aliases: z
      .array(
        z.string().regex(/^[\x21-\x7e]{1,256}$/, { error: 'expected visible ASCII without spaces, at most 256 characters (a model name a request sends)' }),
      )
      .default([])
      .superRefine(noRepeats),
  })
  .superRefine((m, ctx) => {
    // An embeddings model writes no answer and streams nothing: these keys were accepted and never read.
    if (m.capabilities.includes('embeddings'))
      for (const [k, why] of EMBEDDINGS_UNREAD)
        if (m[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: `an embeddings model ${why}: ${k} is never read for it; remove it` });
    if (m.maxOutputTokens !== undefined && m.maxOutputTokens > m.contextWindow)
      ctx.addIssue({
        code: 'custom',
        path: ['maxOutputTokens'],
        message: `${m.maxOutputTokens} is larger than the model's contextWindow (${m.contextWindow}): the answer has to fit in the context window with its prompt`,
      });
    // One request's worst case (a whole context window of prompt at its dearest price, the output cap
    // at the output price) is held exactly in nano-USD: a window of 2^53 tokens took the config and
    // then answered a large max_tokens with a 500.
    const promptPrice = Math.max(m.price.inputPerMTok, m.price.cacheWritePerMTok ?? 0, m.price.cachedInputPerMTok ?? 0);
    const maxOut = Math.min(m.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS, m.contextWindow);
    const worstUsd = (m.contextWindow * promptPrice + maxOut * m.price.outputPerMTok) / 1e6;
    // (A price over its maximum is refused by itself.)
    if (worstUsd > MAX_REQUEST_WORST_USD && Math.max(promptPrice, m.price.outputPerMTok) <= MAX_PRICE_PER_MTOK)
      ctx.addIssue({
        code: 'custom',
        path: ['contextWindow'],
        message: `one request on this model could cost $${worstUsd.toPrecision(3)} (a whole contextWindow of ${m.contextWindow} tokens of prompt and ${maxOut} of output at its prices), over the $${MAX_REQUEST_WORST_USD.toLocaleString('en-US')} switchyard accounts for one request: set the model's real contextWindow and maxOutputTokens`,
      });
  })
  .transform((m) => {
    const out = { ...m, maxOutputTokens: m.maxOutputTokens ?? Math.min(DEFAULT_MAX_OUTPUT_TOKENS, m.contextWindow) };
    if (m.maxOutputTokens === undefined) OUTPUT_CAP_DEFAULTED.add(out);
    if (out.imageTokens === undefined && m.endpoints.some((e) => GPT_4O_MINI.test(e.upstreamModel))) out.imageTokens = GPT_4O_MINI_IMAGE_TOKENS;
    return out;
  });

/** A task name: `x-switchyard-task` is matched lower-cased, so a name with a capital letter could never match (it was accepted, and every request naming it was told "unknown task"). */
const taskName = z
  .string()
  .min(1)
  .refine((n) => n === n.toLowerCase(), {
    error: (i) => `task names are matched lower-case (x-switchyard-task is case-insensitive): write "${String(i.input).toLowerCase()}"`,
  });

const classifierSchema = z
  .strictObject({
    simpleTasks: z.array(taskName).default(['greeting', 'simple_qa', 'translation']),
    complexTasks: z.array(taskName).default(['analysis', 'creative']),
    complexityKeywords: z
      .array(z.string().min(1))
      // Empty by default: the `auto` scorer decides; keyword counts ranked prompts no better than chance (issue 11).
      .default([]),
    complexityThreshold: positiveInt.default(3),
    /** Extra task names mapped to a tier (`x-switchyard-task: <name>`). */
    tasks: z.record(taskName, z.enum(TIERS)).default({}),
    /** Prompts above this many tokens (counted exactly) go to `high_quality` unless a tier or task hint decides (the scorer is not asked). */
    longPromptTokens: positiveInt.default(8000),
  })
  // A task both simple and complex takes the simple tier and the other entry does nothing: refused.
  // (`tasks` maps a name to a tier over both lists, their defaults too: that is what it is for.)
  .superRefine((c, ctx) => {
    for (const name of c.complexTasks)
      if (c.simpleTasks.includes(name))
        ctx.addIssue({
          code: 'custom',
          path: ['complexTasks'],
          message: `task "${name}" is in both routing.classifier.simpleTasks and complexTasks: it would be simple and its complexTasks entry would do nothing; keep it in one list (or give it a tier under routing.classifier.tasks)`,
        });
  });

/** The `auto` scorer's two thresholds (score → tier), or the strong share they should give. */
const autoSchema = z
  .strictObject({
    thresholds: z
      .strictObject({ balanced: z.number().min(0).max(1), highQuality: z.number().min(0).max(1) })
      .refine((t) => t.balanced <= t.highQuality, { message: 'balanced must not be above highQuality' })
      .optional(),
    /** Share of `auto` traffic wanted on `high_quality` (0–1); sets highQuality from the reference score quantiles. */
    strongShare: z.number().min(0).max(1).optional(),
  })
  .refine((a) => a.thresholds === undefined || a.strongShare === undefined, { message: 'set either thresholds or strongShare, not both' });

/** The answer checks of the quality cascade (src/quality/checks.ts); `language`, `confidence` and `judge` are opt-in. */
export const CASCADE_CHECKS = ['empty', 'refusal', 'truncated', 'invalid_json', 'schema', 'tool_args', 'language', 'confidence', 'judge'] as const;
export type CascadeCheck = (typeof CASCADE_CHECKS)[number];
export const DEFAULT_CASCADE_CHECKS: CascadeCheck[] = ['empty', 'refusal', 'truncated', 'invalid_json', 'schema', 'tool_args'];

const cascadeSchema = z.strictObject({
  /** Check every answer and escalate to the next tier up when a check fails (header `x-switchyard-cascade: on|off` overrides). */
  enabled: z.boolean().default(false),
  /** `router`: the tier the router chose; `cheapest`: the lowest tier with an adequate model. */
  startAt: z.enum(['router', 'cheapest']).default('router'),
  /** Escalations at most (steps = maxSteps + 1). */
  maxSteps: z.number().int().min(1).max(4).default(2),
  /** At least one (crossCheckCascade): with none, no answer could fail, and every request would stay on the first step. */
  checks: z
    .array(z.enum(CASCADE_CHECKS))
    .default(() => [...DEFAULT_CASCADE_CHECKS])
    .superRefine(noRepeats),
  /** `confidence`: the mean token log-probability must be at least this. */
  minLogprob: z.number().max(0).default(-1),
  /** `judge`: a catalogue model answers a short rubric with PASS or FAIL. */
  judge: z
    .strictObject({
      model: z.string().min(1),
      rubric: z.string().min(1).max(2000).default('Does the answer correctly and completely address the request?'),
      maxTokens: positiveInt.max(64).default(8),
    })
    .optional(),
  /** Compiled JSON Schemas kept (LRU), for `schema` and `tool_args`. */
  schemaCacheSize: positiveInt.max(10_000).default(256),
});

const routingSchema = z.strictObject({
  cascade: cascadeSchema.default(() => cascadeSchema.parse({})),
  strategy: z.enum(['cost', 'latency', 'weighted']).default('cost'),
  auto: autoSchema.default(() => autoSchema.parse({})),
  routes: z
    .record(
      z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected a route name of letters, digits, _ . -'),
      z
        .array(z.string().min(1))
        .min(1)
        .superRefine((chain, ctx) => {
          const seen = new Set<string>();
          chain.forEach((m, i) => {
            if (seen.has(m))
              ctx.addIssue({ code: 'custom', path: [i], message: `"${m}" is already in this route (a model is tried once per request): remove the repeat` });
            seen.add(m);
          });
        }),
    )
    .default({}),
  classifier: classifierSchema.default(() => classifierSchema.parse({})),
});

const retrySchema = z.strictObject({
  maxAttempts: positiveInt.default(3),
  baseDelayMs: durationMs0.default(200),
  maxDelayMs: durationMs0.default(5000),
  /** Cap on attempts across all endpoints of one request. */
  maxTotalAttempts: positiveInt.default(6),
});

const resilienceSchema = z.strictObject({
  failureThreshold: positiveInt.default(5),
  recoveryMs: durationMs.default(60_000),
  halfOpenProbes: positiveInt.default(1),
  latencyWindow: positiveInt.default(100),
  requestTimeoutMs: durationMs.default(120_000),
  connectTimeoutMs: durationMs.default(5_000),
  headersTimeoutMs: durationMs.default(60_000),
  firstTokenTimeoutMs: durationMs.default(10_000),
  idleTimeoutMs: durationMs.default(10_000),
  maxRetryAfterMs: durationMs0.default(5_000),
  retry: retrySchema.default(() => retrySchema.parse({})),
  queue: z.strictObject({ maxDepth: nonNegInt.default(1000) }).default({ maxDepth: 1000 }),
});

const budgetLimitSchema = z.strictObject({
  scope: z.enum(['global', 'key', 'model']),
  key: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  period: z.enum(['day', 'month', 'total']),
  usd: z
    .number()
    .nonnegative()
    .max(MAX_BUDGET_USD, { error: `at most ${MAX_BUDGET_USD} (switchyard counts money in exact nano-USD); for no limit, leave the limit out` })
    // Money is counted in whole nano-USD: a positive limit below one would be a limit of 0, refusing every request.
    .refine((v) => v <= 0 || v >= 1e-9, { error: 'a limit above 0 must be at least 0.000000001 (one nano-USD, the unit switchyard counts money in)' }),
});

const budgetSchema = z.strictObject({
  limits: z.array(budgetLimitSchema).default([]),
  currency: z
    .strictObject({ code: z.string().regex(/^[A-Z]{3}$/, 'expected a 3-letter ISO 4217 code in capitals (EUR, CNY, JPY)'), perUsd: z.number().positive() })
    // USD is what the ledger counts in: another rate for it could only be a mistake.
    .refine((c) => c.code !== 'USD' || c.perUsd === 1, { error: "USD is the ledger's own currency: its perUsd is 1 (or leave currency out)", path: ['perUsd'] })
    .optional(),
});

/** What an HTTP header value can carry as it is: visible ASCII, inner spaces (no control characters, nothing outside ASCII). */
const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

const authKeySchema = z.strictObject({
  // Named in the ledger, the logs, budgets (`key:<id>`) and /switchyard/spend, whose group for rows without a key is "(none)".
  id: z
    .string()
    .regex(HEADER_SAFE, 'expected visible ASCII (letters, digits, - _ . : …), no control characters or spaces at the ends')
    .refine((v) => v !== '(none)', '"(none)" is what /switchyard/spend calls requests without a client key: give this key another id'),
  keyEnv: envName,
  rpm: rateLimit,
  /**
   * The catalogue models this key may use (LiteLLM's key `models`): absent, every model. A named
   * model off the list is a 403 `model_not_allowed`; `auto`, a route and a model's fallbacks are
   * served from the listed models only.
   */
  models: z
    .array(z.string().min(1))
    .refine((l) => l.length > 0, 'an empty list would refuse every request: list the models this key may use, or leave models out for all')
    .optional(),
});

const authSchema = z.strictObject({
  keys: z
    .array(authKeySchema)
    .default([])
    // An auth section without a key let every request in: one written means keys were wanted.
    .refine(
      (keys) => keys.length > 0,
      'auth.keys is empty, so every request would be let in without a key: add a key ({ id, keyEnv }) or remove the auth section',
    ),
});

/**
 * A path a shell would expand (`~/switchyard.db`, `$HOME/…`): read as written, it named a directory
 * `~` (or `$HOME`) in the working directory, and the ledger went there unseen.
 */
const shellPath = (p: string): boolean => /^~|^\$[A-Za-z_]/.test(p);
const SHELL_PATH =
  'a path starting with ~ or $VARIABLE is not expanded (it is read as written: a directory of that name under the working directory): write the whole path';

/**
 * What is wrong with a `redis://` URL that the Redis client could not use, or null. Said without
 * the URL (it may hold a password). Unparsable (a port above 65535, a space, a second port) it
 * crashed the start with a stack trace that printed the URL, password included; a path that is
 * not a database number (`/cache`) crashed it at the first SELECT.
 */
function redisUrlProblem(v: string): string | null {
  if (!/^rediss?:\/\//.test(v)) return null;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return 'not a URL the Redis client can read (a port above 65535, a space, a second colon, or a password with one of @ : / ? # not percent-encoded?): write redis://HOST:PORT/DB, for example redis://127.0.0.1:6379/0';
  }
  if (u.pathname !== '' && u.pathname !== '/' && !/^\/\d{1,5}$/.test(u.pathname))
    return 'the path after the host is the database number (redis://HOST:PORT/0, /1, …), and this one is not a whole number from 0: write the number, or leave the path out for database 0';
  return null;
}

/**
 * Whether the PostgreSQL driver (pg-connection-string) can read a `postgres://` URL: the same two
 * tries it makes (spaces encoded; an empty host before the path). One it cannot passed check-config
 * and then stopped the start with "Invalid URL".
 */
function postgresUrlReadable(v: string): boolean {
  let url: string;
  try {
    url = / |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(v) ? encodeURI(v).replace(/%25(\d\d)/g, '%$1') : v;
  } catch {
    // A lone surrogate (`"\ud800"` in YAML): encodeURI throws, as in the driver.
    return false;
  }
  for (const tried of [url, url.replace('@/', '@___DUMMY___/')]) {
    try {
      new URL(tried, 'postgres://base');
      return true;
    } catch {
      // the next try
    }
  }
  return false;
}

const storageSchema = z.strictObject({
  ledger: z
    .string()
    .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+|memory)$/, 'expected sqlite:PATH, postgres://… or memory')
    .refine((v) => !v.startsWith('sqlite:') || !shellPath(v.slice('sqlite:'.length)), { error: SHELL_PATH })
    .refine((v) => !/^postgres(ql)?:\/\//.test(v) || postgresUrlReadable(v), {
      error:
        'not a URL the PostgreSQL driver can read (a port above 65535, a second colon, or a password with one of @ : / ? # not percent-encoded?): write postgres://USER@HOST:PORT/DATABASE, for example postgres://switchyard@127.0.0.1:5432/switchyard (the password best in PGPASSWORD or ~/.pgpass)',
    })
    .default('sqlite:./switchyard.db'),
  shared: z
    .string()
    .regex(/^(memory|rediss?:\/\/.+)$/, 'expected memory or redis://…')
    .superRefine((v, ctx) => {
      const problem = redisUrlProblem(v);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
    })
    .default('memory'),
  /** Stored Responses-API answers for `previous_response_id`, in the ledger database. */
  responses: z
    .strictObject({
      /** How long a stored response can be continued. */
      ttlSeconds: positiveInt.default(30 * 24 * 3600),
      /** At most this many are kept; the oldest go first. */
      maxEntries: positiveInt.default(10_000),
      /**
       * At most this many bytes of them (their conversations, response objects and input items as
       * JSON); the oldest go first, and an answer larger than this alone is not stored. A chain
       * stores its history again at every step, so maxEntries alone bounds little.
       */
      maxBytes: positiveInt.default(1024 ** 3),
    })
    .default({ ttlSeconds: 30 * 24 * 3600, maxEntries: 10_000, maxBytes: 1024 ** 3 }),
  /**
   * The in-flight journal of a lone sidecar on PostgreSQL (no Redis): a path prefix for its two
   * files (`<journal>-0`, `-1`), or `off`. Default `./switchyard-inflight`. A SQLite ledger keeps
   * its journal next to its file; replicas on Redis reclaim reservations through it instead.
   */
  journal: z
    .string()
    .min(1)
    .refine((v) => !shellPath(v), { error: SHELL_PATH })
    .optional(),
  /** Each replica's lease on its reservations (Redis): a dead replica's are reclaimed within one period. */
  leaseMs: z.number().int().min(200).max(600_000).default(5_000),
  /** Prefix (and hash tag) of every Redis key: one per deployment. */
  keyPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'expected letters, digits, _ . : -')
    .default('switchyard'),
});

const loggingSchema = z.strictObject({
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  pretty: z.boolean().default(false),
});

const observeSchema = z.strictObject({
  statelyInspectUrl: z
    .string()
    .regex(/^wss?:\/\/.+/, 'expected ws://… or wss://…')
    .optional(),
  /** Records kept for `/switchyard/events` replay. */
  historySize: positiveInt.default(500),
  /** OpenTelemetry traces over OTLP/HTTP; absent: nothing of OpenTelemetry is loaded. */
  otlp: z
    .strictObject({
      /** The collector's traces URL, e.g. http://127.0.0.1:4318/v1/traces. */
      endpoint: httpUrl((v, u, ctx) => {
        // The collector's credentials are secrets like the provider keys: never in the file, a log line or an error.
        const userinfo = hasUserinfo(v, u);
        const param = [...u.searchParams.keys()].find((k) => /pass|secret|token|key|auth|sig|cred/i.test(k));
        if (userinfo || param !== undefined)
          ctx.addIssue({
            code: 'custom',
            message: `an OTLP endpoint with ${userinfo ? 'a user name or password' : `a credential in its query (${param})`} is not accepted (secrets only by environment variable): remove it and give the collector's credentials as headers in OTEL_EXPORTER_OTLP_HEADERS (e.g. authorization=Bearer%20…)`,
          });
        // A fragment is never sent to a collector: it can only be something pasted by mistake, and it would be logged.
        else if (u.hash !== '' || v.includes('#'))
          ctx.addIssue({ code: 'custom', message: 'an OTLP endpoint takes no fragment (the # part is never sent to the collector): remove it' });
      }),
      /** `service.name` of the spans; absent: OTEL_SERVICE_NAME, else `switchyard` (see observe/otel.ts). */
      serviceName: z.string().min(1).optional(),
      /** Put prompt and answer text into spans (off: they may hold personal data). */
      captureContent: z.boolean().default(false),
    })
    .optional(),
  /** Serve `/metrics` without the admin token when bound off loopback (for a scraper on the network). */
  publicMetrics: z.boolean().default(false),
});

const baseConfigSchema = z.strictObject({
  server: serverSchema.default(() => serverSchema.parse({})),
  auth: authSchema.optional(),
  providers: z.record(z.string().min(1), providerSchema),
  models: z.record(z.string().min(1), modelSchema),
  routing: routingSchema.default(() => routingSchema.parse({})),
  resilience: resilienceSchema.default(() => resilienceSchema.parse({})),
  budget: budgetSchema.default(() => budgetSchema.parse({})),
  storage: storageSchema.default(() => storageSchema.parse({})),
  logging: loggingSchema.default(() => loggingSchema.parse({})),
  observe: observeSchema.default(() => observeSchema.parse({})),
});

export const configSchema = baseConfigSchema.superRefine(crossCheck, { when: () => true });

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type ProviderConfig = Config['providers'][string];
export type ModelConfig = Config['models'][string];
export type EndpointConfig = ModelConfig['endpoints'][number];
export type ResilienceConfig = Config['resilience'];
export type BudgetLimitConfig = Config['budget']['limits'][number];
export type ClassifierConfig = Config['routing']['classifier'];
export type AutoConfig = Config['routing']['auto'];
export type CascadeConfig = Config['routing']['cascade'];

/** References between sections: every name used must exist. */
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
/** Characters a terminal shows as nothing, or that turn the text around (controls, zero-width, bidi, BOM). */
// eslint-disable-next-line no-control-regex -- control characters are what it finds
export const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g;

/** A name in a message, quoted, every invisible character (DEL and C1 too, which JSON leaves raw; zero-width, bidi) as an escape (`\\u200b`): a right-to-left mark turned the line around. */
const shown = (v: string): string => JSON.stringify(v).replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strs = (v: unknown): Array<[number, string]> => arr(v).flatMap((x, i): Array<[number, string]> => (typeof x === 'string' ? [[i, x]] : []));

/**
 * Runs even when the shape has problems (`when: () => true`), so one pass reports every
 * problem; it therefore reads the input defensively.
 */
function crossCheck(input: z.output<typeof baseConfigSchema>, ctx: z.RefinementCtx): void {
  const cfg = obj(input);
  const providers = obj(cfg.providers);
  const modelMap = obj(cfg.models);
  const models = Object.keys(modelMap);
  const known = (m: string) => models.includes(m);
  // Each alias and its model, for "unknown model" where an alias was written for an id.
  const aliasTo = new Map<string, string>();
  for (const [name, raw] of Object.entries(modelMap)) for (const [, a] of strs(obj(raw).aliases)) if (!aliasTo.has(a)) aliasTo.set(a, name);
  const unknown = (m: string): string => unknownModel(m, models, aliasTo.get(m));
  for (const [name, raw] of Object.entries(providers)) {
    // One header from two places: which value would be sent?
    const p = obj(raw);
    const inline = new Set(Object.keys(obj(p.headers)).map((h) => h.toLowerCase()));
    for (const h of Object.keys(obj(p.headersEnv)))
      if (inline.has(h.toLowerCase()))
        ctx.addIssue({
          code: 'custom',
          path: ['providers', name, 'headersEnv', h],
          message: `header ${h} is also in headers: keep it in one of them (headersEnv for a secret)`,
        });
  }
  const ids = new Set<string>();
  const aliasOf = new Map<string, string>();
  for (const [name, raw] of Object.entries(modelMap)) {
    // A request's `model` reads "auto" and "route/<name>" before the catalogue: such a model could never be asked for.
    if (name === 'auto')
      ctx.addIssue({ code: 'custom', path: ['models', name], message: '"auto" is reserved (model "auto" lets switchyard choose): give this model another id' });
    // The name spend and metrics give requests that had no model: a model so named would be counted with them.
    if (name === '(none)' || name === 'none')
      ctx.addIssue({
        code: 'custom',
        path: ['models', name],
        message: `"${name}" is what /switchyard/spend ("(none)") and /metrics ("none") call requests that had no model (refused before one was chosen): give this model another id`,
      });
    if (name.startsWith('route/'))
      ctx.addIssue({
        code: 'custom',
        path: ['models', name],
        message:
          'a model id cannot start with "route/" (model "route/<name>" names a route): give this model another id, or make it a route under routing.routes',
      });
    if (!HEADER_SAFE.test(name))
      ctx.addIssue({
        code: 'custom',
        path: ['models', name],
        message: `a model id is sent in the x-switchyard-model response header, which takes visible ASCII only: ${shown(name)} has another character (a non-ASCII letter, a control character or a space at an end); give this model an ASCII id (its upstreamModel may be anything)`,
      });
    const model = obj(raw);
    arr(model.endpoints).forEach((e, i) => {
      const ep = obj(e);
      if (typeof ep.provider !== 'string') return;
      const epId = typeof ep.id === 'string' ? ep.id : `${name}@${ep.provider}`;
      // (An empty id has its own message: "expected a non-empty string".)
      if (HEADER_SAFE.test(name) && epId !== '' && !HEADER_SAFE.test(epId))
        ctx.addIssue({
          code: 'custom',
          path: ['models', name, 'endpoints', i, typeof ep.id === 'string' ? 'id' : 'provider'],
          message: `an endpoint id (${typeof ep.id === 'string' ? 'its id' : '"<model>@<provider>" unless it has an id'}) is sent in the x-switchyard-endpoint response header, which takes visible ASCII only: ${shown(epId)} has another character; give it an ASCII ${typeof ep.id === 'string' ? 'id' : 'id, or the provider an ASCII name'}`,
        });
      if (!(ep.provider in providers)) {
        ctx.addIssue({
          code: 'custom',
          path: ['models', name, 'endpoints', i, 'provider'],
          message: `unknown provider "${ep.provider}"${nearHint(ep.provider, Object.keys(providers))}; expected one of: ${Object.keys(providers).join(', ')}`,
        });
      }
      const id = typeof ep.id === 'string' ? ep.id : `${name}@${ep.provider}`;
      if (ids.has(id))
        ctx.addIssue({
          code: 'custom',
          path: ['models', name, 'endpoints', i, 'id'],
          message: `duplicate endpoint id "${id}"; give one of them an explicit id`,
        });
      ids.add(id);
    });
    for (const [i, a] of strs(model.aliases)) {
      const path = ['models', name, 'aliases', i];
      if (a === 'auto' || a.startsWith('route/'))
        ctx.addIssue({ code: 'custom', path, message: `"${a}" names ${a === 'auto' ? 'auto' : 'a route'} in a request's model: an alias cannot be it` });
      else if (known(a))
        ctx.addIssue({ code: 'custom', path, message: `"${a}" is the id of a model in the catalogue: an alias names a model by another name` });
      else if (aliasOf.has(a))
        ctx.addIssue({ code: 'custom', path, message: `"${a}" is already an alias of ${aliasOf.get(a)}: a name a request sends can mean one model` });
      else aliasOf.set(a, name);
    }
    for (const [i, f] of strs(model.fallbacks)) {
      if (!known(f)) ctx.addIssue({ code: 'custom', path: ['models', name, 'fallbacks', i], message: unknown(f) });
      else if (f === name)
        ctx.addIssue({
          code: 'custom',
          path: ['models', name, 'fallbacks', i],
          message: `a model cannot be its own fallback (its endpoints are already tried in turn): remove "${f}" or name another model`,
        });
    }
  }
  const retry = obj(obj(cfg.resilience).retry);
  if (typeof retry.baseDelayMs === 'number' && typeof retry.maxDelayMs === 'number' && retry.baseDelayMs > retry.maxDelayMs)
    ctx.addIssue({
      code: 'custom',
      path: ['resilience', 'retry', 'baseDelayMs'],
      message: `${retry.baseDelayMs} is above maxDelayMs (${retry.maxDelayMs}): the first back-off would already exceed the cap; lower baseDelayMs or raise maxDelayMs`,
    });
  for (const [route, chain] of Object.entries(obj(obj(cfg.routing).routes))) {
    for (const [i, m] of strs(chain)) {
      // `auto` and `route/…` are what a request names, not models: a route lists models (it said `unknown model "route/chatbot"`).
      if (m === 'auto' || m.startsWith('route/'))
        ctx.addIssue({
          code: 'custom',
          path: ['routing', 'routes', route, i],
          message: `"${m}" is ${m === 'auto' ? 'the scorer' : 'a route'}, not a model: a route lists catalogue models (in the order tried), it cannot name ${m === 'auto' ? 'auto' : 'another route'}`,
        });
      else if (!known(m)) ctx.addIssue({ code: 'custom', path: ['routing', 'routes', route, i], message: unknown(m) });
      else if (isEmbeddings(modelMap[m]))
        ctx.addIssue({ code: 'custom', path: ['routing', 'routes', route, i], message: `"${m}" is an embeddings model: routes are for chat` });
    }
  }
  checkEmbeddings(modelMap, providers, ctx);
  crossCheckCascade(obj(obj(cfg.routing).cascade), known, ctx, unknown, (m) => isEmbeddings(modelMap[m]));
  const keys = arr(obj(cfg.auth).keys).map(obj);
  const keyIds = keys.map((k) => k.id).filter((k): k is string => typeof k === 'string');
  const budgetIds = new Map<string, number>();
  arr(obj(cfg.budget).limits).forEach((raw, i) => {
    const l = obj(raw);
    // Two limits of one scope and period are one budget line (its id): only the stricter would act, the other unseen.
    const id = `${String(l.scope)}:${l.scope === 'key' ? String(l.key) : l.scope === 'model' ? String(l.model) : ''}:${String(l.period)}`;
    const first = budgetIds.get(id);
    if (first !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['budget', 'limits', i],
        message: `the same budget as budget.limits[${first}] (scope, ${l.scope === 'key' ? 'key, ' : l.scope === 'model' ? 'model, ' : ''}period): keep one limit per budget`,
      });
    else budgetIds.set(id, i);
    if (l.scope === 'key' && typeof l.key !== 'string')
      ctx.addIssue({ code: 'custom', path: ['budget', 'limits', i, 'key'], message: 'expected a client key id for scope "key"' });
    if (l.scope === 'key' && typeof l.key === 'string' && keyIds.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['budget', 'limits', i, 'key'],
        message: `a budget for client key "${l.key}" needs auth.keys: without client keys no request carries a key id, so it would never apply`,
      });
    }
    if (l.scope === 'key' && typeof l.key === 'string' && keyIds.length > 0 && !keyIds.includes(l.key)) {
      ctx.addIssue({
        code: 'custom',
        path: ['budget', 'limits', i, 'key'],
        message: `unknown client key id "${l.key}"${nearHint(l.key, keyIds)}; expected one of auth.keys: ${keyIds.join(', ')}`,
      });
    }
    // A field of another scope would be ignored: a "per key per model" budget is not built, say so instead of applying it more widely.
    if (l.scope !== 'key' && l.key !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['budget', 'limits', i, 'key'],
        message: `only used with scope "key" (this limit is scope "${String(l.scope)}"; a budget has one scope)`,
      });
    if (l.scope !== 'model' && l.model !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['budget', 'limits', i, 'model'],
        message: `only used with scope "model" (this limit is scope "${String(l.scope)}"; a budget has one scope)`,
      });
    if (l.scope === 'model' && typeof l.model !== 'string')
      ctx.addIssue({ code: 'custom', path: ['budget', 'limits', i, 'model'], message: 'expected a model id for scope "model"' });
    if (l.scope === 'model' && typeof l.model === 'string' && !known(l.model))
      ctx.addIssue({ code: 'custom', path: ['budget', 'limits', i, 'model'], message: unknown(l.model) });
  });
  const storage = obj(cfg.storage);
  if (
    typeof storage.shared === 'string' &&
    storage.shared.startsWith('redis') &&
    !(typeof storage.ledger === 'string' && storage.ledger.startsWith('postgres'))
  ) {
    ctx.addIssue({
      code: 'custom',
      path: ['storage', 'ledger'],
      message: `storage.shared is Redis, so replicas share budgets: the ledger must be shared too (postgres://…); a ${String(storage.ledger ?? 'sqlite').split(':')[0]} ledger per replica cannot be the shared truth that budgets are rebuilt from`,
    });
  }
  if (storage.journal !== undefined) {
    const ledger = typeof storage.ledger === 'string' ? storage.ledger : 'sqlite:./switchyard.db';
    if (!ledger.startsWith('postgres'))
      ctx.addIssue({
        code: 'custom',
        path: ['storage', 'journal'],
        message: ledger.startsWith('memory')
          ? 'only for a PostgreSQL ledger without Redis: a memory ledger keeps no in-flight journal (nothing of it outlives the process; remove storage.journal)'
          : `only for a PostgreSQL ledger without Redis: a ${ledger.split(':')[0]} ledger keeps its in-flight journal next to its file (remove storage.journal)`,
      });
    else if (typeof storage.shared === 'string' && storage.shared.startsWith('redis'))
      ctx.addIssue({
        code: 'custom',
        path: ['storage', 'journal'],
        message: 'only for a PostgreSQL ledger without Redis: replicas on Redis reclaim a dead replica’s reservations through Redis (remove storage.journal)',
      });
  }
  const seen = new Set<string>();
  // One variable, one key value: the first id would match every request and the others' budgets and rpm never apply.
  const envOf = new Map<string, unknown>();
  keys.forEach((k, i) => {
    if (typeof k.keyEnv === 'string') {
      if (envOf.has(k.keyEnv))
        ctx.addIssue({
          code: 'custom',
          path: ['auth', 'keys', i, 'keyEnv'],
          message: `${k.keyEnv} is already the variable of client key "${String(envOf.get(k.keyEnv))}": each id needs its own key (its own variable)`,
        });
      else envOf.set(k.keyEnv, k.id);
    }
    // A key's models are catalogue ids: `auto` and routes are served from them, an alias is its model's name.
    for (const [j, m] of strs(k.models)) {
      if (m === 'auto' || m.startsWith('route/'))
        ctx.addIssue({
          code: 'custom',
          path: ['auth', 'keys', i, 'models', j],
          message: `list catalogue models: a key may always ask for ${m === 'auto' ? '"auto"' : 'a route'}, served from its listed models only`,
        });
      else if (!known(m)) ctx.addIssue({ code: 'custom', path: ['auth', 'keys', i, 'models', j], message: unknown(m) });
    }
    if (typeof k.id !== 'string') return;
    if (seen.has(k.id)) ctx.addIssue({ code: 'custom', path: ['auth', 'keys', i, 'id'], message: `duplicate key id "${k.id}"` });
    seen.add(k.id);
  });
}

/** Model keys nothing reads for an embeddings model, and why. */
const EMBEDDINGS_UNREAD = [
  ['maxOutputTokens', 'writes no output (its reservation is the input alone)'],
  ['imageTokens', 'takes no image'],
  ['firstTokenTimeoutMs', 'streams nothing (headersTimeoutMs and the request timeout hold it)'],
  ['idleTimeoutMs', 'streams nothing (headersTimeoutMs and the request timeout hold it)'],
] as const;

const isEmbeddings = (m: unknown): boolean => arr(obj(m).capabilities).includes('embeddings');

/** Embeddings models: OpenAI-kind endpoints only, and fallbacks never cross between embeddings and chat. */
function checkEmbeddings(modelMap: Record<string, unknown>, providers: Record<string, unknown>, ctx: z.RefinementCtx): void {
  for (const [name, raw] of Object.entries(modelMap)) {
    const emb = isEmbeddings(raw);
    if (emb) {
      arr(obj(raw).endpoints).forEach((e, i) => {
        const p = obj(providers[String(obj(e).provider)]);
        if (p.kind === 'anthropic')
          ctx.addIssue({
            code: 'custom',
            path: ['models', name, 'endpoints', i, 'provider'],
            message: 'an embeddings model needs an OpenAI-kind provider (Anthropic has no embeddings API)',
          });
      });
    }
    for (const [i, f] of strs(obj(raw).fallbacks)) {
      if (f in modelMap && isEmbeddings(modelMap[f]) !== emb)
        ctx.addIssue({
          code: 'custom',
          path: ['models', name, 'fallbacks', i],
          message: `"${f}" ${emb ? 'is a chat model' : 'is an embeddings model'}: fallbacks must be of the same kind`,
        });
    }
  }
}

/**
 * At least one check (with none, every answer passed: requests stayed on the first, cheapest step
 * and never escalated); `judge` needs a judge model from the catalogue, and a judge needs the check turned on.
 */
function crossCheckCascade(
  c: Record<string, unknown>,
  known: (m: string) => boolean,
  ctx: z.RefinementCtx,
  unknown: (m: string) => string,
  embeddingsOnly: (m: string) => boolean,
): void {
  if (Array.isArray(c.checks) && c.checks.length === 0)
    ctx.addIssue({
      code: 'custom',
      path: ['routing', 'cascade', 'checks'],
      message: `no check means no answer ever fails: every request would stay on the first (cheapest) step and never escalate. List at least one check (or leave the key out for the default: ${DEFAULT_CASCADE_CHECKS.join(', ')}), or turn the cascade off (routing.cascade.enabled: false)`,
    });
  const checks = strs(c.checks).map(([, x]) => x);
  const judge = obj(c.judge);
  if (checks.includes('judge') && typeof judge.model !== 'string')
    ctx.addIssue({ code: 'custom', path: ['routing', 'cascade', 'judge'], message: 'check "judge" needs routing.cascade.judge.model' });
  if (typeof judge.model === 'string' && !known(judge.model))
    ctx.addIssue({ code: 'custom', path: ['routing', 'cascade', 'judge', 'model'], message: unknown(judge.model) });
  // An embeddings model answers no rubric: every request paid for a judge call that came back unclear.
  else if (typeof judge.model === 'string' && embeddingsOnly(judge.model))
    ctx.addIssue({
      code: 'custom',
      path: ['routing', 'cascade', 'judge', 'model'],
      message: `"${judge.model}" is an embeddings model: the judge must be a chat model (it answers PASS or FAIL)`,
    });
  if (typeof judge.model === 'string' && !checks.includes('judge'))
    ctx.addIssue({ code: 'custom', path: ['routing', 'cascade', 'judge'], message: 'a judge is configured but "judge" is not in routing.cascade.checks' });
}

/** The id of an endpoint actor. */
export function endpointId(model: string, ep: EndpointConfig): string {
  return ep.id ?? `${model}@${ep.provider}`;
}

/** The default in-flight journal of a lone sidecar on PostgreSQL (`storage.journal`). */
export const DEFAULT_PG_JOURNAL = './switchyard-inflight';

/**
 * The journal a PostgreSQL ledger keeps: a lone sidecar's (no Redis) at `storage.journal` or the
 * default, none with `off` or for replicas on Redis (they reclaim through it). SQLite: its own.
 */
export function pgJournal(storage: Pick<Config['storage'], 'ledger' | 'shared' | 'journal'>): string | undefined {
  if (!/^postgres(ql)?:/.test(storage.ledger) || storage.shared.startsWith('redis')) return undefined;
  const journal = storage.journal ?? DEFAULT_PG_JOURNAL;
  return journal === 'off' ? undefined : journal;
}
