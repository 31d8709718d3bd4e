/**
 * The send timeout's rule, one connection at one sweep: nothing waiting is nothing to watch; a
 * client that takes bytes restarts the clock; one that takes none for the whole timeout is cut.
 * (The real process: test/hostile/slow-clients.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { sendCheck, sweepEveryMs } from '../../src/http/send-timeout.js';

describe('sendCheck', () => {
  it('forgets a connection with nothing waiting', () => {
    expect(sendCheck(undefined, 0, 0, 5, 100)).toBeNull();
    expect(sendCheck({ taken: 10, since: 0 }, 0, 0, 500, 100)).toBeNull();
  });

  it('starts the clock when bytes wait, and restarts it whenever the client took some', () => {
    expect(sendCheck(undefined, 50, 10, 7, 100)).toEqual({ taken: 10, since: 7 });
    expect(sendCheck({ taken: 10, since: 7 }, 50, 11, 90, 100)).toEqual({ taken: 11, since: 90 });
  });

  it('cuts a client that took nothing for the whole timeout, and not a moment before', () => {
    const prev = { taken: 10, since: 0 };
    expect(sendCheck(prev, 50, 10, 99, 100)).toBe(prev);
    expect(sendCheck(prev, 80, 10, 100, 100)).toBe('stalled');
  });

  it('sweeps a few times per timeout, at most once a second and at least every 50 ms', () => {
    expect(sweepEveryMs(60_000)).toBe(1000);
    expect(sweepEveryMs(1000)).toBe(250);
    expect(sweepEveryMs(10)).toBe(50);
  });
});
