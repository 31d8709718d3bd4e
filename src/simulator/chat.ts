import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Fault, FaultStore } from './faults.js';
import type { ModelSettings, ProfileResolver } from './profile.js';
import type { RpmWindows } from './rate-limit.js';
import { retryAfterValue } from './rate-limit.js';
import { deliverJson, deliverStream, sendError } from './respond.js';
import type { ClientGone } from './respond.js';
import { applyQualityFault, CONFIDENT_LOGPROB, jsonPieces } from './quality.js';
import { schemaExample } from './schema-example.js';
import { answerTokens, continuation, promptTokens, splitPieces } from './text.js';
import type { Answer, ChatRequest, SimRequestLogEntry, Wire } from './types.js';
import { isSimError } from './types.js';

/** Shared state of one simulator instance. */
export interface SimState {
  profile: ProfileResolver;
  faults: FaultStore;
  windows: RpmWindows;
}

/** Context window assumed by the `context_length_exceeded` fault when the profile sets none. */
const DEFAULT_CONTEXT_WINDOW = 128_000;
/** Limits reported by header-only faults when the profile sets no rpm. */
const NOMINAL_RPM = 60;
const NOMINAL_TPM = 1_000_000;
const MAX_BODY_BYTES = 32 * 1024 * 1024;

export async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > MAX_BODY_BYTES) return null;
      chunks.push(buf);
    }
  } catch {
    return null;
  }
  return Buffer.concat(chunks);
}

function buildAnswer(req: ChatRequest, settings: ModelSettings, wire: Wire, seq: number, prompt: number): Answer {
  const ids = wire.ids(seq);
  const base = {
    id: ids.id,
    toolId: ids.toolId,
    model: req.model,
    created: Math.floor(Date.now() / 1000),
    promptTokens: prompt,
    cachedTokens: Math.min(settings.cachedTokens, prompt),
    logprob: req.logprobs ? CONFIDENT_LOGPROB : null,
    topLogprobs: req.logprobs ? (req.topLogprobs ?? 0) : 0,
    thinking: req.thinkingBudget === null ? null : thinkingOf(req.seedText, req.thinkingBudget),
    stopSequence: null,
    cacheWriteTokens: Math.min(settings.cacheWriteTokens, prompt - Math.min(settings.cachedTokens, prompt)),
  };
  if (req.toolName !== null) {
    const input = Array.from(req.lastUserText).slice(0, 40).join('');
    // A custom tool takes free-form text: the input itself; a function tool JSON arguments in its schema's shape.
    const args = req.toolCustom ? input : JSON.stringify(schemaExample(req.toolSchema, input) ?? { input });
    const pieces = splitPieces(args);
    const tool = { kind: 'tool' as const, toolName: req.toolName, toolCustom: req.toolCustom };
    // Never more output than max_tokens, as no provider reports: the call's arguments cut there, finishing length.
    if (req.maxTokens !== undefined && pieces.length > req.maxTokens) {
      const cut = pieces.slice(0, req.maxTokens);
      return { ...base, ...tool, pieces: cut, finish: 'length', completionTokens: cut.length };
    }
    return { ...base, ...tool, pieces, finish: 'tool', completionTokens: pieces.length };
  }
  const full = settings.fixedAnswer === undefined ? answerTokens(req.seedText, settings.outputTokens) : settings.fixedAnswer.split(/(?= )/);
  let pieces = req.prefill === null ? full : continuation(full, req.prefill);
  if (req.json && req.prefill === null) pieces = jsonPieces(pieces, req.jsonSchema);
  let finish: Answer['finish'] = 'stop';
  const stop = firstStop(pieces, req.stopSequences);
  if (stop !== null) pieces = stop.pieces;
  // Thinking counts against max_tokens, as Anthropic's does.
  const room = req.maxTokens === undefined ? undefined : Math.max(0, req.maxTokens - (base.thinking?.pieces.length ?? 0));
  if (room !== undefined && pieces.length > room) {
    pieces = pieces.slice(0, room);
    finish = 'length';
  }
  const stopSequence = stop !== null && finish === 'stop' ? stop.sequence : null;
  return { ...base, kind: 'text', toolName: '', toolCustom: false, pieces, finish, completionTokens: pieces.length, stopSequence };
}

/** Deterministic reasoning for a `thinking` request: a few words (at most the budget) and a signature over them. */
function thinkingOf(seedText: string, budget: number): { pieces: string[]; signature: string } {
  const pieces = answerTokens(`thinking:${seedText}`, Math.max(1, Math.min(budget, 8)));
  return { pieces, signature: createHash('sha256').update(pieces.join('')).digest('base64') };
}

/** The answer cut before the earliest stop sequence it contains (the sequence itself is not part of it), or null. */
function firstStop(pieces: string[], sequences: readonly string[]): { pieces: string[]; sequence: string } | null {
  const text = pieces.join('');
  let at = -1;
  let sequence = '';
  for (const s of sequences) {
    const i = s === '' ? -1 : text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) [at, sequence] = [i, s];
  }
  if (at < 0) return null;
  const out: string[] = [];
  let len = 0;
  for (const p of pieces) {
    if (len + p.length <= at) out.push(p);
    else {
      if (at > len) out.push(p.slice(0, at - len));
      break;
    }
    len += p.length;
  }
  return { pieces: out, sequence };
}

/** Answers the faults that replace the response; true when it did. */
export function applyRefusingFault(
  fault: Fault,
  res: ServerResponse,
  req: IncomingMessage,
  wire: Wire,
  entry: SimRequestLogEntry,
  settings: ModelSettings,
  prompt: number,
  headers: Record<string, string>,
): boolean {
  switch (fault.kind) {
    case 'reset':
      req.socket.destroy();
      return true;
    case 'hang':
      return true;
    case 'rate_limit': {
      const h = { ...headers };
      if (fault.retryAfterSec !== undefined) h['retry-after'] = retryAfterValue(fault.retryAfterSec * 1000, fault.retryAfterDate === true);
      if (fault.retryAfterMs !== undefined) h['retry-after-ms'] = String(fault.retryAfterMs);
      if (fault.rateLimitHeaders === true) {
        Object.assign(h, wire.rateHeaders({ limit: settings.rpm ?? NOMINAL_RPM, remaining: 0, resetMs: (fault.retryAfterSec ?? 60) * 1000 }, null));
      }
      sendError(res, wire, wire.rateLimitError(), entry, h);
      return true;
    }
    case 'http_error': {
      const h = { ...headers };
      if (fault.retryAfterSec !== undefined) h['retry-after'] = retryAfterValue(fault.retryAfterSec * 1000, false);
      if (fault.retryAfterMs !== undefined) h['retry-after-ms'] = String(fault.retryAfterMs);
      sendError(res, wire, wire.httpError(fault.status, fault.message), entry, h);
      return true;
    }
    case 'context_length_exceeded': {
      const max = settings.contextWindow ?? DEFAULT_CONTEXT_WINDOW;
      sendError(res, wire, wire.contextLengthError(Math.max(prompt, max + 1), max), entry, headers);
      return true;
    }
    case 'content_policy_violation':
      sendError(res, wire, wire.contentPolicyError(), entry, headers);
      return true;
    case 'model_not_found':
      sendError(res, wire, wire.modelNotFoundError(entry.model), entry, headers);
      return true;
    default:
      return false;
  }
}

/** The whole life of one chat request on either wire. */
export async function handleChat(
  state: SimState,
  wire: Wire,
  req: IncomingMessage,
  res: ServerResponse,
  entry: SimRequestLogEntry,
  gone: ClientGone,
): Promise<void> {
  const raw = await readBody(req);
  if (raw === null) {
    if (!res.destroyed) sendError(res, wire, { status: 413, category: 'invalid_request', message: 'request body too large' }, entry);
    return;
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    sendError(res, wire, { status: 400, category: 'invalid_request', message: 'request body is not valid JSON' }, entry);
    return;
  }
  if (wire.name === 'anthropic') {
    const one = (v: string | string[] | undefined): string | null => (v === undefined ? null : Array.isArray(v) ? v.join(',') : v);
    entry.anthropicVersion = one(req.headers['anthropic-version']);
    entry.anthropicBeta = one(req.headers['anthropic-beta']);
  }
  const headerError = wire.checkHeaders(req.headers);
  if (headerError !== null) return sendError(res, wire, headerError, entry);
  const parsed = wire.parse(body);
  if (isSimError(parsed)) return sendError(res, wire, parsed, entry);
  entry.model = parsed.model;
  entry.stream = parsed.stream;
  entry.prefill = parsed.prefill !== null;
  const settings = state.profile.settings(parsed.model);

  if (settings.requireAuth && !entry.authPresent) return sendError(res, wire, wire.authError(), entry);
  if (parsed.prefill !== null) {
    if (!settings.prefill) {
      return sendError(
        res,
        wire,
        {
          status: 400,
          category: 'invalid_request',
          message: `model ${parsed.model} does not support assistant prefill: the last message must not be an assistant message`,
          param: 'messages',
        },
        entry,
      );
    }
    const prefillError = wire.checkPrefill(parsed.prefill);
    if (prefillError !== null) return sendError(res, wire, prefillError, entry);
  }

  // DeepSeek's chat API takes json_object but not json_schema, and says so with this 400.
  if (!settings.jsonSchema && wire.name === 'openai' && parsed.jsonSchema !== undefined)
    return sendError(res, wire, { status: 400, category: 'invalid_request', message: 'This response_format type is unavailable now' }, entry);

  let headers: Record<string, string> = {};
  if (settings.rpm !== undefined) {
    const rate = state.windows.admit(parsed.model, settings.rpm);
    headers = wire.rateHeaders(rate, null);
    if (!rate.admitted) {
      headers['retry-after'] = retryAfterValue(Math.max(rate.resetMs, 1000), false);
      return sendError(res, wire, wire.rateLimitError(), entry, headers);
    }
  }

  const fault = state.faults.take(parsed.model, parsed.stream);
  entry.fault = fault?.kind ?? null;
  const prompt = promptTokens(parsed.messageTexts);
  if (fault !== null && applyRefusingFault(fault, res, req, wire, entry, settings, prompt, headers)) return;

  if (settings.contextWindow !== undefined && prompt + (parsed.maxTokens ?? 0) > settings.contextWindow) {
    return sendError(res, wire, wire.contextLengthError(prompt + (parsed.maxTokens ?? 0), settings.contextWindow), entry, headers);
  }
  if (fault?.kind === 'ratelimit_headers_exhausted') {
    const resetMs = fault.resetSec * 1000;
    Object.assign(headers, wire.rateHeaders({ limit: settings.rpm ?? NOMINAL_RPM, remaining: 0, resetMs }, { limit: NOMINAL_TPM, remaining: 0, resetMs }));
  }

  const answer = applyQualityFault(buildAnswer(parsed, settings, wire, entry.seq, prompt), fault, parsed);
  const noUsage = fault?.kind === 'no_usage' || (fault?.kind === 'no_done' && fault.omitUsage === true);
  const delivery = { res, wire, answer, settings, fault, headers, entry, gone, usage: false };
  if (parsed.stream) await deliverStream({ ...delivery, usage: parsed.includeUsage && !noUsage });
  else await deliverJson({ ...delivery, usage: !noUsage });
}
