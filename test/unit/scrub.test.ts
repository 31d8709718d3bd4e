import { describe, expect, it } from 'vitest';
import { registerSecrets, scrub, withoutPassword } from '../../src/observe/scrub.js';

describe('scrub', () => {
  registerSecrets(['provider-key-1234567890', 'provider-key-1234567890-longer', 'short', undefined]);

  it('removes registered secrets, the longest first, and ignores short values', () => {
    expect(scrub('a provider-key-1234567890-longer b provider-key-1234567890 c short')).toBe('a [redacted] b [redacted] c short');
  });

  it.each([
    ['authorization: Bearer abcdefgh12345678', 'authorization: Bearer [redacted]'],
    ['{"Authorization": "Basic dXNlcjpwYXNzd29yZA=="} was refused', '{"Authorization": "Basic [redacted]"} was refused'],
    ['authorization=Digest username12345', 'authorization=Digest [redacted]'],
    ['api-key: 0123456789abcdef0123 (Azure)', 'api-key: [redacted] (Azure)'],
    ['x-goog-api-key: some-gemini-key-value', 'x-goog-api-key: [redacted]'],
    ['x-api-key: sk-ant-api03-abcdefghijklmnopqrstuvwxyz', 'x-api-key: [redacted]'],
    ['key sk-proj-abcdefghijklmnopqrstuvwxyz012 is invalid', 'key [redacted] is invalid'],
    ['google AIzaSyA1234567890abcdefghijklmnopqrstuv here', 'google [redacted] here'],
    ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end', 'jwt [redacted] end'],
    ['gh ghp_abcdefghijklmnopqrstuvwxyz0123456789 end', 'gh [redacted] end'],
    ['pat github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz end', 'pat [redacted] end'],
    ['aws AKIAIOSFODNN7EXAMPLE end', 'aws [redacted] end'],
  ])('removes credential-looking strings: %s', (text, want) => {
    expect(scrub(text)).toBe(want);
  });

  it('removes a registered secret echoed base64-encoded, alone or inside a longer blob, at any byte alignment, standard or URL-safe', () => {
    const secret = 'provider-key-1234567890';
    for (const prefix of ['', 'u', 'us', 'user:']) {
      for (const url of [false, true]) {
        let b64 = Buffer.from(`${prefix}${secret}!tail`).toString('base64');
        if (url) b64 = b64.replace(/\+/g, '-').replace(/\//g, '_');
        const out = scrub(`your key b64=${b64} was refused`);
        expect(out).toContain('[redacted]');
        // What is left of the blob holds at most the edges next to the secret, not its bytes.
        const left = out
          .replace(/^your key b64=/, '')
          .replace(/ was refused$/, '')
          .replace('[redacted]', '');
        expect(left.length).toBeLessThanOrEqual(16);
      }
    }
  });

  it('removes a registered secret inside a base64 blob wrapped in lines (MIME, 76 columns), where it straddles a break, with real or escaped breaks', () => {
    const secret = 'provider-key-1234567890';
    for (let pad = 0; pad < 40; pad++) {
      const b64 = Buffer.from(`${'x'.repeat(50 + pad)}"authorization":"Bearer ${secret}"`).toString('base64');
      const wrapped = (b64.match(/.{1,76}/g) ?? []).join('\r\n');
      for (const text of [`mime ${wrapped} end`, JSON.stringify(`mime ${wrapped} end`)]) {
        const out = scrub(text);
        const left = out.replace(/\[redacted\]/g, '').replace(/\r\n|\\r\\n/g, '');
        expect(Buffer.from(left.replace(/^"?mime |end"?$/g, '').trim(), 'base64').toString('latin1')).not.toContain('1234567890');
      }
    }
    // Ordinary wrapped text stays.
    expect(scrub('line one here\nline two here')).toBe('line one here\nline two here');
  });

  it('leaves ordinary text alone', () => {
    expect(scrub('The bearer of bad news asked for a token count of 42.')).toBe('The bearer of bad news asked for a token count of 42.');
    expect(scrub('Basic authentication is required; authorization failed for this organization.')).toBe(
      'Basic authentication is required; authorization failed for this organization.',
    );
  });
});

describe('withoutPassword: a URL fit for a log line', () => {
  it('hides a password and the value of a query parameter named like a credential, keeps the rest', () => {
    expect(withoutPassword('postgres://postgres@db/sy?password=pgSECRET&sslmode=require')).toBe('postgres://postgres@db/sy?password=***&sslmode=require');
    expect(withoutPassword('postgres://u:pw@db/sy')).toBe('postgres://u:***@db/sy');
    expect(withoutPassword('ws://127.0.0.1:4242/?token=wsSECRET')).toBe('ws://127.0.0.1:4242/?token=***');
    expect(withoutPassword('sqlite:/var/lib/sy/ledger.db')).toBe('sqlite:/var/lib/sy/ledger.db');
    expect(withoutPassword('redis://127.0.0.1:6379/0')).toBe('redis://127.0.0.1:6379/0');
  });
});
