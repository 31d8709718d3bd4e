/**
 * A body sent in tiny chunks costs what its bytes cost, not a Buffer object per chunk: the real
 * `readBody` on a node:http server, fed 300,000 one-byte chunks (`1\r\nX\r\n`) of a JSON body
 * whose last chunk is held back. While it waits for the rest, the heap (after a full GC) holds the
 * bytes once, not 300,000 pieces: before the fix each piece was kept until the body ended, and a
 * 4 MB body in 1-byte chunks grew a sidecar to 1.7 GB that it never gave back. The bound is
 * generous (a quarter of the 45 MB the old reader held); the body read is checked byte for byte.
 */
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readBody } from '../../src/http/server.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const CHUNKS = 300_000;
let server: Server;
let port: number;
let got: Promise<Buffer>;
let received!: (b: Buffer) => void;
const sockets: Array<{ bytesRead: number }> = [];
const serverBytesRead = (): number => sockets.reduce((a, x) => a + x.bytesRead, 0);

beforeAll(async () => {
  got = new Promise((r) => (received = r));
  server = createServer((req, res) => {
    void readBody(req, 4 * 1024 * 1024).then((b) => {
      received(b);
      res.end('ok');
    });
  });
  server.on('connection', (socket) => sockets.push(socket));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

it(`a body in ${CHUNKS} one-byte chunks holds its bytes once while it arrives, and reads back whole`, async () => {
  const body = `{"model":"m","messages":[{"role":"user","content":"${'x'.repeat(CHUNKS - 50)}"}]}`;
  const wire = Buffer.from([...body].map((ch) => `1\r\n${ch}\r\n`).join(''));
  const before = heap();
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((r) => socket.once('connect', r));
  socket.write('POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n');
  await new Promise<void>((r) => socket.write(wire, () => r()));
  // Let the server take every chunk in (the terminating one is not sent yet): until its socket has read the whole upload.
  const wanted = wire.length;
  for (let i = 0; i < 400 && serverBytesRead() < wanted; i++) await new Promise((r) => setTimeout(r, 25));
  expect(serverBytesRead()).toBeGreaterThanOrEqual(wanted);
  await new Promise((r) => setTimeout(r, 50));
  const during = heap() - before;
  console.log(`heap held while the body arrived: ${(during / 1024 / 1024).toFixed(1)} MB`);
  socket.write('0\r\n\r\n');
  const read = await got;
  socket.destroy();
  expect(read.toString('utf8')).toBe(body);
  // The old reader held 45 MB of heap here (a Buffer object per chunk); one copy of the bytes is 0.3 MB.
  expect(during / 1024 / 1024).toBeLessThan(12);
});
