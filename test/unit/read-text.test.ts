/**
 * `readText` (src/upstream/transport.ts) reads a whole upstream body over a real undici
 * response: the text whatever the chunking, and each way a body can fail as the fault the retry
 * policy classifies — too large (bad_response), cut half way (stream_cut), silent half way
 * (idle_timeout), the attempt cancelled (its own reason).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cancel } from '../../src/runtime/cancel.js';
import { readText, send } from '../../src/upstream/transport.js';
import { UpstreamFault } from '../../src/upstream/types.js';

const handlers: Record<string, (res: ServerResponse) => void> = {
  '/chunks': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"a":"');
    res.write('é'.repeat(3000));
    setTimeout(() => res.end('"}'), 5);
  },
  '/big': (res) => {
    res.writeHead(200);
    res.end('x'.repeat(10_000));
  },
  '/cut': (res) => {
    res.writeHead(200, { 'content-length': '1000' });
    res.write('{"half":');
    setTimeout(() => res.socket?.destroy(), 5);
  },
  '/stall': (res) => {
    res.writeHead(200);
    res.write('{"half":');
  },
  '/empty': (res) => {
    res.writeHead(200);
    res.end();
  },
};

let server: Server;
let pool: Pool;
beforeAll(async () => {
  server = createServer((req, res) => handlers[req.url ?? '']?.(res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
afterAll(async () => {
  await pool.close();
  server.closeAllConnections();
  server.close();
});

async function read(path: string, opts: { limit?: number; idleMs?: number; cancelAfterHeaders?: UpstreamFault } = {}): Promise<string> {
  const c = new Cancel();
  const res = await send(pool, { path, headers: {}, body: '' }, { headersTimeoutMs: 5000, signal: c.signal, abort: (r) => c.abort(r) });
  const text = readText(res, c.signal, opts.limit, opts.idleMs);
  if (opts.cancelAfterHeaders) c.abort(opts.cancelAfterHeaders);
  return text;
}

const faultOf = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof UpstreamFault ? { kind: e.kind, message: e.message } : e),
  );

describe('readText', () => {
  it('returns the whole body, however it was chunked (multi-byte characters across chunks too)', async () => {
    expect(await read('/chunks')).toBe(`{"a":"${'é'.repeat(3000)}"}`);
    expect(await read('/empty')).toBe('');
  });

  it('a body over the limit is a bad response', async () => {
    expect(await faultOf(read('/big', { limit: 4096 }))).toEqual({ kind: 'bad_response', message: 'upstream body larger than 4096 bytes' });
    expect(await read('/big', { limit: 10_000 })).toHaveLength(10_000);
  });

  it('a body cut half way is a stream cut', async () => {
    expect(await faultOf(read('/cut'))).toEqual({ kind: 'stream_cut', message: 'the upstream body was cut short' });
  });

  it('a body silent half way ends at the idle limit', async () => {
    expect(await faultOf(read('/stall', { idleMs: 50 }))).toEqual({ kind: 'idle_timeout', message: 'upstream body silent for 50 ms' });
  });

  it('a cancelled attempt ends with its own reason', async () => {
    const why = new UpstreamFault('deadline', 'the request deadline passed');
    expect(await faultOf(read('/stall', { cancelAfterHeaders: why }))).toEqual({ kind: 'deadline', message: 'the request deadline passed' });
  });
});
