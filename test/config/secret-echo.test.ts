/**
 * A config file that fails to parse is refused with the line the parser points at, and that line
 * may hold a secret written into the file (`apiKey: sk-…`, a password in a URL). The line is
 * quoted with every credential's value redacted, where the message is built: the reload's HTTP
 * answer (error.message and errors[]), `check-config`'s output and the log all get that form.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkConfigCommand } from '../../src/cli/check-config.js';
import { loadConfigFile } from '../../src/config/load.js';
import { startSidecar, testConfig, type SidecarHandle } from '../integration/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'sy-secret-echo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const file = (text: string, ext = 'yaml'): string => {
  const p = join(dir, `c${n++}.${ext}`);
  writeFileSync(p, text);
  return p;
};
const errorsOf = async (text: string, ext = 'yaml'): Promise<string[]> => {
  const r = await loadConfigFile(file(text, ext));
  if (r.ok) throw new Error('expected the file to be refused');
  return r.errors;
};

/** The black-box tester's file: a YAML parse error on the line holding the key. */
const REPRO = 'server: { host: 127.0.0.1, port: 5160 }\nproviders:\n  sim: { kind: openai, apiKey: sk-LEAKCANARY123reload: "x\n';

describe('a parse error quotes its line with the credentials redacted', () => {
  it('the reported file: the key is gone, the rest of the line and the place stay', async () => {
    const errors = await errorsOf(REPRO);
    expect(errors).toHaveLength(1);
    expect(errors[0]).not.toMatch(/LEAKCANARY/i);
    expect(errors[0]).toContain('not valid YAML');
    expect(errors[0]).toContain('at line 4, column 1');
    expect(errors[0]).toContain('sim: { kind: openai, apiKey: [redacted]');
  });

  it.each([
    ['a plain value after apiKey (no key shape the scrubber knows)', 'providers:\n  sim: { kind: openai, apiKey: hunter2hunter2SECRETX, x: "y\n'],
    ['api_key, quoted', 'providers:\n  sim: { kind: openai, "api_key": "hunter2hunter2SECRETX", x: "y\n'],
    ['token', 'providers:\n  sim: { kind: openai, token: hunter2hunter2SECRETX: "y\n'],
    ['adminToken', 'server: { adminToken: hunter2hunter2SECRETX, x: "y\n'],
    ['client_secret', 'providers:\n  sim: { client_secret: hunter2hunter2SECRETX, x: "y\n'],
    ['password', 'storage: { password: hunter2hunter2SECRETX, x: "y\n'],
    ['authorization (a header value, with its scheme)', "providers:\n  sim: { headers: { authorization: 'Basic hunter2hunter2SECRETX' }, x: \"y\n"],
    ['x-api-key', 'providers:\n  sim: { headers: { x-api-key: hunter2hunter2SECRETX }, x: "y\n'],
    ['key', 'budget:\n  limits: [{ scope: key, key: hunter2hunter2SECRETX, x: "y\n'],
    ['secret with an unclosed quote', 'providers:\n  sim: { kind: openai, secret: "hunter2hunter2SECRETX\n'],
    ['a password in a storage URL', 'storage: { ledger: "postgres://app:hunter2hunter2SECRETX@db:5432/x", x: "y\n'],
    [
      'a line longer than the parser shows (its excerpt cut the key off the value)',
      `providers:\n  sim: { kind: openai, baseUrl: "https://example.com/${'a'.repeat(60)}", apiKey: hunter2hunter2SECRETX, x: "y }\n`,
    ],
    ['a block value on the line below its key', 'providers:\n  sim:\n    apiKey:\n      hunter2hunter2SECRETX: "y\n'],
    ['a plain value continued on the line below', 'providers:\n  sim:\n    apiKey: hunter2\n      hunter2SECRETX: "y\n'],
  ])('%s', async (_what, text) => {
    const errors = await errorsOf(text);
    expect(errors.join('\n')).toContain('not valid YAML');
    expect(errors.join('\n')).not.toContain('SECRETX');
    expect(errors.join('\n')).toContain('[redacted]');
  });

  it('JSON: V8 quotes 20 characters around the error, which may hold a value without its key: the redacted line is quoted instead', async () => {
    const text = '{\n  "providers": {\n    "sim": {"kind": "openai", "apiKey": hunter2hunter2SECRETX}\n  }\n}\n';
    const errors = await errorsOf(text, 'json');
    expect(errors.join('\n')).not.toMatch(/hunter2|SECRETX/);
    expect(errors[0]).toContain('not valid JSON');
    expect(errors[0]).toContain('line 3, column');
    expect(errors[0]).toContain('\\"apiKey\\": [redacted]');
  });

  it('names of environment variables are not taken for credentials: apiKeyEnv, keyEnv stay readable (a name holding token is redacted: max_tokens)', async () => {
    const errors = await errorsOf('providers:\n  sim: { kind: openai, apiKeyEnv: OPENAI_API_KEY, keyEnv: K, max_tokens: 5, x: "y\n');
    expect(errors[0]).toContain('apiKeyEnv: OPENAI_API_KEY, keyEnv: K, max_tokens: [redacted]');
  });

  it("switchyard's own number keys that hold such a word show their values (maxOutputTokens: [redacted] hid the value to fix)", async () => {
    const errors = await errorsOf('models:\n  a: { maxOutputTokens: 8O92, imageTokens: 12, firstTokenTimeoutMs: 9, x: "y\n');
    expect(errors[0]).toContain('maxOutputTokens: 8O92, imageTokens: 12, firstTokenTimeoutMs: 9');
    // A key that only begins like one of them is still a credential's.
    const other = await errorsOf('extra:\n  { maxOutputTokensSecret: LEAKCANARYq1, x: "y\n');
    expect(other.join('\n')).not.toContain('LEAKCANARY');
  });

  it.each(['apiKey2', 'password_hash', 'auth_header', 'access_token_v2', 'bearer', 'pass', 'jwt', 'session', 'dsn', 'connectionString'])(
    'a name that holds a credential word (%s), not only one that ends in it, has its value redacted (it leaked)',
    async (name) => {
      const errors = await errorsOf(`server: { port: 1 }\nextra:\n  ${name}: 'LEAKCANARYx9\n`);
      expect(errors.join('\n')).not.toContain('LEAKCANARY');
    },
  );

  it('check-config prints the redacted line', async () => {
    const out: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    try {
      expect(await checkConfigCommand([file(REPRO)])).toBe(1);
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    expect(out.join('\n')).toContain('apiKey: [redacted]');
    expect(out.join('\n')).not.toMatch(/LEAKCANARY/i);
  });
});

describe('POST /switchyard/reload of a file that does not parse', () => {
  let sc: SidecarHandle;
  beforeAll(async () => {
    sc = await startSidecar(testConfig('http://127.0.0.1:9'));
  }, 60_000);
  afterAll(async () => {
    await sc?.stop();
  });

  it('answers 400 invalid_config without the key, in error.message and errors[], and logs the same', async () => {
    writeFileSync(sc.configFile, REPRO);
    const r = await fetch(`${sc.url}/switchyard/reload`, { method: 'POST' });
    const text = await r.text();
    expect(r.status).toBe(400);
    const body = JSON.parse(text) as { error: { message: string; code: string }; errors: string[] };
    expect(body.error.code).toBe('invalid_config');
    expect(text).not.toMatch(/LEAKCANARY/i);
    expect(body.error.message).toContain('apiKey: [redacted]');
    expect(body.errors.join('\n')).toContain('apiKey: [redacted]');
    const logs = await sc.waitForOutput('POST /switchyard/reload refused');
    expect(logs).toContain('apiKey: [redacted]');
    expect(logs).not.toMatch(/LEAKCANARY/i);
  });
});
