/**
 * The in-flight journal of a lone sidecar on SQLite: before an attempt is sent, one line
 * (`{"s":seq,"id","at","k","m","e","n":amount}`) is appended to a file with a plain
 * synchronous write, so it is in the kernel's page cache — it survives the process being
 * killed — before any byte goes upstream. A batch of lines costs one `write(2)`, not a SQLite
 * transaction (measured: ~20 µs per request as a SQLite row, see the commit).
 *
 * Group write: `hold` queues its line and returns the promise of its batch; every line queued
 * in one turn of the event loop is written with one `write(2)` at the next `setImmediate` (or
 * earlier, by `flush`), and the batch's promise resolves only after that write — the caller
 * sends its attempt then, so the rule stays: a line is written before its attempt's first
 * byte goes upstream. A write that fails rejects the batch's promise (no attempt of it is sent).
 *
 * Two files take turns, so the journal stays small under constant traffic: lines go to the
 * current file; once it is over {@link ROTATE_BYTES}, the latest line of every request still
 * open in the other file is copied into the current one (a few: at most what is in flight),
 * and the other file is emptied and becomes the current one. A file is also emptied whenever
 * no request with a line in it is open.
 *
 * At start-up, `pending()` reads both files and returns, per request id, the line with the
 * highest sequence: the ledger turns those that have no row into rows spent at that amount.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { SwitchyardError } from '../errors.js';
import type { InFlight } from './ledger.js';
import { lockJournal, type JournalLock } from './journal-lock.js';

export const ROTATE_BYTES = 1 << 20;

interface Line {
  s: number;
  id: string;
  at: number;
  k: string | null;
  m: string | null;
  e: string | null;
  n: number;
}

const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const nullableText = (v: unknown): v is string | null => v === null || (typeof v === 'string' && v.length <= 1024);

/**
 * A line as `holdLine` writes it: ids and names as strings, the sequence, time and amount as
 * non-negative safe integers. Anything else (an edited or damaged file) is not a request's hold:
 * a negative amount would give the budget room, a fraction or a missing id would stop the start.
 */
function isLine(v: unknown): v is Line {
  if (typeof v !== 'object' || v === null) return false;
  const l = v as Record<string, unknown>;
  return (
    count(l.s) &&
    typeof l.id === 'string' &&
    l.id.length > 0 &&
    l.id.length <= 256 &&
    count(l.at) &&
    nullableText(l.k) &&
    nullableText(l.m) &&
    nullableText(l.e) &&
    count(l.n)
  );
}

const jsonText = (v: string | null): string => (v === null ? 'null' : JSON.stringify(v));
const jsonNumber = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');

/**
 * `JSON.stringify({ s, id, at, k, m, e, n })`, byte for byte, without the object (one per
 * request sent; test/accounting/inflight-journal.test.ts compares the two).
 */
export function holdLine(seq: number, h: InFlight): string {
  return `{"s":${jsonNumber(seq)},"id":${JSON.stringify(h.requestId)},"at":${jsonNumber(h.at)},"k":${jsonText(h.keyId)},"m":${jsonText(h.model)},"e":${jsonText(h.endpoint)},"n":${jsonNumber(h.amountNano)}}`;
}

/**
 * A journal write that failed (a full disk, a file made read-only or immutable, an I/O error): the
 * request's attempt is not sent (its cost would be held nowhere), and its client is told so as a
 * 503 `storage_unavailable` saying what to fix, not a 500 "internal error in switchyard". The
 * message names the cause, not the path (a client reads it): the journal is the ledger file's
 * `-inflight-0` and `-1`, or a PostgreSQL ledger's `storage.journal`.
 */
function journalUnwritable(err: unknown): SwitchyardError {
  const code = (err as { code?: unknown }).code;
  const cause = typeof code === 'string' ? code : (err as Error).message;
  return new SwitchyardError(
    'storage_unavailable',
    `switchyard cannot write its in-flight journal (${cause}${code === 'ENOSPC' ? ': the disk is full' : code === 'EPERM' || code === 'EACCES' || code === 'EROFS' ? ': the file or its disk is read-only' : ''}): the request was not sent; retry later`,
    { headers: { 'retry-after': '5' } },
  );
}

export class InFlightJournal {
  private readonly fds: [number, number];
  private readonly sizes: [number, number] = [0, 0];
  /**
   * A write to the file stopped mid-line (a short write, then a failure): its next write starts
   * with a newline, so the cut text stays a line of its own that `pending()` skips and the next
   * line is whole.
   */
  private readonly cut: [boolean, boolean] = [false, false];
  /** Open requests with a line in each file. */
  private readonly open: [number, number] = [0, 0];
  /**
   * Per open request id: its latest hold and that line's sequence number (the line is rebuilt
   * from them, byte for byte, when a rotation copies it), and in which files it has lines (bit 1:
   * file 0, bit 2: file 1). The line text itself is not kept: strings held here for the few
   * milliseconds a request is open were promoted to the old generation by the scavenger at
   * ~700 B a request (`--trace-gc-nvp`), a hold object and a number are not.
   */
  private readonly files = new Map<string, { bits: number; seq: number; hold: InFlight }>();
  private cur: 0 | 1 = 0;
  private seq = 0;
  private closed = false;
  /** Holds not yet written (the batch) and their lines' sequence numbers, in order; the lines are built when written. */
  private queuedHolds: InFlight[] = [];
  private queuedSeqs: number[] = [];
  /** The batch's promise (one per batch), settled by `flush`; null while nothing is queued. */
  private batch: { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } | null = null;
  private readonly flushNow = (): void => this.flush();

  constructor(
    private readonly paths: readonly [string, string],
    private readonly rotateBytes = ROTATE_BYTES,
    /** Released by `close` (see {@link InFlightJournal.open}). */
    private readonly lock: JournalLock | null = null,
  ) {
    this.fds = [openSync(paths[0], 'a+'), openSync(paths[1], 'a+')];
  }

  /**
   * A sidecar's journal: the files `PREFIX-0` and `PREFIX-1`, held by this process alone through
   * the lock `PREFIX.lock` (journal-lock.ts) — a second process is refused with
   * `JournalLockedError` before it reads the files.
   */
  static open(prefix: string, lockPrefix = prefix): InFlightJournal {
    const lock = lockJournal(`${lockPrefix}.lock`);
    try {
      return new InFlightJournal([`${prefix}-0`, `${prefix}-1`], ROTATE_BYTES, lock);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /**
   * Lines `pending()` skipped as not switchyard's: whole JSON of the wrong shape, or a line that is
   * not JSON before the file's last (a kill can tear only the last line a process wrote: one torn
   * in the middle is damage, or the rare write cut short). A torn last line is not counted.
   */
  invalidLines = 0;

  /** What the files hold from an earlier process: the latest line of each request id. */
  pending(): InFlight[] {
    this.invalidLines = 0;
    const latest = new Map<string, Line>();
    for (const path of this.paths) {
      const lines = readFileSync(path, 'utf8').split('\n');
      // The last line with text: the one a kill may have torn.
      let last = lines.length - 1;
      while (last >= 0 && lines[last] === '') last--;
      for (let i = 0; i <= last; i++) {
        const text = lines[i]!;
        if (text === '') continue;
        let l: unknown;
        try {
          l = JSON.parse(text);
        } catch {
          // The last line cut by the kill itself: its attempt was never sent. One before it was whole once.
          if (i < last) this.invalidLines++;
          continue;
        }
        if (!isLine(l)) {
          this.invalidLines++;
          continue;
        }
        const prev = latest.get(l.id);
        if (!prev || l.s > prev.s) latest.set(l.id, l);
        this.seq = Math.max(this.seq, l.s);
      }
    }
    return [...latest.values()].map((l) => ({ requestId: l.id, at: l.at, keyId: l.k, model: l.m, endpoint: l.e, amountNano: l.n }));
  }

  /** After `pending()` was dealt with (the ledger holds a row for each): start empty, unless this process holds requests open. */
  clear(): void {
    if (this.files.size === 0) for (const i of [0, 1] as const) this.empty(i);
  }

  /**
   * Queues the request's line; resolves once it is written (with the other lines of its batch,
   * in one write), rejects if that write fails. Send the attempt only after it resolves.
   */
  hold(h: InFlight): Promise<void> {
    this.queuedHolds.push(h);
    this.queuedSeqs.push(++this.seq);
    if (this.batch !== null) return this.batch.promise;
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.batch = { promise, resolve, reject };
    setImmediate(this.flushNow);
    return promise;
  }

  /**
   * Writes the queued lines with one write (byte for byte the lines one `hold` each would have
   * written), then settles their batch's promise. Never throws: a failure rejects the batch.
   */
  flush(): void {
    const batch = this.batch;
    if (batch === null) return;
    const holds = this.queuedHolds;
    const seqs = this.queuedSeqs;
    this.batch = null;
    this.queuedHolds = [];
    this.queuedSeqs = [];
    try {
      const i = this.cur;
      let text = '';
      for (let k = 0; k < holds.length; k++) text += `${holdLine(seqs[k]!, holds[k]!)}\n`;
      this.write(i, text);
      for (let k = 0; k < holds.length; k++) this.record(i, holds[k]!, seqs[k]!);
      if (this.sizes[i] > this.rotateBytes) this.rotate();
    } catch (err) {
      batch.reject(journalUnwritable(err));
      return;
    }
    batch.resolve();
  }

  /**
   * Appends `text` to file `i` (all of it: a short write is continued). A write that fails
   * wrote nothing; one that fails after a short write left a cut line, which the file's next
   * write closes first (see {@link cut}).
   */
  private write(i: 0 | 1, text: string): void {
    const line = this.cut[i] ? `\n${text}` : text;
    const n = writeSync(this.fds[i], line);
    this.sizes[i] += n;
    this.cut[i] = false;
    if (n === Buffer.byteLength(line)) return;
    this.cut[i] = true;
    const bytes = Buffer.from(line);
    let done = n;
    while (done < bytes.length) {
      const m = writeSync(this.fds[i], bytes, done);
      if (m === 0) throw new Error('the in-flight journal write made no progress');
      this.sizes[i] += m;
      done += m;
    }
    this.cut[i] = false;
  }

  /** The request's latest line is the one of `hold` numbered `seq`, written to file `i`. */
  private record(i: 0 | 1, hold: InFlight, seq: number): void {
    const entry = this.files.get(hold.requestId);
    if (!entry) {
      this.files.set(hold.requestId, { bits: 1 << i, seq, hold });
      this.open[i]++;
      return;
    }
    entry.seq = seq;
    entry.hold = hold;
    if ((entry.bits & (1 << i)) === 0) {
      entry.bits |= 1 << i;
      this.open[i]++;
    }
  }

  /** Copy what is still open in the other file into the current one, then empty the other and write there. */
  private rotate(): void {
    const other = this.cur === 0 ? 1 : 0;
    for (const entry of this.files.values()) {
      if ((entry.bits & (1 << other)) === 0) continue;
      // The same line again, its sequence number included: `pending()` keeps the highest.
      this.write(this.cur, `${holdLine(entry.seq, entry.hold)}\n`);
      this.record(this.cur, entry.hold, entry.seq);
      entry.bits &= ~(1 << other);
    }
    this.open[other] = 0;
    this.empty(other);
    this.cur = other;
  }

  /** The request's row is committed: its lines are no longer needed. */
  settled(requestId: string): void {
    // A line still queued is written first, so it is dropped with the rest (never left behind).
    if (this.batch !== null && this.queuedHolds.some((h) => h.requestId === requestId)) this.flush();
    const entry = this.files.get(requestId);
    if (entry === undefined) return;
    this.files.delete(requestId);
    for (const i of [0, 1] as const) {
      if ((entry.bits & (1 << i)) === 0) continue;
      this.open[i]--;
      if (this.open[i] === 0 && this.sizes[i] > 0) this.empty(i);
    }
  }

  /** Request ids this process holds open. */
  has(requestId: string): boolean {
    return this.files.has(requestId);
  }

  /** Writes what is queued (its attempts may go), then closes the files. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    for (const fd of this.fds) closeSync(fd);
    this.lock?.release();
  }

  /**
   * Empties file `i`. A truncation that fails (the file made immutable, its disk remounted
   * read-only) leaves its lines there: they are of settled requests, whose rows the next start
   * finds (insert-once by id), and a later emptying tries again. It threw out of the ledger's
   * commit, inside a setImmediate: the process died with every request in flight.
   */
  private empty(i: 0 | 1): void {
    try {
      ftruncateSync(this.fds[i], 0);
    } catch {
      return;
    }
    this.sizes[i] = 0;
    this.cut[i] = false;
  }
}
