/**
 * A continuation of a stream whose request ends with the client's own assistant turn (a prefill,
 * such as `{"name":` to start a JSON answer) on an OpenAI-kind `prefill` model: the delivered text
 * goes on in that same assistant message, which the model continues. It was sent as a second
 * assistant message after the client's, so the client's words read as a finished turn.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addFakeProvider, chatChunk, fakeModel, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';
import { startSidecar, testConfig, type SidecarHandle } from './harness.js';

let upstream: FakeUpstream;
let sc: SidecarHandle;
const sent: Array<{ model: string; messages: unknown[] }> = [];

beforeAll(async () => {
  upstream = await startFakeUpstream<{ model: string; messages: unknown[] }>((j, res) => {
    sent.push({ model: j.model, messages: j.messages });
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (j.model === 'cut') {
      res.write(chatChunk(j.model, { role: 'assistant', content: ' "Ada",' }, null, 'p'));
      setTimeout(() => res.socket?.destroy(), 30);
    } else {
      res.write(chatChunk(j.model, { role: 'assistant', content: ' "age": 36}' }, null, 'p'));
      res.write(chatChunk(j.model, {}, 'stop', 'p'));
      res.end('data: [DONE]\n\n');
    }
  });
  const cfg = testConfig(upstream.url);
  addFakeProvider(cfg, upstream.url);
  Object.assign(cfg.models as Record<string, unknown>, {
    'm-cut': fakeModel('cut', ['m-continue'], ['chat', 'prefill']),
    'm-continue': fakeModel('continue', [], ['chat', 'prefill']),
  });
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
