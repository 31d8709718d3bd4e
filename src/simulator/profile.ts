import { formatIssue, MAX_CONFIG_BYTES, readSmallFile } from '../config/load.js';
import { z } from 'zod';
import { FaultSchema } from './faults.js';

/** Per-model behaviour of the simulated upstream; every key optional, `defaults` fill gaps. */
export const ModelProfileSchema = z.strictObject({
  /** Delay before the first token (non-stream: before the response). */
  ttftMs: z.number().int().min(0).optional(),
  /** Delay between streamed tokens. */
  tokenGapMs: z.number().int().min(0).optional(),
  /** Length of the full answer in words (one word = one token). */
  outputTokens: z.number().int().min(0).optional(),
  /** Requests per minute, sliding 60-s window; absent = unlimited. */
  rpm: z.number().int().positive().optional(),
  /** Reported as cached prompt tokens (OpenAI cached_tokens, Anthropic cache_read_input_tokens). */
  cachedTokens: z.number().int().min(0).optional(),
  /** Reported as prompt tokens written to the cache (Anthropic cache_creation_input_tokens; OpenAI has no such field). */
  cacheWriteTokens: z.number().int().min(0).optional(),
  /** false: a trailing assistant message is rejected with 400. */
  prefill: z.boolean().optional(),
  /** prompt tokens + max_tokens above this answers context_length_exceeded. */
  contextWindow: z.number().int().positive().optional(),
  /** false: a `json_schema` response_format is refused with 400, as DeepSeek's API does (json_object is taken). */
  jsonSchema: z.boolean().optional(),
  /** Answer 401 when the wire's key header is missing. */
  requireAuth: z.boolean().optional(),
  /** Always answer this text (one token per word) instead of the deterministic words, e.g. a judge's "PASS". */
  fixedAnswer: z.string().min(1).max(10_000).optional(),
});

export const SimulatorProfileSchema = z.strictObject({
  defaults: ModelProfileSchema.optional(),
  models: z.record(z.string(), ModelProfileSchema).optional(),
  /** Faults active from start, by upstream model name (`*` = all). */
  faults: z.record(z.string(), FaultSchema).optional(),
});

export type ModelProfile = z.infer<typeof ModelProfileSchema>;
export type SimulatorProfile = z.infer<typeof SimulatorProfileSchema>;

/** A model's profile with every default applied. */
export interface ModelSettings {
  ttftMs: number;
  tokenGapMs: number;
  outputTokens: number;
  rpm: number | undefined;
  cachedTokens: number;
  cacheWriteTokens: number;
  prefill: boolean;
  contextWindow: number | undefined;
  jsonSchema: boolean;
  requireAuth: boolean;
  fixedAnswer: string | undefined;
}

const BUILT_IN: ModelSettings = {
  ttftMs: 15,
  tokenGapMs: 1,
  outputTokens: 24,
  rpm: undefined,
  cachedTokens: 0,
  cacheWriteTokens: 0,
  prefill: true,
  contextWindow: undefined,
  jsonSchema: true,
  requireAuth: false,
  fixedAnswer: undefined,
};

function merge(base: ModelSettings, over: ModelProfile | undefined): ModelSettings {
  if (over === undefined) return base;
  const out: ModelSettings = { ...base };
  for (const key of Object.keys(over) as (keyof ModelProfile)[]) {
    const value = over[key];
    if (value !== undefined) Object.assign(out, { [key]: value });
  }
  return out;
}

/** Resolves settings per model once; unknown models get `defaults`. */
export class ProfileResolver {
  private readonly cache = new Map<string, ModelSettings>();
  private readonly base: ModelSettings;

  constructor(readonly profile: SimulatorProfile) {
    this.base = merge(BUILT_IN, profile.defaults);
  }

  settings(model: string): ModelSettings {
    let s = this.cache.get(model);
    if (s === undefined) {
      const own = this.profile.models !== undefined && Object.hasOwn(this.profile.models, model) ? this.profile.models[model] : undefined;
      s = merge(this.base, own);
      this.cache.set(model, s);
    }
    return s;
  }

  modelNames(): string[] {
    return Object.keys(this.profile.models ?? {});
  }
}

/** `path.to.key: expected number, received string`, one line per problem. */
export function formatZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.');
      return `${path}: ${issue.message.replace(/^Invalid input: /, '')}`;
    })
    .join('\n');
}

/** Validates a profile given as a value; throws an Error listing every problem with its path. */
export function parseProfile(value: unknown, source = 'profile', withLine: (errors: string[]) => string[] = (e) => e): SimulatorProfile {
  const result = SimulatorProfileSchema.safeParse(value ?? {}, { reportInput: true });
  // Said as check-config says a config's problems: a misspelt key with its "did you mean", an int as a whole number.
  if (!result.success)
    throw new Error(
      `${source}: invalid simulator profile\n${withLine(result.error.issues.map((issue) => formatIssue(issue, SimulatorProfileSchema))).join('\n')}`,
    );
  return result.data;
}

/** Reads a YAML or JSON profile file (JSON is YAML) and validates it. */
export async function loadProfile(file: string): Promise<SimulatorProfile> {
  // Bounded like a config file: a profile is a few lines; a pipe or /dev/zero is refused.
  const read = await readSmallFile(file, MAX_CONFIG_BYTES, 'simulator profile');
  if ('error' in read) throw new Error(read.error);
  const text = read.text;
  let value: unknown;
  const yaml = await import('yaml');
  try {
    value = yaml.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid YAML/JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  // Each problem with the line of the file it is on, as a config's.
  const { withLines } = await import('../config/lines.js');
  return parseProfile(value, file, (errors) => withLines(errors, text, yaml));
}
