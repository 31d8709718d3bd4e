/**
 * Secrets never leave, even when an upstream echoes them: an upstream that puts the key it
 * was sent (and the admin token, a client key, a stranger's bearer token) into its error
 * messages, in every shape (400 passed on, 500 after retries, 401, an in-band stream error).
 * Nothing of it may reach a client body, the log, /switchyard/state or /switchyard/events.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSidecar, testConfig, TEST_KEYS, type SidecarHandle } from '../integration/harness.js';
import { ledgerFileOf, ledgerRow } from '../integration/ledger-row.js';

const ADMIN = 'admin-token-0123456789';
const CLIENT = 'client-key-abcdefghijkl';
const STRANGER = 'Bearer zzStrangerToken123456';
const SECRETS = [TEST_KEYS.SY_TEST_OPENAI_KEY, ADMIN, CLIENT, 'zzStrangerToken123456'];

let echo: Server;
let sc: SidecarHandle;
let ledger: string;

beforeAll(async () => {
  echo = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const j = JSON.parse(body) as { model: string; stream?: boolean };
      const message = `bad credentials ${req.headers.authorization} (admin ${ADMIN}, client ${CLIENT}, ${STRANGER})`;
      const status = Number(j.model.replace('echo-', ''));
      if (j.stream && status === 200) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`data: ${JSON.stringify({ error: { message, type: 'server_error' } })}\n\n`);
        return;
      }
      // Every label echoes the key too: type, code and param are relayed, and the code is stored.
      const key = String(req.headers.authorization).replace('Bearer ', '');
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message, type: `invalid_request_error ${key}`, code: `echo_${key}`, param: `key=${key}` } }));
    });
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
  const cfg = testConfig(url);
  const providers = cfg.providers as Record<string, unknown>;
  providers.echo = { kind: 'openai', baseUrl: `${url}/v1`, apiKeyEnv: 'SY_TEST_OPENAI_KEY' };
  const models = cfg.models as Record<string, unknown>;
  for (const s of [400, 401, 500, 200]) {
    models[`echo-${s}`] = {
      tier: 'balanced',
      price: { inputPerMTok: 1, outputPerMTok: 1 },
      contextWindow: 100_000,
      endpoints: [{ provider: 'echo', upstreamModel: `echo-${s}` }],
    };
  }
  cfg.auth = { keys: [{ id: 'app', keyEnv: 'SY_TEST_CLIENT_KEY' }] };
  cfg.resilience = { requestTimeoutMs: 10_000, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 } };
  cfg.logging = { level: 'debug' };
  ledger = ledgerFileOf(cfg);
  sc = await startSidecar(cfg, { SY_TEST_CLIENT_KEY: CLIENT, SWITCHYARD_ADMIN_TOKEN: ADMIN });
});

afterAll(async () => {
  await sc?.stop();
  echo?.close();
});

const leaks = (text: string): string[] => SECRETS.filter((s) => text.includes(s));

it.each([
  ['echo-400', false],
  ['echo-401', false],
  ['echo-500', false],
  ['echo-200', true],
])('%s (stream %s): the relayed error carries none of the secrets', async (model, stream) => {
  const r = await fetch(`${sc.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT}` },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const text = await r.text();
  expect(text).toMatch(/bad credentials/);
  expect(text).toMatch(/\[redacted\]/);
  expect(leaks(text)).toEqual([]);
  // The ledger row (its error_code is the upstream's code) holds none of them either.
  expect(leaks(JSON.stringify(ledgerRow(ledger, r.headers.get('x-request-id')) ?? {}))).toEqual([]);
});

it('nothing of them in the log, the state or the event history', async () => {
  const headers = { authorization: `Bearer ${ADMIN}` };
  const state = await (await fetch(`${sc.url}/switchyard/state`, { headers })).text();
  expect(leaks(state)).toEqual([]);
  const ac = new AbortController();
  const events = await fetch(`${sc.url}/switchyard/events`, { headers, signal: ac.signal });
  const reader = events.body!.getReader();
  let history = '';
  while (!history.includes(': live')) history += new TextDecoder().decode((await reader.read()).value);
  ac.abort();
  expect(history).toMatch(/echo/);
  expect(leaks(history)).toEqual([]);
  expect(await sc.waitForOutput(/bad credentials/)).toMatch(/bad credentials/);
  expect(leaks(sc.stdout() + sc.stderr())).toEqual([]);
});
