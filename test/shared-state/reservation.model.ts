/**
 * The reservation protocol of the shared store as a statechart: the specification the Redis
 * scripts are tested against (reservation.model.test.ts). One reservation token of owner A on
 * one budget; B is another replica that reclaims when A's lease is gone.
 */
import { assign, setup } from 'xstate';

export interface ResContext {
  limit: number;
  spent: number;
  reserved: number;
  /** The amount this token reserved. */
  amount: number;
  /** Commands answered without effect ("late" or already done). */
  noops: number;
}

export type ResEvent =
  | { type: 'reserve'; amount: number }
  /** The same token's reserve reaching Redis again (a resend after a reconnect). */
  | { type: 'lateReserve'; amount: number }
  /** The caller gave up before its reserve arrived: its release goes first and leaves a tombstone. */
  | { type: 'giveUp' }
  | { type: 'settle'; actual: number }
  | { type: 'release' }
  /** A's lease key ran out (A died or was cut off). */
  | { type: 'leaseExpired' }
  /** B's reclaim pass. */
  | { type: 'reclaim' };

type Ev<T extends ResEvent['type']> = Extract<ResEvent, { type: T }>;

export const reservationModel = setup({
  types: { context: {} as ResContext, events: {} as ResEvent, input: {} as { limit: number; spent: number } },
  guards: {
    fits: ({ context, event }) => context.spent + context.reserved + (event as Ev<'reserve'>).amount <= context.limit,
  },
  actions: {
    reserve: assign(({ context, event }) => {
      const amount = (event as Ev<'reserve'>).amount;
      return { reserved: context.reserved + amount, amount };
    }),
    settle: assign(({ context, event }) => ({ reserved: context.reserved - context.amount, spent: context.spent + (event as Ev<'settle'>).actual })),
    release: assign(({ context }) => ({ reserved: context.reserved - context.amount })),
    reclaim: assign(({ context }) => ({ reserved: context.reserved - context.amount, spent: context.spent + context.amount })),
    /** The reclaimed amount replaced by what the owner says the request cost (nothing, for a release). */
    correct: assign(({ context, event }) => ({ spent: context.spent - context.amount + (event.type === 'settle' ? event.actual : 0) })),
    noop: assign(({ context }) => ({ noops: context.noops + 1 })),
  },
}).createMachine({
  id: 'reservation',
  context: ({ input }) => ({ limit: input.limit, spent: input.spent, reserved: 0, amount: 0, noops: 0 }),
  initial: 'idle',
  states: {
    idle: {
      on: {
        reserve: [{ guard: 'fits', target: 'reserved', actions: 'reserve' }, { target: 'refused' }],
        giveUp: { target: 'tombstoned' },
      },
    },
    refused: { type: 'final' },
    /** A release arrived first: a reserve arriving after it answers "late" and changes nothing. */
    tombstoned: { on: { lateReserve: { actions: 'noop' } } },
    reserved: {
      on: {
        settle: { target: 'settled', actions: 'settle' },
        release: { target: 'released', actions: 'release' },
        leaseExpired: { target: 'orphaned' },
        // Idempotent: the same token is never counted twice.
        lateReserve: { actions: 'noop' },
      },
    },
    /** Lease gone, not yet reclaimed: a settle from the owner (cut off, not dead) still counts. */
    orphaned: {
      on: {
        reclaim: { target: 'reclaimed', actions: 'reclaim' },
        settle: { target: 'settled', actions: 'settle' },
      },
    },
    settled: { on: { settle: { actions: 'noop' }, release: { actions: 'noop' }, reclaim: { actions: 'noop' }, lateReserve: { actions: 'noop' } } },
    released: { on: { settle: { actions: 'noop' }, release: { actions: 'noop' }, reclaim: { actions: 'noop' }, lateReserve: { actions: 'noop' } } },
    /**
     * Counted as spent at the reserved amount. The owner, still alive (its lease lapsed while it
     * served the request), settles or releases: the spend becomes the actual cost, once.
     */
    reclaimed: {
      on: {
        settle: { target: 'settled', actions: 'correct' },
        release: { target: 'released', actions: 'correct' },
        reclaim: { actions: 'noop' },
        lateReserve: { actions: 'noop' },
      },
    },
  },
});
