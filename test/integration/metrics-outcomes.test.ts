/**
 * `/metrics` label values as the README documents them, against the real processes: every
 * `switchyard_attempts_total` outcome is `succeeded`, `released` or `failed:<fault kind>`, an
 * upstream 429 included.
 */
import { describe, expect, it } from 'vitest';
import { sidecarOnSimulator } from './harness.js';

const h = sidecarOnSimulator();

/** The `outcome` label and value of each `switchyard_attempts_total` series of one endpoint. */
async function attemptOutcomes(endpoint: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${h.sc.url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^switchyard_attempts_total\{endpoint="([^"]*)",outcome="([^"]*)"\} (\S+)$/.exec(line);
    if (m && m[1] === endpoint) out.set(m[2]!, Number(m[3]));
  }
  return out;
}

describe('switchyard_attempts_total', () => {
  it('counts an upstream 429 as failed:rate_limited, an outcome the README names', async () => {
    // A wait longer than maxRetryAfterMs: gpt-4.1 is throttled and the request fails over to its fallback.
    await h.sim.setFault('gpt-4.1', { kind: 'rate_limit', retryAfterSec: 30, times: 1 });
    const r = await h.sc.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'rate limited once' }] }).withResponse();
    expect(r.response.headers.get('x-switchyard-model')).toBe('claude-sonnet-4.5');
    const outcomes = await attemptOutcomes('gpt-4.1@openai');
    expect(Object.fromEntries(outcomes)).toEqual({ 'failed:rate_limited': 1 });
    expect((await attemptOutcomes('claude-sonnet-4.5@anthropic')).get('succeeded')).toBe(1);
    for (const o of [...outcomes.keys(), ...(await attemptOutcomes('claude-sonnet-4.5@anthropic')).keys()])
      expect(o).toMatch(/^(succeeded|released|failed:[a-z_]+)$/);
  });
});
