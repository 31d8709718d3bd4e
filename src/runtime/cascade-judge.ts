/**
 * The `judge` check as a cascade step of its own: the configured judge model is asked
 * (non-streamed) whether the answer passes; it reserves, settles and is recorded like any
 * step. An error or an unreadable verdict counts as unclear and never escalates by itself.
 */
import type { LedgerRow } from '../accounting/ledger.js';
import { keyModels } from '../config/lookup.js';
import type { CascadeConfig } from '../config/schema.js';
import type { Answer } from '../quality/answer.js';
import { judgeBody, judgeVerdict, judgeWords } from '../quality/judge.js';
import type { ChatCall, ChatSink } from './api.js';
import { runStep } from './cascade-step.js';
import type { RequestRecord, RuntimeCore } from './core.js';

export async function runJudge(
  rt: RuntimeCore,
  call: ChatCall,
  n: number,
  judge: NonNullable<CascadeConfig['judge']>,
  a: Answer,
  sink: ChatSink,
  maxCostUsd: number | null,
): Promise<{
  verdict: 'pass' | 'fail' | 'unclear';
  why: string;
  row: (LedgerRow & { cascade: NonNullable<LedgerRow['cascade']> }) | null;
  /** Its metrics record, told once the cascade's rows are written. */
  records: RequestRecord[];
}> {
  // A client key with a model list is never billed on a model off it, the judge's included: its answer goes unjudged.
  const allowed = keyModels(rt.cfg, call.keyId);
  if (allowed !== null && !allowed.has(judge.model))
    return { verdict: 'unclear', why: `the judge ${judge.model} is not among client key ${call.keyId}'s models`, row: null, records: [] };
  const mc = rt.cfg.models[judge.model];
  const body = judgeBody(judge.model, judge.rubric, judge.maxTokens, call.body, a);
  const judgeCall: ChatCall = { ...call, body, hints: { ...call.hints, maxCostUsd } };
  const run = await runStep(rt, judgeCall, n, { candidates: [judge.model], tier: mc?.tier ?? null, reason: 'cascade judge' }, sink);
  const text = run.answer ? run.answer.content : '';
  const verdict = run.answer ? judgeVerdict(text) : 'unclear';
  const quality = run.answer ? `judge:${verdict}` : `judge:${run.error?.code ?? 'no_answer'}`;
  const row = run.row ? { ...run.row, cascade: { parentId: call.requestId, step: n, quality, delivered: false } } : null;
  // Why a verdict is unclear: the judge's error (budget_exceeded, upstream_error…), or an answer that said neither word, or both.
  const why = run.answer ? (judgeWords(text).pass ? 'both PASS and FAIL in its answer' : 'no PASS or FAIL in its answer') : (run.error?.code ?? 'no answer');
  return { verdict, why, row, records: run.records };
}
