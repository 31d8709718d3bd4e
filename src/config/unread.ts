/**
 * Keys the schema takes but that nothing would read in the configuration they are written in
 * (a Redis lease without Redis, say). Accepting them would let a user believe a setting holds
 * that does nothing, so each is refused with what it needs; so is a value the configuration
 * cannot honour (more than one half-open probe with Redis). This reads the raw input: after
 * parsing, every default is filled in and a key the user wrote looks like one they did not.
 */
import { DEFAULT_CASCADE_CHECKS } from './schema.js';

const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const has = (o: Record<string, unknown>, k: string): boolean => Object.hasOwn(o, k) && o[k] !== undefined;

/** One `path: message` line per key that is set where nothing reads it. */
export function unreadKeys(raw: unknown): string[] {
  const out: string[] = [];
  const storage = obj(obj(raw).storage);
  const redis = typeof storage.shared === 'string' && storage.shared.startsWith('redis');
  // Only where storage.shared is (by default or written) memory: any other value is refused by the schema itself.
  if (!has(storage, 'shared') || storage.shared === 'memory') {
    const why: Record<string, string> = {
      leaseMs: "each replica's lease on its reservations in Redis",
      keyPrefix: 'the prefix of every Redis key',
    };
    for (const key of ['leaseMs', 'keyPrefix'])
      if (has(storage, key))
        out.push(
          `storage.${key}: only read with storage.shared: redis://… (${why[key]}); storage.shared is memory here, so nothing reads it: remove it, or set storage.shared`,
        );
  }
  const probes = obj(obj(raw).resilience).halfOpenProbes;
  if (redis && typeof probes === 'number' && probes > 1)
    out.push(
      `resilience.halfOpenProbes: more than 1 is not built with storage.shared: redis://… (the half-open probe slot in Redis is one per endpoint across all replicas, so ${probes} would act as 1): set 1, or remove it`,
    );
  for (const [name, p] of Object.entries(obj(obj(raw).providers))) {
    const provider = obj(p);
    if (provider.kind === 'openai' && has(provider, 'anthropicVersion'))
      out.push(
        `providers.${name}.anthropicVersion: only sent to a provider of kind anthropic (as its anthropic-version header); this one is kind openai, so nothing reads it: remove it`,
      );
    if (provider.kind === 'anthropic' && has(provider, 'outputCapField'))
      out.push(
        `providers.${name}.outputCapField: only read for a provider of kind openai (Anthropic's API takes the cap in max_tokens alone); this one is kind anthropic, so nothing reads it: remove it`,
      );
  }
  const classifier = obj(obj(obj(raw).routing).classifier);
  const keywords = classifier.complexityKeywords;
  if (has(classifier, 'complexityThreshold') && !(Array.isArray(keywords) && keywords.length > 0))
    out.push(
      'routing.classifier.complexityThreshold: only counts routing.classifier.complexityKeywords, which is empty (the default: the auto scorer decides): add keywords, or remove complexityThreshold',
    );
  const cascade = obj(obj(obj(raw).routing).cascade);
  const checks: unknown[] = Array.isArray(cascade.checks) ? cascade.checks : DEFAULT_CASCADE_CHECKS;
  const listed = (c: string): boolean => checks.includes(c);
  if (has(cascade, 'minLogprob') && !listed('confidence'))
    out.push(
      'routing.cascade.minLogprob: only read by the "confidence" check, which is not in routing.cascade.checks (it is opt-in): add "confidence" to checks, or remove minLogprob',
    );
  if (has(cascade, 'schemaCacheSize') && !listed('schema') && !listed('tool_args'))
    out.push(
      'routing.cascade.schemaCacheSize: only read by the "schema" and "tool_args" checks, and neither is in routing.cascade.checks: add one, or remove schemaCacheSize',
    );
  return out;
}

/** `${NAME}` anywhere in a value, or LiteLLM's `os.environ/NAME` at its start. */
const ENV_REFERENCE = /\$\{[A-Za-z_][A-Za-z0-9_]*\}|^os\.environ\//;

/**
 * One `path: message` line per string value written as an environment variable reference
 * (`sqlite:${HOME}/l.db`, `upstreamModel: ${MODEL}`): config values are read as written, so it
 * would be used literally (a directory named `${HOME}`, a model named `${MODEL}` sent upstream).
 * The keys that name a variable (`apiKeyEnv`, `keyEnv`) have their own message.
 */
export function envReferences(raw: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown, path: string, key: string): void => {
    if (typeof v === 'string') {
      if (!key.endsWith('Env') && ENV_REFERENCE.test(v))
        out.push(
          `${path}: config values are not read from environment variables (a variable is named by a key ending in Env, such as apiKeyEnv); "${v.length > 64 ? `${v.slice(0, 64)}…` : v}" would be used as written: write the value, or generate the file`,
        );
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`, key));
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, path === '' ? k : `${path}.${k}`, k);
  };
  walk(raw, '', '');
  return out;
}
