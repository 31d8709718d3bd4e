/**
 * A chat stream whose answer is a refusal (OpenAI's structured refusal: `delta.refusal` pieces,
 * `content` null) cut part way cannot be continued: a continuation's prefill is the text delivered,
 * which holds none of the refusal, so the prefill model answered afresh, in `content`, after the
 * refusal's first words, and the stream ended with `finish_reason: stop` as one whole answer.
 * It ends with the error event instead, as a stream that sent a tool call does.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSidecar, testConfig, type SidecarHandle } from './harness.js';

let upstream: Server;
let sc: SidecarHandle;
const hits: string[] = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const j = JSON.parse(body) as { model: string };
      hits.push(j.model);
      const base = { id: 'r', object: 'chat.completion.chunk', created: 1, model: j.model };
      const delta = (d: Record<string, unknown>, finish: string | null = null) =>
        `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: d, finish_reason: finish }] })}\n\n`;
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
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  const cfg = testConfig(url);
  (cfg.providers as Record<string, unknown>).fake = { kind: 'openai', baseUrl: url, apiKeyEnv: 'SY_TEST_OPENAI_KEY' };
  const model = (upstreamModel: string, fallbacks: string[], capabilities: string[]) => ({
    tier: 'balanced',
    price: { inputPerMTok: 1, outputPerMTok: 1 },
    contextWindow: 100_000,
    capabilities,
    fallbacks,
    endpoints: [{ provider: 'fake', upstreamModel }],
  });
  Object.assign(cfg.models as Record<string, unknown>, {
    'm-refusal-cut': model('refusal-cut', ['m-continue'], ['chat']),
    'm-text-cut': model('text-cut', ['m-continue'], ['chat']),
    'm-continue': model('continue', [], ['chat', 'prefill']),
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
