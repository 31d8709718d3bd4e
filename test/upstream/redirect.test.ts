import { describe, expect, it } from 'vitest';
import { redirectTarget, statusMessage } from '../../src/upstream/redirect.js';

const BASE = 'http://api.example.com/v1';

describe('statusMessage', () => {
  it('a redirect names where it pointed, without its query or credentials, and points at the baseUrl', () => {
    expect(statusMessage(301, { location: 'https://user:pw@api.example.com/v1/chat/completions?token=secret' }, BASE, '<html>…</html>')).toBe(
      "upstream answered 301 (a redirect to https://api.example.com/v1/chat/completions, not followed): check the provider's baseUrl",
    );
    expect(statusMessage(308, { location: ['/v2/chat/completions'] }, BASE, '')).toBe(
      "upstream answered 308 (a redirect to http://api.example.com/v2/chat/completions, not followed): check the provider's baseUrl",
    );
    expect(statusMessage(302, {}, BASE, 'x')).toBe("upstream answered 302 (a redirect, not followed): check the provider's baseUrl");
  });

  it('an error status keeps its body message', () => {
    expect(statusMessage(404, { location: 'https://x/' }, BASE, 'Not Found')).toBe('upstream answered 404: Not Found');
  });

  it('a location that is not a URL is left out', () => {
    expect(redirectTarget({ location: 'http://[bad' }, BASE)).toBeNull();
    expect(redirectTarget({ location: '  ' }, BASE)).toBeNull();
  });
});
