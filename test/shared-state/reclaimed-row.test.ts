/**
 * A reservation reclaimed from a dead replica (Redis) becomes the same row a lone sidecar writes
 * for a request its journal held when it died: spent at the reserved amount, status 0, and a
 * cascade step still linked to its request.
 */
import { describe, expect, it } from 'vitest';
import { interruptedRow } from '../../src/accounting/ledger-codec.js';
import { stepOfRequestId, stepRequestId } from '../../src/accounting/ledger.js';
import { reclaimedRow } from '../../src/shared-state/lease.js';

const reserved = (requestId: string, amount: number): string =>
  JSON.stringify({ row: JSON.stringify({ requestId, at: 1_000, keyId: 'team-a', model: 'm', endpoint: 'm@p' }), amount });

describe('reclaimed and interrupted rows', () => {
  it('a plain request: spent at the reserved amount, status 0, reservation_reclaimed, no cascade', () => {
    const row = reclaimedRow(reserved('r1', 700));
    expect(row).toMatchObject({ requestId: 'r1', at: 1_000, keyId: 'team-a', model: 'm', endpoint: 'm@p', costNano: 700, estimated: true, status: 0 });
    expect(row.errorCode).toBe('reservation_reclaimed');
    expect(row.cascade).toBeUndefined();
    expect(row).toEqual(interruptedRow({ requestId: 'r1', at: 1_000, keyId: 'team-a', model: 'm', endpoint: 'm@p', amountNano: 700 }));
  });

  it('what the request settled before the reclaimed reservation (its row not yet written) is counted beside it; a bad value is not', () => {
    const withEarlier = (earlier: unknown): string =>
      JSON.stringify({ row: JSON.stringify({ requestId: 'r2', at: 1_000, keyId: null, model: 'm', endpoint: 'm@p', earlier }), amount: 700 });
    expect(reclaimedRow(withEarlier(67)).costNano).toBe(767);
    for (const bad of [-5, 1.5, '67', null]) expect(reclaimedRow(withEarlier(bad)).costNano, String(bad)).toBe(700);
  });

  it('a cascade step keeps its request and step, not delivered', () => {
    const id = stepRequestId('01a22dcd-c8b0-7dd0-ab2b-60e14d9a5fbb', 3);
    expect(id).toBe('01a22dcd-c8b0-7dd0-ab2b-60e14d9a5fbb#3');
    expect(reclaimedRow(reserved(id, 50)).cascade).toEqual({
      parentId: '01a22dcd-c8b0-7dd0-ab2b-60e14d9a5fbb',
      step: 3,
      quality: 'reservation_reclaimed',
      delivered: false,
    });
  });

  it('only `<id>#<step>` with a step from 1 names a step', () => {
    expect(stepOfRequestId('a#b#12')).toEqual({ parentId: 'a#b', step: 12 });
    for (const id of ['plain', 'a#0', 'a#', '#2', 'a#02', 'a#-1', 'a#1.5', 'a#1234567890']) expect(stepOfRequestId(id), id).toBeNull();
  });
});
