/**
 * The lazy per-request logger writes what the eager `root.child({ requestId })` wrote (the same
 * bytes but for `time`: bindings, fields, their order, redaction and scrubbing), and makes no
 * child at all while nothing is written at an enabled level.
 */
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/observe/log.js';
import { requestLog, type RequestLog } from '../../src/observe/request-log.js';

function memoryLogger(level: string): { root: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { root: createLogger({ level, pretty: false, destination }), lines };
}

/** The line with its clock reading blanked: the only field the two loggers may write differently. */
const untimed = (line: string): string => line.replace(/"time":\d+,/, '"time":0,');

/** One error for every call: its stack is in the line. */
const err = new Error('upstream said sk-proj-abcdefghijklmnopqrstuvwxyz0123456789');

/** Every shape of call the request path makes, at every level it uses. */
function logAll(log: RequestLog): void {
  log.error({ err }, 'could not write the ledger row');
  log.warn({ endpoint: 'openai-1', malformed: 2 }, 'dropped malformed upstream chunks');
  log.info({ endpoint: 'e', fault: 'rate_limit', status: 429, next: 'failover', attempt: 1, continuation: false }, 'attempt failed: 429');
  log.info({ apiKey: 'secret-one', headers: { authorization: 'Bearer secret-two', 'x-api-key': 'secret-three' }, nested: { token: 't' } }, 'redacted');
  log.debug({ requestId: 'shadowed', step: 9 }, 'a field named like a binding');
  log.info('a message alone, %s and %d', 'formatted', 42);
  log.warn({ cascade: 'ok;2', costUsd: 0.0012, holdMs: 3 });
  log.error('key sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789 in a message');
}

describe('requestLog: the lazy per-request logger', () => {
  it('writes the eager child’s lines, byte for byte but for time, at every level and for a step’s grandchild', () => {
    const eager = memoryLogger('debug');
    const lazy = memoryLogger('debug');
    const id = '0193a5b2c3d4e5f60718293a4b5c6d7e';

    logAll(eager.root.child({ requestId: id }));
    logAll(requestLog(lazy.root, id));
    logAll(eager.root.child({ requestId: id }).child({ step: 2 }));
    logAll(requestLog(lazy.root, id).child({ step: 2 }));

    expect(lazy.lines.length).toBe(16);
    expect(lazy.lines.map(untimed)).toEqual(eager.lines.map(untimed));
    // Not vacuous: the bindings, the redaction and the scrubbing are in the lines compared.
    expect(lazy.lines[0]).toContain(`"requestId":"${id}"`);
    expect(lazy.lines[8]).toContain(`"requestId":"${id}","step":2,`);
    expect(lazy.lines.join('')).toContain('[redacted]');
    expect(lazy.lines.join('')).not.toMatch(/secret-|sk-proj-abc|sk-ant-api03-abc/);
  });

  it('makes no child and writes nothing while its levels are off; one child once a line is written', () => {
    const { root, lines } = memoryLogger('warn');
    const child = vi.spyOn(root, 'child');
    const log = requestLog(root, 'r1');
    const step = log.child({ step: 1 });
    for (const l of [log, step]) {
      l.debug({ a: 1 }, 'off');
      l.info({ a: 1 }, 'off');
      expect(l.isLevelEnabled('info')).toBe(false);
      expect(l.isLevelEnabled('warn')).toBe(true);
    }
    expect(child).not.toHaveBeenCalled();
    expect(lines).toEqual([]);

    log.warn({ a: 1 }, 'on');
    log.error({ a: 2 }, 'on again');
    expect(child).toHaveBeenCalledTimes(1);
    step.warn({ a: 3 }, 'from the step');
    expect(child).toHaveBeenCalledTimes(2);
    expect(lines.length).toBe(3);
    expect(lines[2]).toContain('"requestId":"r1","step":1,');
  });

  it('follows the root’s current level, before and after its child is made, as the eager child does', () => {
    const eager = memoryLogger('warn');
    const lazy = memoryLogger('warn');
    const e = eager.root.child({ requestId: 'r2' });
    const l = requestLog(lazy.root, 'r2');
    const write = (log: RequestLog, root: Logger, level: string, n: number): void => {
      root.level = level;
      log.debug({ n }, 'debug');
      log.info({ n }, 'info');
      log.warn({ n }, 'warn');
      expect(log.isLevelEnabled('debug')).toBe(level === 'debug');
    };
    for (const [level, n] of [
      // Made at info, then asked for debug: the child must not keep the level it was made at.
      ['info', 1],
      ['debug', 2],
      ['error', 3],
      ['silent', 4],
    ] as const) {
      write(e, eager.root, level, n);
      write(l, lazy.root, level, n);
    }
    expect(lazy.lines.length).toBe(5);
    expect(lazy.lines.map(untimed)).toEqual(eager.lines.map(untimed));
  });
});
