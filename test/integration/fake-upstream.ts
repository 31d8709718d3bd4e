/**
 * A scripted provider on loopback for the integration tests that need an upstream the simulator
 * cannot play (a stream cut after a refusal, an error event in a 200, a redirect): a node:http
 * server that hands each request's parsed JSON body to the test's `answer`, and the config pieces
 * that route catalogue models to it as the OpenAI-kind provider `fake`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeUpstream {
  server: Server;
  /** `http://127.0.0.1:PORT` */
  origin: string;
  /** The origin with `/v1`: an OpenAI-kind `baseUrl`. */
  url: string;
  close(): void;
}

/** Starts the server; `answer` gets every request's JSON body (`{}` when there is none), its response and the request. */
export async function startFakeUpstream<B extends object = { model: string }>(
  answer: (body: B, res: ServerResponse, req: IncomingMessage) => void,
): Promise<FakeUpstream> {
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => answer((text === '' ? {} : JSON.parse(text)) as B, res, req));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, origin, url: `${origin}/v1`, close: () => server.close() };
}

/** Adds the fake upstream to a `testConfig` as provider `fake` (OpenAI kind) at `baseUrl`. */
export function addFakeProvider(cfg: Record<string, unknown>, baseUrl: string): void {
  (cfg.providers as Record<string, unknown>).fake = { kind: 'openai', baseUrl, apiKeyEnv: 'SY_TEST_OPENAI_KEY' };
}

/** A catalogue model served by provider `fake` as `upstreamModel`: balanced, $1 per million tokens each way. */
export function fakeModel(upstreamModel: string, fallbacks: string[] = [], capabilities?: string[]): Record<string, unknown> {
  return {
    tier: 'balanced',
    price: { inputPerMTok: 1, outputPerMTok: 1 },
    contextWindow: 100_000,
    ...(capabilities === undefined ? {} : { capabilities }),
    fallbacks,
    endpoints: [{ provider: 'fake', upstreamModel }],
  };
}

/** One `chat.completion.chunk` server-sent event of a single choice. */
export function chatChunk(model: string, delta: Record<string, unknown>, finish: string | null = null, id = 'c'): string {
  return `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}
