/**
 * What every upstream answer being read holds at once, process-wide: a whole JSON body being
 * collected, a stream's unfinished event. Each is bounded on its own (16 MiB); together they are
 * bounded here too, so many hostile answers at once (150 bodies of 40 MiB held 1 GB of RSS) cannot
 * grow the process without bound. A holder says its current size; past the limit it is refused
 * (its attempt fails as an oversize answer) and takes nothing more. Released when it settles.
 */

/** All upstream answers being read hold at most this much at once (bytes, or characters of a stream's unfinished event). */
export const HELD_LIMIT = 128 * 1024 * 1024;

/** A process-wide count of bytes held by its shares. */
export interface HeldPool {
  held: number;
}

/** Upstream answers being read. */
const answers: HeldPool = { held: 0 };

/**
 * Client request bodies being read (a slow upload holds its bytes until its last one): together at
 * most 256 MiB, or four bodies of `server.maxBodyBytes` when that is more. 150 clients uploading
 * 4 MB bodies at once held 740 MB of RSS, nothing bounding their sum.
 */
export const REQUEST_BODIES_LIMIT = 256 * 1024 * 1024;
export const requestBodies: HeldPool = { held: 0 };

/** What all holders of upstream answers hold now (for tests). */
export function heldNow(): number {
  return answers.held;
}

export class HeldShare {
  private mine = 0;

  constructor(
    private readonly limit = HELD_LIMIT,
    private readonly pool: HeldPool = answers,
  ) {}

  /** This holder now holds `n`; false (holding what it held) when that would pass the process-wide limit. */
  set(n: number): boolean {
    const delta = n - this.mine;
    if (delta > 0 && this.pool.held + delta > this.limit) return false;
    this.pool.held += delta;
    this.mine = n;
    return true;
  }

  /** It holds something now. */
  get held(): boolean {
    return this.mine > 0;
  }

  release(): void {
    this.pool.held -= this.mine;
    this.mine = 0;
  }
}

/** The message of an answer refused for the process-wide limit. */
export function heldOverMessage(size: number, unit: 'bytes' | 'characters' = 'bytes', limit = HELD_LIMIT): string {
  return `switchyard is holding ${Math.round(limit / 1048576)} MiB of upstream answers being read: this one (${size} ${unit} so far) is refused (many huge answers at once)`;
}
