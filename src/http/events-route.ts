/**
 * `GET /switchyard/events`: Server-Sent Events — the recent history from the ring buffer,
 * then live records as they happen. `?all=1` also streams every inspection event.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HubRecord, InspectionHub } from '../observe/hub.js';

/** Comment lines keep idle connections (and proxies) from timing out. */
const KEEPALIVE_MS = 15_000;

export function eventsRoute(hub: InspectionHub) {
  return (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const all = url.searchParams.get('all') === '1';
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (r: HubRecord) => res.write(`event: ${r.kind}\nid: ${r.seq}\ndata: ${JSON.stringify(r)}\n\n`);
    for (const r of hub.history()) send(r);
    res.write(': live\n\n');
    const unsubscribe = hub.subscribe(send, all);
    const ping = setInterval(() => res.write(': ping\n\n'), KEEPALIVE_MS);
    const stop = () => {
      clearInterval(ping);
      unsubscribe();
    };
    req.on('close', stop);
    res.on('close', stop);
  };
}
