/**
 * Tens of thousands of messages in one request cost time linear in their number. Consecutive
 * messages of one role are merged into one Anthropic turn; the merge once copied the turn for
 * every message (and re-sorted its tool results), so 20 000 one-word user messages held the
 * event loop for 2-4 s and 30 000 for several times that, on /v1/chat/completions to a Claude model
 * and on /switchyard/route (which prices the Claude candidate) alike, within the default body limit.
 */
import { expect, it } from 'vitest';
import { sidecarOnSimulator } from '../integration/harness.js';

/** Generous: linear work here is ~100-200 ms on an idle machine; the defect took over 10 s. */
const BOUND_MS = 4000;

const env = sidecarOnSimulator();

const N = 30_000;
// One user turn of N messages, tool results among them (they are put first in the merged turn).
const messages = [
  { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
  ...Array.from({ length: N }, (_, i) => (i === N / 2 ? { role: 'tool', tool_call_id: 'c1', content: 'r' } : { role: 'user', content: 'a' })),
];
/** Within gpt-4.1's context window (each call is ~20 tokens). */
const CALLS = 40_000;
const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];

it.each([
  ['/v1/chat/completions', { model: 'claude-sonnet-4.5', max_tokens: 5, tools, messages }],
  ['/switchyard/route', { model: 'auto', tools, messages }],
])(
  `${N} consecutive user messages on %s are answered promptly`,
  async (path, body) => {
    const t = performance.now();
    const r = await fetch(`${env.sc.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await r.text();
    const ms = performance.now() - t;
    expect(r.status, text.slice(0, 300)).toBe(200);
    // Served (or routed) by the Claude model: the merge is what is timed, not a fallback.
    expect(JSON.parse(text)).toMatchObject({ model: 'claude-sonnet-4.5' });
    expect(ms).toBeLessThan(BOUND_MS);
  },
  120_000,
);

it(`${CALLS / 2} function_call items in a row, and their outputs, on /v1/responses are answered promptly`, async () => {
  // They become one assistant message with that many tool calls; each call once copied the ones before it.
  // Each call answered by its output (a call left unanswered is a 400); half as many, to stay under the body limit.
  const n = CALLS / 2;
  const input = [
    ...Array.from({ length: n }, (_, i) => ({ type: 'function_call', call_id: `c${i}`, name: 'f' })),
    ...Array.from({ length: n }, (_, i) => ({ type: 'function_call_output', call_id: `c${i}`, output: 'r' })),
  ];
  const t = performance.now();
  const r = await fetch(`${env.sc.url}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4.1', max_output_tokens: 16, tools: [{ type: 'function', name: 'f' }], input }),
  });
  const text = await r.text();
  const ms = performance.now() - t;
  expect(r.status, text.slice(0, 300)).toBe(200);
  expect(ms).toBeLessThan(BOUND_MS);
}, 120_000);
