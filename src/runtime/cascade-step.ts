/**
 * One cascade step: the ordinary request driver (routing, reservation, attempts, fail-over)
 * restricted to one tier's candidates, answering into a BufferSink, its ledger row held by a
 * StepCore. What comes back is the held answer, read as an {@link Answer} for the checks.
 */
import { stepRequestId, type LedgerRow } from '../accounting/ledger.js';
import type { SwitchyardError } from '../errors.js';
import type { RoutePlan } from '../routing/resolve.js';
import type { BudgetRefusal } from '../../machines/request.machine.js';
import { answerFromCompletion, answerFromMessage, MessagesStreamAnswer, StreamAnswer, type Answer } from '../quality/answer.js';
import type { ChatCall, ChatSink } from './api.js';
import { BufferSink, type Held } from './buffer-sink.js';
import type { RequestRecord, RuntimeCore } from './core.js';
import { RequestDriver } from './request-driver.js';
import { StepCore } from './step-core.js';

export interface StepRun {
  /** 1-based, as in the ledger (`<request id>#<n>`). */
  n: number;
  held: Held;
  /** The flow's ledger row (model, tokens, cost), not yet written. */
  row: LedgerRow | null;
  /** The answer, when the step produced one (status 200, stream not broken). */
  answer: Answer | null;
  error: SwitchyardError | null;
  streamStartedAt: number | null;
  /** The model that answered, or the step's first candidate when none was reached (e.g. refused by the budget). */
  model: string;
  /** The step's first refusal for money (a budget or x-switchyard-max-cost-usd), if any. */
  refusal: BudgetRefusal | null;
  /** The smallest worst case a budget refused in this step (a plain request then tries only cheaper candidates), or null. */
  ceilingNano: number | null;
  /** The step's metrics record, told by the cascade once the rows are written (held until then). */
  records: RequestRecord[];
  /** Its reason's notes on models passed over for money (a later step's are added to the delivered answer's reason). */
  moneyNotes: string[];
}

export async function runStep(rt: RuntimeCore, call: ChatCall, n: number, plan: RoutePlan, sink: ChatSink): Promise<StepRun> {
  const core = new StepCore(rt);
  const buffer = new BufferSink(sink, () => rt.now());
  const stepCall: ChatCall = { ...call, requestId: stepRequestId(call.requestId, n), log: call.log.child({ step: n }) };
  const driver = new RequestDriver(core, stepCall, buffer, { plan });
  await driver.run();
  const ctx = driver.snapshot.context;
  const held = buffer.held;
  const row = core.rows[0] ?? null;
  return {
    n,
    held,
    row,
    answer: readAnswer(held),
    error: errorOf(held),
    streamStartedAt: buffer.streamStartedAt,
    model: row?.model ?? plan.candidates[0] ?? 'none',
    refusal: driver.refusal,
    ceilingNano: ctx.ceiling,
    records: core.records,
    moneyNotes: driver.moneyNotes,
  };
}

function errorOf(held: Held): SwitchyardError | null {
  if (held.kind === 'fail') return held.error;
  if (held.kind === 'stream') return held.error;
  return null;
}

function readAnswer(held: Held): Answer | null {
  if (held.kind === 'json' && held.status === 200) {
    try {
      const body = JSON.parse(held.body) as Record<string, unknown>;
      return held.native ? answerFromMessage(body) : answerFromCompletion(body);
    } catch {
      return null;
    }
  }
  if (held.kind === 'stream' && held.error === null && held.names !== undefined) {
    // A relayed Messages stream: the upstream's own events.
    const acc = new MessagesStreamAnswer();
    held.events.forEach((e, i) => {
      try {
        acc.add(held.names![i]!, JSON.parse(e));
      } catch {
        // An event that is not JSON carries no answer.
      }
    });
    return acc.answer();
  }
  if (held.kind === 'stream' && held.error === null) {
    const acc = new StreamAnswer();
    for (const e of held.events) {
      if (e === '[DONE]') continue;
      try {
        acc.add(JSON.parse(e));
      } catch {
        // switchyard wrote these events itself; a bad one carries no answer.
      }
    }
    return acc.answer();
  }
  return null;
}

/** The held answer without the `logprobs` switchyard asked for on its own (the client did not). */
export function withoutLogprobs(held: Held): { held: Held; events?: string[] } {
  const strip = (text: string): string => {
    const j = JSON.parse(text) as { choices?: Array<Record<string, unknown>> };
    if (!Array.isArray(j.choices)) return text;
    for (const c of j.choices) if (c.logprobs !== undefined) c.logprobs = null;
    return JSON.stringify(j);
  };
  // A relayed Messages answer: Anthropic has no logprobs, so none were asked of it.
  if ((held.kind === 'json' && held.native) || (held.kind === 'stream' && held.names !== undefined)) return { held };
  if (held.kind === 'json' && held.status === 200) return { held: { ...held, body: strip(held.body) } };
  if (held.kind === 'stream') return { held, events: held.events.map((e) => (e === '[DONE]' ? e : strip(e))) };
  return { held };
}
