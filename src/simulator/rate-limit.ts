import type { RateInfo } from './types.js';

const WINDOW_MS = 60_000;

/** A real sliding 60-s request window per model. */
export class RpmWindows {
  private readonly windows = new Map<string, number[]>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Admits the request if fewer than `rpm` requests arrived in the last 60 s and records it.
   * Returns the counts after the decision; `admitted: false` means answer 429.
   */
  admit(model: string, rpm: number): RateInfo & { admitted: boolean } {
    const now = this.now();
    let times = this.windows.get(model);
    if (times === undefined) {
      times = [];
      this.windows.set(model, times);
    }
    let drop = 0;
    while (drop < times.length && times[drop]! <= now - WINDOW_MS) drop++;
    if (drop > 0) times.splice(0, drop);
    const admitted = times.length < rpm;
    if (admitted) times.push(now);
    const oldest = times[0];
    // Time until the oldest request leaves the window and frees a slot.
    const resetMs = oldest === undefined ? 0 : Math.max(0, oldest + WINDOW_MS - now);
    return { admitted, limit: rpm, remaining: Math.max(0, rpm - times.length), resetMs };
  }

  reset(): void {
    this.windows.clear();
  }
}

/** Go-style duration as OpenAI sends it: `120ms`, `1.5s`, `6m0s`, `1h2m3s`. */
export function formatGoDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = (total % 60_000) / 1000;
  const sec = `${Number(seconds.toFixed(3))}s`;
  if (hours > 0) return `${hours}h${minutes}m${sec}`;
  if (minutes > 0) return `${minutes}m${sec}`;
  return sec;
}

/** `retry-after` in whole seconds (rounded up) or as an HTTP-date. */
export function retryAfterValue(ms: number, asDate: boolean, now: number = Date.now()): string {
  if (!asDate) return String(Math.ceil(ms / 1000));
  // HTTP-dates have whole seconds: round up so the client never retries early.
  return new Date(Math.ceil((now + ms) / 1000) * 1000).toUTCString();
}
