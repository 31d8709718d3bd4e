/**
 * One pino root logger. Secrets are redacted by path (authorization headers, API keys), and
 * request loggers are children carrying the request id.
 */
import { createRequire } from 'node:module';
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

/** Control characters (line breaks, escapes, C1 controls, line separators, bidi overrides) escaped: `\n`, `\u001b`, `\u202e`. */
export function escapeControls(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(s)
    ? // eslint-disable-next-line no-control-regex
      s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) =>
        c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
      )
    : s;
}

export function createLogger(opts: { level: string; pretty: boolean; destination?: NodeJS.WritableStream }): Logger {
  const base = { level: opts.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'switchyard' } };
  if (opts.destination) return pino(base, scrubbing(opts.destination));
  const dest = pino.destination(1);
  muteOnError(dest);
  stdoutDestination = dest as unknown as PendingWrites;
  if (opts.pretty) {
    // Formatted here, on the main thread, into the same muted stdout (not pino's transport worker:
    // when stdout's reader went away, its exit flush threw "_flushSync took too long" and the
    // process neither served nor ended on SIGTERM). Loaded only for --pretty.
    const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
    const prettify = prettyFactory({
      colorize: process.stdout.isTTY === true && !process.env.NO_COLOR,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,service',
      // A message may quote what a client sent (a model name): its line breaks and other control
      // characters are shown escaped, as the JSON lines have them, so no client can forge a line.
      messageFormat: (log: Record<string, unknown>, key: string) => escapeControls(String(log[key] ?? '')),
    });
    const pretty = { write: (line: string) => void dest.write(prettify(line)), flush: (cb?: (err?: Error) => void) => dest.flush(cb) };
    return pino(base, scrubbing(pretty as pino.DestinationStream));
  }
  return pino(base, scrubbing(dest));
}

/**
 * When stdout's reader is gone, stop logging instead of dying or hanging. pino mutes its
 * destination on EPIPE only; a socket whose peer closed (a supervisor's or test runner's
 * socketpair) fails a pending write with ECONNRESET, which pino re-emits as an unhandled
 * 'error': the process then exited, and pino's exit flush retried the EPIPE write forever,
 * leaving a process that served nothing and ignored SIGTERM. Any write error mutes it here.
 */
function muteOnError(dest: pino.DestinationStream): void {
  const d = dest as unknown as { on(ev: 'error', fn: (err: Error) => void): void; write: unknown; flushSync: unknown; flush: unknown; end: unknown };
  const noop = (): void => undefined;
  d.on('error', () => {
    d.write = noop;
    d.flushSync = noop;
    d.flush = (cb?: () => void) => cb?.();
    d.end = noop;
  });
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
