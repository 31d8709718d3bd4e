/**
 * Money is an integer number of **nano-USD** (1 USD = 1e9 nano-USD) held in a plain `number`.
 *
 * Why integers: budgets compare `spent + reserved + amount ≤ limit` and ledgers sum millions of
 * rows; with integers every sum is exact and identical on every replica and in every store
 * (SQLite INTEGER, PostgreSQL BIGINT). Why nano: the cheapest seed price (0.28 USD per million
 * tokens) is 280 nano-USD per token, so per-token amounts are whole numbers; a `number` holds
 * integers exactly up to 2^53 nano-USD ≈ 9 million USD, far beyond any sidecar's budget, and
 * every integer-producing function here throws a RangeError rather than return an inexact figure.
 *
 * Prices are kept as integer **micro-USD per million tokens** (µUSD/MTok): 2.00 USD/MTok is
 * 2_000_000. That is 1e-12 USD per token of resolution; prices with more than six decimals
 * are rounded to it (no provider publishes such prices).
 */

export const NANO_PER_USD = 1_000_000_000;

/** Tokens per million tokens × nano per micro: `tokens × µUSD/MTok / 1000` is nano-USD. */
const TOKENS_PER_MTOK_IN_NANO = 1_000;

/** USD per million tokens → integer micro-USD per million tokens, rounded to the nearest. */
export function priceToMicroPerMTok(usdPerMTok: number): number {
  if (!Number.isFinite(usdPerMTok) || usdPerMTok < 0) {
    throw new RangeError(`price must be a finite non-negative number, got ${usdPerMTok}`);
  }
  return checked(Math.round(usdPerMTok * 1_000_000), 'price');
}

/**
 * Cost in nano-USD of `tokens` tokens at `usdPerMTok` USD per million tokens:
 * `ceil(tokens × microPerMTok / 1000)`.
 *
 * Computed in exact integer arithmetic (the product is split at 1000 so no intermediate
 * leaves the safe-integer range before the result does). The ceiling means each billed
 * component (uncached input, cached input, output) is rounded **up** by less than one
 * nano-USD (1e-9 USD) — the house never under-charges, and the error is negligible.
 */
export function tokensCostNano(tokens: number, usdPerMTok: number): number {
  if (!Number.isSafeInteger(tokens) || tokens < 0) {
    throw new RangeError(`token count must be a non-negative integer, got ${tokens}`);
  }
  const micro = priceToMicroPerMTok(usdPerMTok);
  const rest = tokens % TOKENS_PER_MTOK_IN_NANO; // < 1000, so rest × micro stays exact
  const whole = (tokens - rest) / TOKENS_PER_MTOK_IN_NANO; // exact: a multiple of 1000 divided
  const restProduct = checked(rest * micro, 'cost');
  const restRemainder = restProduct % TOKENS_PER_MTOK_IN_NANO; // `%` and the division below are exact
  const restNano = (restProduct - restRemainder) / TOKENS_PER_MTOK_IN_NANO + (restRemainder > 0 ? 1 : 0);
  return checked(whole * micro + restNano, 'cost');
}

/** `tokens × microPerMTok / 1000` rounded down (a part of a cost whose total is rounded up once). */
export function tokensCostNanoDown(tokens: number, usdPerMTok: number): number {
  const up = tokensCostNano(tokens, usdPerMTok);
  const micro = priceToMicroPerMTok(usdPerMTok);
  // Rounded up only when tokens × micro is not a multiple of 1000 (its last three digits: those of (tokens % 1000) × micro).
  return ((tokens % TOKENS_PER_MTOK_IN_NANO) * micro) % TOKENS_PER_MTOK_IN_NANO === 0 ? up : up - 1;
}

/**
 * Cost in nano-USD of several `[tokens, usdPerMTok]` terms, rounded up **once**, on their exact
 * sum: `ceil(Σ tokens × microPerMTok / 1000)`. Rounding each term up added up to one nano-USD per
 * term (three for a prompt split into cached, written and plain tokens), so a request could cost
 * a little more than its formula — and than its reservation, which rounds once.
 */
export function termsCostNano(terms: ReadonlyArray<readonly [tokens: number, usdPerMTok: number]>): number {
  let whole = 0;
  let thousandths = 0;
  for (const [tokens, usdPerMTok] of terms) {
    if (!Number.isSafeInteger(tokens) || tokens < 0) throw new RangeError(`token count must be a non-negative integer, got ${tokens}`);
    const micro = priceToMicroPerMTok(usdPerMTok);
    const rest = tokens % TOKENS_PER_MTOK_IN_NANO;
    whole = checked(whole + ((tokens - rest) / TOKENS_PER_MTOK_IN_NANO) * micro, 'cost');
    // rest × micro < 1000 × micro: exact, in thousandths of a nano-USD.
    thousandths = checked(thousandths + rest * micro, 'cost');
  }
  const remainder = thousandths % TOKENS_PER_MTOK_IN_NANO;
  return checked(whole + (thousandths - remainder) / TOKENS_PER_MTOK_IN_NANO + (remainder > 0 ? 1 : 0), 'cost');
}

/** nano-USD → USD as a float, for display and JSON only (never sum the result). */
export function nanoToUsd(nano: number): number {
  return nano / NANO_PER_USD;
}

/** USD (float, e.g. a configured limit) → nano-USD, rounded to the nearest nano. */
export function usdToNano(usd: number): number {
  if (!Number.isFinite(usd)) throw new RangeError(`amount must be finite, got ${usd}`);
  return checked(Math.round(usd * NANO_PER_USD), 'amount');
}

/**
 * Exact decimal text of a nano-USD amount, without a currency sign: at least 6 decimals
 * (micro-USD, the resolution of prices) and up to 9 when the amount needs them, so the text
 * never hides a non-zero digit and never shows float noise.
 *   6_000_000 → "0.006000", 1 → "0.000000001", 1_500_000_000 → "1.500000", -250 → "-0.00000025"
 */
export function formatUsd(nano: number): string {
  checked(nano, 'amount');
  const sign = nano < 0 ? '-' : '';
  const abs = Math.abs(nano);
  const dollars = Math.floor(abs / NANO_PER_USD);
  const fraction = String(abs - dollars * NANO_PER_USD).padStart(9, '0');
  let end = 9;
  while (end > 6 && fraction[end - 1] === '0') end -= 1;
  return `${sign}${dollars}.${fraction.slice(0, end)}`;
}

function checked(n: number, what: string): number {
  if (!Number.isSafeInteger(n)) {
    throw new RangeError(`${what} ${n} is outside the exact integer range of nano-USD`);
  }
  return n;
}
