/**
 * Input a client controls, read by a pattern that could go quadratic: a request-target ending in a
 * long run of slashes, and a client key padded with spaces (read before the key is checked, so by
 * anyone). `/\/+$/` and `/[ \t]+$/` tried every start of the run and failed at its end: ~100 ms for
 * 16 KB, so twenty such requests held the event loop for seconds. A generous bound, as a
 * denial-of-service test may have; the results are checked against the plain rule too.
 */
import { describe, expect, it } from 'vitest';
import { ClientKeys, trimEndSpaceTab } from '../../src/http/auth.js';
import { parseTarget } from '../../src/http/routes.js';
import { configSchema } from '../../src/config/schema.js';

const N = 20;

describe('linear in what a client sends', () => {
  it('a target with 16 KB of slashes before its last character: 20 parses well under a second', () => {
    const target = `/v1/${'/'.repeat(16_000)}x`;
    const t0 = performance.now();
    for (let i = 0; i < N; i++) parseTarget(target);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(parseTarget('/v1/models///').path).toBe('/v1/models');
    expect(parseTarget('///').path).toBe('/');
  });

  it('a client key with 16 KB of spaces inside it: 20 refusals well under a second', () => {
    const cfg = configSchema.parse({
      providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
      models: {
        a: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 100_000, endpoints: [{ provider: 'p', upstreamModel: 'up-a' }] },
      },
      auth: { keys: [{ id: 'a', keyEnv: 'QT_KEY' }] },
    });
    const keys = new ClientKeys(cfg, { QT_KEY: 'the-real-client-key-0123' });
    const header = `Bearer x${' '.repeat(16_000)}y`;
    const t0 = performance.now();
    for (let i = 0; i < N; i++) expect(() => keys.authenticate(header)).toThrow(/invalid client key/);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(() => keys.authenticate('Bearer the-real-client-key-0123 \t ')).not.toThrow();
    for (const s of ['', ' ', 'a \t', 'a b ', '\ta']) expect(trimEndSpaceTab(s)).toBe(s.replace(/[ \t]+$/, ''));
  });
});
