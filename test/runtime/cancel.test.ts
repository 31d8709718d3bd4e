/** `Cancel`, the runtime's AbortSignal stand-in: the semantics the runtime relies on, and undici aborting a request through it. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { Cancel, linkedCancel } from '../../src/runtime/cancel.js';
import { readText, send } from '../../src/upstream/transport.js';
import { UpstreamFault } from '../../src/upstream/types.js';

describe('Cancel', () => {
  it('aborts once, with the given reason, calling each listener once in order', () => {
    const c = new Cancel();
    const calls: string[] = [];
    const a = (): number => calls.push('a');
    c.addEventListener('abort', a, { once: true });
    c.addEventListener('abort', a); // the same listener twice is one listener
    c.addEventListener('abort', () => calls.push('b'));
    expect(c.aborted).toBe(false);
    expect(c.reason).toBeUndefined();
    const reason = new UpstreamFault('deadline', 'late');
    c.abort(reason);
    c.abort(new Error('second'));
    expect(c.aborted).toBe(true);
    expect(c.reason).toBe(reason);
    expect(calls).toEqual(['a', 'b']);
  });

  it('a removed listener is not called; one added after the abort is not either', () => {
    const c = new Cancel();
    let n = 0;
    const l = (): void => void n++;
    c.addEventListener('abort', l);
    c.removeEventListener('abort', l);
    c.abort();
    c.addEventListener('abort', l);
    expect(n).toBe(0);
  });

  it('without a reason, the reason is an AbortError as AbortController gives', () => {
    const c = new Cancel();
    c.abort();
    const ac = new AbortController();
    ac.abort();
    expect((c.reason as DOMException).name).toBe((ac.signal.reason as DOMException).name);
    expect((c.reason as DOMException).name).toBe('AbortError');
  });

  it('a throwing listener does not stop the others; its error is rethrown on the next tick', () => {
    const c = new Cancel();
    let later = false;
    const deferred: Array<() => void> = [];
    const nextTick = process.nextTick;
    // Capture what abort() defers instead of letting it reach the test runner as an uncaught error.
    process.nextTick = ((fn: () => void) => void deferred.push(fn)) as typeof process.nextTick;
    try {
      c.addEventListener('abort', () => {
        throw new Error('boom');
      });
      c.addEventListener('abort', () => void (later = true));
      c.abort();
    } finally {
      process.nextTick = nextTick;
    }
    expect(later).toBe(true);
    expect(deferred).toHaveLength(1);
    expect(() => deferred[0]!()).toThrow('boom');
  });

  it('linkedCancel follows its parent (an AbortSignal or a Cancel) until unlinked', () => {
    for (const make of [() => new Cancel(), () => new AbortController()]) {
      const parent = make();
      const { cancel, unlink } = linkedCancel(parent.signal);
      const reason = new UpstreamFault('client_gone', 'gone');
      parent.abort(reason);
      expect(cancel.aborted).toBe(true);
      expect(cancel.reason).toBe(reason);
      unlink();

      const p2 = make();
      const l2 = linkedCancel(p2.signal);
      l2.unlink();
      p2.abort(reason);
      expect(l2.cancel.aborted).toBe(false);
    }
    const done = new Cancel();
    done.abort('why');
    const l3 = linkedCancel(done);
    expect(l3.cancel.aborted).toBe(true);
    expect(l3.cancel.reason).toBe('why');
  });
});

describe('undici with a Cancel as the request signal', () => {
  let server: Server;
  let pool: Pool;
  beforeAll(async () => {
    // Answers headers at once, then never ends the body; /silent never answers at all.
    server = createServer((req, res) => {
      if (req.url === '/silent') return;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  afterAll(async () => {
    await pool.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('an abort before the headers ends the request with the abort reason', async () => {
    const c = new Cancel();
    const p = send(pool, { path: '/silent', headers: {}, body: '{}' }, { headersTimeoutMs: 60_000, signal: c, abort: (r) => c.abort(r) });
    setTimeout(() => c.abort(new UpstreamFault('deadline', 'the request deadline passed')), 20);
    await expect(p).rejects.toMatchObject({ kind: 'deadline' });
  });

  it('the headers limit aborts through the Cancel', async () => {
    const c = new Cancel();
    const p = send(pool, { path: '/silent', headers: {}, body: '{}' }, { headersTimeoutMs: 30, signal: c, abort: (r) => c.abort(r) });
    await expect(p).rejects.toMatchObject({ kind: 'headers_timeout' });
    expect(c.aborted).toBe(true);
  });

  it('an abort after the headers ends the body', async () => {
    const c = new Cancel();
    const res = await send(pool, { path: '/open', headers: {}, body: '{}' }, { headersTimeoutMs: 60_000, signal: c, abort: (r) => c.abort(r) });
    expect(res.statusCode).toBe(200);
    const read = readText(res, c);
    c.abort(new UpstreamFault('client_gone', 'the client went away'));
    await expect(read).rejects.toMatchObject({ kind: 'client_gone' });
  });
});
