/**
 * The cascade's calibration proposals: from check and feedback rates per tier, what
 * `switchyard calibrate` would change and why.
 */
import { describe, expect, it } from 'vitest';
import type { ModelQuality } from '../../src/accounting/ledger.js';
import { validateConfig } from '../../src/config/load.js';
import { DEFAULT_CONFIG } from '../../src/config/defaults.js';
import type { Config } from '../../src/config/schema.js';
import { proposeCascadeAdjustments, tierQuality, type TierQuality } from '../../src/routing/calibrate-cascade.js';

function config(cascade: Record<string, unknown> = {}): Config {
  const base = structuredClone(DEFAULT_CONFIG) as { routing?: Record<string, unknown> };
  base.routing = { ...(base.routing ?? {}), cascade };
  const r = validateConfig(base);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.config;
}
const tier = (t: Partial<TierQuality> & Pick<TierQuality, 'tier'>): TierQuality => ({ requests: 100, checked: 100, failed: 0, good: 0, bad: 0, ...t });

describe('cascade calibration', () => {
  it('sums model figures into tiers in tier order, dropping models no longer in the catalogue', () => {
    const stats: ModelQuality[] = [
      { model: 'gpt-4.1', requests: 5, checked: 4, failed: 1, good: 2, bad: 1 },
      { model: 'deepseek-v3.2', requests: 10, checked: 10, failed: 6, good: 0, bad: 3 },
      { model: 'gemini-2.5-flash', requests: 10, checked: 10, failed: 0, good: 1, bad: 0 },
      { model: 'retired-model', requests: 99, checked: 99, failed: 99, good: 0, bad: 0 },
    ];
    // Default catalogue tiers (issue 11): deepseek-v3.2 fast_cheap, gemini-2.5-flash balanced, gpt-4.1 high_quality.
    expect(tierQuality(stats, config())).toEqual([
      { tier: 'fast_cheap', requests: 10, checked: 10, failed: 6, good: 0, bad: 3 },
      { tier: 'balanced', requests: 10, checked: 10, failed: 0, good: 1, bad: 0 },
      { tier: 'high_quality', requests: 5, checked: 4, failed: 1, good: 2, bad: 1 },
    ]);
  });

  it("a tier that escalates often gets fewer requests; under startAt cheapest the start moves to the router's tier", () => {
    const [p] = proposeCascadeAdjustments([tier({ tier: 'fast_cheap', failed: 45 })], config({ startAt: 'cheapest' }));
    expect(p).toMatchObject({ tier: 'fast_cheap', action: 'fewer_requests', change: { key: 'routing.cascade.startAt', from: 'cheapest', to: 'router' } });
    expect(p!.reason).toMatch(/45% of 100 checked answers failed/);
    const [q] = proposeCascadeAdjustments([tier({ tier: 'balanced', failed: 45 })], config());
    expect(q).toMatchObject({ action: 'fewer_requests', change: null });
  });

  it('answers marked bad though the checks pass: propose the judge, or fewer requests when it is already on', () => {
    const [p] = proposeCascadeAdjustments([tier({ tier: 'balanced', good: 10, bad: 15 })], config());
    expect(p).toMatchObject({ action: 'add_check', change: { key: 'routing.cascade.checks' } });
    expect((p!.change!.to as string[]).at(-1)).toBe('judge');
    const judged = config({ checks: ['empty', 'judge'], judge: { model: 'gpt-4.1' } });
    expect(proposeCascadeAdjustments([tier({ tier: 'balanced', good: 10, bad: 15 })], judged)[0]).toMatchObject({ action: 'fewer_requests', change: null });
  });

  it('a cheapest tier that almost never fails could take more requests; little data or normal rates keep things', () => {
    expect(proposeCascadeAdjustments([tier({ tier: 'fast_cheap', failed: 2 })], config())[0]).toMatchObject({
      action: 'more_requests',
      change: { to: 'cheapest' },
    });
    const few = proposeCascadeAdjustments([tier({ tier: 'fast_cheap', checked: 5, failed: 5 })], config())[0]!;
    expect(few).toMatchObject({ action: 'keep', change: null });
    expect(few.reason).toMatch(/not enough data/);
    expect(proposeCascadeAdjustments([tier({ tier: 'balanced', failed: 10 })], config())[0]).toMatchObject({ action: 'keep' });
  });

  it('says "within bounds" only of what there is enough of (18 verdicts, all bad, were called within bounds)', () => {
    const [p] = proposeCascadeAdjustments([tier({ tier: 'balanced', checked: 35, failed: 3, bad: 18 })], config());
    expect(p).toMatchObject({ action: 'keep', change: null });
    expect(p!.reason).toMatch(/^9% of 35 checked answers failed a check: within bounds; 18 verdicts, too few to judge \(need \d+\) \(100% bad\)$/);
    const [q] = proposeCascadeAdjustments([tier({ tier: 'balanced', checked: 4, failed: 0, good: 40 })], config());
    expect(q!.reason).toMatch(/^0% of 40 verdicts bad: within bounds; 4 checked answers, too few to judge/);
    const [r] = proposeCascadeAdjustments([tier({ tier: 'balanced', checked: 40, failed: 2, good: 39, bad: 1 })], config());
    expect(r!.reason).toBe('5% of 40 checked answers failed a check, 3% of 40 verdicts bad: within bounds');
  });
});

describe('printout', () => {
  it('names the key, the new and the old value, and the reason', async () => {
    const { formatProposals } = await import('../../src/routing/calibrate-cascade.js');
    const text = formatProposals(proposeCascadeAdjustments([tier({ tier: 'fast_cheap', failed: 45 })], config({ startAt: 'cheapest' })));
    expect(text).toBe(
      'fast_cheap: fewer requests — set routing.cascade.startAt: "router" (now "cheapest")\n  because 45% of 100 checked answers failed a check (> 30%): each escalation paid for two answers; start at the router\'s tier instead of the cheapest',
    );
  });
});
