/** Secret values that cannot be keys are named before anything is sent with them (config/secrets.ts). */
import { describe, expect, it } from 'vitest';
import { unusableSecret, unusableSecrets } from '../../src/config/secrets.js';
import { configSchema } from '../../src/config/schema.js';

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

describe('unusableSecrets: a client key shared', () => {
  const cfg = configSchema.parse({
    providers: { openai: { kind: 'openai', baseUrl: 'https://api.openai.com/v1', apiKeyEnv: 'P_OPENAI' } },
    models: {
      m: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000, endpoints: [{ provider: 'openai', upstreamModel: 'm' }] },
    },
    auth: {
      keys: [
        { id: 'team-a', keyEnv: 'K_A' },
        { id: 'team-b', keyEnv: 'K_B' },
      ],
    },
  });

  it('two client keys with one value, or a client key that is a provider key or the admin token, are named (never the value)', () => {
    const distinct = unusableSecrets(cfg, { P_OPENAI: 'sk-prov', K_A: 'ka-1', K_B: 'kb-2', SWITCHYARD_ADMIN_TOKEN: 'adm' });
    expect(distinct).toEqual([]);
    const same = unusableSecrets(cfg, { P_OPENAI: 'sk-prov', K_A: 'same-SECRET', K_B: 'same-SECRET' });
    expect(same).toEqual([expect.stringMatching(/^auth\.keys \(team-b\)\.keyEnv: K_B has the same value as auth\.keys \(team-a\) K_A: /)]);
    const provider = unusableSecrets(cfg, { P_OPENAI: 'sk-prov', K_A: 'ka-1', K_B: 'sk-prov' });
    expect(provider).toEqual([expect.stringMatching(/K_B has the same value as the key of provider openai \(P_OPENAI\)/)]);
    const admin = unusableSecrets(cfg, { P_OPENAI: 'sk-prov', K_A: 'adm', K_B: 'kb', SWITCHYARD_ADMIN_TOKEN: 'adm' });
    expect(admin).toEqual([expect.stringMatching(/K_A has the same value as the admin token/)]);
    for (const m of [...same, ...provider, ...admin]) expect(m).not.toMatch(/same-SECRET|sk-prov|adm'/);
  });
});
