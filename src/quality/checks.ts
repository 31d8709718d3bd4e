/**
 * The deterministic answer checks of the quality cascade, plus the opt-in confidence check.
 * Each check says "fail" only when the answer is clearly not good enough; anything it cannot
 * judge (no schema given, a schema it cannot use, no logprobs) passes. Pure: no I/O, no clock.
 */
import type { CascadeCheck } from '../config/schema.js';
import type { Answer } from './answer.js';
import { languageMismatch } from './language.js';
import type { SchemaCache } from './schema-cache.js';

/** What the request asked for, as far as the checks care. */
export interface CheckRequest {
  responseFormat: unknown;
  tools: unknown[] | null | undefined;
  /** The client's `tool_choice`: `required` or a named function asks for a call (absent: undefined). */
  toolChoice?: unknown;
  /** The client's own `max_tokens` / `max_completion_tokens`, null when it set none. */
  clientMaxTokens: number | null;
  /** The client's `parallel_tool_calls`: `false` allows one call at most. */
  parallelToolCalls?: unknown;
  /** The legacy `functions` and `function_call` fields, read as `tools` and `tool_choice` when those are absent. */
  functions?: unknown;
  functionCall?: unknown;
  /** For the `language` check: the last user message's text and the system/developer messages' (absent: not judged). */
  asked?: string;
  instructions?: string;
}

export interface CheckSettings {
  enabled: ReadonlySet<CascadeCheck>;
  minLogprob: number;
  schemas: SchemaCache;
}

export interface CheckOutcome {
  /** Failed checks, in the order of CASCADE_CHECKS; empty when the answer passes. */
  failed: CascadeCheck[];
  /** One short line per failure (for logs, never for headers). */
  details: string[];
  /**
   * Checks that could not judge the answer and let it pass: a schema that cannot be used (a `$ref`
   * loop, a risky pattern, a compile error) or JSON too large to parse — "schema: the schema refers
   * to itself without end (a $ref loop)". Said in the reason, so a `pass` is not read as validated.
   */
  unchecked: string[];
}

/** Content longer than this is not read for refusal phrases: a refusal is short. "As an AI (language model), …" may open one. */
const REFUSAL_MAX_CHARS = 400;
const REFUSAL_RE =
  /^\s*(?:(?:i'?m|i am) (?:(?:really|very|so|truly) )?sorry|(?:i'?m|i am) afraid|sorry|i apologi[sz]e|(?:my )?apologies|unfortunately)?[,.!*_\s\u2013\u2014-]*(?:but\s+)?(?:as\s+(?:an?\s+)?(?:ai|artificial\s+intelligence|(?:large\s+)?language\s+model)(?:\s+(?:language\s+model|model|assistant|system))?(?:\s+(?:developed|created|made|trained|built)\s+by\s+[\w.-]+(?:\s+[\w.-]+)?)?[,\s]+)?(?:(?:i|we)\s*(?:(?:can(?:no|')?t|cannot|can not|am unable to|'m unable to|am not able to|'m not able to|won'?t|will not|won'?t be able to|will not be able to|am not going to|'m not going to|must decline to)\s+(?:help|assist|comply|provide|do|answer|fulfil|fulfill|support|engage|share|create|generate|write|discuss|give|offer|produce|access|browse)\b|must\s+(?:respectfully\s+)?decline\b)|(?:that|this)(?:'s|\s+is)\s+not\s+something\s+(?:i|we)\s*(?:can|'m able to|am able to|are able to)\s+(?:help|assist)\b)/i;
/**
 * The same refusal in the other languages the classifier reads (German, French, Spanish, Chinese):
 * "Es tut mir leid, aber dabei kann ich nicht helfen.", "Je suis désolé, mais je ne peux pas vous
 * aider.", "Lo siento, pero no puedo ayudar con eso.", "抱歉，我无法回答这个问题。"
 */
const REFUSAL_RE_OTHER = [
  /^\s*(?:(?:(?:es )?tut mir leid|entschuldigung|leider|sorry)[,.!\s]+(?:aber\s+)?)?(?:ich\s+(?:kann|darf|werde)|(?:dabei|damit|hierbei|hiermit|das|leider)\s+(?:kann|darf|werde)\s+ich)(?:\s+(?:dir|ihnen|euch|dabei|damit|hierbei|hiermit|das|leider|so|hier|(?:diese[nrs]?|deine[nrs]?|ihre[nrs]?|solche[nrs]?)\s+\p{L}+))*\s+nicht\s+(?:helfen|weiterhelfen|behilflich|beantworten|unterstützen|nachkommen|erfüllen|tun|machen)\b/iu,
  /^\s*(?:(?:je suis (?:vraiment )?désolée?|désolée?|malheureusement|pardon)[,.!\s]+(?:mais\s+)?)?je\s+ne\s+(?:peux|pourrai|vais|suis pas en mesure de)\s+(?:pas\s+)?(?:vous\s+|te\s+|t')?(?:aider|répondre|fournir|assister|faire|partager|donner)\b/iu,
  /^\s*(?:(?:lo siento(?: mucho)?|lamentablemente|perdón|disculpa)[,.!\s]+(?:pero\s+)?)?no\s+(?:puedo|podré|estoy en condiciones de)\s+(?:ayudar(?:te|le)?|asistir(?:te|le)?|responder|proporcionar|hacer|compartir|cumplir|dar(?:te|le)?)\b/iu,
  /^\s*(?:(?:很|非常)?(?:抱歉|对不起|不好意思)[，,。！!\s]*)?(?:但是?)?(?:这个|这)?我(?:(?:无法|不能|没办法|不可以)(?:帮助|帮忙|协助|回答|提供|满足|完成|处理)|帮不了|帮不上)/u,
];
/** After a refusal in those languages, what shows the answer goes on to help (as HELPS_AFTER_RE). */
const HELPS_AFTER_OTHER_RE =
  /(?<![\p{L}\p{N}])(?:aber|jedoch|allerdings|stattdessen|hier\s+(?:ist|sind)|du\s+kannst|sie\s+können|mais|cependant|toutefois|voici|vous\s+pouvez|pero|sin\s+embargo|aquí|puedes)(?![\p{L}\p{N}])|但|不过|可以|以下|建议|[:：`]/iu;
/** JSON content above this size is not parsed by the checks (passes): bounded CPU per answer. */
export const MAX_CHECKED_JSON_CHARS = 1024 * 1024;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * After the refusal phrase, what shows the answer goes on to help: a contrast ("…, but the usual
 * causes are…", "However, …", "Instead, …"), a pointer ("here is", "you can", "try"), a colon or
 * code. "I can't help noticing / can't help but…" is no refusal either.
 */
const HELPS_AFTER_RE =
  /^\s+(?:but\b|(?!(?:any|some|no|every)thing\b)\p{L}+ing\b)|\b(?:but|however|though|although|instead|that said|here(?:'s|\s+is|\s+are)|you\s+(?:can|could|may|might|should)|try)\b|[:`]/iu;

/**
 * "I'm sorry, but I can't help with that." — an answer that is nothing but a refusal. A hedge
 * that goes on to answer ("I can't give a diagnosis, but common causes are…") is an answer.
 */
export function isRefusalText(text: string): boolean {
  const trimmed = text.trim();
  if (trimmed.length === 0 || trimmed.length > REFUSAL_MAX_CHARS) return false;
  // Typographic apostrophes ("I’m sorry, but I can’t…", as models often write them) read as ASCII ones.
  // A refusal in markdown emphasis, a quote or a blockquote ("**I'm sorry, but…**") reads as the bare one.
  const t = trimmed.replace(/[\u2018\u2019\u02bc]/g, "'").replace(/^[*_>"\u201c\s]+/, '');
  const m = REFUSAL_RE.exec(t);
  if (m !== null) return !HELPS_AFTER_RE.test(t.slice(m.index + m[0].length));
  for (const re of REFUSAL_RE_OTHER) {
    const o = re.exec(t);
    if (o !== null) return !HELPS_AFTER_OTHER_RE.test(t.slice(o.index + o[0].length));
  }
  return false;
}

type Parsed = { ok: true; value: unknown } | { ok: false; error: string } | { ok: 'skipped' };

function parseJson(text: string): Parsed {
  if (text.length > MAX_CHECKED_JSON_CHARS) return { ok: 'skipped' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, error: (err as Error).message.slice(0, 120) };
  }
}

/** The schema of `response_format: {type: json_schema, json_schema: {schema}}`, undefined if none. */
function responseSchema(rf: unknown): unknown {
  if (!isObj(rf) || rf.type !== 'json_schema' || !isObj(rf.json_schema)) return undefined;
  return rf.json_schema.schema;
}

/** The tools offered by name: a function tool with its parameters' schema, a custom tool (free-form input) without one. */
function offeredTools(tools: unknown[] | null | undefined): Map<string, { custom: boolean; params: unknown }> {
  const out = new Map<string, { custom: boolean; params: unknown }>();
  for (const t of tools ?? []) {
    if (!isObj(t)) continue;
    if (t.type === 'custom') {
      if (isObj(t.custom) && typeof t.custom.name === 'string') out.set(t.custom.name, { custom: true, params: undefined });
    } else if (isObj(t.function) && typeof t.function.name === 'string') out.set(t.function.name, { custom: false, params: t.function.parameters });
  }
  return out;
}

/** The tool a `tool_choice` object names: `{type: "function", function: {name}}` or `{type: "custom", custom: {name}}`; null otherwise. */
function namedTool(tc: unknown): string | null {
  if (!isObj(tc)) return null;
  const ref = tc.type === 'custom' ? tc.custom : tc.function;
  return isObj(ref) && typeof ref.name === 'string' ? ref.name : null;
}

export function checkAnswer(a: Answer, req: CheckRequest, s: CheckSettings, completionTokens: number | null): CheckOutcome {
  const failed: CascadeCheck[] = [];
  const details: string[] = [];
  const unchecked: string[] = [];
  const fail = (c: CascadeCheck, why: string) => {
    failed.push(c);
    details.push(`${c}: ${why}`);
  };
  const on = (c: CascadeCheck) => s.enabled.has(c);
  const noContent = a.content.trim().length === 0;
  if (on('empty') && noContent && a.toolCalls.length === 0 && a.refusal === null) fail('empty', 'no content and no tool call');
  // `content_filter`: the provider's safety filter blocked or cut the answer (Gemini's SAFETY, Azure's filter) — not an answer either.
  const filtered = a.finishReason === 'content_filter';
  const refused = a.refusal !== null || filtered || (a.toolCalls.length === 0 && isRefusalText(a.content));
  if (on('refusal') && refused)
    fail('refusal', a.refusal !== null ? 'refusal field set' : filtered ? "stopped by the provider's content filter" : 'the answer is only a refusal');
  // Stopped by the client's own max_tokens: every model is sent that cap, so a stronger step would be
  // cut there too (JSON and tool arguments as well) and paid for the same cut answer.
  const cutByClient = a.finishReason === 'length' && clientCapped(req.clientMaxTokens, completionTokens);
  if (on('truncated') && a.finishReason === 'length' && !cutByClient) {
    fail('truncated', "stopped by the model's output cap, not the client's max_tokens");
  }
  // Empty or refused answers have nothing to parse: the checks above already name them; nor has an
  // answer the client's own cap cut (its JSON or arguments are cut short by that cap, on any model).
  if (!failed.includes('empty') && !failed.includes('refusal') && !cutByClient) {
    checkJson(a, req, s, fail, unchecked);
    if (on('tool_args')) checkTools(a, req, s, fail, unchecked);
  }
  // An answer's text in another script than the question's (language.ts); a tool call has no language,
  // nor has a JSON answer one of its own (its keys and enum values are the client's schema's).
  if (on('language') && !noContent && !refused && a.toolCalls.length === 0 && req.asked !== undefined && !asksJson(req.responseFormat)) {
    const why = languageMismatch(req.asked, req.instructions ?? '', a.content);
    if (why !== null) fail('language', why);
  }
  if (on('confidence') && a.logprobs !== null && a.logprobs.length > 0) {
    const mean = a.logprobs.reduce((x, y) => x + y, 0) / a.logprobs.length;
    if (mean < s.minLogprob) fail('confidence', `mean logprob ${mean.toFixed(3)} < ${s.minLogprob}`);
  }
  return { failed, details, unchecked };
}

/** `response_format` asks for JSON (json_object or json_schema). */
export function asksJson(rf: unknown): boolean {
  return isObj(rf) && (rf.type === 'json_object' || rf.type === 'json_schema');
}

/** The client's cap caused a length stop when it set one and the answer reached it (or usage is unknown). */
function clientCapped(clientMax: number | null, completionTokens: number | null): boolean {
  if (clientMax === null) return false;
  return completionTokens === null || completionTokens >= clientMax;
}

function checkJson(a: Answer, req: CheckRequest, s: CheckSettings, fail: (c: CascadeCheck, why: string) => void, unchecked: string[]): void {
  const rf = req.responseFormat;
  const type = isObj(rf) ? rf.type : undefined;
  if ((type !== 'json_object' && type !== 'json_schema') || a.toolCalls.length > 0) return;
  const parsed = parseJson(a.content);
  if (parsed.ok === false) {
    if (s.enabled.has('invalid_json')) fail('invalid_json', parsed.error);
    return;
  }
  // JSON mode promises an object: a bare string, number, array or null breaks the app that reads its fields.
  if (parsed.ok === true && type === 'json_object' && !isObj(parsed.value)) {
    if (s.enabled.has('invalid_json'))
      fail('invalid_json', `not a JSON object (${parsed.value === null ? 'null' : Array.isArray(parsed.value) ? 'an array' : typeof parsed.value})`);
    return;
  }
  if (parsed.ok === 'skipped' && (s.enabled.has('invalid_json') || s.enabled.has('schema')))
    unchecked.push(`${type === 'json_schema' && s.enabled.has('schema') ? 'schema' : 'invalid_json'}: the answer is over ${MAX_CHECKED_JSON_CHARS} characters`);
  if (parsed.ok !== true || type !== 'json_schema' || !s.enabled.has('schema')) return;
  const schema = responseSchema(rf);
  if (schema === undefined) return;
  const v = s.schemas.validate(schema, parsed.value);
  if (v.ok === false) fail('schema', v.error);
  else if (v.ok === 'unusable') unchecked.push(`schema: ${v.error}`);
}

/** A request of the legacy `functions` API as tools: `functions` → function tools, `function_call` → `tool_choice`. */
function withLegacyFunctions(req: CheckRequest): CheckRequest {
  if ((req.tools !== null && req.tools !== undefined) || !Array.isArray(req.functions)) return req;
  const fc = req.functionCall;
  const toolChoice = req.toolChoice ?? (isObj(fc) ? { type: 'function', function: fc } : fc === 'none' ? 'none' : undefined);
  return { ...req, tools: req.functions.map((f: unknown) => ({ type: 'function', function: f })), toolChoice };
}

function checkTools(a: Answer, given: CheckRequest, s: CheckSettings, fail: (c: CascadeCheck, why: string) => void, unchecked: string[]): void {
  const req = withLegacyFunctions(given);
  // A call the client required (tool_choice "required" or a named function) that the answer does not make:
  // an app that reads tool_calls[0] would fail on it.
  const tc0 = req.toolChoice;
  const named = namedTool(tc0);
  // `allowed_tools`: the calls must stay within its list; mode `required` asks for one.
  const allowed = isObj(tc0) && tc0.type === 'allowed_tools' && isObj(tc0.allowed_tools) ? tc0.allowed_tools : null;
  const required = tc0 === 'required' || allowed?.mode === 'required';
  if (a.toolCalls.length === 0) {
    if (required || named !== null)
      fail('tool_args', `tool_choice ${named !== null ? `names ${named.slice(0, 64)}` : 'is required'} and the answer calls no tool`);
    return;
  }
  // `none`: the client asked for text; a call anyway (some OpenAI-compatible models ignore it) is not what it can use.
  if (tc0 === 'none') return fail('tool_args', `tool_choice is none and the answer calls ${(a.toolCalls[0]?.name ?? '').slice(0, 64)}`);
  if (req.parallelToolCalls === false && a.toolCalls.length > 1)
    return fail('tool_args', `parallel_tool_calls is false and the answer makes ${a.toolCalls.length} calls`);
  if (named !== null && !a.toolCalls.some((c) => c.name === named))
    return fail('tool_args', `tool_choice names ${named.slice(0, 64)} and the answer does not call it`);
  // allowed_tools names the tools it allows (no parameters): each is checked as `tools` defines it.
  const defined = offeredTools(req.tools);
  const offered =
    allowed !== null && Array.isArray(allowed.tools) ? new Map([...offeredTools(allowed.tools)].map(([k, v]) => [k, defined.get(k) ?? v])) : defined;
  for (const tc of a.toolCalls) {
    const tool = offered.get(tc.name);
    if (tool === undefined)
      return fail('tool_args', `tool "${tc.name.slice(0, 64)}" was not offered${allowed !== null ? ' in tool_choice.allowed_tools' : ''}`);
    if (tool.custom !== (tc.custom === true))
      return fail(
        'tool_args',
        `${tc.name.slice(0, 64)} was offered as a ${tool.custom ? 'custom' : 'function'} tool and called as a ${tool.custom ? 'function' : 'custom'} one`,
      );
    // A custom tool's input is free-form text: nothing to parse.
    if (tool.custom) continue;
    const parsed = parseJson(tc.arguments === '' ? '{}' : tc.arguments);
    if (parsed.ok === false) return fail('tool_args', `arguments of ${tc.name} do not parse: ${parsed.error}`);
    // A function's arguments are a JSON object (what every SDK's parse helper and tool runner reads), whatever its parameters say.
    if (parsed.ok === true && !isObj(parsed.value)) return fail('tool_args', `arguments of ${tc.name} are not a JSON object`);
    const params = tool.params;
    if (parsed.ok === 'skipped') unchecked.push(`tool_args: arguments of ${tc.name.slice(0, 64)} are over ${MAX_CHECKED_JSON_CHARS} characters`);
    if (parsed.ok !== true || params === undefined) continue;
    const v = s.schemas.validate(params, parsed.value);
    if (v.ok === false) return fail('tool_args', `arguments of ${tc.name}: ${v.error}`);
    if (v.ok === 'unusable') unchecked.push(`tool_args: parameters of ${tc.name.slice(0, 64)}: ${v.error}`);
  }
}
