/**
 * The per-request logger, made lazily. A pino `child()` serializes its bindings through the
 * root's redaction (~1.5 us a request), yet at the usual level (warn) a request that succeeds
 * logs nothing: the child is made only when a line is written at an enabled level. Level checks
 * ask the base logger (a child made later follows the base's level as pino's children do, by
 * prototype), so a level changed at run time holds for requests already under way.
 */
import type { Bindings, Logger } from 'pino';

/** What the request path uses of a logger; a pino `Logger` is one too. */
export interface RequestLog {
  isLevelEnabled(level: string): boolean;
  error(obj: unknown, msg?: string, ...args: unknown[]): void;
  warn(obj: unknown, msg?: string, ...args: unknown[]): void;
  info(obj: unknown, msg?: string, ...args: unknown[]): void;
  debug(obj: unknown, msg?: string, ...args: unknown[]): void;
  child(bindings: Bindings): RequestLog;
}

type LogArgs = [obj: unknown, msg?: string, ...args: unknown[]];
type Emit = (this: Logger, ...args: LogArgs) => void;

/** `base.child(bindings)` (or a chain of them), made on the first line written at an enabled level. */
export class LazyChildLog implements RequestLog {
  private made: Logger | null = null;

  constructor(
    /** The real logger the chain starts from: it decides the levels. */
    private readonly base: Logger,
    private readonly parent: Logger | LazyChildLog,
    private readonly bindings: Bindings,
  ) {}

  /** The pino child itself (made now if it was not yet): same bindings, in the same order, as the eager chain. */
  get logger(): Logger {
    if (this.made === null) this.made = (this.parent instanceof LazyChildLog ? this.parent.logger : this.parent).child(this.bindings);
    return this.made;
  }

  isLevelEnabled(level: string): boolean {
    return this.base.isLevelEnabled(level);
  }

  error(...args: LogArgs): void {
    if (!this.base.isLevelEnabled('error')) return;
    const l = this.logger;
    (l.error as Emit).apply(l, args);
  }

  warn(...args: LogArgs): void {
    if (!this.base.isLevelEnabled('warn')) return;
    const l = this.logger;
    (l.warn as Emit).apply(l, args);
  }

  info(...args: LogArgs): void {
    if (!this.base.isLevelEnabled('info')) return;
    const l = this.logger;
    (l.info as Emit).apply(l, args);
  }

  debug(...args: LogArgs): void {
    if (!this.base.isLevelEnabled('debug')) return;
    const l = this.logger;
    (l.debug as Emit).apply(l, args);
  }

  /** A lazy grandchild: made (with this one) only when it writes. */
  child(bindings: Bindings): RequestLog {
    return new LazyChildLog(this.base, this, bindings);
  }
}

/**
 * The logger of one request: `root.child({ requestId })`, made only when it writes; with the
 * client's own id for it (`x-client-request-id`) as `clientRequestId` when one was sent.
 */
export function requestLog(root: Logger, requestId: string, clientRequestId?: string): RequestLog {
  return new LazyChildLog(root, root, clientRequestId === undefined ? { requestId } : { requestId, clientRequestId });
}
