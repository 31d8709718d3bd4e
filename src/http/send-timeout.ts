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

/**
 * All answers waiting in connections whose clients take nothing are bounded too (as node counts a
 * connection's queued output): when the bytes waiting in every connection pass this, the
 * connections whose clients have taken nothing for the longest (at least {@link MIN_STALL_MS}) are
 * cut first, until the rest fits. It bounds what stalled clients hold past a few seconds, not the
 * copies a burst of large answers makes while they are built (60 concurrent 5 MB JSON answers to
 * clients that stopped reading still peaked at ~880 MB of RSS; this cut 6 of them).
 */
export const WAITING_LIMIT = 256 * 1024 * 1024;
/** A client that took nothing for less than this is never cut for the process-wide bound (a large answer just written). */
export const MIN_STALL_MS = 5_000;

/**
 * Which stalled connections to cut so that what waits in all of them fits `limit`: those whose
 * clients have taken nothing for the longest first, never one stalled for less than `minStallMs`.
 */
export function overLimit<T>(conns: ReadonlyArray<{ key: T; waiting: number; since: number | null }>, limit: number, now: number, minStallMs: number): T[] {
  let total = 0;
  for (const c of conns) total += c.waiting;
  if (total <= limit) return [];
  const stalled = conns.filter((c) => c.since !== null && now - c.since >= minStallMs).sort((a, b) => a.since! - b.since!);
  const cut: T[] = [];
  for (const c of stalled) {
    if (total <= limit) break;
    cut.push(c.key);
    total -= c.waiting;
  }
  return cut;
}

export function watchStalledClients(
  server: Server,
  timeoutMs: number,
  onCut: (timeoutMs: number, why: 'timeout' | 'limit') => void,
  now: () => number = Date.now,
  limit = WAITING_LIMIT,
  minStallMs = MIN_STALL_MS,
): void {
  const sockets = new Map<Socket, SendProgress | null>();
  server.on('connection', (socket: Socket) => {
    sockets.set(socket, null);
    socket.once('close', () => sockets.delete(socket));
  });
  const waitingNow: Array<{ key: Socket; waiting: number; since: number | null }> = [];
  const sweep = setInterval(
    () => {
      const t = now();
      let total = 0;
      waitingNow.length = 0;
      for (const [socket, prev] of sockets) {
        const waiting = socket.writableLength;
        // `bytesWritten` counts what is queued too; what the kernel has taken is the rest.
        const next = sendCheck(prev ?? undefined, waiting, waiting === 0 ? 0 : socket.bytesWritten - waiting, t, timeoutMs);
        if (next === 'stalled') {
          sockets.delete(socket);
          socket.destroy();
          onCut(timeoutMs, 'timeout');
          continue;
        }
        if (next !== prev) sockets.set(socket, next);
        if (waiting > 0) {
          total += waiting;
          waitingNow.push({ key: socket, waiting, since: next?.since ?? null });
        }
      }
      if (total > limit)
        for (const socket of overLimit(waitingNow, limit, t, minStallMs)) {
          sockets.delete(socket);
          socket.destroy();
          onCut(timeoutMs, 'limit');
        }
    },
    sweepEveryMs(Math.min(timeoutMs, minStallMs * 4)),
  );
  sweep.unref();
  server.once('close', () => clearInterval(sweep));
}
