/**
 * `/switchyard/events` on reconnect: with `Last-Event-ID` (what EventSource sends) a subscriber
 * gets only the kept records after that id, and a `gap` event first when some records after it
 * are no longer kept (the history is bounded) or the id is not this process's; without it, the
 * whole history as before. Real hub, real node:http server on port 0.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InspectionEvent } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_EPOCH, eventsRoute } from '../../src/http/events-route.js';
import { InspectionHub } from '../../src/observe/hub.js';
import { SseParser } from '../../src/upstream/sse.js';
import { rawRequest } from '../hostile/raw.js';

const hub = new InspectionHub(5, () => 7);
let server: Server;
let url = '';

beforeAll(async () => {
  const route = eventsRoute(hub);
  server = createServer((req, res) => route(req, res, new URL(req.url ?? '/', 'http://x')));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/switchyard/events`;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const note = (to: string) => hub.note({ kind: 'transition', actor: 'e1', from: null, to, event: null, context: null });

interface Got {
  events: Array<{ event: string | undefined; id: string | undefined; data: Record<string, unknown> }>;
  raw: string;
}

/** The stream up to `: live` (the end of the replay), or up to `until` when given. */
async function read(headers: Record<string, string>, query = '', until?: (raw: string) => boolean, onLive?: () => void): Promise<Got> {
  const ctl = new AbortController();
  const res = await fetch(url + query, { headers, signal: ctl.signal });
  const reader = res.body!.getReader();
  const parser = new SseParser();
  let raw = '';
  const events: Got['events'] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    raw += Buffer.from(value).toString('utf8');
    for (const ev of parser.push(value)) events.push({ event: ev.event, id: ev.id, data: JSON.parse(ev.data) as Record<string, unknown> });
    if (onLive && raw.includes(': live')) {
      onLive();
      onLive = undefined;
    }
    if (until ? until(raw) : raw.includes(': live')) break;
  }
  ctl.abort();
  return { events, raw };
}

const seqs = (g: Got) => g.events.filter((e) => e.event === 'transition').map((e) => e.data.seq);

describe('/switchyard/events with Last-Event-ID', () => {
  it("replays only what the subscriber has not seen, says so when some of it is gone or the id is not this process's", async () => {
    for (const s of ['a', 'b', 'c']) note(s); // seq 1..3
    const first = await read({});
    expect(seqs(first)).toEqual([1, 2, 3]);
    // Ids carry this process's mark: a restarted process's seq 3 is another id.
    expect(first.events.map((e) => e.id)).toEqual([`${EVENT_EPOCH}-1`, `${EVENT_EPOCH}-2`, `${EVENT_EPOCH}-3`]);
    const id = (n: number) => `${EVENT_EPOCH}-${n}`;

    const resumed = await read({ 'last-event-id': id(2) });
    expect(seqs(resumed)).toEqual([3]);
    expect(resumed.events.some((e) => e.event === 'gap')).toBe(false);

    for (const s of ['d', 'e', 'f', 'g', 'h']) note(s); // seq 4..8; the history (5) keeps 4..8
    const late = await read({ 'last-event-id': id(2) });
    expect(late.events[0]).toMatchObject({ event: 'gap', data: { lastEventId: id(2) } });
    expect(String(late.events[0]!.data.reason)).toContain('observe.historySize');
    expect(seqs(late)).toEqual([4, 5, 6, 7, 8]);

    // Seq 3 was the last one dropped: a subscriber that saw it missed nothing.
    const exact = await read({ 'last-event-id': id(3) });
    expect(exact.events.some((e) => e.event === 'gap')).toBe(false);
    expect(seqs(exact)).toEqual([4, 5, 6, 7, 8]);

    const current = await read({ 'last-event-id': id(8) });
    expect(current.events).toEqual([]);

    // An id this process never gave (another process's, before a restart; even one whose seq
    // this process has reached, as a bare 3 was): told, and given the whole kept history.
    for (const other of ['zzzzzz0-3', '3', `${EVENT_EPOCH}x-3`]) {
      const foreign = await read({ 'last-event-id': other });
      expect(foreign.events[0]).toMatchObject({ event: 'gap', data: { lastEventId: other } });
      expect(String(foreign.events[0]!.data.reason)).toContain('restarted');
      expect(seqs(foreign)).toEqual([4, 5, 6, 7, 8]);
    }

    // An id that cannot be switchyard's is not this process's either: told too.
    for (const junk of ['abc', `${EVENT_EPOCH}-9999999999999999`]) {
      const got = await read({ 'last-event-id': junk });
      expect(got.events[0]).toMatchObject({ event: 'gap', data: { lastEventId: junk } });
      expect(seqs(got)).toEqual([4, 5, 6, 7, 8]);
    }
  });

  it('sends no id with an unkept ?all=1 inspection record, so a reconnect resumes after the last kept one', async () => {
    // Once the replay is over (`: live`), the subscriber is attached: then an inspection event happens.
    const live = () =>
      hub.observe({ type: '@xstate.event', actorRef: { id: 'e1' }, event: { type: 'x' }, sourceRef: undefined, rootId: 'r' } as unknown as InspectionEvent);
    const got = await read({ 'last-event-id': `${EVENT_EPOCH}-8` }, '?all=1', (raw) => raw.includes('event: inspection'), live);
    expect(got.events.map((e) => e.event)).toEqual(['inspection']);
    expect(got.raw).not.toMatch(/^id: 0$/m);
  });
});

it('HEAD gets the headers of the stream and its end at once (the headers were never sent: curl -I waited forever)', async () => {
  const base = url.slice(0, url.indexOf('/switchyard'));
  const r = await rawRequest(base, 'HEAD /switchyard/events HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n', 2000);
  expect(r.status, r.headers).toBe(200);
  expect(r.headers).toMatch(/\r\ncontent-type: text\/event-stream/i);
  expect(r.body).toBe('');
  // Ended, so the connection closed as asked (not cut when the wait ran out).
  expect(r.closed).toBe(true);
});
