/**
 * The forms of a known secret an upstream may echo besides the value itself: upper- or
 * lower-cased (`SK-LEAKCANARY123ECHO`), and hex-encoded (the hex of its UTF-8 bytes, lower or
 * upper case). Each is removed from what is relayed to a client and from the log, as the plain,
 * base64 and Bearer forms are.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { upstreamClientError } from '../../src/errors.js';
import { anthropicAdapter } from '../../src/upstream/adapters/anthropic.js';
import { openaiAdapter } from '../../src/upstream/adapters/openai.js';
import { createLogger } from '../../src/observe/log.js';
import { registerSecrets, scrub, secretsOf } from '../../src/observe/scrub.js';
import { configSchema } from '../../src/config/schema.js';

const KEY = 'sk-LEAKCANARY123ECHO';
const ADMIN = 'admin-token-0123456789';
const MIXED = 'Prov-Key-MixedCase-0123';
const PROJ = 'sk-proj-Qx7Lm2Vb9Nc4Rt8Wz1Ky';
registerSecrets([KEY, ADMIN, MIXED, PROJ]);

const hex = (s: string): string => Buffer.from(s, 'utf8').toString('hex');
/** What is left of the key in `text`: none of its spellings, in any case, plain or hex. */
const holdsKey = (text: string): boolean => {
  const t = text.toLowerCase();
  return [KEY, ADMIN, MIXED, PROJ].some((s) => t.includes(s.toLowerCase()) || t.includes(hex(s)) || t.includes(s.slice(s.lastIndexOf('-') + 1).toLowerCase()));
};

describe('scrub: a known secret in another letter case or hex-encoded', () => {
  it.each([
    ['upper-cased', `invalid api key: ${KEY.toUpperCase()}`],
    ['lower-cased', `invalid api key: ${KEY.toLowerCase()}`],
    ['in mixed case', `invalid api key: ${KEY.replace(/[a-z]/gi, (c, i: number) => (i % 2 ? c.toLowerCase() : c.toUpperCase()))}`],
    ['a key with capitals, lower-cased (no key shape the scrubber knows)', `invalid api key: ${MIXED.toLowerCase()}`],
    ['the admin token upper-cased', `token ${ADMIN.toUpperCase()} refused`],
    ['hex, lower case', `credential (hex) ${hex(KEY)} was refused`],
    ['hex, upper case', `credential (hex) ${hex(KEY).toUpperCase()} was refused`],
    ['hex inside a longer hex blob', `blob=${hex(`Authorization: Bearer ${KEY}\r\n`)}`],
    ['without its sk- prefix', `invalid api key: ${KEY.slice(3)}`],
    ['without its sk- prefix, lower-cased', `invalid api key: ${KEY.slice(3).toLowerCase()}`],
    ['a project key without sk-', `key proj-${PROJ.slice(8)} refused`],
    ['masked as a provider masks it, head...tail', `Rate limit for key ${MIXED.slice(0, 12)}...${MIXED.slice(-6)}`],
    ['masked with stars', `Incorrect API key provided: ${PROJ.slice(0, 8)}****************${PROJ.slice(-4)}.`],
    ['masked with an ellipsis, upper-cased', `key ${ADMIN.slice(0, 10).toUpperCase()}…${ADMIN.slice(-4)}`],
    ['a project key without sk-proj-', `key ${PROJ.slice(8)} refused`],
    ['hex of the admin token, upper case, in a JSON body', JSON.stringify({ error: { message: `seen ${hex(ADMIN).toUpperCase()}` } })],
  ])('%s', (_what, text) => {
    const out = scrub(text);
    expect(holdsKey(out)).toBe(false);
    expect(out).toContain('[redacted]');
  });

  it('a masked echo goes whole, the mask and what it shows of the tail with it; a mask after other text stays', () => {
    expect(scrub(`Rate limit for key ${MIXED.slice(0, 12)}...${MIXED.slice(-6)} (retry)`)).toBe('Rate limit for key [redacted] (retry)');
    expect(scrub(`Incorrect API key provided: ${PROJ.slice(0, 8)}****${PROJ.slice(-4)}.`)).toBe('Incorrect API key provided: [redacted].');
    expect(scrub('Wait... and sk-pro**bably not')).toBe('Wait... and sk-pro**bably not');
  });

  it("a short head or the tail alone around a mask goes too; a head alone, or a tail that is not the key's, stays (a re-test round)", () => {
    const key = 'sk-hostileOAbcdefghijklmnopqrstudefXYZ';
    const pw = 'postgres-pw-2026-abc';
    registerSecrets([key, pw]);
    expect(scrub(`key ${key.slice(0, 6)}...${key.slice(-20)} refused`)).toBe('key [redacted] refused');
    expect(scrub(`key ...${key.slice(-20)} refused`)).toBe('key [redacted] refused');
    expect(scrub(`key ${key.slice(0, 7)}*****${key.slice(-4)} refused`)).toBe('key [redacted] refused');
    expect(scrub(`KEY ${key.slice(0, 7).toUpperCase()}*****${key.slice(-4).toUpperCase()}`)).toBe('KEY [redacted]');
    // Shown only as its head (what many texts show), or with another key's tail: left.
    expect(scrub(`key ${key.slice(0, 8)}******** refused`)).toBe(`key ${key.slice(0, 8)}******** refused`);
    expect(scrub(`key ${PROJ.slice(0, 8)}****abcd.`)).toBe(`key ${PROJ.slice(0, 8)}****abcd.`);
    // A password whose head is a word: the word is not taken for it (it was "our [redacted] connection").
    expect(scrub('our postgresql... connection was refused; Postgres*** is down')).toBe('our postgresql... connection was refused; Postgres*** is down');
  });

  it('a second re-test round: all of a key around a mask, a long head alone, a key with dots, bullets, spaced and mixed masks', () => {
    const key = 'gwlive7Hq2hostileZpX9Kw3mRt8vLc4NdefXYZ';
    const dotted = 'proj.Ab12Cd34Ef56Gh78Ij90KlmnOPQ';
    registerSecrets([key, dotted]);
    const cases = [
      `${key.slice(0, 20)}...${key.slice(20)}`, // the whole key, a mask inserted
      `${key.slice(0, 22)}...${key.slice(19)}`, // head and tail overlapping
      `${key.slice(0, 36)}****`, // a long head alone
      `${key.slice(0, 34)}...`,
      `${dotted.slice(0, 9)}...${dotted.slice(-5)}`,
      `${dotted.slice(0, 13)}...${dotted.slice(-7)}.`,
      `${key.slice(0, 10)}•••${key.slice(-7)}`,
      `${key.slice(0, 10)} ... ${key.slice(-7)}`,
      `${key.slice(0, 10)}**...**${key.slice(-7)}`,
    ];
    for (const c of cases) {
      const out = scrub(`invalid key ${c} (check it)`);
      expect(out, c).toMatch(/^invalid key \[redacted\]\.? \(check it\)$/);
    }
    // Ordinary text stays: a mask between words no key starts or ends with.
    for (const t of ['Loading... done', 'wait *** here', 'gwlive gateway', 'gwlive7 wizard...', '1.2...1.3', 'wait...XYZ', 'a • b • c'])
      expect(scrub(t), t).toBe(t);
  });

  it('a masked key joined to the word before it (api_key=, a path, ~) or after it goes too (an ops round: 16 of a 29-character key relayed)', () => {
    const key = 'sk-oa-SECRETOA1234567890abcdef';
    registerSecrets([key]);
    for (const [text, want] of [
      [`bad api_key=${key.slice(0, 12)}...${key.slice(-4)}`, 'bad api_key=[redacted]'],
      [`key=${key.slice(0, 8)}****${key.slice(-4)} refused`, 'key=[redacted] refused'],
      [`GET /v1/keys/${key.slice(0, 12)}...${key.slice(-4)}`, 'GET /v1/keys/[redacted]'],
      [`token~${key.slice(0, 12)}***${key.slice(-4)}`, 'token~[redacted]'],
      [`key=${key.slice(0, 17)}...`, 'key=[redacted]'],
      [`${key.slice(0, 10)}...${key.slice(-6)}/rotate`, '[redacted]/rotate'],
      // A re-test round: an escaped join, a mask spaced on one side or by two spaces, a tail alone after a join (its `=` kept).
      [`bad api_key%3D${key.slice(0, 14)}...${key.slice(-7)} here`, 'bad api_key%3D[redacted] here'],
      [`bad api_key\\u003d${key.slice(0, 14)}...${key.slice(-7)} here`, 'bad api_key\\u003d[redacted] here'],
      [`bad api_key=${key.slice(0, 14)} ...${key.slice(-7)} here`, 'bad api_key=[redacted] here'],
      [`bad api_key=${key.slice(0, 14)}  ...  ${key.slice(-7)} here`, 'bad api_key=[redacted] here'],
      [`bad ${key.slice(0, 14)}... ${key.slice(-7)} here`, 'bad [redacted] here'],
      [`key=...${key.slice(-20)}`, 'key=[redacted]'],
    ] as Array<[string, string]>)
      expect(scrub(text), text).toBe(want);
    // A join does not make other text a key's: what follows it must begin the key, and show enough of it.
    for (const t of ['api_key=sk-...ef', 'path=/v1/keys/sk-oa-...', 'x=abc...def', 'Wait ... and', 'a=b, see /usr/lib/... and x=1...y=2', 'rate=10...20/min'])
      expect(scrub(t), t).toBe(t);
  });

  it('an upstream text cut for an error is scrubbed before the cut: a key at the cut leaves no piece of itself (16 characters of it were relayed)', () => {
    const key = 'gwlive7Hq2hostileZpX9Kw3mRt8vLc4NdefXYZ';
    registerSecrets([key]);
    const body = `${'x'.repeat(279)} key ${key}`;
    for (const info of [openaiAdapter.parseError(500, body), anthropicAdapter.parseError(500, body)]) {
      expect(info.message).not.toContain(key.slice(0, 8));
      expect(info.message.length).toBeLessThanOrEqual(300);
    }
  });

  it("a long error body of the key's head repeated around a mask is scrubbed in linear time (a pattern that backtracked took 3.8 s on 256 KB)", () => {
    const key = 'sk-hostileOAbcdefghijklmnopqrstudefXYZ';
    registerSecrets([key]);
    for (const body of [
      `Error... ${'sk-hosti'.repeat(32_000)}`,
      `${'sk-proj-'.repeat(32_000)} ****`,
      `${'sk-hosti'.repeat(32_000)}...${key.slice(-6)}`,
      'ab..'.repeat(64_000),
    ]) {
      const t0 = performance.now();
      scrub(body);
      // A generous bound (a denial-of-service test): linear work on 256 KB is a few milliseconds.
      expect(performance.now() - t0).toBeLessThan(1000);
    }
  });

  it('keeps what surrounds the secret, and ordinary text (other hex, other words) as it was', () => {
    expect(scrub(`invalid api key: ${KEY.toUpperCase()} (check it)`)).toBe('invalid api key: [redacted] (check it)');
    expect(scrub(`hex ${hex(KEY)} end`)).toBe('hex [redacted] end');
    expect(scrub(`key ${KEY.slice(3)}.`)).toBe('key [redacted].');
    const plain = 'request 0123456789abcdef0123456789ABCDEF failed: SK-short, Leak canary, admin token missing, LEAKCANARY, Qx7Lm2Vb9';
    expect(scrub(plain)).toBe(plain);
  });

  it('an upstream error relayed to the client carries none of these forms, nor does its log line', () => {
    const message = `bad key ${KEY.toUpperCase()} / ${KEY.toLowerCase()} / ${hex(KEY)} / ${hex(KEY).toUpperCase()}`;
    const body = JSON.stringify(upstreamClientError(401, { message, type: 'invalid_request_error', code: 'invalid_api_key' }).toBody());
    expect(holdsKey(body)).toBe(false);
    expect(body.match(/\[redacted\]/g)).toHaveLength(4);

    let written = '';
    const dest = new Writable({
      write(chunk: Buffer, _enc, cb) {
        written += chunk.toString();
        cb();
      },
    });
    createLogger({ level: 'info', pretty: false, destination: dest }).warn({ upstream: message }, message);
    expect(written).toContain('bad key [redacted]');
    expect(holdsKey(written)).toBe(false);
  });

  it('stays cheap on a large text that holds no secret (one pass, patterns made at registration)', () => {
    const text = `${'0123456789abcdef SK-LEAK skip Leakcanary '.repeat(25_000)}`; // ~1 MB
    scrub(text);
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) expect(scrub(text)).toBe(text);
    expect((performance.now() - t0) / 5).toBeLessThan(250);
  });
});

describe('scrub: a known secret escaped as text quotes it (an upstream error body relayed whole)', () => {
  const SLASH = 'LEAKCANARY/slash+Key/0123456789abcdef==';
  registerSecrets([SLASH]);
  const unicode = (s: string): string => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
  it.each([
    ['a JSON string with / escaped (PHP json_encode)', `{"detail":"Invalid key ${SLASH.replace(/\//g, '\\/')}"}`],
    ['every character \\u-escaped', `{"error":"bad key ${unicode(SLASH)}"}`],
    ['percent-encoded in a URL', `GET /v1/x?key=${encodeURIComponent(SLASH)}`],
    ['percent-encoded, lower-case hex', `GET /v1/x?key=${encodeURIComponent(SLASH).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())}`],
    ['a Bearer header echoed JSON-escaped', `{"auth":"Bearer ${SLASH.replace(/\//g, '\\/')}"}`],
    ['a cut JSON text', `{"object":"error","message":"key ${SLASH.replace(/\//g, '\\/')}`],
  ])('%s', (_what, text) => {
    const out = scrub(text);
    expect(out).toContain('[redacted]');
    for (const part of ['slash+Key', 'slash%2BKey', '0123456789abcdef==', '0123456789abcdef%3D', '\\u0073\\u006c']) expect(out).not.toContain(part);
  });
});

describe('secretsOf: storage passwords', () => {
  it('reads a password given as ?password= as well as in the user info (ioredis and pg send both)', () => {
    const cfg = (ledger: string, shared: string) => configSchema.parse({ providers: {}, models: {}, storage: { ledger, shared } });
    expect(secretsOf(cfg('postgres://u:pw-in-userinfo@127.0.0.1/db', 'redis://127.0.0.1:6379/0?password=pw-in-query-1'), {})).toEqual(
      expect.arrayContaining(['pw-in-userinfo', 'pw-in-query-1']),
    );
    expect(secretsOf(cfg('postgres://127.0.0.1/db?password=pg-query-pw', 'memory'), {})).toContain('pg-query-pw');
  });
});
