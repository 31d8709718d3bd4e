/**
 * A cascade step's held stream is replayed to the client in slices, the event loop turning between
 * them: a sink that takes every event without asking for a drain (it batches its writes) took a
 * long answer's events all at once (200,000 deltas held the loop 3.4 s on the Responses API).
 */
import { expect, it } from 'vitest';
import { REPLAY_SLICE, replay, type Held } from '../../src/runtime/buffer-sink.js';
import type { NativeSink } from '../../src/runtime/api.js';
import { recordingSink } from './recording-sink.js';

/** Runs `work` while counting the event loop's turns until it ends. */
async function turnsDuring(work: () => Promise<void>): Promise<number> {
  let turns = 0;
  let done = false;
  const tick = (): void => {
    if (done) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  await work();
  done = true;
  return turns;
}

const N = 10 * REPLAY_SLICE + 7;
const events = Array.from({ length: N }, (_, i) => `{"i":${i}}`);

it('a held stream of 10,247 events is replayed whole and in order, the event loop turning between slices', async () => {
  const sink = recordingSink({ markStart: true });
  const held: Held = { kind: 'stream', headers: {}, events, error: null };
  const turns = await turnsDuring(() => replay(held, sink, {}));
  expect(sink.events).toEqual(['<start>', ...events]);
  expect(turns).toBeGreaterThanOrEqual(9);
});

it('so is a relayed (native) stream', async () => {
  const got: string[] = [];
  const native: NativeSink = {
    json: () => undefined,
    startStream: () => undefined,
    event: (name, data) => got.push(`${name} ${data}`) > 0,
  };
  const sink = { ...recordingSink(), native };
  const held: Held = { kind: 'stream', headers: {}, events, error: null, names: events.map(() => 'content_block_delta') };
  const turns = await turnsDuring(() => replay(held, sink, {}));
  expect(got).toEqual(events.map((e) => `content_block_delta ${e}`));
  expect(turns).toBeGreaterThanOrEqual(9);
});
