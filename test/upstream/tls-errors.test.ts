/**
 * TLS failures are the endpoint's configuration, not a transient fault: an https:// base URL for
 * a server that speaks plain http, or a certificate the handshake refuses, fails over at once
 * with a message that says what is wrong. They were classed as a connection reset, which spends
 * the one quick jittered retry on the same endpoint (the same refusal again) and relays
 * OpenSSL's "ssl3_get_record:wrong version number" text.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { Cancel } from '../../src/runtime/cancel.js';
import { decide } from '../../src/runtime/retry-policy.js';
import { UpstreamPools } from '../../src/upstream/pools.js';
import { classifyError, readText, send } from '../../src/upstream/transport.js';
import { UpstreamFault } from '../../src/upstream/types.js';

const R = configSchema.parse({ providers: {}, models: {} }).resilience;
const state = { attemptsOnEndpoint: 1, transientRetryUsed: false, now: 0, remainingMs: 60_000, rng: () => 0.5 };

let plain: Server;
const pools = new UpstreamPools();

beforeAll(async () => {
  plain = createServer((_q, res) => res.end('{"ok":true}'));
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
});

afterAll(async () => {
  await pools.close();
  await new Promise((r) => plain.close(r));
});

describe('TLS failures', () => {
  it('https:// to a plain-http server: connect_failed naming the likely mistake, and a fail-over without the quick retry', async () => {
    const origin = `https://127.0.0.1:${(plain.address() as AddressInfo).port}`;
    const cancel = new Cancel();
    const pool = pools.get(origin, { connections: 1, connectTimeoutMs: 5000 });
    const opts = { headersTimeoutMs: 10_000, signal: cancel, abort: (f: UpstreamFault) => cancel.abort(f) };
    const err = await send(pool, { path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: '{}' }, opts)
      .then((res) => readText(res, cancel))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamFault);
    const f = err as UpstreamFault;
    expect(f.kind).toBe('connect_failed');
    expect(f.message).toContain('https:// for a server that speaks plain http://');
    expect(f.message).not.toContain('ssl3_get_record');
    expect(decide(f, state, R).next).toEqual({ step: 'failover' });
  });

  it.each(['DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'])(
    'a refused certificate (%s): connect_failed with the hint for a private CA, a fail-over without the quick retry',
    (code) => {
      const f = classifyError(Object.assign(new Error('self-signed certificate'), { code }), new Cancel());
      expect(f.kind).toBe('connect_failed');
      expect(f.message).toContain(`TLS certificate was refused (${code}: self-signed certificate)`);
      expect(f.message).toContain('NODE_EXTRA_CA_CERTS');
      expect(decide(f, state, R)).toMatchObject({ verdict: { event: 'failed', fault: 'connection' }, next: { step: 'failover' } });
    },
  );

  it('other transport errors stay a reset (one quick retry)', () => {
    const f = classifyError(Object.assign(new Error('bad record mac'), { code: 'ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC' }), new Cancel());
    expect(f.kind).toBe('reset');
    expect(decide(f, state, R).next.step).toBe('retry_same');
  });
});

describe("the sidecar's own resources", () => {
  it('out of file descriptors (EMFILE, ENFILE) is no fault of the upstream: not counted, not failed over, a 503 server_busy saying what to raise (the red-team round counted it as a reset against the endpoint)', () => {
    for (const code of ['EMFILE', 'ENFILE']) {
      const err = Object.assign(new Error(`connect ${code} 127.0.0.1:443`), { code });
      const f = classifyError(err, new Cancel());
      expect(f.message).toMatch(new RegExp(`out of file descriptors \\(${code}\\).*ulimit -n`));
      expect('sidecarBusy' in f).toBe(true);
      expect(decide(f, state, R)).toEqual({ verdict: { event: 'released' }, next: { step: 'stop' }, loud: false });
    }
  });
});
