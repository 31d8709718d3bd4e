/**
 * The in-flight journal: lines survive the process, the latest line of a request wins, and the
 * two files stay small under constant traffic (always some request open) by taking turns.
 */
import { ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { holdLine, InFlightJournal } from '../../src/accounting/inflight-journal.js';

// The journal's writes, counted (and, in a test, made to fail or come up short).
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return { ...fs, writeSync: vi.fn(fs.writeSync), ftruncateSync: vi.fn(fs.ftruncateSync) };
});
const writes = vi.mocked(writeSync);
const truncates = vi.mocked(ftruncateSync);
afterEach(() => writes.mockClear());

const dir = mkdtempSync(join(tmpdir(), 'switchyard-journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const paths = (): [string, string] => {
  n++;
  return [join(dir, `j${n}-0`), join(dir, `j${n}-1`)];
};
const h = (requestId: string, amountNano = 100) => ({ requestId, at: 5, keyId: null, model: 'm', endpoint: 'm@p', amountNano });
const size = (p: [string, string]): number => statSync(p[0]).size + statSync(p[1]).size;

describe('InFlightJournal', () => {
  it('gives a new process the latest line of every request an earlier one left open', async () => {
    const p = paths();
    const a = new InFlightJournal(p);
    void a.hold(h('x', 100));
    void a.hold(h('y', 50));
    await a.hold(h('x', 300));
    a.settled('y');
    a.close(); // or killed: the lines were written before the holds resolved
    const b = new InFlightJournal(p);
    // `y` was settled, but its line shares a file with the open `x`: the ledger, which has y's row, filters it.
    expect(b.pending()).toEqual([h('x', 300), h('y', 50)]);
    b.clear();
    expect(size(p)).toBe(0);
    expect(new InFlightJournal(p).pending()).toEqual([]);
  });

  it('skips and counts lines that are whole JSON but not what it writes (a negative amount gave the budget room; a fraction, null or {} stopped the start)', async () => {
    const p = paths();
    const a = new InFlightJournal(p);
    await a.hold(h('x', 300));
    a.close();
    const line = (over: Record<string, unknown>) => JSON.stringify({ s: 9, id: 'bad', at: 5, k: null, m: 'm', e: 'm@p', n: 100, ...over });
    const bad = [
      line({ n: -5_000_000_000 }),
      line({ n: 1.5 }),
      line({ n: 1e300 }),
      line({ n: '100' }),
      line({ id: '' }),
      line({ id: 7 }),
      line({ s: -1 }),
      line({ at: null }),
      line({ m: 5 }),
      'null',
      '{}',
      '[1]',
      '5',
    ];
    writeSync(openSync(p[0], 'a'), `${bad.join('\n')}\n{"s":1,"id":"torn`);
    const b = new InFlightJournal(p);
    expect(b.pending()).toEqual([h('x', 300)]);
    expect(b.invalidLines).toBe(bad.length); // the torn last line is a kill's, not counted
  });

  it('counts a line that is not JSON before the last as damage (a kill tears only the last line; one in the middle was skipped unsaid)', () => {
    const p = paths();
    const a = new InFlightJournal(p);
    a.close();
    const line = (id: string, n: number) => JSON.stringify({ s: n, id, at: 5, k: null, m: 'm', e: 'm@p', n: 100 });
    writeSync(
      openSync(p[0], 'a'),
      `${line('a', 1)}
${line('b', 2).slice(0, -1)}
{${line('c', 3)}
${line('d', 4)}
${line('e', 5).slice(0, 20)}

`,
    );
    const b = new InFlightJournal(p);
    expect(b.pending().map((x) => x.requestId)).toEqual(['a', 'd']);
    expect(b.invalidLines).toBe(2);
  });

  it('empties a file once nothing open has a line in it', async () => {
    const p = paths();
    const j = new InFlightJournal(p);
    void j.hold(h('a'));
    await j.hold(h('b'));
    j.settled('a');
    expect(size(p)).toBeGreaterThan(0);
    j.settled('b');
    expect(size(p)).toBe(0);
  });

  it('stays bounded under constant traffic with a request always open, a long one included', () => {
    const p = paths();
    const j = new InFlightJournal(p, 1000);
    const long = h('long');
    void j.hold(long);
    // Overlapping requests: each opens before the previous one settles, so some line is always open.
    let max = 0;
    for (let i = 0; i < 2000; i++) {
      void j.hold(h(`r${i}`));
      j.flush(); // one request at a time: each line written before the next request
      if (i > 0) j.settled(`r${i - 1}`);
      max = Math.max(max, statSync(p[0]).size, statSync(p[1]).size);
    }
    // Each rotation copies the long request's line (and the one open request) forward.
    expect(max).toBeLessThan(1300);
    expect(j.pending().map((x) => x.requestId)).toEqual(expect.arrayContaining(['long', 'r1999']));
    j.settled('long');
    j.settled('r1999');
    expect(size(p)).toBe(0);
  });

  it('a rotation copies an open request its line byte for byte, sequence number included (rebuilt from the hold, not kept as text)', () => {
    const p = paths();
    const j = new InFlightJournal(p, 400);
    const long = { requestId: 'long "é\n😀', at: 1_700_000_000_123, keyId: 'k\\1', model: null, endpoint: 'e@p', amountNano: 9_007_199_254 };
    void j.hold(long);
    j.flush();
    const first = `${holdLine(1, long)}\n`;
    expect(readFileSync(p[0], 'utf8')).toBe(first);
    let copies = 0;
    for (let i = 0; i < 40; i++) {
      void j.hold(h(`r${i}`));
      j.flush();
      if (i > 0) j.settled(`r${i - 1}`);
      // Wherever the long request's line is, it is the line first written, byte for byte.
      const lines = [0, 1].flatMap((f) => readFileSync(p[f]!, 'utf8').split('\n')).filter((l) => l.includes('"long '));
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(`${l}\n`).toBe(first);
      if (readFileSync(p[1], 'utf8').includes('"long ')) copies++;
    }
    expect(copies).toBeGreaterThan(0); // a rotation copied it into the other file
    expect(j.pending().find((x) => x.requestId === long.requestId)).toEqual(long);
  });

  const mixed = [h('a', 1), h('b', 2), { requestId: 'q"é\n😀', at: 7, keyId: 'k', model: null, endpoint: 'e@p', amountNano: 3 }, h('a', 4)];
  const unbatched = mixed.map((x, i) => `${holdLine(i + 1, x)}\n`).join('');

  it('writes the holds of one turn of the event loop with one write, byte for byte the lines one write each would', async () => {
    // One at a time (each awaited: a write each) and all in one turn (one write), from fresh journals.
    const p1 = paths();
    const one = new InFlightJournal(p1);
    for (const x of mixed) await one.hold(x);
    expect(writes).toHaveBeenCalledTimes(mixed.length);
    writes.mockClear();
    const p2 = paths();
    const batched = new InFlightJournal(p2);
    const held = mixed.map((x) => batched.hold(x));
    expect(size(p2)).toBe(0); // nothing written yet: the batch is written at the next setImmediate
    expect(new Set(held).size).toBe(1); // one promise for the batch
    await Promise.all(held);
    expect(writes).toHaveBeenCalledTimes(1);
    expect(readFileSync(p2[0])).toEqual(readFileSync(p1[0]));
    expect(readFileSync(p2[0], 'utf8')).toBe(unbatched);
    expect(readFileSync(p2[1], 'utf8')).toBe('');
    // The bookkeeping is the same: the latest line per request, dropped when settled.
    expect(new InFlightJournal(p2).pending()).toEqual(new InFlightJournal(p1).pending());
    for (const id of ['a', 'b', mixed[2]!.requestId]) batched.settled(id);
    expect(size(p2)).toBe(0);
  });

  it('resolves a hold only once its line is in the file', async () => {
    const p = paths();
    const j = new InFlightJournal(p);
    // A dispatch waits for its hold: at that moment the file must hold its line.
    const found = await Promise.all(['x', 'y', 'z'].map((id) => j.hold(h(id)).then(() => readFileSync(p[0], 'utf8').includes(`"id":"${id}"`))));
    expect(found).toEqual([true, true, true]);
    // A hold queued after the batch's write goes in the next batch, and also waits for its own write.
    const first = j.hold(h('later-1'));
    await first;
    const second = j.hold(h('later-2'));
    expect(second).not.toBe(first);
    await second;
    expect(readFileSync(p[0], 'utf8')).toContain('"id":"later-2"');
  });

  it('continues a short write: the file still gets every byte of the batch', async () => {
    const p = paths();
    const j = new InFlightJournal(p);
    // The first write takes only 10 bytes (a full disk, a signal): the rest follows.
    writes.mockImplementationOnce((fd: number, text: unknown) => writeSync(fd, Buffer.from(String(text)).subarray(0, 10)));
    await Promise.all(mixed.map((x) => j.hold(x)));
    expect(readFileSync(p[0], 'utf8')).toBe(unbatched);
    mixed.forEach((x) => j.settled(x.requestId));
    expect(size(p)).toBe(0); // sizes counted right: the file is emptied when nothing is open
  });

  it('fails every hold of a batch whose write fails, as the synchronous write threw, and records none of them', async () => {
    const p = paths();
    const j = new InFlightJournal(p);
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    writes.mockImplementationOnce(() => {
      throw full;
    });
    const failed = [j.hold(h('a')), j.hold(h('b'))];
    // Its clients are told what happened, as a 503 storage_unavailable (it was the fs error: a 500 "internal error in switchyard").
    for (const f of failed)
      await expect(f).rejects.toMatchObject({
        status: 503,
        code: 'storage_unavailable',
        message: 'switchyard cannot write its in-flight journal (ENOSPC: the disk is full): the request was not sent; retry later',
        headers: { 'retry-after': '5' },
      });
    expect([j.has('a'), j.has('b')]).toEqual([false, false]);
    // The journal goes on: the next hold is written.
    await j.hold(h('c'));
    expect(j.pending().map((x) => x.requestId)).toEqual(['c']);
  });

  it('a truncation that fails (the file made immutable, a read-only remount) is no throw: its lines stay, a later settle empties the file (it killed the process from the ledger commit)', async () => {
    const p = paths();
    const j = new InFlightJournal(p);
    await j.hold(h('a'));
    truncates.mockImplementationOnce(() => {
      throw Object.assign(new Error('EPERM: operation not permitted, ftruncate'), { code: 'EPERM' });
    });
    expect(() => j.settled('a')).not.toThrow();
    expect(size(p)).toBeGreaterThan(0);
    // Only a settled request's line is left: nothing of it is pending once its row exists (insert-once by id), and the next settle empties the file.
    await j.hold(h('b'));
    j.settled('b');
    expect(size(p)).toBe(0);
  });

  it('closes a line cut by a short write that then failed: the next line is whole and read back', async () => {
    const p = paths();
    const j = new InFlightJournal(p);
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    // 10 bytes of the batch go in, then the disk is full: the file ends mid-line.
    writes.mockImplementationOnce((fd: number, text: unknown) => {
      const n = writeSync(fd, Buffer.from(String(text)).subarray(0, 10));
      writes.mockImplementationOnce(() => {
        throw full;
      });
      return n;
    });
    const failed = [j.hold(h('a')), j.hold(h('b'))];
    for (const f of failed) await expect(f).rejects.toMatchObject({ code: 'storage_unavailable' });
    await j.hold(h('c'));
    const text = readFileSync(p[0], 'utf8');
    expect(text).toBe(`${holdLine(1, h('a')).slice(0, 10)}\n${holdLine(3, h('c'))}\n`);
    expect(j.pending().map((x) => x.requestId)).toEqual(['c']);
  });

  it('writes what is queued when closed, and when a queued request is settled', async () => {
    const p = paths();
    const a = new InFlightJournal(p);
    const held = a.hold(h('queued'));
    a.close();
    await held;
    expect(new InFlightJournal(p).pending()).toEqual([h('queued')]);
    const q = paths();
    const b = new InFlightJournal(q);
    void b.hold(h('open'));
    const gone = b.hold(h('gone'));
    b.settled('gone'); // its line is written, then dropped with the rest: no line left behind
    await gone;
    expect([b.has('gone'), b.has('open')]).toEqual([false, true]);
    b.settled('open');
    expect(size(q)).toBe(0);
  });

  it('writes a hold line byte for byte as JSON.stringify of its object would', () => {
    const cases = [
      h('plain'),
      { requestId: 'q"uote\\back\nline\u2028', at: 0, keyId: 'k\t"é"', model: 'm/ü', endpoint: null, amountNano: 9_007_199_254_740_991 },
      { requestId: '019ad0c1-x', at: 1_795_973_807_269, keyId: null, model: null, endpoint: 'e@p', amountNano: 0 },
      { requestId: 'odd', at: -1, keyId: '', model: '\ud800', endpoint: '😀', amountNano: 1.5 },
      { requestId: 'nan', at: Number.NaN, keyId: null, model: null, endpoint: null, amountNano: Number.POSITIVE_INFINITY },
    ];
    for (const [i, c] of cases.entries()) {
      expect(holdLine(i + 1, c)).toBe(JSON.stringify({ s: i + 1, id: c.requestId, at: c.at, k: c.keyId, m: c.model, e: c.endpoint, n: c.amountNano }));
    }
  });
});
