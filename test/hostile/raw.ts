/** Raw-socket helpers for hostile-input tests: bytes in, the status line and body out. */
import { connect } from 'node:net';

export interface RawAnswer {
  status: number | null;
  headers: string;
  body: string;
  /** The server closed the connection (or it was reset). */
  closed: boolean;
}

/** Send `bytes` and collect what comes back until the server closes or `waitMs` passes. */
export function rawRequest(base: string, bytes: string | Buffer, waitMs = 3000): Promise<RawAnswer> {
  const u = new URL(base);
  return new Promise((resolve) => {
    const sock = connect(Number(u.port), u.hostname);
    let data = Buffer.alloc(0);
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      const text = data.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : null, headers: split >= 0 ? text.slice(0, split) : text, body: split >= 0 ? text.slice(split + 4) : '', closed });
    };
    const timer = setTimeout(finish, waitMs);
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      // One complete response with a content-length is enough.
      const text = data.toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(text.slice(0, split));
      if (split >= 0 && len && data.length >= split + 4 + Number(len[1])) finish();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
      finish();
    });
  });
}

/** True when `body` is an OpenAI-shaped error object. */
export function isOpenAIError(body: string): boolean {
  try {
    const j = JSON.parse(body) as { error?: { message?: unknown; type?: unknown; code?: unknown } };
    return typeof j.error?.message === 'string' && typeof j.error.type === 'string' && 'code' in j.error;
  } catch {
    return false;
  }
}
