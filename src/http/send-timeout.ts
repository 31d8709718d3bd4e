/**
 * A write timeout for node's HTTP server, as nginx's `send_timeout`: node has none, so a client
 * that never reads its answer (and never closes) would keep its socket, the answer's bytes waiting
 * in it and, for a stream, its request, forever. A sweep looks at every connection a few times per
 * `server.sendTimeoutMs`: one with bytes waiting whose client has taken none of them (no write
 * completed) for that long is destroyed. A slow reader, which takes some bytes now and then, is
 * never cut; a connection with nothing waiting (idle keep-alive, a request still being read) is
 * not this sweep's business (node's keep-alive and request timeouts are).
 *
 * Cost: one Set entry per connection (not per request) and a timer that runs a few times per
 * timeout; nothing on a request's path.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** What the sweep remembers of a connection with bytes waiting: the bytes its client had taken, and since when. */
export interface SendProgress {
  taken: number;
  since: number;
}

/**
 * One connection at one sweep: `waiting` bytes queued in it, `taken` bytes written to the client
 * so far. Returns what to remember (null: nothing waiting), or 'stalled' when the client has taken
 * nothing for `timeoutMs`.
 */
export function sendCheck(prev: SendProgress | undefined, waiting: number, taken: number, now: number, timeoutMs: number): SendProgress | null | 'stalled' {
  if (waiting === 0) return null;
  if (prev === undefined || prev.taken !== taken) return { taken, since: now };
  return now - prev.since >= timeoutMs ? 'stalled' : prev;
}

/** How often the sweep runs: often enough to cut within a quarter of the timeout, at most once a second. */
export const sweepEveryMs = (timeoutMs: number): number => Math.max(50, Math.min(1000, Math.floor(timeoutMs / 4)));

export function watchStalledClients(server: Server, timeoutMs: number, onCut: (timeoutMs: number) => void, now: () => number = Date.now): void {
  const sockets = new Map<Socket, SendProgress | null>();
  server.on('connection', (socket: Socket) => {
    sockets.set(socket, null);
    socket.once('close', () => sockets.delete(socket));
  });
  const sweep = setInterval(() => {
    const t = now();
    for (const [socket, prev] of sockets) {
      const waiting = socket.writableLength;
      // `bytesWritten` counts what is queued too; what the kernel has taken is the rest.
      const next = sendCheck(prev ?? undefined, waiting, waiting === 0 ? 0 : socket.bytesWritten - waiting, t, timeoutMs);
      if (next === 'stalled') {
        sockets.delete(socket);
        socket.destroy();
        onCut(timeoutMs);
      } else if (next !== prev) sockets.set(socket, next);
    }
  }, sweepEveryMs(timeoutMs));
  sweep.unref();
  server.once('close', () => clearInterval(sweep));
}
