/**
 * One pino root logger. Secrets are redacted by path (authorization headers, API keys), and
 * request loggers are children carrying the request id.
 */
import { pino, type Logger } from 'pino';
import { scrub } from './scrub.js';

export const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'headers["x-api-key"]',
  'req.headers["x-api-key"]',
  'apiKey',
  '*.apiKey',
  'key',
  '*.key',
  'token',
  '*.token',
];

/** Every line written is scrubbed of secrets (an upstream error may echo a key into a message). */
function scrubbing(dest: NodeJS.WritableStream | pino.DestinationStream): pino.DestinationStream & { flush(cb?: (err?: Error) => void): void } {
  const target = dest as { write(s: string): unknown; flush?: (cb?: (err?: Error) => void) => void };
  return {
    write: (line: string) => void target.write(scrub(line)),
    flush: (cb) => (target.flush ? target.flush(cb) : cb?.()),
  };
}

export function createLogger(opts: { level: string; pretty: boolean; destination?: NodeJS.WritableStream }): Logger {
  const base = { level: opts.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'switchyard' } };
  if (opts.pretty) {
    // The pretty transport runs in a worker: scrub the message text before it leaves.
    const hooks = {
      logMethod(this: Logger, args: Parameters<pino.LogFn>, method: pino.LogFn) {
        method.apply(this, args.map((a: unknown) => (typeof a === 'string' ? scrub(a) : a)) as Parameters<pino.LogFn>);
      },
    };
    return pino({
      ...base,
      hooks,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' } },
    });
  }
  if (opts.destination) return pino(base, scrubbing(opts.destination));
  const dest = pino.destination(1);
  stdoutDestination = dest as unknown as PendingWrites;
  return pino(base, scrubbing(dest));
}

/** The part of sonic-boom's state that says whether an asynchronous write is still under way. */
interface PendingWrites {
  _writing?: boolean;
}

let stdoutDestination: PendingWrites | null = null;

/**
 * Resolves once no write to stdout is under way (at most `timeoutMs`). Exit only after it: at
 * exit pino flushes synchronously, and when stdout is a pipe whose reader is gone (a supervisor
 * or `| head` that ended) sonic-boom retries the EPIPE write forever, so SIGTERM never ended the
 * process. A write that fails first makes pino mute the stream, and the exit flush is a no-op.
 */
export function logWritesSettled(timeoutMs = 1000): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const check = (): void => {
      if (stdoutDestination?._writing !== true || Date.now() >= until) resolve();
      else setTimeout(check, 5);
    };
    check();
  });
}
