import { describe, expect, it } from 'vitest';
import { HEAP_GROWING_PERCENT, heapFlags } from '../../src/cli/heap.js';

describe('the sidecar heap policy', () => {
  it('caps the old generation growth when node was started without a growth flag', () => {
    expect(heapFlags([])).toEqual([`--heap-growing-percent=${HEAP_GROWING_PERCENT}`]);
    expect(heapFlags(['--max-semi-space-size=4', '--enable-source-maps'])).toEqual(['--heap-growing-percent=30']);
  });

  it("leaves node's own flag alone, in either spelling, with or without a value", () => {
    expect(heapFlags(['--heap-growing-percent=0'])).toEqual([]);
    expect(heapFlags(['--heap_growing_percent=50'])).toEqual([]);
    expect(heapFlags(['--heap-growing-percent', '50'])).toEqual([]);
    // A different flag that merely starts alike is not the same flag.
    expect(heapFlags(['--heap-growing-percentage=5'])).toEqual(['--heap-growing-percent=30']);
  });
});
