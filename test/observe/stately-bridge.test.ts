/** The Stately bridge's bound: forwards while the socket keeps up, disconnects once it falls behind. */
import { pino } from 'pino';
import type { InspectionEvent } from 'xstate';
import { describe, expect, it } from 'vitest';
import { boundedForward } from '../../src/observe/stately-bridge.js';

function fakeInspector() {
  const ws = { bufferedAmount: 0 };
  const sent: InspectionEvent[] = [];
  let stopped = 0;
  return {
    ws,
    sent,
    stops: () => stopped,
    inspector: { inspect: { next: (ev: InspectionEvent) => void sent.push(ev) }, adapter: { ws }, stop: () => void stopped++ },
  };
}

const ev = { type: '@xstate.event' } as InspectionEvent;

describe('boundedForward', () => {
  it('forwards while the backlog is within the bound', () => {
    const f = fakeInspector();
    const forward = boundedForward(f.inspector, pino({ level: 'silent' }), 1000);
    f.ws.bufferedAmount = 1000;
    forward(ev);
    forward(ev);
    expect(f.sent).toHaveLength(2);
    expect(f.stops()).toBe(0);
  });

  it('disconnects once, with a warning, when the inspector falls behind, and forwards nothing after', () => {
    const f = fakeInspector();
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(s) });
    const forward = boundedForward(f.inspector, log, 1000);
    forward(ev);
    f.ws.bufferedAmount = 1001;
    forward(ev);
    f.ws.bufferedAmount = 0;
    forward(ev);
    expect(f.sent).toHaveLength(1);
    expect(f.stops()).toBe(1);
    expect(lines.join('')).toMatch(/fell behind/);
  });

  it('forwards when the adapter has no socket yet (the library bounds its own queue then)', () => {
    const sent: InspectionEvent[] = [];
    const forward = boundedForward({ inspect: { next: (e) => void sent.push(e) }, adapter: {}, stop: () => undefined }, pino({ level: 'silent' }), 10);
    forward(ev);
    expect(sent).toHaveLength(1);
  });
});
