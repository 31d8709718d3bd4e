import type * as GptTokenizer from 'gpt-tokenizer';
import { loadTokenizer as loadO200k } from '../accounting/tokens.js';
import { countInPieces } from '../accounting/token-pieces.js';
import { seededRng } from '../routing/strategy.js';

/**
 * Deterministic answers. The text depends only on the conversation (never on the model), so
 * a stream cut on one model and continued on another with an assistant prefill reproduces
 * the same full answer, and tests can predict it.
 */
const WORDS = [
  'alpha',
  'bridge',
  'cobalt',
  'delta',
  'ember',
  'falcon',
  'garnet',
  'harbor',
  'indigo',
  'juniper',
  'kestrel',
  'lantern',
  'meadow',
  'nimbus',
  'orchid',
  'pebble',
  'quartz',
  'river',
  'saffron',
  'timber',
  'umber',
  'violet',
  'willow',
  'xenon',
  'yarrow',
  'zephyr',
  'amber',
  'basalt',
  'cedar',
  'dune',
  'echo',
  'fjord',
  'glacier',
  'heron',
  'iris',
  'jasper',
  'kelp',
  'lichen',
  'maple',
  'nectar',
  'onyx',
  'prairie',
  'quill',
  'reef',
  'sierra',
  'tundra',
  'upland',
  'vale',
];

/** FNV-1a, 32 bit: cheap and stable across runs and platforms. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const MAX_CACHED = 5000;
const answerCache = new Map<string, readonly string[]>();

/** The full answer as tokens: one word each, a leading space on all but the first. */
export function answerTokens(seedText: string, count: number): string[] {
  const key = `${count}\u0000${seedText}`;
  let tokens = answerCache.get(key);
  if (tokens === undefined) {
    tokens = makeAnswer(seedText, count);
    if (answerCache.size >= MAX_CACHED) answerCache.clear();
    answerCache.set(key, tokens);
  }
  return [...tokens];
}

function makeAnswer(seedText: string, count: number): string[] {
  const next = seededRng(hash32(seedText));
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const word = WORDS[Math.floor(next() * WORDS.length)] ?? 'alpha';
    out.push(i === 0 ? word[0]!.toUpperCase() + word.slice(1) : ` ${word}`);
  }
  return out;
}

/**
 * The tokens still to deliver after the prefill P. If the full answer starts with P: the
 * remainder, token-aligned (a token P cut in half continues with its rest). Otherwise: the
 * tokens after the first (number of words in P) tokens.
 */
export function continuation(full: string[], prefill: string): string[] {
  if (prefill.length === 0) return full;
  if (full.join('').startsWith(prefill)) {
    let start = 0;
    for (let i = 0; i < full.length; i++) {
      const token = full[i]!;
      const end = start + token.length;
      if (end > prefill.length) {
        const rest = token.slice(prefill.length - start);
        return [rest, ...full.slice(i + 1)];
      }
      start = end;
    }
    return [];
  }
  const words = prefill.split(/\s+/).filter((w) => w.length > 0).length;
  return full.slice(words);
}

const NO_SPECIAL: Set<string> = new Set();
/**
 * The o200k tables (~0.5 s of CPU, 40-60 MB). The standalone simulator loads them when it
 * starts (`loadTokenizer`); the one built into `serve` on the first count, so an idle sidecar
 * does not hold them. Either way the counts are the same exact o200k counts.
 */
let encode: typeof GptTokenizer.encode | undefined;

export async function loadTokenizer(): Promise<void> {
  // The sidecar's own copy: one set of tables when the simulator runs inside `serve`.
  encode ??= loadO200k().encode;
}
const tokenCache = new Map<string, number>();

/** gpt-tokenizer (o200k) count of one text; repeated prompts are counted once. */
export function countTokens(text: string): number {
  let n = tokenCache.get(text);
  if (n === undefined) {
    const enc = (encode ??= loadO200k().encode);
    // Bounded pieces: the tokenizer is quadratic on a long run without whitespace.
    n = text.length === 0 ? 0 : countInPieces(text, (piece) => enc(piece, { disallowedSpecial: NO_SPECIAL }).length);
    if (tokenCache.size >= MAX_CACHED) tokenCache.clear();
    tokenCache.set(text, n);
  }
  return n;
}

/** OpenAI's chat accounting: each message's tokens + 3 per message + 3 for the reply primer. */
export function promptTokens(messageTexts: readonly string[]): number {
  let total = 3;
  for (const text of messageTexts) total += countTokens(text) + 3;
  return total;
}

/** Tool-call arguments split into at least two stream pieces. */
export function splitPieces(text: string, size = 8): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  if (pieces.length < 2) {
    const mid = Math.ceil(text.length / 2);
    return [text.slice(0, mid), text.slice(mid)];
  }
  return pieces;
}
