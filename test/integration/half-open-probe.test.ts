/**
 * `halfOpenProbes: 1` admits one probe while half-open, against the real sidecar and a node:http
 * upstream that holds requests until told: a request sent while the endpoint was healthy that ends
 * while it is half-open (here as a 400) does not free the probe's slot, so a second request is not
 * let through until the probe itself has answered.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addFakeProvider, fakeModel, startFakeUpstream, type FakeUpstream } from './fake-upstream.js';
import { sleep, startSidecar, testConfig, type SidecarHandle } from './harness.js';

let upstream: FakeUpstream;
let sc: SidecarHandle;
const hits: string[] = [];
const held = new Map<string, ServerResponse>();

const completion = JSON.stringify({
  id: 'c',
  object: 'chat.completion',
  created: 1,
  model: 'flaky',
  choices: [{ index: 0, message: { role: 'assistant', content: 'fine' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
});
const json = { 'content-type': 'application/json' };

beforeAll(async () => {
  upstream = await startFakeUpstream<{ messages: Array<{ content: string }> }>((j, res) => {
    const said = j.messages[0]!.content;
    hits.push(said);
    if (said.startsWith('hold-')) held.set(said, res);
    else if (said === 'fail') res.writeHead(500, json).end(JSON.stringify({ error: { message: 'boom', type: 'server_error' } }));
    else res.writeHead(200, json).end(completion);
  });
  const url = upstream.url;
  const cfg = testConfig(url, {
    resilience: { failureThreshold: 2, recoveryMs: 300, halfOpenProbes: 1, requestTimeoutMs: 15000, headersTimeoutMs: 10000, retry: { maxAttempts: 1 } },
  });
  addFakeProvider(cfg, url);
  (cfg.models as Record<string, unknown>)['m-flaky'] = fakeModel('flaky');
  sc = await startSidecar(cfg);
});

afterAll(async () => {
  for (const res of held.values()) res.destroy();
  await sc?.stop();
  upstream?.close();
});

const ask = (content: string) =>
  fetch(`${sc.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm-flaky', messages: [{ role: 'user', content }] }),
  });
const stateOf = async () => (await sc.state()).endpoints.find((e) => e.model === 'm-flaky')!.state;
const until = async (what: () => boolean | Promise<boolean>) => {
  for (let i = 0; i < 200 && !(await what()); i++) await sleep(20);
  expect(await what()).toBe(true);
};

it('a request sent while healthy that ends while half-open neither frees the probe slot nor decides', async () => {
  const a = ask('hold-A');
  await until(() => held.has('hold-A'));
  expect((await ask('fail')).status).toBe(502);
  expect((await ask('fail')).status).toBe(502);
  expect(await stateOf()).toBe('circuit-open');
  await until(async () => (await stateOf()) === 'half-open');
  // The probe.
  const d = ask('hold-D');
  await until(() => held.has('hold-D'));
  // The request from before the circuit opened ends as a 400 (the client's own mistake).
  held
    .get('hold-A')!
    .writeHead(400, json)
    .end(JSON.stringify({ error: { message: 'bad request', type: 'invalid_request_error', code: null } }));
  expect((await a).status).toBe(400);
  expect(await stateOf()).toBe('half-open');
  // A second request while the probe is out: not sent upstream (before, it went as a second probe).
  const e = ask('after-probe');
  await sleep(400);
  expect(hits).not.toContain('after-probe');
  // The probe answers: the circuit closes and the waiting request goes.
  held.get('hold-D')!.writeHead(200, json).end(completion);
  expect((await d).status).toBe(200);
  expect((await e).status).toBe(200);
  expect(await stateOf()).toBe('healthy');
  expect(hits).toEqual(['hold-A', 'fail', 'fail', 'hold-D', 'after-probe']);
});

it("the circuit's edges are in the log: opened at warn (with its reason), half-open and closed at info", async () => {
  const lines = (): Array<{ level: number; msg: string; endpoint?: string }> =>
    sc
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; endpoint?: string })
      .filter((l) => l.endpoint === 'm-flaky@fake' && l.msg.includes(': circuit '));
  await sc.waitForOutput(/m-flaky@fake: circuit closed/);
  const edges = lines().map((l) => [l.level, l.msg.replace(/ \(.*\)$/, '')]);
  expect(edges).toEqual([
    [40, 'endpoint m-flaky@fake: circuit opened'],
    [30, 'endpoint m-flaky@fake: circuit half-open, one request probes'],
    [30, 'endpoint m-flaky@fake: circuit closed'],
  ]);
  expect(lines()[0]!.msg).toMatch(/circuit opened \(.+\)/);
});

it('after a reload that replaced the endpoint, its circuit log lines still name it by its id (they named the internal actor key, m-flaky@fake#1)', async () => {
  const cfg = parse(readFileSync(sc.configFile, 'utf8')) as { models: Record<string, { endpoints: Array<Record<string, unknown>> }> };
  cfg.models['m-flaky']!.endpoints[0]!.rpm = 5000;
  writeFileSync(sc.configFile, stringify(cfg));
  const r = (await (await fetch(`${sc.url}/switchyard/reload`, { method: 'POST' })).json()) as { replaced: string[] };
  expect(r.replaced).toContain('m-flaky@fake');
  const before = sc.stdout().length;
  expect((await ask('fail')).status).toBe(502);
  expect((await ask('fail')).status).toBe(502);
  await until(() => sc.stdout().slice(before).includes('circuit opened'));
  const opened = sc
    .stdout()
    .slice(before)
    .split('\n')
    .filter((l) => l.includes('circuit opened'))
    .map((l) => JSON.parse(l) as { msg: string; endpoint: string });
  expect(opened.map((l) => [l.endpoint, l.msg.replace(/ \(.*\)$/, '')])).toEqual([['m-flaky@fake', 'endpoint m-flaky@fake: circuit opened']]);
});
