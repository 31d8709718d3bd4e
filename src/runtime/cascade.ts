/**
 * The quality cascade (issue 12): start at the router's tier (or the cheapest adequate one),
 * check the answer, and escalate to the next tier up only when it is not good enough. Each
 * step is the ordinary request driver restricted to one tier (cascade-step.ts), so it reserves
 * before it sends and settles with its own usage; its answer is held until checked, so the
 * client sees no byte of a failed step. The client gets the first answer that passes, or the
 * best one with the failed checks named — never an error for a quality miss alone.
 */
import { worstCaseNano } from '../accounting/cost.js';
import { nanoToUsd, usdToNano } from '../accounting/money.js';
import { outputCap, promptBoundTokens, promptWorstTokens, requestedOutputTokens } from '../accounting/reservation.js';
import type { LedgerRow } from '../accounting/ledger.js';
import type { CascadeConfig, CascadeCheck } from '../config/schema.js';
import { nativeOf } from '../apis/native.js';
import { loggedMessage } from '../errors.js';
import { checkAnswer } from '../quality/checks.js';
import { requestTexts } from '../quality/judge.js';
import { SchemaCache } from '../quality/schema-cache.js';
import { cascadePlan, type CascadePlan } from '../routing/cascade-plan.js';
import { usableFor } from './translatable.js';
import { keyAllowance, type ResolveInput, type RoutePlan } from '../routing/resolve.js';
import { userText } from '../routing/classify.js';
import type { ChatCall, ChatSink } from './api.js';
import { replay, type Held } from './buffer-sink.js';
import { runJudge } from './cascade-judge.js';
import { runStep, withoutLogprobs, type StepRun } from './cascade-step.js';
import type { RequestRecord, RuntimeCore } from './core.js';
import { currentScope, type ApiName } from './request-scope.js';
import { RequestDriver } from './request-driver.js';
import { countPrompt, exactPromptCount, headerReason } from './request-prep.js';
import { tooSlow } from './endpoints.js';
import { contextTooLong, unsupportedFeature } from './retry-policy.js';

/** One step as the cascade reports it (header, metric, inspector, ledger quality). */
export interface CascadeStepRecord {
  model: string | null;
  /** `pass`, failed checks joined by `+`, or the error code of a step without an answer. */
  outcome: string;
  /** What the step's own row cost (a judge's call on its answer is a row of its own, not in it). */
  costNano: number;
}

export interface CascadeRecord {
  requestId: string;
  steps: CascadeStepRecord[];
  /** Index in `steps` of the answer the client received, null when none was delivered. */
  delivered: number | null;
  /** Streams: how long the client's first byte was held back by the checks. */
  holdMs: number | null;
  costNano: number;
  /** The client API, and the HTTP status the client got (null when nothing was sent: the client had gone). */
  api: ApiName;
  status: number | null;
}

interface Checked extends StepRun {
  failed: CascadeCheck[];
  outcome: string;
  /** Checks that could not judge this answer (CheckOutcome.unchecked). */
  unchecked?: string[];
  /** Stream events to send instead of the held ones (logprobs removed). */
  events?: string[];
  /** The judge's word on this answer: `pass`, `fail`, `unclear (<why>)`, or `not asked (last step)` (x-switchyard-judge). */
  judged?: string;
}

let schemas: SchemaCache | null = null;
let schemasSize = 0;
function schemaCache(size: number): SchemaCache {
  if (!schemas || schemasSize !== size) [schemas, schemasSize] = [new SchemaCache(size), size];
  return schemas;
}

export function cascadeOn(cfg: { routing: { cascade: CascadeConfig } }, call: { hints: Pick<ChatCall['hints'], 'cascade'> }): boolean {
  return call.hints.cascade ?? cfg.routing.cascade.enabled;
}

/** Confidence needs logprobs: asked for only where every candidate speaks OpenAI's wire (Anthropic refuses the field). */
function wantsLogprobs(rt: RuntimeCore, call: ChatCall, plan: RoutePlan): boolean {
  if (!rt.cfg.routing.cascade.checks.includes('confidence') || call.body.logprobs === true) return false;
  return plan.candidates.every((m) => (rt.cfg.models[m]?.endpoints ?? []).every((e) => rt.cfg.providers[e.provider]?.kind === 'openai'));
}

function planOf(rt: RuntimeCore, call: ChatCall): CascadePlan {
  const c = rt.cfg.routing.cascade;
  const inp = { ...cascadeInput(rt, call.body, call.hints, call.api === 'messages'), allowed: keyAllowance(rt.cfg, call.keyId) };
  return cascadePlan(rt.cfg, inp, c.startAt, c.maxSteps, usableFor(rt, call.body));
}

/** What routing reads of a chat request (the request driver's and the dry run's input). */
function cascadeInput(rt: RuntimeCore, body: ChatCall['body'], hints: ChatCall['hints'], maxTokensRequired: boolean): ResolveInput {
  const promptTokens = countPrompt({ body });
  return {
    model: body.model,
    body,
    // maxTokensRequired: the Messages API requires max_tokens, so the scorer does not read it there.
    classify: { task: hints.task, tier: hints.tier, text: userText(body.messages), promptTokens, turns: body.messages.length, maxTokensRequired },
    promptTokens,
    exactContextTokens: exactPromptCount(body),
    boundContextTokens: () => promptBoundTokens(body),
    expectedOutputTokens: Math.min(requestedOutputTokens(body) ?? 512, 4096),
    liveStats: (m) => rt.modelStats(m),
  };
}

/**
 * The candidates a plain request falls back to once `refused` was refused for money, minus
 * those the cascade already ran, and only those whose worst case is under the refused one: a
 * budget's refusal gives the smallest refused worst case (the request machine's ceiling), the
 * cost cap's the worst case it refused first. A dearer model cannot fit where a cheaper one did
 * not: tried, it made the 429 name its own larger worst case, and a client raised the cap by more
 * than the cheapest model needed.
 */
function cheaperPlan(
  rt: RuntimeCore,
  call: ChatCall,
  plan: CascadePlan,
  ran: ReadonlySet<string>,
  refused: StepRun,
  unreached: ReadonlySet<string>,
): RoutePlan | null {
  const promptTokens = countPrompt(call);
  const bound = promptBoundTokens(call.body);
  const r = refused.refusal;
  const ceiling = refused.ceilingNano ?? (r?.kind === 'max_cost' ? r.amount : null);
  const candidates = plan.plain.candidates.filter((m) => {
    const mc = rt.cfg.models[m];
    // A model of a step that could not reach it (circuit-open, throttled) was not tried: it may fit, as a plain request would find.
    if (!mc || (ran.has(m) && !unreached.has(m))) return false;
    return ceiling === null || worstCaseNano(promptWorstTokens(bound, mc, call.body), outputCap(call.body, mc, promptTokens), mc.price) < ceiling;
  });
  if (candidates.length === 0) return null;
  const why = r?.kind === 'budget' ? `${r.model} over budget ${r.budget}` : `${r?.model ?? refused.model} over x-switchyard-max-cost-usd`;
  return { candidates, tier: plan.plain.tier, reason: `cascade: ${why} → cheaper models; ${plan.steps[0]!.plan.reason}`, score: null };
}

/**
 * The plain request's candidates the cascade has not tried, after a step no endpoint could take:
 * those of unreached steps included (throttled or circuit-open then, waited for now as a plain
 * request waits; the latency wish still passes over those it passed over).
 */
function otherPlan(plan: CascadePlan, ran: ReadonlySet<string>, model: string | null, unreached: ReadonlySet<string>): RoutePlan | null {
  const candidates = plan.plain.candidates.filter((m) => !ran.has(m) || unreached.has(m));
  if (candidates.length === 0) return null;
  return {
    candidates,
    tier: plan.plain.tier,
    reason: `cascade: ${model ?? 'none'} no_endpoint_available → other models; ${plan.steps[0]!.plan.reason}`,
    score: null,
  };
}

export async function runCascade(rt: RuntimeCore, call: ChatCall, sink: ChatSink): Promise<void> {
  let plan: CascadePlan;
  try {
    plan = planOf(rt, call);
  } catch {
    // Unknown model, nothing adequate…: the ordinary flow answers it with the usual error.
    return new RequestDriver(rt, call, sink).run();
  }
  // Nothing to escalate to (a named model or route with one candidate; `auto` whose first step is
  // the top adequate tier): served as a plain request, with no answer held back and no check (a
  // held stream lost its streaming for nothing, as the checks changed nothing delivered).
  if (plan.steps.length < 2) return new RequestDriver(rt, call, sink).run();
  // A Messages prompt cache pre-warm (max_tokens 0) answers nothing by design: no check could pass
  // it, and each step would write the cache again. Served plain.
  const native = nativeOf(call.body);
  if (native?.kind === 'anthropic-messages' && native.body.max_tokens === 0) return new RequestDriver(rt, call, sink).run();
  const ladder = plan.steps;
  const c = rt.cfg.routing.cascade;
  const settings = { enabled: new Set(c.checks), minLogprob: c.minLogprob, schemas: schemaCache(c.schemaCacheSize) };
  const clientMax = requestedOutputTokens(call.body);
  const deadlineAt = call.receivedAt + (call.hints.timeoutMs ?? rt.cfg.resilience.requestTimeoutMs);
  const steps: Checked[] = [];
  const extraRows: LedgerRow[] = [];
  /** The judge steps' metrics records (the steps' own are in `steps`), told once the rows are written. */
  const extraRecords: RequestRecord[] = [];
  /** The models of the steps run so far (a fallback for money does not try them again). */
  const ran = new Set<string>();
  /** The models of steps no endpoint could take (circuit-open, throttled, busy): never tried, so a fallback for money may wait for them. */
  const unreached = new Set<string>();
  let spent = 0;
  /** `spent` by the model each part was charged to (a row's own model, and its shares of others). */
  const spentBy = new Map<string, number>();
  const count = (row: LedgerRow | null): void => {
    if (row === null) return;
    spent += row.costNano;
    let own = row.costNano;
    for (const sh of row.shares ?? []) {
      spentBy.set(sh.model, (spentBy.get(sh.model) ?? 0) + sh.costNano);
      own -= sh.costNano;
    }
    if (own > 0 && row.model !== null) spentBy.set(row.model, (spentBy.get(row.model) ?? 0) + own);
  };
  let n = 0;
  /** The reason's note on a step not started for want of time (the best answer so far was delivered). */
  let timeNote: string | null = null;
  /** A named model or route: the index in its chain of the last model a step reached (the next step starts after it). */
  let reached = -1;
  for (let i = 0; i < ladder.length; i++) {
    if (sink.signal.aborted || rt.stopping.aborted || rt.now() >= deadlineAt || steps.length > c.maxSteps) break;
    if (plan.kind === 'chain' && i <= reached) continue;
    const step = ladder[i]!;
    // A later step that usually takes longer than the time left would most likely be cut by the
    // deadline and billed what it reserved (a JSON answer's prompt and whole cap) for nothing: the
    // best answer so far is delivered instead.
    const usual = steps.some((s) => s.answer) ? quickest(step.plan.candidates) : 0;
    if (deadlineAt - rt.now() < usual) {
      const left = Math.max(0, Math.round(deadlineAt - rt.now()));
      timeNote = `${step.plan.candidates.join(', ')} not tried (too little time left: ${left} ms, it usually takes ${Math.round(usual)} ms)`;
      break;
    }
    const prev = steps[steps.length - 1];
    // Why this tier (or model): the step below that failed, then what chose the first step (x-switchyard-reason).
    const next = plan.kind === 'chain' ? step.plan.candidates[0]! : step.tier;
    const stepPlan = prev ? { ...step.plan, reason: `cascade: ${prev.model ?? 'none'} ${prev.outcome} → ${next}; ${ladder[0]!.plan.reason}` } : step.plan;
    // Somewhere else to go when no endpoint of this step can take it now: do not wait for one. A
    // model the latency wish passes over is nowhere to go (the step after would come back to this
    // one's model and wait for it there: `deepseek-v3.2:no_endpoint_available>deepseek-v3.2:pass`).
    const goes = (m: string): boolean => !stepPlan.candidates.includes(m) && !tooSlow(rt.byModel.get(m), call.hints.maxLatencyMs);
    const elsewhere =
      plan.kind === 'tiers' &&
      (ladder.slice(i + 1).some((st) => st.plan.candidates.some(goes)) ||
        (!steps.some((s) => s.answer) && plan.plain.candidates.some((m) => !ran.has(m) && goes(m))));
    // Is there a step after this one (the judge is asked only then: on the last step its verdict changes nothing delivered)?
    const after = (r: StepRun): boolean => {
      // Called once this step is in `steps` (the loop's own bound).
      if (steps.length > c.maxSteps || sink.signal.aborted || rt.stopping.aborted || rt.now() >= deadlineAt) return false;
      return plan.kind === 'chain' ? Math.max(i, plan.plain.candidates.indexOf(r.model)) + 1 < ladder.length : i + 1 < ladder.length;
    };
    const run = await runOne(stepPlan, elsewhere, after);
    for (const m of stepPlan.candidates) ran.add(m);
    // A model the latency wish passed over is not waited for later: a plain request passes it over too.
    if (run.error?.code === 'no_endpoint_available')
      for (const m of stepPlan.candidates) if (!tooSlow(rt.byModel.get(m), call.hints.maxLatencyMs)) unreached.add(m);
    if (plan.kind === 'chain') reached = Math.max(i, plan.plain.candidates.indexOf(run.model));
    if (run.checked.answer && run.checked.failed.length === 0) break;
    const code = run.error?.code;
    if (code === 'budget_exceeded') {
      // Only models' own budgets refused (no ceiling: no budget every model shares): the next step's
      // models answer to budgets of their own, so the cascade goes on as if the step had failed.
      if (run.refusal?.kind === 'budget' && run.ceilingNano === null) continue;
      // Refused for money with no answer yet: the cheaper candidates a plain request would fall back to (runRest).
      const cheaper = plan.kind === 'tiers' && !steps.some((s) => s.answer) ? cheaperPlan(rt, call, plan, ran, run, unreached) : null;
      if (cheaper) await runRest(cheaper);
      // Otherwise a refusal ends the cascade with the best answer so far.
      break;
    }
    // A named model's or a route's step holds the rest of its chain (it fails over along it): none of it
    // can be reached now, and a later step is part of it (asked, it was refused for money where the
    // step's 503 said the request fits once its first model is back).
    if (code === 'no_endpoint_available' && plan.kind === 'chain') break;
    if (code === 'no_endpoint_available' && plan.kind === 'tiers' && !steps.some((s) => s.answer)) {
      // Throttled or circuit-open, with no latency wish: the next step, as after any failed step
      // (from `startAt: cheapest` the plain order would jump to the scored tier, skipping the ones between).
      if (call.hints.maxLatencyMs === null && i < ladder.length - 1) continue;
      // No endpoint of the step's tier could take it (the latency wish passes over every one, all
      // throttled): the plain request's other candidates, in its order (the tier above, then below),
      // once, as a plain request would go on to them, instead of climbing only to slower tiers.
      const rest = otherPlan(plan, ran, run.model, unreached);
      if (rest) await runRest(rest);
      break;
    }
    // A client mistake is not a tier's fault; a model that does not take a feature the request uses
    // (DeepSeek and json_schema: its provider's 400), or whose context window the prompt is over
    // (the next step's models may have larger ones), is this step's, and the next step may take it.
    if (
      run.error &&
      run.error.status < 500 &&
      run.error.status !== 429 &&
      !run.checked.answer &&
      !unsupportedFeature(run.error.message) &&
      !contextTooLong(run.error)
    )
      break;
  }
  // No step ran: its deadline passed (a timeout of a millisecond or two, read again by the loop's
  // first check), the sidecar is stopping or the client left before a first step. Answered as a
  // plain request is (its 504, 503 or 499, and its ledger row); delivering no step sent nothing,
  // and the connection hung open with no answer and no row.
  if (steps.length === 0) return new RequestDriver(rt, call, sink).run();
  await deliver(rt, call, sink, steps, extraRows, spent, extraRecords, timeNote);

  /** The usual time (latency EWMA, `latencyPriorMs` until measured) of the quickest endpoint of `models`. */
  function quickest(models: readonly string[]): number {
    let ms = Infinity;
    for (const m of models)
      for (const h of rt.byModel.get(m) ?? []) {
        const ctx = h.actor.getSnapshot().context;
        ms = Math.min(ms, ctx.latencyEwma ?? ctx.settings.latencyPriorMs);
      }
    return ms;
  }

  /**
   * A fallback plan (the cheaper models after a refusal for money, the other models after no
   * endpoint could take a step): run as a plain request runs it (failing over along its
   * candidates), and when the answer fails a check, its candidates after the one that answered,
   * a step each, while steps, time and money are left (the answer was checked, then delivered as
   * it was: an affordable model in the plan was never tried).
   */
  async function runRest(plan0: RoutePlan): Promise<void> {
    let p: RoutePlan | null = plan0;
    const live = (): boolean => !sink.signal.aborted && !rt.stopping.aborted && rt.now() < deadlineAt;
    while (p && live()) {
      const cands: readonly string[] = p.candidates;
      const later = (model: string): string[] => cands.slice(cands.indexOf(model) + 1);
      const run = await runOne(p, false, (r) => later(r.model).length > 0 && steps.length <= c.maxSteps && live());
      for (const m of cands) ran.add(m);
      // Passed, or no answer (refused for money, or every candidate failed: the step failed over along them).
      if (!run.checked.answer || run.checked.failed.length === 0 || steps.length > c.maxSteps) return;
      const next = later(run.model);
      p =
        next.length === 0 ? null : { ...p, candidates: next, reason: `cascade: ${run.model} ${run.checked.outcome} → ${next[0]!}; ${ladder[0]!.plan.reason}` };
    }
  }

  /**
   * One step: run, checked (and judged when configured and `hasNext` says a step may follow: a
   * judge on the last step is a paid call whose verdict escalates nowhere), recorded in `steps`.
   */
  async function runOne(stepPlan: RoutePlan, noWait = false, hasNext: (run: StepRun) => boolean = () => false): Promise<StepRun & { checked: Checked }> {
    const maxCost = maxCostLeft(call, spent);
    const logprobs = wantsLogprobs(rt, call, stepPlan);
    // `priorNano`: the earlier steps' cost, settled, their rows held until the end (ChatCall.priorNano).
    const stepCall: ChatCall = {
      ...call,
      hints: { ...call.hints, maxCostUsd: maxCost },
      body: logprobs ? { ...call.body, logprobs: true } : call.body,
      priorNano: spent,
      priorByModel: new Map(spentBy),
      noWait,
    };
    const run = await runStep(rt, stepCall, ++n, stepPlan, sink);
    count(run.row);
    const checked = check(run, settings, call, clientMax, logprobs);
    steps.push(checked);
    const judge = c.checks.includes('judge') ? c.judge : undefined;
    // The last step's answer is delivered whatever a judge would say: it is not asked (x-switchyard-judge says so).
    if (run.answer && checked.failed.length === 0 && judge && !hasNext(run)) checked.judged = 'not asked (last step)';
    else if (run.answer && checked.failed.length === 0 && judge) {
      const j = await runJudge(rt, { ...call, priorNano: spent, priorByModel: new Map(spentBy) }, ++n, judge, run.answer, sink, maxCostLeft(call, spent));
      if (j.row) extraRows.push(j.row);
      extraRecords.push(...j.records);
      count(j.row);
      if (j.verdict === 'fail') Object.assign(checked, { failed: ['judge'], outcome: 'judge' });
      // An unclear verdict (the judge refused for money, failed, or answered neither) does not escalate,
      // and the answer's checks say `pass`: the header tells the client no judge approved it.
      checked.judged = j.verdict === 'unclear' ? `unclear (${j.why})` : j.verdict;
    }
    return { ...run, checked };
  }
}

function maxCostLeft(call: ChatCall, spent: number): number | null {
  return call.hints.maxCostUsd === null ? null : nanoToUsd(Math.max(0, usdToNano(call.hints.maxCostUsd) - spent));
}

function check(run: StepRun, settings: Parameters<typeof checkAnswer>[2], call: ChatCall, clientMax: number | null, injectedLogprobs: boolean): Checked {
  if (!run.answer) return { ...run, failed: [], outcome: run.error?.answerCheck ?? run.error?.code ?? 'no_answer' };
  const out = checkAnswer(
    run.answer,
    {
      responseFormat: call.body.response_format,
      tools: call.body.tools,
      toolChoice: call.body.tool_choice,
      parallelToolCalls: call.body.parallel_tool_calls,
      clientMaxTokens: clientMax,
      functions: call.body.functions,
      functionCall: call.body.function_call,
      ...(settings.enabled.has('language') ? languageOf(call) : {}),
    },
    settings,
    run.row?.completionTokens ?? null,
  );
  if (out.failed.length > 0) call.log.info({ step: run.n, model: run.row?.model, checks: out.details }, 'cascade: answer failed its checks');
  const held = injectedLogprobs ? withoutLogprobs(run.held) : { held: run.held };
  return {
    ...run,
    held: held.held,
    ...(held.events ? { events: held.events } : {}),
    failed: out.failed,
    outcome: out.failed.length === 0 ? 'pass' : out.failed.join('+'),
    ...(out.unchecked.length > 0 ? { unchecked: out.unchecked } : {}),
  };
}

/** What the `language` check reads of the request: its last user message and its instructions. */
function languageOf(call: ChatCall): { asked: string; instructions: string } {
  const { asked, instructions } = requestTexts(call.body);
  return { asked, instructions };
}

/**
 * The first passing answer, else the answer with the fewest failed checks (the later one on a
 * tie; an empty answer ranks below any answer with content), else the last step.
 */
function pick(steps: Checked[]): Checked | null {
  let best: Checked | null = null;
  const rank = (s: Checked): number => s.failed.length + (s.failed.includes('empty') ? 100 : 0);
  for (const s of steps) {
    if (!s.answer) continue;
    if (s.failed.length === 0) return s;
    if (!best || rank(s) <= rank(best)) best = s;
  }
  return best ?? steps[steps.length - 1] ?? null;
}

/**
 * What a chosen step is replayed as. A held stream that failed with no answer (a deadline, a
 * cut with nothing to continue on) reached the client with no byte, so it is answered as the
 * error it is (504, 502…) rather than as a 200 stream with part of a failed answer in it.
 */
function toReplay(chosen: Checked): Held {
  const held = chosen.held;
  if (held.kind !== 'stream' || held.error === null || chosen.answer) return held;
  const headers = Object.fromEntries(Object.entries(held.headers).filter(([k]) => k.startsWith('x-')));
  return { kind: 'fail', error: held.error, headers };
}

/** The status a held step answer is replayed with (a stream is committed: 200). */
function heldStatus(held: Held): number | null {
  if (held.kind === 'json') return held.status;
  if (held.kind === 'fail') return held.error.status;
  if (held.kind === 'stream') return 200;
  return null;
}

async function deliver(
  rt: RuntimeCore,
  call: ChatCall,
  sink: ChatSink,
  steps: Checked[],
  extraRows: LedgerRow[],
  costNano: number,
  extraRecords: RequestRecord[],
  timeNote: string | null,
): Promise<void> {
  const chosen = pick(steps);
  const held = chosen ? toReplay(chosen) : null;
  // A held stream answered as its error: the row says what the client got.
  const failedAs = held?.kind === 'fail' && held !== chosen?.held ? held.error : null;
  const rows = steps.flatMap((s) =>
    s.row
      ? [
          {
            ...s.row,
            ...(s === chosen && failedAs ? { status: failedAs.status, errorCode: failedAs.code } : {}),
            // Delivered only if its client was still there to be given it.
            cascade: { parentId: call.requestId, step: s.n, quality: s.outcome, delivered: s === chosen && !sink.signal.aborted },
          },
        ]
      : [],
  );
  await Promise.all(
    [...rows, ...extraRows].map((r) =>
      rt.ledger.insert(r).then(
        () => rt.rowWritten?.(r.requestId),
        (err: unknown) => {
          rt.rowWritten?.(r.requestId);
          call.log.error({ err, step: r.cascade?.step }, 'could not write a cascade step ledger row');
        },
      ),
    ),
  );
  // Each step's metrics, now that its row is written: the delivered step's latency is the whole
  // request's, its wait for the rows included (it left out a wait behind a locked ledger).
  for (const s of steps)
    for (const r of s.records) rt.recordRequest?.(s === chosen ? { ...r, latencyMs: Math.max(r.latencyMs, rt.now() - call.receivedAt) } : r);
  for (const r of extraRecords) rt.recordRequest?.(r);
  const records = steps.map((s) => ({ model: s.model, outcome: s.outcome, costNano: s.row?.costNano ?? 0 }));
  const header = records.map((r) => `${r.model ?? 'none'}:${r.outcome}`).join('>');
  const firstStart = steps.reduce<number | null>((m, s) => (s.streamStartedAt === null ? m : Math.min(m ?? s.streamStartedAt, s.streamStartedAt)), null);
  const holdMs = call.body.stream === true ? Math.max(0, rt.now() - (firstStart ?? rt.now())) : null;
  const attempts = [...rows, ...extraRows].reduce((a, r) => a + r.attempts, 0);
  const extra: Record<string, string> = { 'x-switchyard-cascade': header, 'x-switchyard-attempts': String(attempts) };
  // Every step failed: the error is the chosen step's, and says so, with the whole cascade's count
  // (its "every attempt (2)" read as the request's, beside x-switchyard-attempts: 6).
  if (held?.kind === 'fail' && rows.length > 1)
    held.error.message = `every step of the cascade failed (${header}; ${attempts} attempts in all); step ${chosen!.n} (${chosen!.model ?? 'none'}): ${held.error.message}`;
  // As a plain request says it: on an answer, and on an error that cost something (a refusal before any step cost nothing: no header).
  if (chosen?.answer || costNano > 0) extra['x-switchyard-cost-usd'] = nanoToUsd(costNano).toFixed(9);
  if (holdMs !== null) extra['x-switchyard-cascade-hold-ms'] = String(holdMs);
  // A later step refused for money (the best answer so far delivered): its models are named as a plain request names them.
  const reason = held && held.kind !== 'none' ? held.headers['x-switchyard-reason'] : undefined;
  if (chosen && reason !== undefined) {
    const later = steps.slice(steps.indexOf(chosen) + 1);
    const notes = later
      .filter((s) => s.error?.code === 'budget_exceeded')
      .flatMap((s) => s.moneyNotes)
      .filter((n) => !reason.includes(n));
    // Later steps that gave nothing better (an upstream error, an answer that failed too): said, so the
    // reason does not read as if the delivered step were the only one tried.
    const tried = later.filter((s) => s.error?.code !== 'budget_exceeded').map((s) => `${s.model ?? 'none'} ${s.outcome}`);
    if (tried.length > 0) notes.push(`escalated to ${tried.join(', then ')}: step ${chosen.n}'s answer delivered`);
    if (timeNote !== null) notes.push(timeNote);
    // A `pass` some check could not judge (an unusable schema: the check is skipped) says so.
    if (chosen.unchecked) notes.push(`${chosen.model}'s answer not checked by ${chosen.unchecked.join(', ')}`);
    if (notes.length > 0) extra['x-switchyard-reason'] = headerReason(`${reason}; ${[...new Set(notes)].join('; ')}`);
  }
  if (chosen?.judged !== undefined) extra['x-switchyard-judge'] = chosen.judged;
  const status = held && !sink.signal.aborted ? heldStatus(held) : null;
  rt.recordCascade?.({
    requestId: call.requestId,
    steps: records,
    delivered: chosen && !sink.signal.aborted ? steps.indexOf(chosen) : null,
    holdMs,
    costNano,
    api: call.api ?? 'chat',
    status,
  });
  // The request's span describes the request (what its client got, every step's cost and tokens), not its last step.
  const all = [...rows, ...extraRows];
  const served = rows.find((r) => r.cascade.delivered) ?? null;
  currentScope()?.trace?.record({
    model: served?.model ?? null,
    endpoint: served?.endpoint ?? null,
    status: status ?? 499,
    attempts,
    latencyMs: rt.now() - call.receivedAt,
    ttftMs: served?.ttftMs ?? null,
    usage: {
      promptTokens: all.reduce((a, r) => a + r.promptTokens, 0),
      completionTokens: all.reduce((a, r) => a + r.completionTokens, 0),
      cachedTokens: all.reduce((a, r) => a + (r.cachedTokens ?? 0), 0),
    },
    costNano,
    stream: call.body.stream === true,
    api: call.api ?? 'chat',
    error: status === null ? 'client_closed_request' : held?.kind === 'fail' ? held.error.code : null,
  });
  const failed = held?.kind === 'fail' ? held.error : null;
  call.log.info(
    { cascade: header, costUsd: nanoToUsd(costNano), holdMs, status, ...(failed !== null ? { error: failed.code } : {}) },
    status === null
      ? 'cascade ended: the client went away'
      : failed !== null
        ? `cascade failed: ${loggedMessage(failed.message, failed.upstreamText, call.log.isLevelEnabled('debug'))}`
        : 'cascade served',
  );
  if (!chosen || !held || sink.signal.aborted) return;
  await replay(held, sink, extra, held === chosen.held ? chosen.events : undefined);
}
