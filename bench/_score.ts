import { DEFAULT_MODEL, explain, scoreRequest, tierForScore } from '../src/routing/scorer.js';
const prompts = process.argv.slice(2);
for (const p of prompts) {
  const r = scoreRequest({ messages: [{ role: 'user', content: p }] } as any);
  console.log(tierForScore(r.score, DEFAULT_MODEL.thresholds).padEnd(12), r.score.toFixed(4), JSON.stringify(p).slice(0,80), '\n   ', explain(r, 6));
}
