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
