import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { answerTokens } from '../../src/simulator/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import type { SseEvent } from '../../src/upstream/sse.js';
import { ANTHROPIC_HEADERS, anthropicStreamText, chatBody, jsonEvents, messagesBody, openAiStreamText, parseSse, post, startFast } from './helpers.js';

let sim: Simulator;
let oa: string;
let an: string;
const FULL = answerTokens('hello there', 8);
const streamBody = chatBody({ stream: true, stream_options: { include_usage: true } });

beforeAll(async () => {
  sim = await startFast();
  oa = `${sim.url}/openai/v1/chat/completions`;
  an = `${sim.url}/anthropic/v1/messages`;
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  sim.clearFaults();
  sim.resetLog();
});

const contentTokens = (events: SseEvent[]): string[] =>
  jsonEvents(events).flatMap((e) => {
    const c = (e as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content;
    return c === undefined || c === '' ? [] : [c];
  });
const finishes = (events: SseEvent[]): unknown[] =>
  jsonEvents(events).flatMap((e) => (e as { choices?: { finish_reason?: unknown }[] }).choices?.map((c) => c.finish_reason).filter((f) => f !== null) ?? []);
const hasUsage = (events: SseEvent[]): boolean => jsonEvents(events).some((e) => 'usage' in e && e.usage !== null);

describe('stream-shaping faults', () => {
  it('slow_first_token: headers at once, first content token only after delayMs', async () => {
    sim.setFault('gpt-test', { kind: 'slow_first_token', delayMs: 300 });
    const raw = await post(oa, streamBody);
    const firstContent = raw.timed.find((e) => e.event.data.includes('"content":"') && !e.event.data.includes('"content":""'));
    // Headers (and the role chunk) come at once; the delay sits between them and the first token.
    expect(raw.timed[0]?.event.data).toContain('"role":"assistant"');
    // Half the delay: a client turn that reads the headers late (a loaded machine) shortens the gap it sees, never lengthens it.
    expect((firstContent?.t ?? 0) - raw.headersMs).toBeGreaterThanOrEqual(150);
    expect(openAiStreamText(parseSse(raw.text))).toBe(FULL.join(''));
    const started = performance.now();
    sim.setFault('gpt-test', { kind: 'slow_first_token', delayMs: 200, times: 1 });
    const nonStream = await post(oa, chatBody());
    expect(nonStream.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('cut (stream): N content tokens, then the socket dies without finish or [DONE]', async () => {
    sim.setFault('gpt-test', { kind: 'cut', afterTokens: 3 });
    const raw = await post(oa, streamBody);
    expect(raw.status).toBe(200);
    expect(raw.outcome).toBe('error');
    const events = parseSse(raw.text);
    expect(contentTokens(events)).toEqual(FULL.slice(0, 3));
    expect(finishes(events)).toEqual([]);
    expect(events.some((e) => e.data === '[DONE]')).toBe(false);
    expect(sim.log()[0]).toMatchObject({ fault: 'cut', status: 200, stream: true });
  });

  it('cut (Anthropic stream) and cut (non-stream, content-length promised, body short)', async () => {
    sim.setFault('claude-test', { kind: 'cut', afterTokens: 2 });
    const a = await post(an, messagesBody({ stream: true }), { headers: ANTHROPIC_HEADERS });
    expect(a.outcome).toBe('error');
    expect(anthropicStreamText(parseSse(a.text))).toBe(FULL.slice(0, 2).join(''));
    expect(parseSse(a.text).some((e) => e.event === 'message_stop')).toBe(false);

    sim.setFault('gpt-test', { kind: 'cut', afterTokens: 2 });
    const b = await post(oa, chatBody());
    expect(b.status).toBe(200);
    expect(Number(b.headers['content-length'])).toBeGreaterThan(Buffer.byteLength(b.text));
    expect(b.outcome).toBe('error');
  });

  it('stall: N tokens, then silence with the connection open', async () => {
    sim.setFault('gpt-test', { kind: 'stall', afterTokens: 2 });
    const raw = await post(oa, streamBody, { idleMs: 300 });
    expect(raw.outcome).toBe('idle');
    const events = parseSse(raw.text);
    expect(contentTokens(events)).toEqual(FULL.slice(0, 2));
    expect(finishes(events)).toEqual([]);
    expect(sim.log()[0]).toMatchObject({ fault: 'stall', status: 200 });
  });

  it('malformed_chunk: one non-JSON event after N tokens, then the stream continues normally', async () => {
    sim.setFault('gpt-test', { kind: 'malformed_chunk', afterTokens: 2 });
    const raw = await post(oa, streamBody);
    expect(raw.outcome).toBe('end');
    const events = parseSse(raw.text);
    const bad = events.filter((e) => e.data === '{this is not json');
    expect(bad).toHaveLength(1);
    // role chunk + 2 content chunks come before it
    expect(events.indexOf(bad[0]!)).toBe(3);
    expect(openAiStreamText(events)).toBe(FULL.join(''));
    expect(events.at(-1)?.data).toBe('[DONE]');
  });

  it('malformed_chunk is not consumed by a non-streaming request', async () => {
    sim.setFault('gpt-test', { kind: 'malformed_chunk', afterTokens: 0, times: 1 });
    const plain = await post(oa, chatBody());
    expect(plain.status).toBe(200);
    expect(sim.log()[0]?.fault).toBeNull();
    const raw = await post(oa, streamBody);
    expect(parseSse(raw.text).filter((e) => e.data === '{this is not json')).toHaveLength(1);
  });

  it('no_done: the stream ends cleanly without [DONE] (usage kept) or, with omitUsage, without usage too', async () => {
    sim.setFault('gpt-test', { kind: 'no_done' });
    const a = parseSse((await post(oa, streamBody)).text);
    expect(a.some((e) => e.data === '[DONE]')).toBe(false);
    expect(finishes(a)).toEqual(['stop']);
    expect(hasUsage(a)).toBe(true);
    sim.setFault('gpt-test', { kind: 'no_done', omitUsage: true });
    const b = parseSse((await post(oa, streamBody)).text);
    expect(b.some((e) => e.data === '[DONE]')).toBe(false);
    expect(hasUsage(b)).toBe(false);
    sim.setFault('claude-test', { kind: 'no_done' });
    const c = await post(an, messagesBody({ stream: true }), { headers: ANTHROPIC_HEADERS });
    expect(c.outcome).toBe('end');
    const cEvents = parseSse(c.text).map((e) => e.event);
    expect(cEvents).toContain('message_delta');
    expect(cEvents).not.toContain('message_stop');
  });

  it('no_usage: a normal stream without the usage chunk even when asked; non-stream without usage', async () => {
    sim.setFault('gpt-test', { kind: 'no_usage' });
    const events = parseSse((await post(oa, streamBody)).text);
    expect(events.at(-1)?.data).toBe('[DONE]');
    expect(openAiStreamText(events)).toBe(FULL.join(''));
    expect(hasUsage(events)).toBe(false);
    const plain = JSON.parse((await post(oa, chatBody())).text) as Record<string, unknown>;
    expect(plain).not.toHaveProperty('usage');
    sim.setFault('claude-test', { kind: 'no_usage' });
    const ant = parseSse((await post(an, messagesBody({ stream: true }), { headers: ANTHROPIC_HEADERS })).text);
    expect(ant.some((e) => e.data.includes('"usage"'))).toBe(false);
  });

  it('stream_error_event (OpenAI): an in-band error after N tokens, then the end', async () => {
    sim.setFault('gpt-test', { kind: 'stream_error_event', afterTokens: 2 });
    const raw = await post(oa, streamBody);
    expect(raw.outcome).toBe('end');
    const events = parseSse(raw.text);
    expect(contentTokens(events)).toEqual(FULL.slice(0, 2));
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ error: { type: 'server_error' } });
    expect(events.some((e) => e.data === '[DONE]')).toBe(false);
  });

  it('stream_error_event (Anthropic): event error overloaded_error, no message_stop', async () => {
    sim.setFault('claude-test', { kind: 'stream_error_event', afterTokens: 3 });
    const raw = await post(an, messagesBody({ stream: true }), { headers: ANTHROPIC_HEADERS });
    const events = parseSse(raw.text);
    expect(anthropicStreamText(events)).toBe(FULL.slice(0, 3).join(''));
    expect(events.at(-1)?.event).toBe('error');
    expect(JSON.parse(events.at(-1)!.data)).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    expect(events.some((e) => e.event === 'message_stop')).toBe(false);
  });
});
