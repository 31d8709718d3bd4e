/**
 * The send timeout's rule, one connection at one sweep: nothing waiting is nothing to watch; a
 * client that takes bytes restarts the clock; one that takes none for the whole timeout is cut.
 * (The real process: test/hostile/slow-clients.test.ts.)
 */
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { overLimit, sendCheck, sweepEveryMs, watchStalledClients } from '../../src/http/send-timeout.js';

describe('sendCheck', () => {
  it('forgets a connection with nothing waiting', () => {
    expect(sendCheck(undefined, 0, 0, 5, 100)).toBeNull();
    expect(sendCheck({ taken: 10, since: 0 }, 0, 0, 500, 100)).toBeNull();
  });

  it('starts the clock when bytes wait, and restarts it whenever the client took some', () => {
    expect(sendCheck(undefined, 50, 10, 7, 100)).toEqual({ taken: 10, since: 7 });
    expect(sendCheck({ taken: 10, since: 7 }, 50, 11, 90, 100)).toEqual({ taken: 11, since: 90 });
  });

  it('cuts a client that took nothing for the whole timeout, and not a moment before', () => {
    const prev = { taken: 10, since: 0 };
    expect(sendCheck(prev, 50, 10, 99, 100)).toBe(prev);
    expect(sendCheck(prev, 80, 10, 100, 100)).toBe('stalled');
  });

  it('sweeps a few times per timeout, at most once a second and at least every 50 ms', () => {
    expect(sweepEveryMs(60_000)).toBe(1000);
    expect(sweepEveryMs(1000)).toBe(250);
    expect(sweepEveryMs(10)).toBe(50);
  });
});

describe('the process-wide bound on answers waiting for clients that take nothing', () => {
  it('cuts the longest-stalled first, only as many as needed, never one stalled for less than the minimum', () => {
    const conns = [
      { key: 'a', waiting: 40, since: 100 },
      { key: 'b', waiting: 40, since: 50 },
      { key: 'c', waiting: 40, since: 990 }, // stalled 10 ms: too fresh
      { key: 'd', waiting: 40, since: null },
    ];
    expect(overLimit(conns, 200, 1000, 500)).toEqual([]);
    expect(overLimit(conns, 120, 1000, 500)).toEqual(['b']);
    expect(overLimit(conns, 60, 1000, 500)).toEqual(['b', 'a']);
    // Not enough stalled to get under: those there are, no more.
    expect(overLimit(conns, 10, 1000, 500)).toEqual(['b', 'a']);
  });

  it('a real server: clients that stopped reading large answers are cut once what waits passes the bound, only as many as needed (60 such clients held 913 MB until their send timeout)', async () => {
    const body = Buffer.alloc(24 * 1024 * 1024, 0x61);
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    });
    const cuts: string[] = [];
    watchStalledClients(server, 60_000, (_ms, why) => cuts.push(why), Date.now, 30 * 1024 * 1024, 300);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const closed: number[] = [];
    let n = 0;
    // The server's side of each connection, in the order the clients connected (a paused client never reads the close).
    server.on('connection', (sock: Socket) => {
      const i = n++;
      sock.on('close', () => closed.push(i));
    });
    const socks: Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const s = connect(port, '127.0.0.1');
        s.pause(); // reads nothing: the answer waits in the server
        s.on('error', () => undefined);
        s.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
        socks.push(s);
        await new Promise((r) => setTimeout(r, 150));
      }
      for (const end = Date.now() + 10_000; cuts.length === 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 700)); // a sweep or two more: no further cut once under the bound
      expect(cuts.length).toBeGreaterThan(0);
      expect(cuts.every((w) => w === 'limit')).toBe(true);
      // Only as many as needed to fit: never all three (about 20 MB wait in each, the bound is 30 MB).
      expect(closed.length).toBeGreaterThan(0);
      expect(closed.length).toBeLessThan(3);
      expect(cuts).toHaveLength(closed.length);
    } finally {
      for (const s of socks) s.destroy();
      server.close();
    }
  });
});
