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
  /**
   * Holds every byte the clients send (on the connections open and on new ones) until `release()`,
   * which sends them on in order: a query sent meanwhile waits, its connection open.
   */
  hold(): void;
  /** Resolves once a client sent something that is being held. */
  held(): Promise<void>;
  release(): void;
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
    server.pipe(client);
    if (holding) holdOn(pair);
    else client.pipe(server);
  });
  let holding = false;
  const queued: Array<[Socket, Buffer]> = [];
  const heldWaiters: Array<() => void> = [];
  const holders = new Map<Socket, (d: Buffer) => void>();
  const holdOn = ([c, s]: [Socket, Socket]): void => {
    c.unpipe(s);
    const onData = (d: Buffer): void => {
      queued.push([s, d]);
      for (const w of heldWaiters.splice(0)) w();
    };
    holders.set(c, onData);
    c.on('data', onData);
    // An unpiped stream is left paused: a 'data' listener alone would not start it again.
    c.resume();
  };
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
    hold: () => {
      holding = true;
      for (const pair of pairs) holdOn(pair);
    },
    held: () => (queued.length > 0 ? Promise.resolve() : new Promise<void>((r) => heldWaiters.push(r))),
    release: () => {
      if (!holding) return;
      holding = false;
      for (const [c, onData] of holders) c.off('data', onData);
      holders.clear();
      for (const [s, d] of queued.splice(0)) s.write(d);
      for (const [c, s] of pairs) c.pipe(s);
    },
    close: () => {
      relay.close();
      drop();
    },
  };
}
