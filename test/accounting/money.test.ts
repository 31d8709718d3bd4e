import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatUsd, nanoToUsd, priceToMicroPerMTok, tokensCostNano, usdToNano } from '../../src/accounting/money.js';

describe('priceToMicroPerMTok', () => {
  it('converts the seed prices to integer micro-USD per million tokens', () => {
    expect(priceToMicroPerMTok(2)).toBe(2_000_000);
    expect(priceToMicroPerMTok(0.28)).toBe(280_000);
    expect(priceToMicroPerMTok(0.42)).toBe(420_000);
    expect(priceToMicroPerMTok(2.5)).toBe(2_500_000);
    expect(priceToMicroPerMTok(0.3)).toBe(300_000);
  });

  it('rounds prices finer than a micro-USD to the nearest', () => {
    expect(priceToMicroPerMTok(0.0000004)).toBe(0);
    expect(priceToMicroPerMTok(0.0000006)).toBe(1);
  });

  it('rejects negative and non-finite prices', () => {
    expect(() => priceToMicroPerMTok(-1)).toThrow(RangeError);
    expect(() => priceToMicroPerMTok(Number.NaN)).toThrow(RangeError);
    expect(() => priceToMicroPerMTok(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});

describe('tokensCostNano', () => {
  it('prices whole tokens exactly (gpt-4.1 at 2.00 / 8.00)', () => {
    expect(tokensCostNano(1000, 2)).toBe(2_000_000); // 2000 µUSD
    expect(tokensCostNano(500, 8)).toBe(4_000_000); // 4000 µUSD
    expect(tokensCostNano(1, 0.28)).toBe(280);
    expect(tokensCostNano(1_000_000, 3)).toBe(3_000_000_000); // 3 USD
    expect(tokensCostNano(0, 15)).toBe(0);
  });

  it('rounds each amount up to a whole nano-USD, by less than one', () => {
    // 1 token at 0.0015 USD/MTok = 1500 µUSD/MTok → 1.5 nano-USD → 2
    expect(tokensCostNano(1, 0.0015)).toBe(2);
    // 3 tokens at 0.000333 USD/MTok = 333 µUSD/MTok → 0.999 nano-USD → 1
    expect(tokensCostNano(3, 0.000333)).toBe(1);
    // 1001 tokens at 0.0015: 1001 × 1500 / 1000 = 1501.5 → 1502
    expect(tokensCostNano(1001, 0.0015)).toBe(1502);
  });

  it('equals ceil(tokens × micro / 1000) computed in BigInt', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 50_000_000 }), fc.integer({ min: 0, max: 200_000_000 }), (tokens, micro) => {
        const exact = (BigInt(tokens) * BigInt(micro) + 999n) / 1000n;
        expect(BigInt(tokensCostNano(tokens, micro / 1_000_000))).toBe(exact);
      }),
    );
  });

  it('throws instead of returning an inexact figure', () => {
    expect(() => tokensCostNano(Number.MAX_SAFE_INTEGER, 100)).toThrow(RangeError);
    expect(() => tokensCostNano(1.5, 1)).toThrow(RangeError);
    expect(() => tokensCostNano(-1, 1)).toThrow(RangeError);
  });
});

describe('conversions and formatting', () => {
  it('converts between USD and nano-USD', () => {
    expect(usdToNano(100)).toBe(100_000_000_000);
    expect(usdToNano(0.1)).toBe(100_000_000);
    expect(usdToNano(20)).toBe(20_000_000_000);
    expect(nanoToUsd(6_000_000)).toBe(0.006);
    expect(() => usdToNano(Number.NaN)).toThrow(RangeError);
  });

  it('formats exactly, 6 to 9 decimals', () => {
    expect(formatUsd(6_000_000)).toBe('0.006000');
    expect(formatUsd(1)).toBe('0.000000001');
    expect(formatUsd(1_500_000_000)).toBe('1.500000');
    expect(formatUsd(0)).toBe('0.000000');
    expect(formatUsd(-250)).toBe('-0.00000025');
    expect(formatUsd(123_456_789_012)).toBe('123.456789012');
    expect(formatUsd(Number.MAX_SAFE_INTEGER)).toBe('9007199.254740991');
    expect(() => formatUsd(0.5)).toThrow(RangeError);
  });

  it('round-trips every amount through its formatted text', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e15, max: 1e15 }), (nano) => {
        const text = formatUsd(nano);
        expect(text).toMatch(/^-?\d+\.\d{6,9}$/);
        const [whole = '', frac = ''] = text.replace('-', '').split('.');
        const back = BigInt(whole) * 1_000_000_000n + BigInt(frac.padEnd(9, '0'));
        expect(back).toBe(BigInt(Math.abs(nano)));
      }),
    );
  });
});
