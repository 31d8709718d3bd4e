/**
 * A client-given name echoed in a refusal is bounded: a 1 MiB field name or type is named by
 * its first characters and its length, never copied whole into the error body (twice: message
 * and param) and the log line. Each of these once answered a 1 MiB request with a 1-2 MiB error.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EMBEDDINGS_MODEL, startSidecar, testConfig, type SidecarHandle } from '../integration/harness.js';

let sc: SidecarHandle;

beforeAll(async () => {
  // Every case is refused at the edge: no upstream is reached.
  const base = testConfig('http://127.0.0.1:9');
  sc = await startSidecar({
    ...base,
    models: {
      ...(base.models as Record<string, unknown>),
      'text-embedding-3-small': EMBEDDINGS_MODEL,
    },
  });
});

afterAll(async () => {
  await sc?.stop();
});

const BIG = 'q'.repeat(1 << 20);
// A content part's JSON counts toward the prompt: 1 MiB of it (524,000 tokens) is over a Claude
// model's window, so routing passes it to a fallback; 300,000 characters (150,000 tokens) fit.
const MID = 'q'.repeat(300_000);
const hi = [{ role: 'user', content: 'hi' }];

const CASES: Array<[string, string, Record<string, unknown>]> = [
  ['an unknown field for a Claude model', '/v1/chat/completions', { model: 'claude-sonnet-4.5', messages: hi, [BIG]: 1 }],
  ['a content part type for a Claude model', '/v1/chat/completions', { model: 'claude-sonnet-4.5', messages: [{ role: 'user', content: [{ type: MID }] }] }],
  ['an unknown field', '/v1/responses', { model: 'gpt-4.1', input: 'hi', [BIG]: 1 }],
  ['an input item type', '/v1/responses', { model: 'gpt-4.1', input: [{ type: BIG }] }],
  ['a content type', '/v1/responses', { model: 'gpt-4.1', input: [{ role: 'user', content: [{ type: BIG }] }] }],
  ['a tool type', '/v1/responses', { model: 'gpt-4.1', tools: [{ type: BIG, name: 'a' }], input: 'hi' }],
  ['an Anthropic-only field for an OpenAI-kind model', '/v1/messages', { model: 'gpt-4.1', max_tokens: 10, messages: hi, [BIG]: 1 }],
  ['a server tool type', '/v1/messages', { model: 'gpt-4.1', max_tokens: 10, messages: hi, tools: [{ type: BIG, name: 'a' }] }],
  ['an unknown field', '/v1/embeddings', { model: 'text-embedding-3-small', input: 'x', [BIG]: 1 }],
];

it.each(CASES)('%s on %s is a 400 naming it in a few hundred characters', async (_what, path, body) => {
  const r = await fetch(`${sc.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await r.text();
  expect(r.status).toBe(400);
  expect(text.length, text.slice(0, 300)).toBeLessThan(2000);
  expect(text).toMatch(/q{100}… \((10485\d\d|300002) characters\)/);
});

// In the request-target, bounded by the header limit (16 KiB) but still echoed whole before.
it.each([
  ['a model id', `/v1/models/${'q'.repeat(6000)}`, 404],
  ['a spend window', `/switchyard/spend?from=${'q'.repeat(6000)}`, 400],
])('%s of 6000 characters in the path is named in a few hundred characters', async (_what, path, status) => {
  const r = await fetch(`${sc.url}${path}`);
  const text = await r.text();
  expect(r.status).toBe(status);
  expect(text.length, text.slice(0, 300)).toBeLessThan(2000);
  expect(text).toContain(`${'q'.repeat(128)}… (6000 characters)`);
});

it('no log line carries the whole name', () => {
  const longest = Math.max(
    ...sc
      .stdout()
      .split('\n')
      .map((l) => l.length),
  );
  expect(longest).toBeLessThan(10_000);
});
