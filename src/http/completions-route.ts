/**
 * `POST /v1/completions`: OpenAI's legacy Completions API, translated at the edge into the shared
 * chat flow (same routing, fail-over, budget, ledger and inspection; src/apis/completions.ts) and
 * rendered back as `text_completion` objects or chunks. Errors are OpenAI-shaped, naming the
 * completions fields the client sent.
 */
import { CompletionChunks, completionOfChat, renameParam, translateCompletions } from '../apis/completions.js';
import { PING_EVERY_MS } from '../apis/messages-output.js';
import { newId } from '../apis/responses-output.js';
import { errorBody, SwitchyardError } from '../errors.js';
import { currentScope, inScope } from '../runtime/request-scope.js';
import { ApiSink } from './api-sink.js';
import { readEdge, type ApiRoute } from './edge.js';
import { recordRefused } from './refused.js';
import { sendJson } from './server.js';
import { HttpSink } from './sink.js';
import { parseChatBody } from './validate.js';

type Obj = Record<string, unknown>;

/** `rename`: the error is about the chat body made from the request (its `messages` are the client's `prompt`). */
function completionsError(err: unknown, rename = true): { status: number; body: Obj; headers: Record<string, string> } {
  const e = errorBody(err);
  if (rename) renameParam(e.body.error);
  return { status: e.status, body: e.body as unknown as Obj, headers: e.headers };
}

/** How often a legacy Completions stream started by a long reasoning phase sends a keep-alive comment until its first text. */
export const KEEPALIVE_EVERY_MS = PING_EVERY_MS;

/** A chunk carrying a model's reasoning text (DeepSeek's `reasoning_content`, OpenRouter's `reasoning`). */
function isReasoning(chunk: Obj): boolean {
  const choices = Array.isArray(chunk.choices) ? (chunk.choices as unknown[]) : [];
  return choices.some((c) => {
    const d = typeof c === 'object' && c !== null ? (c as { delta?: { reasoning_content?: unknown; reasoning?: unknown } }).delta : undefined;
    return (typeof d?.reasoning_content === 'string' && d.reasoning_content !== '') || (typeof d?.reasoning === 'string' && d.reasoning !== '');
  });
}

export class CompletionsSink extends ApiSink {
  private readonly id = newId('cmpl').replace('cmpl_', 'cmpl-');
  private chunks: CompletionChunks | null = null;
  /**
   * The Completions API has no form for a model's reasoning, but its client must not wait in
   * silence through minutes of it (a proxy's idle timeout cuts that): after HOLD_TOOLS_MS of
   * reasoning the stream starts, kept alive with SSE comments, which the SDKs skip, until its text.
   */
  readonly keepsAliveWhileReasoning = true;
  /** When the stream last sent anything (a comment or a chunk); 0 before. */
  private lastWrite = 0;
  /** The first keep-alive comment is queued for the end of this turn. */
  private firstQueued = false;

  constructor(
    out: HttpSink,
    private readonly echo: string | null,
  ) {
    super(out);
  }

  protected errorBody(err: SwitchyardError): unknown {
    return completionsError(err).body;
  }

  protected onJson(status: number, headers: Record<string, string>, body: Obj): Promise<void> {
    this.out.json(status, headers, JSON.stringify(completionOfChat(this.id, body, this.echo)));
    return Promise.resolve();
  }

  protected onStart(): void {
    this.chunks = new CompletionChunks(this.id, this.echo);
  }

  protected onChunk(chunk: Obj): boolean {
    const c = this.chunks?.chunk(chunk);
    const now = Date.now();
    if (c) {
      this.lastWrite = now;
      return this.out.write(JSON.stringify(c));
    }
    // Reasoning, which has no Completions form: a comment now and then until the text.
    if (!isReasoning(chunk)) return true;
    if (this.lastWrite === 0) {
      // Nothing written yet: unless the answer's text follows in this same turn (a stream that
      // started at its first text, after reasoning held less than HOLD_TOOLS_MS), a comment sends
      // the headers of a stream started by reasoning.
      if (!this.firstQueued) {
        this.firstQueued = true;
        setImmediate(() => {
          if (this.lastWrite !== 0) return;
          this.lastWrite = Date.now();
          this.out.comment('keep-alive');
        });
      }
      return true;
    }
    if (now - this.lastWrite < KEEPALIVE_EVERY_MS) return true;
    this.lastWrite = now;
    return this.out.comment('keep-alive');
  }

  protected onDone(): Promise<void> {
    this.out.write('[DONE]');
    this.out.end();
    return Promise.resolve();
  }

  protected onStreamError(err: SwitchyardError): void {
    // In-band, as on /v1/chat/completions: never a clean finish on a truncated answer.
    this.out.write(JSON.stringify(completionsError(err).body));
  }
}

export const completionsRoute: ApiRoute = async (deps, req, res, requestId) => {
  const base = { 'x-request-id': requestId };
  const receivedAt = Date.now();
  let call;
  let echo: string | null;
  let rt;
  // Until the chat body is made, an error names what the client sent as it is (a stray `messages` is `messages`).
  let translated = false;
  try {
    const e = await readEdge(deps, req, res, requestId, { cascaded: true });
    rt = e.rt;
    const t = translateCompletions(e.body);
    translated = true;
    echo = t.echo;
    call = { requestId, body: parseChatBody(t.chat), hints: e.hints, keyId: e.keyId, receivedAt: e.receivedAt, log: e.log };
  } catch (err) {
    if (!(err instanceof SwitchyardError)) deps.log.error({ err, requestId }, 'error while reading a request');
    const r = completionsError(err, translated);
    if (!res.headersSent) sendJson(res, r.status, r.body, { ...base, ...r.headers });
    else res.end();
    recordRefused(deps, 'completions', req, requestId, receivedAt, err);
    return;
  }
  const out = new HttpSink(req, res, base);
  const sink = new CompletionsSink(out, echo);
  await inScope('completions', call, req, () => {
    out.bindTrace(currentScope()?.trace);
    return rt.chat(call, sink);
  });
};
