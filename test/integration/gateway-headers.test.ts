/**
 * `providers.<p>.headersEnv`: a gateway's own key beside the provider's (Cloudflare AI Gateway's
 * `cf-aig-authorization`, Helicone's `helicone-auth`), read from the environment variable it
 * names, sent on every request to that provider, and scrubbed like the provider's key: a gateway
 * that echoes it in an error does not show it to the client or the log. The gateway here is a
 * node:http server that wants the header and answers 401 echoing what it got otherwise. A
 * config file naming a variable that is not set does not start, and `check-config` says so.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startProc, startSidecar, testConfig, type SidecarHandle } from './harness.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';

const GATEWAY_KEY = 'cfut_gw_9f8e7d6c5b4a39281706fedcba';
const got: Array<string | undefined> = [];
let gateway: Server;
let sc: SidecarHandle;
let logs: () => string;

function answer(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const seen = req.headers['cf-aig-authorization'];
  got.push(typeof seen === 'string' ? seen : undefined);
  const model = (JSON.parse(body.toString('utf8')) as { model: string }).model;
  if (seen !== `Bearer ${GATEWAY_KEY}` || model === 'echo-denied') {
    res.writeHead(401, { 'content-type': 'application/json' });
    // The token alone, without its scheme: what some gateways echo (the whole value is scrubbed too).
    const token = String(seen).split(' ').pop();
    res.end(JSON.stringify({ error: { message: `gateway denied token ${token}`, type: 'invalid_request_error', code: 'unauthorized' } }));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      id: 'chatcmpl-gw',
      object: 'chat.completion',
      created: 1_764_000_000,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: 'through the gateway' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 },
    }),
  );
}

function config(url: string): Record<string, unknown> {
  const cfg = testConfig(url);
  const providers = cfg.providers as Record<string, Record<string, unknown>>;
  providers.openai = { ...providers.openai, headersEnv: { 'cf-aig-authorization': 'SY_TEST_GATEWAY_AUTH' } };
  const models = cfg.models as Record<string, Record<string, unknown>>;
  // A model behind the same gateway whose upstream model the gateway refuses, echoing the header it got.
  models.denied = { ...models['gpt-4.1']!, fallbacks: [], endpoints: [{ provider: 'openai', upstreamModel: 'echo-denied' }] };
  return cfg;
}

beforeAll(async () => {
  gateway = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => answer(req, res, Buffer.concat(parts)));
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  sc = await startSidecar(config(`http://127.0.0.1:${(gateway.address() as AddressInfo).port}`), { SY_TEST_GATEWAY_AUTH: `Bearer ${GATEWAY_KEY}` });
  logs = () => sc.stdout() + sc.stderr();
});

afterAll(async () => {
  await sc?.stop();
  gateway?.closeAllConnections();
  await new Promise((r) => gateway?.close(r));
});

it('sends the header from its variable to that provider', async () => {
  const r = await sc.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
  expect(r.choices[0]!.message.content).toBe('through the gateway');
  expect(got.at(-1)).toBe(`Bearer ${GATEWAY_KEY}`);
});

it("a gateway error echoing it shows neither the client nor the log the gateway's key", async () => {
  const err = await sc.client.chat.completions.create({ model: 'denied', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OpenAI.APIError);
  expect(got.at(-1)).toBe(`Bearer ${GATEWAY_KEY}`);
  const said = JSON.stringify((err as InstanceType<typeof OpenAI.APIError>).error);
  expect(said).toMatch(/gateway denied/);
  expect(said).not.toContain(GATEWAY_KEY);
  expect(logs()).not.toContain(GATEWAY_KEY);
});

it('a config naming a variable that is not set does not start, and check-config says which', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'sy-gw-')), 'switchyard.yaml');
  writeFileSync(file, stringify(config('http://127.0.0.1:9')));
  const serve = await startProc(['serve', '--config', file, '--port', '0'], /never/).catch((e: unknown) => e);
  expect(String(serve)).toMatch(/providers\.openai\.headersEnv\.cf-aig-authorization: environment variable SY_TEST_GATEWAY_AUTH is not set/);
  const check = await startProc(['check-config', file], /never/).catch((e: unknown) => e);
  expect(String(check)).toMatch(/providers\.openai\.headersEnv\.cf-aig-authorization: SY_TEST_GATEWAY_AUTH/);
});
