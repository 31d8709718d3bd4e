/**
 * The most output tokens well-known upstream models write in one answer, as their providers
 * document them: what `check-config` and the start-up notes compare a model's default output cap
 * (4,096 tokens when `maxOutputTokens` is not set) with. Matched in the name as OpenAI or
 * Anthropic writes it, a relay (`openai/gpt-4.1`) or a deployment (`prod-gpt-4.1`); first match wins.
 */
const LIMITS: ReadonlyArray<readonly [RegExp, number]> = [
  [/(^|[^a-z0-9])gpt-5/i, 128_000],
  [/(^|[^a-z0-9])gpt-4\.1/i, 32_768],
  [/(^|[^a-z0-9])(chat)?gpt-?4o/i, 16_384],
  [/(^|[/:])o3($|-)/i, 100_000],
  [/(^|[/:])o4-mini/i, 100_000],
  [/(^|[^a-z0-9])claude-(sonnet|haiku|opus)-4-5/i, 64_000],
  [/(^|[^a-z0-9])claude-sonnet-4/i, 64_000],
  [/(^|[^a-z0-9])claude-3-7-sonnet/i, 64_000],
  [/(^|[^a-z0-9])claude-opus-4/i, 32_000],
  [/(^|[^a-z0-9])claude-3-5-(sonnet|haiku)/i, 8_192],
  [/(^|[^a-z0-9])gemini-2\.5/i, 65_536],
  [/(^|[^a-z0-9])deepseek-chat/i, 8_192],
  [/(^|[^a-z0-9])deepseek-reasoner/i, 64_000],
];

/**
 * Variants of those names that write less, or are not chat models at all (an audio or realtime
 * model, an image or speech preview, the first GPT-4o snapshot's 4,096, ChatGPT's `gpt-5-chat-latest`):
 * said nothing of rather than told a limit they do not have.
 */
const NOT_THOSE = /realtime|audio|transcribe|tts|image|search|embedding|gpt-4o-2024-05-13|-chat-latest/i;

/** The documented output limit of a known upstream model id, or null. */
export function knownOutputLimit(upstreamModel: string): number | null {
  if (NOT_THOSE.test(upstreamModel)) return null;
  for (const [re, n] of LIMITS) if (re.test(upstreamModel)) return n;
  return null;
}
