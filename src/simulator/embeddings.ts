/**
 * `POST …/embeddings` on the OpenAI wire: deterministic unit vectors from a hash of each
 * input (same text, same vector), prompt-token usage, the same rate limits and refusing
 * faults (429, 5xx, reset, hang) as chat, answered after the model's ttftMs.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { applyRefusingFault, readBody, type SimState } from './chat.js';
import { openAiWire } from './openai-wire.js';
import { formatZodError } from './profile.js';
import { retryAfterValue } from './rate-limit.js';
import { sendError, sendJson, sleep, type ClientGone } from './respond.js';
import { countTokens } from './text.js';
import type { SimRequestLogEntry } from './types.js';

const Body = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1), z.array(z.number().int().min(0)).min(1), z.array(z.array(z.number().int().min(0)).min(1)).min(1)]),
  dimensions: z.number().int().min(1).max(4096).optional(),
  encoding_format: z.enum(['float', 'base64']).optional(),
});

/** OpenAI's base64 form: the float32 little-endian bytes of the vector. */
function base64Of(v: number[]): string {
  return Buffer.from(new Float32Array(v).buffer).toString('base64');
}

/** A deterministic unit vector of `dims` components for `text`. */
export function embed(text: string, dims: number): number[] {
  const out: number[] = [];
  let block = Buffer.alloc(0);
  for (let i = 0; out.length < dims; i++) {
    if (i % 8 === 0)
      block = createHash('sha256')
        .update(`${text}\u0000${i / 8}`)
        .digest();
    out.push(block.readInt32BE((i % 8) * 4) / 2 ** 31);
  }
  const norm = Math.sqrt(out.reduce((s, x) => s + x * x, 0)) || 1;
  return out.map((x) => x / norm);
}

export async function handleEmbeddings(state: SimState, req: IncomingMessage, res: ServerResponse, entry: SimRequestLogEntry, gone: ClientGone): Promise<void> {
  const wire = openAiWire;
  const raw = await readBody(req);
  let json: unknown;
  try {
    json = JSON.parse(raw?.toString('utf8') ?? '');
  } catch {
    return sendError(res, wire, { status: 400, category: 'invalid_request', message: 'request body is not valid JSON' }, entry);
  }
  const parsed = Body.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // The field at fault, as OpenAI names it (`dimensions`, `input`), like the chat route's validation.
    const param = issue === undefined || issue.path.length === 0 ? null : issue.path.map(String).join('.');
    return sendError(res, wire, { status: 400, category: 'invalid_request', message: formatZodError(parsed.error), param }, entry);
  }
  const body = parsed.data;
  entry.model = body.model;
  const settings = state.profile.settings(body.model);
  if (settings.requireAuth && !entry.authPresent) return sendError(res, wire, wire.authError(), entry);
  let headers: Record<string, string> = {};
  if (settings.rpm !== undefined) {
    const rate = state.windows.admit(body.model, settings.rpm);
    headers = wire.rateHeaders(rate, null);
    if (!rate.admitted) {
      headers['retry-after'] = retryAfterValue(Math.max(rate.resetMs, 1000), false);
      return sendError(res, wire, wire.rateLimitError(), entry, headers);
    }
  }
  // Token ids (one array or several) are embedded as their text form and billed one token each, as OpenAI does.
  const given = typeof body.input === 'string' ? [body.input] : body.input;
  const ids = typeof given[0] === 'number' ? [given as number[]] : Array.isArray(given[0]) ? (given as number[][]) : null;
  const inputs = ids === null ? (given as string[]) : ids.map((a) => a.join(' '));
  // As OpenAI bills embeddings: the inputs' own tokens, no chat message overhead.
  const tokens = ids === null ? inputs.reduce((n, t) => n + countTokens(t), 0) : ids.reduce((n, a) => n + a.length, 0);
  const fault = state.faults.take(body.model, false);
  entry.fault = fault?.kind ?? null;
  if (fault !== null && applyRefusingFault(fault, res, req, wire, entry, settings, tokens, headers)) return;
  if (!(await sleep(settings.ttftMs, gone))) return;
  const dims = body.dimensions ?? 8;
  const data = inputs.map((text, index) => {
    const v = embed(text, dims);
    return { object: 'embedding', index, embedding: body.encoding_format === 'base64' ? base64Of(v) : v };
  });
  entry.status = 200;
  sendJson(res, 200, { object: 'list', data, model: body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } }, headers);
}
