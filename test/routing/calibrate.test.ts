/**
 * `switchyard calibrate` (issue 11): thresholds from the route scores the ledger keeps, pure
 * and as the command over a real SQLite ledger with known scores.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { openLedger } from '../../src/accounting/ledger.js';
import { calibrateCommand } from '../../src/cli/calibrate.js';
import { calibrate, formatThreshold, MIN_SCORES, referenceShareAbove } from '../../src/routing/calibrate.js';
import { DEFAULT_MODEL } from '../../src/routing/scorer.js';
import { makeRow } from '../accounting/ledger-contract.js';
import { DEFAULT_CONFIG } from '../../src/config/defaults.js';

const dir = mkdtempSync(join(tmpdir(), 'sy-calibrate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** 0.00, 0.01, … 0.99: a uniform spread of 100 known scores. */
const SCORES = Array.from({ length: 100 }, (_, i) => i / 100);

describe('calibrate (pure)', () => {
  it('puts the wished share of traffic at or above the high_quality threshold', () => {
    const c = calibrate(SCORES, { strongShare: 0.3 });
    expect(c.thresholds.highQuality).toBe(0.7);
    expect(c.shares.high_quality).toBeCloseTo(0.3, 12);
    expect(c.thresholds.balanced).toBeLessThanOrEqual(c.thresholds.highQuality);
    expect(c.shares.fast_cheap + c.shares.balanced + c.shares.high_quality).toBeCloseTo(1, 12);
    expect(calibrate(SCORES, { strongShare: 0 }).shares.high_quality).toBe(0);
    expect(calibrate(SCORES, { strongShare: 1 }).shares.high_quality).toBe(1);
    // Every request means every request, one scoring under all the traffic seen too.
    expect(calibrate(SCORES, { strongShare: 1 }).thresholds.highQuality).toBe(0);
  });

  it('without a wish, keeps the strong share the defaults give on the reference prompts', () => {
    const want = referenceShareAbove(DEFAULT_MODEL.thresholds.highQuality, DEFAULT_MODEL.quantiles);
    expect(calibrate(SCORES).shares.high_quality).toBeCloseTo(want, 1);
  });

  it('the printed thresholds give the printed shares, also when a score lies within 1e-4 under one', () => {
    // 50 scores 0.005 apart, off the 4-decimal grid; for 48 of them at or above high_quality, the
    // threshold is the 3rd lowest, and the 2nd lowest sits 0.00005 under it.
    const scores = Array.from({ length: 50 }, (_, i) => 0.60037 + i * 0.005);
    scores[1] = scores[2]! - 0.00005;
    const c = calibrate(scores, { strongShare: 0.96 });
    expect(c.shares.high_quality).toBe(48 / 50);
    const printed = { balanced: Number(formatThreshold(c.thresholds.balanced)), highQuality: Number(formatThreshold(c.thresholds.highQuality)) };
    const share = (pred: (s: number) => boolean): number => scores.filter(pred).length / scores.length;
    expect(share((s) => s < printed.balanced)).toBe(c.shares.fast_cheap);
    expect(share((s) => s >= printed.highQuality)).toBe(c.shares.high_quality);
    // As short as that allows: 5 decimals here, where 4 would take the 2nd lowest in too.
    expect(formatThreshold(c.thresholds.highQuality)).toMatch(/^0\.\d{5}$/);
    expect(formatThreshold(calibrate(scores, { strongShare: 0.5 }).thresholds.highQuality)).toMatch(/^0\.\d{4}$/);
  });

  it('equal scores go to one side: the share nearest the wish, not the whole run of equal scores above it', () => {
    // 10 identical greetings at 0.518 between 2 lower scores and 38 higher ones: a wish of 80 % fell inside the run and sent it all up (96 %).
    const scores = [0.3, 0.31, ...Array.from({ length: 10 }, () => 0.518), ...Array.from({ length: 38 }, (_, i) => 0.6 + i * 0.01)];
    const c = calibrate(scores, { strongShare: 0.8 });
    // Above the run: 38 of 50 (76 %); with it: 48 of 50 (96 %): 76 % is the nearer to 80 %.
    expect(c.shares.high_quality).toBe(38 / 50);
    expect(c.thresholds.highQuality).toBeGreaterThan(0.518);
    // Nearer the run's share: the run goes up whole, never split.
    expect(calibrate(scores, { strongShare: 0.9 }).shares.high_quality).toBe(48 / 50);
    // Only equal scores: none goes up, or all, whichever is nearer the wish.
    const flat = Array.from({ length: 60 }, () => 0.7);
    expect(calibrate(flat, { strongShare: 0.3 }).shares.high_quality).toBe(0);
    expect(calibrate(flat, { strongShare: 0.6 }).shares.high_quality).toBe(1);
  });

  it("balanced stays the trained threshold (under high_quality's): a deployment's greetings stay fast_cheap whatever its share of them", () => {
    // 30 "thanks!" (0.5304 under the trained defaults of the helper round) and 30 support questions above them.
    const thanks = DEFAULT_MODEL.thresholds.balanced - 0.004;
    const scores = [...Array.from({ length: 30 }, () => thanks), ...Array.from({ length: 30 }, (_, i) => 0.6 + i * 0.001)];
    const c = calibrate(scores, { strongShare: 0.25 });
    expect(c.thresholds.balanced).toBe(DEFAULT_MODEL.thresholds.balanced);
    expect(c.shares.fast_cheap).toBe(0.5);
    expect(c.shares.high_quality).toBe(0.25);
    // A high_quality threshold under the trained balanced one takes balanced down with it.
    const low = calibrate(SCORES, { strongShare: 0.9 });
    expect(low.thresholds.balanced).toBe(low.thresholds.highQuality);
  });

  it('refuses to calibrate on too few scores', () => {
    expect(() => calibrate(SCORES.slice(0, MIN_SCORES - 1))).toThrow(/at least 50/);
    // One is one request (it said "only 1 requests").
    expect(() => calibrate(SCORES.slice(0, 1))).toThrow(/^only 1 request with a route score in the ledger;/);
  });
});

describe('switchyard calibrate (command)', () => {
  it('reads the scores of a SQLite ledger and prints the thresholds block', async () => {
    const db = join(dir, 'ledger.db');
    const ledger = await openLedger(`sqlite:${db}`);
    // The unscored rows (hints, routes: left out) are the newest.
    for (const [i, s] of SCORES.entries()) await ledger.insert(makeRow({ routeScore: s, at: 1_000_000 + i }));
    for (let i = 0; i < 20; i++) await ledger.insert(makeRow({ at: 2_000_000 + i }));
    await ledger.close();
    const cfg = join(dir, 'switchyard.yaml');
    writeFileSync(
      cfg,
      `providers: { p: { kind: openai, baseUrl: "http://127.0.0.1:1/v1" } }\nmodels: { m: { tier: balanced, price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000, endpoints: [{ provider: p, upstreamModel: m }] } }\nstorage: { ledger: "sqlite:${db}" }\n`,
    );
    const out: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    expect(await calibrateCommand(['--config', cfg, '--strong-share', '0.25'])).toBe(0);
    const text = out.join('\n');
    expect(text).toContain('newest 100 auto requests (of 120 ledger rows read)');
    expect(text).toContain('high_quality 25.0 %');
    expect(text).toMatch(/routing:\n {2}auto:\n {4}thresholds: \{ balanced: 0\.\d{4}, highQuality: 0\.7500 \}/);
    // A --limit that stops the read short of enough scores says so, instead of "only 0 in the ledger".
    const errs: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void errs.push(a.join(' ')));
    expect(await calibrateCommand(['--config', cfg, '--limit', '30'])).toBe(1);
    expect(errs.join('\n')).toMatch(/only 10 requests with a route score in the newest 30 ledger rows read \(--limit 30\); .*raise --limit/);
  });

  it('also prints what cascade escalations say per tier (a cheap tier that fails its checks gets fewer requests)', async () => {
    const db = join(dir, 'escalations.db');
    const ledger = await openLedger(`sqlite:${db}`);
    for (const s of SCORES) await ledger.insert(makeRow({ routeScore: s }));
    // 30 cascades: the cheap model failed its check on 24 of them and gpt-4.1 passed each time.
    for (let i = 0; i < 30; i++) {
      const failed = i < 24;
      await ledger.insert(
        makeRow({
          requestId: `c${i}#1`,
          model: 'deepseek-v3.2',
          cascade: { parentId: `c${i}`, step: 1, quality: failed ? 'invalid_json' : 'pass', delivered: !failed },
        }),
      );
      if (failed)
        await ledger.insert(makeRow({ requestId: `c${i}#2`, model: 'gpt-4.1', cascade: { parentId: `c${i}`, step: 2, quality: 'pass', delivered: true } }));
    }
    await ledger.close();
    const cfg = join(dir, 'escalations.json');
    // The built-in catalogue (deepseek-v3.2 fast_cheap, gpt-4.1 high_quality) on this ledger.
    writeFileSync(cfg, JSON.stringify({ ...DEFAULT_CONFIG, storage: { ...DEFAULT_CONFIG.storage, ledger: `sqlite:${db}` } }));
    const out: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    const errs: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void errs.push(a.join(' ')));
    expect(await calibrateCommand(['--config', cfg]), errs.join('\n')).toBe(0);
    const text = out.join('\n');
    expect(text).toContain('per tier, from cascade escalations and feedback:');
    expect(text).toMatch(/fast_cheap: fewer requests[^\n]*\n {2}because 80% of 30 checked answers failed a check/);
    expect(text).toMatch(/high_quality: keep/);
  });

  it('bad arguments exit 2; an empty ledger exits 1 with the reason', async () => {
    const err: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
    expect(await calibrateCommand(['--strong-share', '2'])).toBe(2);
    const cfg = join(dir, 'empty.yaml');
    writeFileSync(
      cfg,
      `providers: { p: { kind: openai, baseUrl: "http://127.0.0.1:9/v1" } }\nmodels: { m: { tier: balanced, price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000, endpoints: [{ provider: p, upstreamModel: m }] } }\nstorage: { ledger: "sqlite:${join(dir, 'empty.db')}" }\n`,
    );
    // No ledger file at all: said so, and none is created.
    expect(await calibrateCommand(['--config', cfg])).toBe(1);
    expect(err.join('\n')).toMatch(/no ledger at .*empty\.db/);
    await (await openLedger(`sqlite:${join(dir, 'empty.db')}`)).close();
    expect(await calibrateCommand(['--config', cfg])).toBe(1);
    expect(err.join('\n')).toMatch(/only 0 requests with a route score/);
    // A ledger in the sidecar's memory: no traffic can help, and the message says so.
    const mem = join(dir, 'memory.yaml');
    writeFileSync(mem, readFileSync(cfg, 'utf8').replace(/storage: \{ ledger: "[^"]*" \}/, 'storage: { ledger: memory }'));
    expect(await calibrateCommand(['--config', mem])).toBe(1);
    expect(err.join('\n')).toMatch(/storage\.ledger of .*memory\.yaml is memory: a ledger in the sidecar's memory cannot be read from another process/);
  });
});
