/**
 * The V8 heap policy of a long-running sidecar (`serve`, `demo`), set from inside the process
 * because a package's `bin` cannot pass node flags portably.
 *
 * V8 grows the old generation after each full collection to the live size times a factor it
 * picks from GC and mutator speed, up to 4× for a fast server, and lets it fill with promoted
 * garbage before collecting again. The sidecar's live heap is ~22 MB, so its old space grew to
 * 48–63 MB and its RSS to 160–175 MB after 30,000 requests (peak 200 MB). With the factor fixed
 * at 1.3 — V8's own "conservative" factor, the one it uses when it optimises for memory, and
 * never less than 8 MB of headroom — the old space stays at 29–31 MB and RSS at ~140 MB, for no
 * measurable CPU (bench/memory.ts). `--heap-growing-percent` is read at every limit
 * recomputation, so setting it at start works (unlike `--max-semi-space-size`, which V8 reads
 * only when the heap is created: see the README on NODE_OPTIONS).
 *
 * A flag given on node's own command line wins: `node --heap-growing-percent=0 …` restores
 * V8's dynamic factor.
 */
import { setFlagsFromString } from 'node:v8';

/** The old generation's headroom over the live heap after a full GC, percent. */
export const HEAP_GROWING_PERCENT = 30;

/** The V8 flags the sidecar sets at start, given node's own flags (`process.execArgv`). */
export function heapFlags(execArgv: readonly string[]): string[] {
  const given = execArgv.some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a));
  return given ? [] : [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`];
}

export function applyHeapPolicy(execArgv: readonly string[] = process.execArgv): void {
  for (const flag of heapFlags(execArgv)) setFlagsFromString(flag);
}
