/**
 * A TCP relay in front of PostgreSQL, to cut and restore while a store is open: `cut()` drops every
 * connection through it and refuses new ones until `restore()`.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface PgRelay {
  /** `url` with its host and port made the relay's. */
  url: string;
  cut(): void;
  restore(): void;
  close(): void;
}

export async function startPgRelay(url: string): Promise<PgRelay> {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  let up = true;
  const relay = createServer((client) => {
    if (!up) return client.destroy();
    const server = connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, server]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
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
    close: () => {
      relay.close();
      drop();
    },
  };
}
