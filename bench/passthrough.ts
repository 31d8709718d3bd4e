/**
 * The yardstick: the least a Node proxy can do in front of an upstream. A node:http server
 * that reads the request body, forwards it with one keep-alive undici Pool and pipes the
 * response back (status and content-type) without parsing it. No routing, no accounting, no
 * logging: switchyard's CPU per request is reported as a multiple of this one's.
 *
 *   node bench/run-ts.js bench/passthrough.ts --upstream http://127.0.0.1:4180/openai [--port 0] [--connections 64]
 *
 * A request for `/v1/chat/completions` goes to `<upstream>/v1/chat/completions`.
 * Prints `passthrough listening on http://127.0.0.1:PORT` when ready; SIGTERM/SIGINT stop it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: { upstream: { type: 'string' }, port: { type: 'string', default: '0' }, connections: { type: 'string', default: '64' } },
});
if (values.upstream === undefined) {
  console.error('usage: passthrough.ts --upstream URL [--port N] [--connections N]');
  process.exit(2);
}
const upstream = new URL(values.upstream);
const prefix = upstream.pathname.replace(/\/$/, '');
/** As many upstream connections as switchyard's per-provider default (`providers.*.connections`). */
const pool = new Pool(upstream.origin, { connections: Number(values.connections), pipelining: 1 });

function first(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h[0] : h;
}

function forward(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const headers: Record<string, string> = { 'content-type': first(req.headers['content-type']) ?? 'application/json' };
  const auth = first(req.headers.authorization);
  if (auth !== undefined) headers.authorization = auth;
  pool.stream(
    { origin: upstream.origin, path: prefix + (req.url ?? '/'), method: req.method === 'GET' ? 'GET' : 'POST', headers, body: body.length > 0 ? body : null },
    ({ statusCode, headers: up }) => {
      const type = first(up['content-type']);
      res.writeHead(statusCode, type === undefined ? {} : { 'content-type': type });
      return res;
    },
    (err) => {
      if (err === null) return;
      if (res.headersSent) res.destroy(err);
      else {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: err.message, type: 'upstream_error' } }));
      }
    },
  );
}

const server = createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => forward(req, res, parts.length === 1 ? parts[0]! : Buffer.concat(parts)));
});
server.keepAliveTimeout = 60_000;

server.listen(Number(values.port), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`passthrough listening on http://127.0.0.1:${port}`);
});

const stop = (): void => {
  server.close();
  server.closeAllConnections();
  void pool.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
