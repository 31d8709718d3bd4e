/**
 * The in-flight journal: lines survive the process, the latest line of a request wins, and the
 * two files stay small under constant traffic (always some request open) by taking turns.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { holdLine, InFlightJournal } from '../../src/accounting/inflight-journal.js';

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
  it('gives a new process the latest line of every request an earlier one left open', () => {
    const p = paths();
    const a = new InFlightJournal(p);
    a.hold(h('x', 100));
    a.hold(h('y', 50));
    a.hold(h('x', 300));
    a.settled('y');
    a.close(); // or killed: the lines are written synchronously
    const b = new InFlightJournal(p);
    // `y` was settled, but its line shares a file with the open `x`: the ledger, which has y's row, filters it.
    expect(b.pending()).toEqual([h('x', 300), h('y', 50)]);
    b.clear();
    expect(size(p)).toBe(0);
    expect(new InFlightJournal(p).pending()).toEqual([]);
  });

  it('empties a file once nothing open has a line in it', () => {
    const p = paths();
    const j = new InFlightJournal(p);
    j.hold(h('a'));
    j.hold(h('b'));
    j.settled('a');
    expect(size(p)).toBeGreaterThan(0);
    j.settled('b');
    expect(size(p)).toBe(0);
  });

  it('stays bounded under constant traffic with a request always open, a long one included', () => {
    const p = paths();
    const j = new InFlightJournal(p, 1000);
    const long = h('long');
    j.hold(long);
    // Overlapping requests: each opens before the previous one settles, so some line is always open.
    let max = 0;
    for (let i = 0; i < 2000; i++) {
      j.hold(h(`r${i}`));
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
