/**
 * BPE tokenizers are quadratic in the length of one pre-token, and a run without whitespace
 * is one pre-token: 64 KB of one letter held the event loop for 5.6 s, 128 KB for 21 s.
 * Counting in bounded pieces makes it linear. Pieces are cut just before a whitespace where
 * one is near (the pre-tokenizer starts a new word there anyway, so ordinary text counts
 * exactly as it did whole); inside a long run they are cut hard, which can shift the count
 * by a token per piece: a fine price for an estimate.
 */

/**
 * Longest piece handed to a tokenizer. A run without whitespace costs o200k more than linear time
 * in its length: 32 Ki characters of CJK text took 200 ms in pieces of 1,024, 80 ms in pieces of 256.
 */
export const MAX_PIECE_CHARS = 256;
/** How far back from a piece's end a whitespace is looked for. */
const LOOKBACK = 64;

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;

/** Splits `text` into pieces of at most MAX_PIECE_CHARS whose concatenation is `text`. */
export function* boundedPieces(text: string, max = MAX_PIECE_CHARS): Generator<string> {
  let start = 0;
  while (text.length - start > max) {
    let end = start + max;
    let cut = end;
    while (cut > end - LOOKBACK && !isSpace(text.charCodeAt(cut))) cut--;
    if (cut > start && isSpace(text.charCodeAt(cut))) end = cut;
    else if (isHighSurrogate(text.charCodeAt(end - 1))) end--; // never split a surrogate pair
    yield text.slice(start, end);
    start = end;
  }
  if (start < text.length) yield text.slice(start);
}

/** Sum of `count` over the bounded pieces of `text`. */
export function countInPieces(text: string, count: (piece: string) => number): number {
  let total = 0;
  for (const piece of boundedPieces(text)) total += count(piece);
  return total;
}
