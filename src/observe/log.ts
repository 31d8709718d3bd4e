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
  return pino(base, scrubbing(opts.destination ?? pino.destination(1)));
}
