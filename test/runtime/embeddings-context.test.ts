/**
 * An embeddings call's context check: the longest input's UTF-8 bytes bound its tokens, and
 * decide wherever they fit a model's window; the inputs are counted only where they do not.
 * Counting every input loaded the o200k tokenizer (~1 s, ~60 MB) on the first embeddings call,
 * for chunks any window holds. One process per test file, so the tokenizer's state is this file's.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger } from '../../src/accounting/ledger.js';
import { countTextTokens, tokenizerLoaded } from '../../src/accounting/tokens.js';
import { configSchema } from '../../src/config/schema.js';
import { parse } from '../../src/http/embeddings-route.js';
import type { ChatCall } from '../../src/runtime/api.js';
import { countPrompt } from '../../src/runtime/request-prep.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { SwitchyardError } from '../../src/errors.js';

let rt: Runtime;
const embed = (contextWindow: number) => ({
  tier: 'fast_cheap',
  price: { inputPerMTok: 0.02, outputPerMTok: 0 },
  contextWindow,
  capabilities: ['embeddings'],
  endpoints: [{ provider: 'p', upstreamModel: 'e' }],
});

beforeAll(async () => {
  const cfg = configSchema.parse({
    providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1' } },
    models: { big: embed(8192), small: embed(700) },
  });
  rt = new Runtime({ cfg, ledger: await openLedger('memory'), log: pino({ level: 'silent' }) });
  await rt.restoreBudgets();
});
afterAll(async () => {
  await rt?.close();
});

let n = 0;
function route(body: Record<string, unknown>) {
  const call: ChatCall = {
    requestId: `req-${++n}`,
    body: parse(body),
    hints: { task: null, tier: null, maxLatencyMs: null, maxCostUsd: null, timeoutMs: null },
    keyId: null,
    receivedAt: 0,
    log: pino({ level: 'silent' }),
  };
  return rt.route(call, countPrompt(call), {});
}

describe('embeddings: the longest input against the windows', () => {
  it('inputs whose bytes fit the window are served without loading the tokenizer', () => {
    const plan = route({ model: 'big', input: ['the quick brown fox '.repeat(100), 'a second, shorter chunk of text'] });
    expect(plan.candidates).toEqual(['big']);
    expect(route({ model: 'small', input: 'hello there' }).candidates).toEqual(['small']);
    expect(tokenizerLoaded()).toBe(false);
  });

  it('inputs whose bytes exceed the window are counted: served when their tokens fit', () => {
    const text = 'the quick brown fox jumps over the lazy dog. '.repeat(220); // ~9,900 bytes, ~2,000 tokens
    expect(Buffer.byteLength(text)).toBeGreaterThan(8192);
    expect(route({ model: 'big', input: [text] }).candidates).toEqual(['big']);
    expect(tokenizerLoaded()).toBe(true);
  });

  it('refused by count, naming the input with the most tokens (not the most bytes) and its count', () => {
    const many = 'hello '.repeat(400); // 2,400 bytes, ~400 tokens
    const dense = 'a b '.repeat(400); // 1,600 bytes, ~800 tokens
    const denseTokens = countTextTokens(dense);
    expect(denseTokens).toBeGreaterThan(700);
    expect(countTextTokens(many)).toBeLessThan(700);
    let err: unknown = null;
    try {
      route({ model: 'small', input: [many, dense] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SwitchyardError);
    const e = err as SwitchyardError;
    expect(e.message).toContain(`input[1] is ${denseTokens} tokens`);
    expect(e.param).toBe('input[1]');
  });
});
