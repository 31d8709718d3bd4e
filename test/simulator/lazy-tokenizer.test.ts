/**
 * The simulator built into `serve` starts without the o200k tables (`tokenizer: 'lazy'`) and
 * loads them on its first count; its usage is the same exact o200k count as the standalone
 * simulator's (which loads them before it listens).
 */
import { createRequire } from 'node:module';
import OpenAI from 'openai';
import { encode } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';

const tablesLoaded = (): boolean => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('o200k_base'));

describe('simulator tokenizer loaded lazily', () => {
  it('holds no tokenizer tables until the first request, then counts usage exactly', async () => {
    // This file runs in its own worker: nothing here has counted yet (`encode` above is gpt-tokenizer's ESM default entry).
    const wasLoaded = tablesLoaded();
    const sim = await startSimulator({ tokenizer: 'lazy', profile: { defaults: { ttftMs: 0, tokenGapMs: 0 } } });
    try {
      expect(wasLoaded).toBe(false);
      expect(tablesLoaded()).toBe(false);
      const client = new OpenAI({ baseURL: `${sim.url}/openai/v1`, apiKey: 'sk-test', maxRetries: 0 });
      const res = await client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'what is a switchyard?' }] });
      expect(tablesLoaded()).toBe(true);
      const prompt = encode('what is a switchyard?').length + 3 + 3;
      expect(res.usage?.prompt_tokens).toBe(prompt);
      expect(res.usage?.total_tokens).toBe(prompt + (res.usage?.completion_tokens ?? NaN));
    } finally {
      await sim.close();
    }
  });
});
