/**
 * Quality faults: the upstream answers 200, but the answer is not good enough — broken JSON,
 * JSON of the wrong shape, a refusal, nothing, a stop at the model's own output cap, tool
 * arguments that do not parse, or tokens the model was unsure of. They exist so tests and
 * `switchyard demo` can show the quality cascade escalating; usage stays truthful.
 */
import type { Fault } from './faults.js';
import { schemaExample } from './schema-example.js';
import { splitPieces } from './text.js';
import type { Answer, ChatRequest } from './types.js';

/** Log-probability of every token of a normal answer, and of a `low_logprob` one by default. */
export const CONFIDENT_LOGPROB = -0.05;
export const UNSURE_LOGPROB = -3;
export const REFUSAL_TEXT = "I'm sorry, but I can't help with that.";

const QUALITY = new Set<Fault['kind']>(['invalid_json', 'json_mismatch', 'refusal', 'empty', 'length_stop', 'invalid_tool_args', 'low_logprob']);

export function isQualityFault(f: Fault | null): boolean {
  return f !== null && QUALITY.has(f.kind);
}

/**
 * A JSON-mode answer, in pieces: an object of the `json_schema` schema's shape with the words
 * as every string, or the words as `{"answer": "…"}` (json_object, or a schema without properties).
 */
export function jsonPieces(words: string[], schema?: unknown): string[] {
  const text = words.join('');
  return splitPieces(JSON.stringify(schemaExample(schema, text) ?? { answer: text }));
}

function withPieces(a: Answer, pieces: string[], over: Partial<Answer> = {}): Answer {
  return { ...a, pieces, completionTokens: pieces.length, ...over };
}

/**
 * The answer as the fault shapes it (the same answer when the fault is not a quality fault). Never
 * more output than the request's max_tokens, as no provider reports: a shaped answer over it is cut
 * there, finishing `length` (invalid_json on a 16-token cap reported 18).
 */
export function applyQualityFault(a: Answer, fault: Fault | null, req: ChatRequest): Answer {
  const shaped = shapeQualityFault(a, fault, req);
  const cap = req.maxTokens;
  if (shaped === a || cap === undefined || shaped.pieces.length <= cap) return shaped;
  return { ...shaped, pieces: shaped.pieces.slice(0, cap), completionTokens: cap, finish: 'length' };
}

function shapeQualityFault(a: Answer, fault: Fault | null, req: ChatRequest): Answer {
  switch (fault?.kind) {
    case 'invalid_json': {
      const text = a.kind === 'tool' ? '' : a.pieces.join('');
      return withPieces(a, splitPieces(`{"answer": "${text.replace(/"/g, '')}`), { kind: 'text' });
    }
    case 'json_mismatch':
      return withPieces(a, splitPieces('{"unexpected": true}'), { kind: 'text' });
    case 'refusal':
      return withPieces(a, splitPieces(REFUSAL_TEXT, 12), { kind: 'refusal', finish: 'stop' });
    case 'empty':
      return withPieces(a, [], { kind: 'text', finish: 'stop' });
    case 'length_stop': {
      const keep = Math.max(1, Math.floor(a.pieces.length / 2));
      return withPieces(a, a.pieces.slice(0, keep), { finish: 'length' });
    }
    case 'invalid_tool_args':
      if (req.toolName === null) return a;
      return withPieces(a, splitPieces('{"input": "unterminated'), { kind: 'tool', finish: 'tool' });
    case 'low_logprob':
      return req.logprobs ? { ...a, logprob: fault.logprob ?? UNSURE_LOGPROB } : a;
    default:
      return a;
  }
}
