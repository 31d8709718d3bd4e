/**
 * Bound off loopback, the operations routes follow one admin rule: `/switchyard/*` (the
 * inspector page included, which may carry `?token=`) and `/metrics` need the admin token,
 * compared in constant time; `observe.publicMetrics` opens `/metrics` only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, startProc, testConfig, TEST_KEYS, type Proc } from '../integration/harness.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { sameSecret } from '../../src/http/auth.js';

const ADMIN = 'admin-token-for-the-admin-test';
let closed: Proc;
let open: Proc;
let closedUrl = '';
let openUrl = '';

async function offLoopback(publicMetrics: boolean): Promise<{ p: Proc; url: string }> {
  const file = join(mkdtempSync(join(tmpdir(), 'sy-admin-')), 'switchyard.yaml');
  writeFileSync(file, stringify({ ...testConfig('http://127.0.0.1:9'), server: { host: '0.0.0.0' }, observe: { publicMetrics } }));
  const p = await startProc(['serve', '--config', file, '--port', '0'], /switchyard (http:\/\/0\.0\.0\.0:\d+)\/v1/, {
    ...TEST_KEYS,
    SWITCHYARD_ADMIN_TOKEN: ADMIN,
  });
  return { p, url: p.url.replace('0.0.0.0', '127.0.0.1') };
}

beforeAll(async () => {
  ({ p: closed, url: closedUrl } = await offLoopback(false));
  ({ p: open, url: openUrl } = await offLoopback(true));
});

afterAll(async () => {
  await closed?.stop();
  await open?.stop();
});

const status = async (url: string, headers: Record<string, string> = {}): Promise<number> => {
  const r = await fetch(url, { headers });
  await r.arrayBuffer();
  return r.status;
};

describe('off loopback', () => {
  it.each(['/metrics', '/switchyard/inspect', '/switchyard/state', '/switchyard/events'])('%s without the token is 401', async (path) => {
    expect(await status(`${closedUrl}${path}`)).toBe(401);
    expect(await status(`${closedUrl}${path}`, { authorization: 'Bearer wrong-token' })).toBe(401);
  });

  it.each(['/metrics', '/switchyard/inspect', '/switchyard/state'])('%s with the token is served', async (path) => {
    expect(await status(`${closedUrl}${path}`, { authorization: `Bearer ${ADMIN}` })).toBe(200);
  });

  it('the 401 says how to send the token, whole (the scrubber turned the hint into "Bearer [redacted]")', async () => {
    const r = await fetch(`${closedUrl}/switchyard/state`);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('admin_token_required');
    expect(body.error.message).toContain('send "authorization: Bearer <token>" with the token set in SWITCHYARD_ADMIN_TOKEN');
    expect(body.error.message).not.toContain('[redacted]');
  });

  it('the inspector page takes the token as ?token= too; data routes do not', async () => {
    expect(await status(`${closedUrl}/switchyard/inspect?token=${ADMIN}`)).toBe(200);
    expect(await status(`${closedUrl}/switchyard/state?token=${ADMIN}`)).toBe(401);
  });

  it('observe.publicMetrics opens /metrics and nothing else', async () => {
    expect(await status(`${openUrl}/metrics`)).toBe(200);
    expect(await status(`${openUrl}/switchyard/state`)).toBe(401);
  });

  it('bound off loopback without auth.keys, the start-up log warns that anyone can spend (with client keys it does not)', async () => {
    // The log is written asynchronously: wait for the listening line, which comes after those warnings.
    const listening = async (p: Proc): Promise<string> => {
      const t0 = Date.now();
      while (!/switchyard listening/.test(p.stdout())) {
        if (Date.now() - t0 > 10_000) throw new Error(`no listening line in the log: ${p.stdout().slice(0, 500)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return p.stdout();
    };
    expect(await listening(closed)).toMatch(/without auth\.keys: anyone who can reach this port can spend/);
    const file = join(mkdtempSync(join(tmpdir(), 'sy-admin-')), 'switchyard.yaml');
    writeFileSync(
      file,
      stringify({ ...testConfig('http://127.0.0.1:9'), server: { host: '0.0.0.0' }, auth: { keys: [{ id: 'a', keyEnv: 'SY_ADMIN_TEST_KEY' }] } }),
    );
    const keyed = await startProc(['serve', '--config', file, '--port', '0'], /switchyard (http:\/\/0\.0\.0\.0:\d+)\/v1/, {
      ...TEST_KEYS,
      SWITCHYARD_ADMIN_TOKEN: ADMIN,
      SY_ADMIN_TEST_KEY: 'sk-client-key-for-the-admin-test',
    });
    try {
      expect(await listening(keyed)).not.toMatch(/without auth\.keys/);
    } finally {
      await keyed.stop();
    }
  });

  it('without SWITCHYARD_ADMIN_TOKEN on the sidecar, the 401 says to set it there (no header can help)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sy-admin-')), 'switchyard.yaml');
    writeFileSync(file, stringify({ ...testConfig('http://127.0.0.1:9'), server: { host: '0.0.0.0' } }));
    const bare = await startProc(['serve', '--config', file, '--port', '0'], /switchyard (http:\/\/0\.0\.0\.0:\d+)\/v1/, {
      ...TEST_KEYS,
      SWITCHYARD_ADMIN_TOKEN: '',
    });
    try {
      const r = await fetch(`${bare.url.replace('0.0.0.0', '127.0.0.1')}/switchyard/state`, { headers: { authorization: 'Bearer anything' } });
      expect(r.status).toBe(401);
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('admin_token_required');
      expect(body.error.message).toContain(
        'has no SWITCHYARD_ADMIN_TOKEN: set it in the sidecar\'s environment and restart, then send "authorization: Bearer <token>"',
      );
      // With the token set, the message stays the plain one.
      const closedBody = (await (await fetch(`${closedUrl}/switchyard/state`)).json()) as { error: { message: string } };
      expect(closedBody.error.message).not.toContain('has no SWITCHYARD_ADMIN_TOKEN');
    } finally {
      await bare.stop();
    }
  });

  it('a wrong token is told apart from a missing one, by the 401 and by `switchyard status` (both said "set SWITCHYARD_ADMIN_TOKEN" to a user who had)', async () => {
    const missing = (await (await fetch(`${closedUrl}/switchyard/state`)).json()) as { error: { message: string } };
    expect(missing.error.message).not.toMatch(/not this sidecar's/);
    for (const r of [
      await fetch(`${closedUrl}/switchyard/state`, { headers: { authorization: 'Bearer wrong-token' } }),
      await fetch(`${closedUrl}/switchyard/inspect?token=wrong-token`),
    ]) {
      expect(r.status).toBe(401);
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('admin_token_required');
      expect(body.error.message).toMatch(/the admin token sent is not this sidecar's SWITCHYARD_ADMIN_TOKEN/);
    }
    const run = spawnSync(process.execPath, [BIN, 'status', '--url', closedUrl], {
      env: { ...process.env, SWITCHYARD_ADMIN_TOKEN: 'wrong-token' },
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/refused \/switchyard\/state \(401\): .*the admin token sent is not this sidecar's SWITCHYARD_ADMIN_TOKEN/);
    expect(run.stderr).not.toContain('wrong-token');
  });

  it('health and the API stay open', async () => {
    expect(await status(`${closedUrl}/healthz`)).toBe(200);
  });
});

it('sameSecret compares whole values', () => {
  expect(sameSecret(ADMIN, ADMIN)).toBe(true);
  expect(sameSecret(`${ADMIN}x`, ADMIN)).toBe(false);
  expect(sameSecret(ADMIN.slice(0, -1), ADMIN)).toBe(false);
  expect(sameSecret('', ADMIN)).toBe(false);
});
