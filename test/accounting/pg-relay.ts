/**
 * A TCP relay in front of PostgreSQL, to cut and restore while a store is open: `cut()` drops every
 * connection through it and refuses new ones until `restore()`; `stall()` keeps every connection
 * open and passes no byte either way (a server that stops answering without closing) until `flow()`.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface PgRelay {
  /** `url` with its host and port made the relay's. */
  url: string;
  cut(): void;
  restore(): void;
  stall(): void;
  flow(): void;
  close(): void;
}

export async function startPgRelay(url: string): Promise<PgRelay> {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  let up = true;
  const relay = createServer((client) => {
    if (!up) return client.destroy();
    const server = connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, server]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    const pair: [Socket, Socket] = [client, server];
    pairs.add(pair);
    client.on('close', () => pairs.delete(pair));
    client.pipe(server).pipe(client);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const via = new URL(url);
  via.hostname = '127.0.0.1';
  via.port = String((relay.address() as AddressInfo).port);
  const drop = (): void => {
    for (const s of sockets) s.destroy();
  };
  return {
    url: via.toString(),
    cut: () => {
      up = false;
      drop();
    },
    restore: () => {
      up = true;
    },
    stall: () => {
      for (const [c, s] of pairs) {
        c.unpipe(s);
        s.unpipe(c);
        c.pause();
        s.pause();
      }
    },
    flow: () => {
      for (const [c, s] of pairs) c.pipe(s).pipe(c);
    },
    close: () => {
      relay.close();
      drop();
    },
  };
}
