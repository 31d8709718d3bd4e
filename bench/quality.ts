/**
 * The CPU the quality cascade's checks add to a request whose answer passes (issue 12): read
 * the held answer (parse the completion body, or every chunk of a stream) and run the default
 * checks on it — for a plain answer, a JSON-Schema answer (ajv, cached) and a tool call. Run by
 * `npm run bench` beside the routing micro-benchmark; alone with
 *
 *   node bench/run-ts.js bench/quality.ts
 */
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CASCADE_CHECKS } from '../src/config/schema.js';
import { answerFromCompletion, StreamAnswer } from '../src/quality/answer.js';
import { checkAnswer, type CheckRequest } from '../src/quality/checks.js';
import { SchemaCache } from '../src/quality/schema-cache.js';
import { fmtNs, measure, type MicroResult } from './routing.js';

const WORDS = 'Paris is the capital and most populous city of France with an estimated population of two million'.split(' ');
const TEXT = WORDS.join(' ');
const SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string' }, population: { type: 'integer' }, notes: { type: 'array', items: { type: 'string' } } },
  required: ['city', 'population'],
};
const TOOLS = [
  {
    type: 'function',
    function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' }, limit: { type: 'integer' } }, required: ['q'] } },
  },
];

function completion(message: Record<string, unknown>, finish = 'stop'): string {
  return JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', refusal: null, ...message }, logprobs: null, finish_reason: finish }],
    usage: { prompt_tokens: 20, completion_tokens: 34, total_tokens: 54 },
  });
}

/** The stream of the plain answer as switchyard holds it: one event per word, then the finish and [DONE]. */
function streamEvents(): string[] {
  const head = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm' };
  const ev = WORDS.map((w, i) =>
    JSON.stringify({ ...head, choices: [{ index: 0, delta: { content: i === 0 ? w : ` ${w}` }, logprobs: null, finish_reason: null }] }),
  );
  return [...ev, JSON.stringify({ ...head, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] }), '[DONE]'];
}

export function runQualityBench(iterations = Number(process.env.BENCH_QUALITY_ITERATIONS ?? 100_000)): MicroResult[] {
  const settings = { enabled: new Set(DEFAULT_CASCADE_CHECKS), minLogprob: -1, schemas: new SchemaCache(256) };
  const plainReq: CheckRequest = { responseFormat: null, tools: null, clientMaxTokens: null };
  const schemaReq: CheckRequest = {
    responseFormat: { type: 'json_schema', json_schema: { name: 'city', schema: SCHEMA } },
    tools: null,
    clientMaxTokens: null,
  };
  const toolReq: CheckRequest = { responseFormat: null, tools: TOOLS, clientMaxTokens: null };
  const plain = completion({ content: TEXT });
  const json = completion({ content: JSON.stringify({ city: 'Paris', population: 2_100_000, notes: ['capital', 'largest city'] }) });
  const tool = completion(
    { content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"q":"population of Paris","limit":3}' } }] },
    'tool_calls',
  );
  const events = streamEvents();
  const run = (body: string, req: CheckRequest): number => {
    const a = answerFromCompletion(JSON.parse(body) as Record<string, unknown>);
    const out = checkAnswer(a, req, settings, 34);
    if (out.failed.length > 0) throw new Error(`bench answer failed: ${out.details.join('; ')}`);
    return a.content.length;
  };
  return [
    measure('checks: plain answer (parse body + default checks)', iterations, () => run(plain, plainReq)),
    measure('checks: json_schema answer (parse, ajv cached)', iterations, () => run(json, schemaReq)),
    measure('checks: tool call (parse args, validate params)', iterations, () => run(tool, toolReq)),
    measure(`checks: streamed answer (${events.length} events)`, iterations, () => {
      const acc = new StreamAnswer();
      for (const e of events) if (e !== '[DONE]') acc.add(JSON.parse(e));
      return checkAnswer(acc.answer(), plainReq, settings, 34).failed.length;
    }),
  ];
}

/** The table, and each case next to switchyard's own CPU per request when it is known. */
export function formatQuality(results: readonly MicroResult[], proxyCpuUs: number | null = null): string {
  const w = Math.max(...results.map((r) => r.name.length));
  const share = (ns: number): string =>
    proxyCpuUs === null ? '' : `  = ${((ns / 1000 / proxyCpuUs) * 100).toFixed(1)}% of switchyard's ${proxyCpuUs.toFixed(0)} µs CPU/request`;
  const lines = results.map((r) => `  ${r.name.padEnd(w)}  ${fmtNs(r.nsPerOp).padStart(10)}/op${share(r.nsPerOp)}`);
  return ['quality cascade checks on a passing answer (CPU added per step)', ...lines].join('\n');
}

const isMain = process.argv[1] !== undefined && resolvePath(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  console.log(formatQuality(runQualityBench()));
}
