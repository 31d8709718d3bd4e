/** The inspection hub's redaction removes secret fields by name, not by substring. */
import { describe, expect, it } from 'vitest';
import { sanitize } from '../../src/observe/hub.js';

describe('sanitize', () => {
  it('keeps token counts and strips secret fields', () => {
    const out = sanitize({
      tokens: 12,
      estTokens: 40,
      maxTokens: 5,
      promptTokens: 3,
      apiKey: 'k',
      api_key: 'k',
      'x-api-key': 'k',
      Authorization: 'Bearer k',
      token: 't',
      admin_token: 't',
      password: 'p',
      key: 'k',
      keyId: 'app',
    });
    expect(out).toEqual({ tokens: 12, estTokens: 40, maxTokens: 5, promptTokens: 3, keyId: 'app' });
  });

  it('scrubs bearer-looking strings in values', () => {
    expect(sanitize({ reason: 'upstream said Bearer abcdefghijklmnop' })).toEqual({ reason: 'upstream said Bearer [redacted]' });
  });
});
