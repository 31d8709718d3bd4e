/**
 * A continuation of a stream whose request ends with the client's own assistant turn (a prefill,
 * such as `{"name":` to start a JSON answer) on an OpenAI-kind `prefill` model: the delivered text
 * goes on in that same assistant message, which the model continues. It was sent as a second
 * assistant message after the client's, so the client's words read as a finished turn.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSidecar, testConfig, type SidecarHandle } from './harness.js';

let upstream: Server;
let sc: SidecarHandle;
const sent: Array<{ model: string; messages: unknown[] }> = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const j = JSON.parse(body) as { model: string; messages: unknown[] };
      sent.push({ model: j.model, messages: j.messages });
      const base = { id: 'p', object: 'chat.completion.chunk', created: 1, model: j.model };
      const delta = (d: Record<string, unknown>, finish: string | null = null) =>
        `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: d, finish_reason: finish }] })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (j.model === 'cut') {
        res.write(delta({ role: 'assistant', content: ' "Ada",' }));
        setTimeout(() => res.socket?.destroy(), 30);
      } else {
        res.write(delta({ role: 'assistant', content: ' "age": 36}' }));
        res.write(delta({}, 'stop'));
        res.end('data: [DONE]\n\n');
      }
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  const cfg = testConfig(url);
  (cfg.providers as Record<string, unknown>).fake = { kind: 'openai', baseUrl: url, apiKeyEnv: 'SY_TEST_OPENAI_KEY' };
  const model = (upstreamModel: string, fallbacks: string[]) => ({
    tier: 'balanced',
    price: { inputPerMTok: 1, outputPerMTok: 1 },
    contextWindow: 100_000,
    capabilities: ['chat', 'prefill'],
    fallbacks,
    endpoints: [{ provider: 'fake', upstreamModel }],
  });
  Object.assign(cfg.models as Record<string, unknown>, { 'm-cut': model('cut', ['m-continue']), 'm-continue': model('continue', []) });
  sc = await startSidecar(cfg);
});

afterAll(async () => {
  await sc?.stop();
  upstream?.close();
});

it("a continuation goes on in the client's own final assistant message, not in a second one after it", async () => {
  const messages = [
    { role: 'user' as const, content: 'Ada Lovelace as JSON' },
    { role: 'assistant' as const, content: '{"name":' },
  ];
  const done = await sc.client.chat.completions.stream({ model: 'm-cut', messages }).finalChatCompletion();
  expect(done.choices[0]!.message.content).toBe(' "Ada", "age": 36}');
  expect(sent.map((s) => s.model)).toEqual(['cut', 'continue']);
  expect(sent[0]!.messages).toEqual(messages);
  expect(sent[1]!.messages).toEqual([messages[0], { role: 'assistant', content: '{"name": "Ada",' }]);
});

it('without a prefill of the client, the delivered text is the final assistant message', async () => {
  sent.length = 0;
  const done = await sc.client.chat.completions.stream({ model: 'm-cut', messages: [{ role: 'user', content: 'Ada as JSON' }] }).finalChatCompletion();
  expect(done.choices[0]!.message.content).toBe(' "Ada", "age": 36}');
  expect(sent[1]!.messages).toEqual([
    { role: 'user', content: 'Ada as JSON' },
    { role: 'assistant', content: ' "Ada",' },
  ]);
});
