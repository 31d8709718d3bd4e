/**
 * `GET /switchyard/events`: Server-Sent Events — the recent history from the ring buffer,
 * then live records as they happen. `?all=1` also streams every inspection event. A reconnect
 * with `Last-Event-ID` gets only the kept records after that id (and a `gap` event when some
 * of them are no longer kept).
 *
 * Each subscriber has a bounded buffer: `write()` backpressure is respected by measuring what
 * is still unsent, and a subscriber more than MAX_UNSENT_BYTES behind is told (a final
 * `dropped` event) and disconnected. Three subscribers that never read once took the process
 * from 172 MB to 1.49 GB.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GRANT_HISTORY, type HubRecord, type InspectionHub } from '../observe/hub.js';
import { echoName, SwitchyardError } from '../errors.js';

const EVENT_STREAM_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' };

/** Comment lines keep idle connections (and proxies) from timing out. */
const KEEPALIVE_MS = 15_000;
/** Unsent bytes a subscriber may have queued before it is dropped. */
export const MAX_UNSENT_BYTES = 1024 * 1024;
/** A dropped subscriber that does not read its last event is destroyed after this long. */
const DROP_GRACE_MS = 1000;
/**
 * Unsent bytes all subscribers together may hold: with many subscribers each gets its share
 * (never under MIN_UNSENT_BYTES). 200 subscribers that never read `?all=1` held 1 MiB each,
 * 450 MB in all, and the event loop spent seconds writing to them.
 */
export const MAX_TOTAL_UNSENT_BYTES = 32 * 1024 * 1024;
const MIN_UNSENT_BYTES = 64 * 1024;

/**
 * A record's SSE frame, built once however many subscribers it goes to (it was
 * `JSON.stringify`-ed per subscriber: 200 `?all=1` subscribers, 200 times each event).
 */
const frames = new WeakMap<HubRecord, string>();
function frameOf(r: HubRecord): string {
  let f = frames.get(r);
  if (f === undefined) {
    f = `event: ${r.kind}\n${r.seq > 0 ? `id: ${EVENT_EPOCH}-${r.seq}\n` : ''}data: ${JSON.stringify(r)}\n\n`;
    frames.set(r, f);
  }
  return f;
}

/**
 * This process's mark on its event ids (`<mark>-<seq>`): a record's `seq` starts at 1 in every
 * process, so a bare number a client kept from before a restart named a record of the new process
 * and the reconnect skipped what came before it, with no `gap`. Its start time and a random part.
 */
export const EVENT_EPOCH = `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 3)
  .toString(36)
  .padStart(3, '0')}`;

/**
 * A `Last-Event-ID` as this process gives them: the record's `seq`; -1 for one that is not this
 * process's (another process's mark, a bare number, not an id of ours at all: it gets the `gap`
 * notice); null when absent or empty.
 */
function lastEventId(v: string | undefined): number | null {
  if (v === undefined || v === '') return null;
  const m = /^([0-9a-z]{1,20})-(\d{1,15})$/.exec(v);
  return m !== null && m[1] === EVENT_EPOCH ? Number(m[2]) : -1;
}

const ALL_VALUES: ReadonlySet<string> = new Set(['1', 'true', '0', 'false']);

export function eventsRoute(hub: Pick<InspectionHub, 'history' | 'since' | 'subscribe'>, maxUnsent = MAX_UNSENT_BYTES, maxTotal = MAX_TOTAL_UNSENT_BYTES) {
  let subscribers = 0;
  /** One subscriber's bound: its own, or its share of the total when many are connected. */
  const limit = (): number => Math.min(maxUnsent, Math.max(MIN_UNSENT_BYTES, Math.floor(maxTotal / Math.max(1, subscribers))));
  return (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    // Its one option, said when wrong (`?all=true` gave the plain stream, an unknown one was taken silently), as /switchyard/spend does.
    let all = false;
    for (const [name, v] of url.searchParams) {
      if (name !== 'all')
        throw new SwitchyardError('invalid_request', `unknown parameter "${echoName(name)}": /switchyard/events takes all=1 (every inspection event too)`, {
          param: name,
        });
      if (!ALL_VALUES.has(v))
        throw new SwitchyardError('invalid_request', `all: expected 1 or true (every inspection event too), or 0 or false, got "${echoName(v)}"`, {
          param: 'all',
        });
      all = v === '1' || v === 'true';
    }
    // HEAD (405s advertise it): the stream's headers, and the end at once. The endless stream
    // below writes no body for HEAD, and its headers went out with the first body byte: none,
    // ever (curl -I waited forever). Its connection is the client's to keep or close.
    if (req.method === 'HEAD') return void res.writeHead(200, EVENT_STREAM_HEADERS).end();
    res.writeHead(200, { ...EVENT_STREAM_HEADERS, connection: 'keep-alive' });
    let stopped = false;
    subscribers++;
    // Frames of one turn of the event loop go out in one write (a request makes a dozen records).
    let batch: string[] = [];
    let batchBytes = 0;
    let scheduled = false;
    const flush = (): void => {
      scheduled = false;
      if (stopped || batch.length === 0) return;
      const text = batch.length === 1 ? batch[0]! : batch.join('');
      batch = [];
      batchBytes = 0;
      res.write(text);
    };
    const write = (text: string): void => {
      if (stopped) return;
      // What is still queued in the response and its socket, and in this turn's batch: the subscriber's backlog.
      const bound = limit();
      if (res.writableLength + batchBytes > bound) return drop(bound);
      batch.push(text);
      batchBytes += text.length;
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    };
    // `?all=1` inspection records are not kept (seq 0): they carry no id, so a client's last id
    // stays that of the last kept record and a reconnect resumes after it.
    const send = (r: HubRecord) => write(frameOf(r));
    let unsubscribe = (): void => undefined;
    let ping: NodeJS.Timeout | undefined = undefined;
    const stop = () => {
      if (!stopped) subscribers--;
      stopped = true;
      batch = [];
      clearInterval(ping);
      unsubscribe();
    };
    const drop = (bound: number) => {
      stop();
      const notice = {
        reason: `this subscriber fell behind by more than ${bound} unsent bytes and is disconnected; reconnect to resume from the recent history`,
      };
      res.end(`event: dropped\ndata: ${JSON.stringify(notice)}\n\n`);
      setTimeout(() => res.destroy(), DROP_GRACE_MS).unref();
    };
    // The kept history first, in one write: bounded by observe.historySize, not by the backlog bound.
    const first: string[] = [];
    const given = (Array.isArray(req.headers['last-event-id']) ? req.headers['last-event-id'][0] : req.headers['last-event-id'])?.trim();
    const after = lastEventId(given);
    if (after === null) {
      for (const r of hub.history()) first.push(frameOf(r));
    } else {
      // A reconnect (EventSource sends the last id it saw): only what it has not seen, and a
      // `gap` event first when some of that is no longer kept.
      const s = after < 0 ? { ...hub.since(Number.MAX_SAFE_INTEGER), unknown: true } : hub.since(after);
      if (s.missed || s.unknown) {
        const shown = JSON.stringify((given ?? '').slice(0, 64));
        const reason = s.unknown
          ? `event id ${shown} was not given by this process (it restarted, or the id is not switchyard's): the whole kept history follows`
          : `some records after event id ${shown} are no longer kept (the history keeps observe.historySize records, of them only the latest ${GRANT_HISTORY} budget grants); the ones still kept follow`;
        first.push(`event: gap\ndata: ${JSON.stringify({ lastEventId: (given ?? '').slice(0, 64), reason })}\n\n`);
      }
      for (const r of s.records) first.push(frameOf(r));
    }
    first.push(': live\n\n');
    res.write(first.join(''));
    unsubscribe = hub.subscribe(send, all);
    ping = setInterval(() => write(': ping\n\n'), KEEPALIVE_MS);
    req.on('close', stop);
    res.on('close', stop);
  };
}
