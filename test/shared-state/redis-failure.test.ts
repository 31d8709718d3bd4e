/** Redis command failures are reported in words an operator can act on, not ioredis's option names. */
import { expect, it } from 'vitest';
import { redisFailure } from '../../src/shared-state/redis-budget.js';

it('names a lost connection and a stalled server, and keeps any other message as it is', () => {
  const lost = new Error('Reached the max retries per request limit (which is 0). Refer to "maxRetriesPerRequest" option for details.');
  expect(redisFailure(lost)).toBe('the connection to Redis was lost before it answered');
  expect(redisFailure(new Error('Command timed out'))).toMatch(/did not answer in time/);
  // A connection closing or reconnecting (a client got this raw in a 503 right after Redis was killed).
  for (const m of ["Stream isn't writeable and enableOfflineQueue options is false", 'Connection is closed.'])
    expect(redisFailure(new Error(m))).toBe('Redis is unreachable (the connection is closed or reconnecting)');
  expect(redisFailure(new Error('NOSCRIPT No matching script'))).toBe('NOSCRIPT No matching script');
  expect(redisFailure('x')).toBe('x');
});
