/**
 * The `auto` scorer on application traffic: the requests of two black-box rounds (a support bot's
 * system prompt, questions over pasted documents, follow-ups, agents with tools, extraction,
 * translation, code, hard tasks, pasted-text traps), each with the tier its author wrote before the
 * dry run (bench/data/app-traffic.json). A judgement, not outcome data: the train/dev split of
 * shared/data/routing stays the measure (`npm run eval:routing`); this shows how the scorer's
 * structure (system prompt, pasted text, follow-ups, tools) reads real app traffic, and lists every
 * request its author marked `high_quality` that goes `fast_cheap` (quality lost).
 *
 *   node bench/run-ts.js bench/app-traffic.ts [-v]
 */
import { readFileSync } from 'node:fs';
import type { Tier } from '../src/config/schema.js';
import type { RouteRequest } from '../src/routing/features.js';
import { DEFAULT_MODEL, explain, scoreRequest, tierForScore } from '../src/routing/scorer.js';

interface Case {
  id: string;
  category: string;
  expected: Tier;
  request: RouteRequest;
}

const data = JSON.parse(readFileSync(new URL('./data/app-traffic.json', import.meta.url), 'utf8')) as { rounds: Array<{ name: string; cases: Case[] }> };
const RANK: Record<Tier, number> = { fast_cheap: 0, balanced: 1, high_quality: 2 };
const verbose = process.argv.includes('-v');

for (const round of data.rounds) {
  const byCategory = new Map<string, { n: number; agree: number; higher: number; lower: number }>();
  let agree = 0;
  let higher = 0;
  let lower = 0;
  const lost: string[] = [];
  for (const c of round.cases) {
    const r = scoreRequest(c.request);
    const tier = tierForScore(r.score, DEFAULT_MODEL.thresholds);
    const k = byCategory.get(c.category) ?? { n: 0, agree: 0, higher: 0, lower: 0 };
    byCategory.set(c.category, k);
    k.n++;
    const d = RANK[tier] - RANK[c.expected];
    if (d === 0) {
      agree++;
      k.agree++;
    } else if (d > 0) {
      higher++;
      k.higher++;
    } else {
      lower++;
      k.lower++;
    }
    if (c.expected === 'high_quality' && tier === 'fast_cheap') lost.push(`${c.id} ${r.score.toFixed(4)} ${explain(r, 4)}`);
    if (verbose) console.log(`  ${c.id.padEnd(28)} ${c.expected.padEnd(12)} -> ${tier.padEnd(12)} ${r.score.toFixed(4)}  ${explain(r, 4)}`);
  }
  console.log(
    `${round.name}: ${agree} of ${round.cases.length} as their author wrote, ${higher} higher, ${lower} lower; high_quality sent fast_cheap: ${lost.length}`,
  );
  for (const [name, k] of byCategory) console.log(`  ${name.padEnd(18)} ${k.agree}/${k.n}  higher ${k.higher}  lower ${k.lower}`);
  for (const l of lost) console.log(`  LOST ${l}`);
}
