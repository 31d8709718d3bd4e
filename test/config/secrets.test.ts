/** Secret values that cannot be keys are named before anything is sent with them (config/secrets.ts). */
import { describe, expect, it } from 'vitest';
import { unusableSecret } from '../../src/config/secrets.js';

describe('unusableSecret', () => {
  it('accepts visible ASCII and leaves an unset value to the missing-secret check', () => {
    expect(unusableSecret('K', 'sk-proj-AbC_123.xyz+/=')).toBeNull();
    expect(unusableSecret('K', undefined)).toBeNull();
    expect(unusableSecret('K', '')).toBeNull();
  });

  it('names a line break, surrounding or inner whitespace, and invisible or non-ASCII characters, never the value', () => {
    const cases: Array<[string, RegExp]> = [
      ['sk-abc\n', /ends in a line break/],
      ['sk-abc\r\n', /ends in a line break/],
      [' sk-abc', /begins or ends with whitespace/],
      ['sk-\u00a0abc', /holds whitespace/],
      ['sk-ab c', /holds whitespace/],
      ['sk-abc\u200b', /not visible ASCII/],
      ['ka\u2060', /not visible ASCII/],
      ['sk-\u00e9', /not visible ASCII/],
      ['sk-\u0007', /not visible ASCII/],
    ];
    for (const [value, why] of cases) {
      const m = unusableSecret('SY_KEY', value);
      expect(m, JSON.stringify(value)).toMatch(why);
      expect(m).toContain('environment variable SY_KEY');
      expect(m).not.toContain(value.trim());
    }
  });
});
