/**
 * A request's cancellation, without an AbortSignal. On Node 20 creating an AbortSignal (the
 * first read of `controller.signal`) costs ~3–5 µs and each `addEventListener` on it ~1 µs;
 * a request made three of them (the client going away, the request, the attempt). `Cancel` is
 * the part of an AbortSignal the runtime uses — `aborted`, `reason`, `abort` listeners — as a
 * plain object. undici accepts it as a request's `signal` (it takes any object with
 * `addEventListener`), and every function that takes a {@link CancelSignal} also takes a real
 * AbortSignal.
 */

/** What the runtime reads of a signal: an AbortSignal fits, so does a {@link Cancel}. */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export class Cancel implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Array<() => void> | null = null;

  /** The signal side (this object): for code that only listens. */
  get signal(): CancelSignal {
    return this;
  }

  /** Every listener runs at most once (the abort happens once), so `{ once: true }` changes nothing. */
  addEventListener(type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (type !== 'abort' || this.aborted) return;
    // Like EventTarget: the same listener twice is one listener.
    if (this.listeners === null) this.listeners = [listener];
    else if (!this.listeners.includes(listener)) this.listeners.push(listener);
  }

  removeEventListener(type: 'abort', listener: () => void): void {
    if (type !== 'abort' || this.listeners === null) return;
    const i = this.listeners.indexOf(listener);
    if (i >= 0) this.listeners.splice(i, 1);
  }

  /**
   * Aborts once (later calls do nothing): sets `reason` (an AbortError, as AbortController's, when
   * none is given) and calls each listener once, in the order they were added. A listener that
   * throws does not stop the others; its error is rethrown on the next tick, as an
   * EventTarget's would be reported.
   */
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
    const ls = this.listeners;
    this.listeners = null;
    if (ls === null) return;
    for (const l of ls) {
      try {
        l();
      } catch (err) {
        process.nextTick(() => {
          throw err;
        });
      }
    }
  }
}

/** A child of `parent`: aborted with the parent's reason when the parent aborts; `unlink` stops following it. */
export function linkedCancel(parent: CancelSignal): { cancel: Cancel; unlink: () => void } {
  const cancel = new Cancel();
  if (parent.aborted) {
    cancel.abort(parent.reason);
    return { cancel, unlink: () => undefined };
  }
  const follow = (): void => cancel.abort(parent.reason);
  parent.addEventListener('abort', follow, { once: true });
  return { cancel, unlink: () => parent.removeEventListener('abort', follow) };
}
