/** `x-switchyard-timeout-ms` overrides `resilience.requestTimeoutMs` both ways (the spec), within bounds. */
import { describe, expect, it } from 'vitest';
import { MAX_HINT_TIMEOUT_MS, parseHints } from '../../src/http/validate.js';

describe('parseHints: x-switchyard-timeout-ms', () => {
  it('is the request deadline whether shorter or longer than the config, up to an hour', () => {
    expect(parseHints({ 'x-switchyard-timeout-ms': '500' }, 120_000).timeoutMs).toBe(500);
    expect(parseHints({ 'x-switchyard-timeout-ms': '300000' }, 120_000).timeoutMs).toBe(300_000);
    expect(parseHints({ 'x-switchyard-timeout-ms': String(MAX_HINT_TIMEOUT_MS) }, 120_000).timeoutMs).toBe(3_600_000);
    expect(parseHints({}, 120_000).timeoutMs).toBeNull();
  });

  it('is refused past an hour, or past a config that allows longer', () => {
    expect(() => parseHints({ 'x-switchyard-timeout-ms': '3600001' }, 120_000)).toThrow(/between 1 and 3600000/);
    expect(parseHints({ 'x-switchyard-timeout-ms': '7200000' }, 7_200_000).timeoutMs).toBe(7_200_000);
    expect(() => parseHints({ 'x-switchyard-timeout-ms': '7200001' }, 7_200_000)).toThrow(/between 1 and 7200000/);
    expect(() => parseHints({ 'x-switchyard-timeout-ms': '0' }, 120_000)).toThrow(/x-switchyard-timeout-ms/);
  });
});

describe('parseHints: tier, cascade and out-of-range numbers', () => {
  it('reads x-switchyard-tier and x-switchyard-cascade case-insensitively, as x-switchyard-task', () => {
    expect(parseHints({ 'x-switchyard-tier': 'HIGH_QUALITY' }, 120_000).tier).toBe('high_quality');
    expect(parseHints({ 'x-switchyard-tier': ' Fast_Cheap ' }, 120_000).tier).toBe('fast_cheap');
    expect(parseHints({ 'x-switchyard-cascade': 'ON' }, 120_000).cascade).toBe(true);
    expect(() => parseHints({ 'x-switchyard-tier': 'premium' }, 120_000)).toThrow(/must be one of fast_cheap, balanced, high_quality, got "premium"/);
  });

  it('says a whole number too long to hold is out of range, not that it is not a whole number', () => {
    expect(() => parseHints({ 'x-switchyard-max-latency-ms': '99999999999999999999999' }, 120_000)).toThrow(
      'header x-switchyard-max-latency-ms is out of range (at most 15 digits of milliseconds), got "99999999999999999999999"',
    );
    expect(() => parseHints({ 'x-switchyard-max-latency-ms': '12a' }, 120_000)).toThrow(/must be a whole number of milliseconds/);
  });
});

describe('parseHints: x-switchyard-max-cost-usd', () => {
  it('reads a sign: "+0.5" is 0.5, and a negative zero ("-0", "-0.0", what a float formatter writes) is a cap of 0', () => {
    const cap = (v: string) => parseHints({ 'x-switchyard-max-cost-usd': v }, 120_000).maxCostUsd;
    expect(cap('+0.5')).toBe(0.5);
    expect(cap('+1e-2')).toBe(0.01);
    for (const v of ['-0', '-0.0', '-.0', '+0']) expect(Object.is(cap(v), 0), v).toBe(true);
  });

  it('refuses a negative amount, a doubled sign or a bare sign', () => {
    for (const v of ['-0.5', '-1', '--1', '+-1', '+', '-', '- 1'])
      expect(() => parseHints({ 'x-switchyard-max-cost-usd': v }, 120_000), v).toThrow(/x-switchyard-max-cost-usd must be a non-negative number/);
  });
});

describe("parseHints: the SDK's own timeout (x-stainless-timeout)", () => {
  it('is read in whole seconds, leniently: anything else is no timeout, never a 400 (the SDK sent it, not the user)', () => {
    expect(parseHints({ 'x-stainless-timeout': '4' }, 120_000).sdkTimeoutMs).toBe(4000);
    expect(parseHints({ 'x-stainless-timeout': '600' }, 120_000).sdkTimeoutMs).toBe(600_000);
    expect(parseHints({}, 120_000).sdkTimeoutMs).toBeNull();
    for (const v of ['0', '1.5', '-3', 'abc', '', '99999999', ' ']) expect(parseHints({ 'x-stainless-timeout': v }, 120_000).sdkTimeoutMs, v).toBeNull();
    expect(parseHints({ 'x-stainless-timeout': ['4', '5'] }, 120_000).sdkTimeoutMs).toBeNull();
  });
});
