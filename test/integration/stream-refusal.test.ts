/**
 * A chat stream whose answer is a refusal (OpenAI's structured refusal: `delta.refusal` pieces,
 * `content` null) cut part way cannot be continued: a continuation's prefill is the text delivered,
 * which holds none of the refusal, so the prefill model answered afresh, in `content`, after the
 * refusal's first words, and the stream ended with `finish_reason: stop` as one whole answer.
 * It ends with the error event instead, as a stream that sent a tool call does.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addFakeProvider, chatChunk, fakeModel, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';
import { startSidecar, testConfig, type SidecarHandle } from './harness.js';

let upstream: FakeUpstream;
let sc: SidecarHandle;
const hits: string[] = [];

beforeAll(async () => {
  upstream = await startFakeUpstream((j, res) => {
    hits.push(j.model);
    const delta = (d: Record<string, unknown>, finish: string | null = null) => chatChunk(j.model, d, finish, 'r');
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (j.model === 'refusal-cut') {
      res.write(delta({ role: 'assistant', content: null, refusal: '' }));
      res.write(delta({ refusal: "I'm sorry, but I " }));
      setTimeout(() => res.socket?.destroy(), 30);
    } else if (j.model === 'text-cut') {
      res.write(delta({ role: 'assistant', content: 'The first half' }));
      setTimeout(() => res.socket?.destroy(), 30);
    } else {
      res.write(delta({ role: 'assistant', content: ' goes on.' }));
      res.write(delta({}, 'stop'));
      res.end('data: [DONE]\n\n');
    }
  });
  const cfg = testConfig(upstream.url);
  addFakeProvider(cfg, upstream.url);
  Object.assign(cfg.models as Record<string, unknown>, {
    'm-refusal-cut': fakeModel('refusal-cut', ['m-continue'], ['chat']),
    'm-text-cut': fakeModel('text-cut', ['m-continue'], ['chat']),
    'm-continue': fakeModel('continue', [], ['chat', 'prefill']),
  });
  sc = await startSidecar(cfg);
});

afterAll(async () => {
  await sc?.stop();
  upstream?.close();
});

const ask = (model: string) => sc.client.chat.completions.stream({ model, messages: [{ role: 'user', content: 'hi' }] });

it('a cut refusal ends with the error event, not continued as a fresh answer after its first words', async () => {
  hits.length = 0;
  const stream = ask('m-refusal-cut');
  const refusal: string[] = [];
  stream.on('refusal.delta', (e) => refusal.push(e.delta));
  const err = await stream.finalChatCompletion().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OpenAI.APIError);
  expect((err as Error).message).toMatch(/stream_cut.*a stream that sent a tool call or a refusal/);
  expect(refusal.join('')).toBe("I'm sorry, but I ");
  expect(hits).toEqual(['refusal-cut']);
});

it('a cut text answer is still continued on the prefill model', async () => {
  hits.length = 0;
  const done = await ask('m-text-cut').finalChatCompletion();
  expect(done.choices[0]!.message.content).toBe('The first half goes on.');
  expect(done.choices[0]!.finish_reason).toBe('stop');
  expect(hits).toEqual(['text-cut', 'continue']);
});
