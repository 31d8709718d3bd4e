/** Renders the shared flow's answer as a Responses API object or event stream, and stores it. */
import type { RequestLog } from '../observe/request-log.js';
import type { ResponseStore } from '../accounting/response-store.js';
import { billedUsage, outputOfCompletion, responseObject, responsesUsage, statusOf, type ResponseShell } from '../apis/responses-output.js';
import type { Usage } from '../accounting/cost.js';
import { ResponsesStreamWriter } from '../apis/responses-stream.js';
import { errorBody, SwitchyardError } from '../errors.js';
import type { RequestTrace } from '../runtime/request-scope.js';
import type { ChatMessage } from '../upstream/types.js';
import { ApiSink } from './api-sink.js';
import type { HttpSink } from './sink.js';

export interface ResponsesSinkOptions {
  shell: ResponseShell;
  /** Null when `store: false`. */
  store: ResponseStore | null;
  keyId: string | null;
  conversation: ChatMessage[];
  /** The request's own input items, for `GET /v1/responses/{id}/input_items`. */
  inputItems: Record<string, unknown>[];
  log: RequestLog;
  /** A catalogue model's `maxOutputTokens` (what a larger `max_output_tokens` is capped to when sent), null for an unknown one. */
  outputCapOf?: (model: string) => number | null;
}

/** Chat fields a Responses request names otherwise (responses-request.ts translates them). */
const RESPONSES_PARAM: Record<string, string> = {
  response_format: 'text.format',
  max_tokens: 'max_output_tokens',
  max_completion_tokens: 'max_output_tokens',
  messages: 'input',
  reasoning_effort: 'reasoning.effort',
  verbosity: 'text.verbosity',
};

/**
 * Paths inside a translated field, and the Responses field they came from: the format's
 * `response_format.json_schema.*` is `text.format.*`, a tool's `tools[i].function.*` is
 * `tools[i].*`, `tool_choice.function.name` is `tool_choice.name`, and any place in `messages`
 * (instructions, the stored conversation and the input items, merged) is in `input`.
 */
const RESPONSES_PATH: Array<[RegExp, string]> = [
  [/^response_format(?:\.json_schema)?(?=[.[]|$)/, 'text.format'],
  [/^(tools\[\d+\])\.function(?=[.[]|$)/, '$1'],
  [/^tool_choice\.function(?=[.[]|$)/, 'tool_choice'],
  [/^messages[.[].*$/, 'input'],
];

export class ResponsesSink extends ApiSink {
  /** A Responses client reads a model's reasoning as a `reasoning` item: a long reasoning phase starts the stream (see ChatSink.showsReasoning). */
  readonly showsReasoning = true;
  private writer: ResponsesStreamWriter | null = null;
  /** The request's span, when tracing: it gets the id of the response the client is answered with. */
  private trace: RequestTrace | null = null;

  constructor(
    out: HttpSink,
    private readonly o: ResponsesSinkOptions,
  ) {
    super(out);
  }

  bindTrace(trace: RequestTrace | null): void {
    this.trace = trace;
  }

  protected errorBody(err: SwitchyardError): unknown {
    const body = errorBody(err).body as { error?: { message?: unknown; param?: unknown } };
    // An error about a chat field the translation made names the Responses field the client sent.
    const e = body.error;
    const param = e?.param;
    if (e && typeof param === 'string' && Object.hasOwn(RESPONSES_PARAM, param)) {
      const to = RESPONSES_PARAM[param]!;
      e.param = to;
      if (typeof e.message === 'string') e.message = e.message.replace(new RegExp(`\\b${param}\\b`, 'g'), to);
    } else if (e && typeof param === 'string') {
      const path = RESPONSES_PATH.find(([from]) => from.test(param));
      if (path) {
        const to = param.replace(path[0], path[1]);
        e.param = to;
        if (typeof e.message === 'string') e.message = e.message.split(param).join(to);
      }
    }
    return body;
  }

  private async save(assistant: ChatMessage, response: Record<string, unknown>): Promise<void> {
    if (!this.o.store) return;
    // An empty answer (no output items) adds no turn: an assistant message with neither content nor
    // tool calls is refused by OpenAI ("Invalid value for 'content'"), so the conversation could not go on.
    const said =
      (typeof assistant.content === 'string' && assistant.content !== '') || (Array.isArray(assistant.tool_calls) && assistant.tool_calls.length > 0);
    try {
      const stored = await this.o.store.put({
        id: this.o.shell.id,
        keyId: this.o.keyId,
        createdAt: this.o.shell.createdAt * 1000,
        messages: said ? [...this.o.conversation, assistant] : [...this.o.conversation],
        response,
        inputItems: this.o.inputItems,
      });
      if (!stored) this.o.log.warn('the response is larger than storage.responses.maxBytes and was not stored: previous_response_id will not find it');
    } catch (err) {
      // The store down (503 storage_unavailable: PostgreSQL unreachable or refusing) is an outage, not a fault here: said without a stack.
      const outage = err instanceof SwitchyardError && err.code === 'storage_unavailable';
      this.o.log.warn(outage ? { error: err.message } : { err }, 'could not store the response: previous_response_id will not find it');
    }
  }

  /**
   * The shell of the response `model` answered: its `max_output_tokens` is the cap the model was
   * sent. A request asking for more than the model's `maxOutputTokens` is sent that (where OpenAI
   * refuses it), so the echo says what bounded the answer, as OpenAI's always does.
   */
  private shellOf(model: string): ResponseShell {
    const asked = this.o.shell.echo.max_output_tokens;
    const cap = this.o.outputCapOf?.(model) ?? null;
    const echo = typeof asked === 'number' && cap !== null && cap < asked ? { ...this.o.shell.echo, max_output_tokens: cap } : this.o.shell.echo;
    return { ...this.o.shell, model, echo };
  }

  protected async onJson(status: number, headers: Record<string, string>, body: Record<string, unknown>): Promise<void> {
    const shell = this.shellOf(typeof body.model === 'string' ? body.model : this.o.shell.model);
    const { output, finish, assistant } = outputOfCompletion(body, shell.id);
    const s = statusOf(finish);
    const response = responseObject(shell, { status: s.status, incomplete_details: s.incomplete_details, output, usage: responsesUsage(body.usage) });
    this.trace?.responseId?.(shell.id);
    await this.save(assistant, response);
    this.out.json(status, headers, JSON.stringify(response));
  }

  protected onStart(headers: Record<string, string>): void {
    const shell = this.shellOf(headers['x-switchyard-model'] ?? this.o.shell.model);
    this.trace?.responseId?.(shell.id);
    this.writer = new ResponsesStreamWriter(shell, (name, data) => this.event(name, data));
    this.writer.start();
  }

  protected onChunk(chunk: Record<string, unknown>): boolean {
    return this.writer?.chunk(chunk) ?? true;
  }

  protected async onDone(): Promise<void> {
    const w = this.writer;
    if (!w) return this.out.end();
    w.finishItems();
    const { response, assistant } = w.result();
    await this.save(assistant, response);
    w.completed(response);
    this.out.end();
  }

  protected onStreamError(err: SwitchyardError, billed?: Usage): void {
    this.writer?.failed(err.code, err.message, billed ? billedUsage(billed) : null);
  }
}
