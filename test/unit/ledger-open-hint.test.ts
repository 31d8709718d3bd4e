import { describe, expect, it } from 'vitest';
import { JOURNAL_LOCKED } from '../../src/accounting/ledger.js';
import { ledgerOpenHint } from '../../src/main.js';

/** A journal lock another sidecar holds, as the journal throws it. */
function locked(): Error {
  return Object.assign(new Error('another switchyard process holds ./switchyard.db-inflight.lock'), { code: JOURNAL_LOCKED });
}

describe('ledgerOpenHint: what to do about a ledger another sidecar holds', () => {
  it('with a config file, points at storage.ledger', () => {
    expect(ledgerOpenHint(locked(), 'sqlite:./l.db', false, true)).toContain('give this one its own storage.ledger');
  });

  it('with no config file (the built-in catalogue), says to start from another directory: storage cannot be set there', () => {
    const hint = ledgerOpenHint(locked(), 'sqlite:./switchyard.db', false, false);
    expect(hint).toContain('start this one from another directory');
    expect(hint).not.toContain('storage.ledger');
  });

  it('with a PostgreSQL ledger and its journal, points at storage.journal', () => {
    expect(ledgerOpenHint(locked(), 'postgres://postgres@127.0.0.1/x', true, true)).toContain('its own storage.journal');
  });

  it('a driver built for another node is said as such (it read as a problem of the journal lock)', () => {
    const err = new Error(
      "cannot create the in-flight journal's lock ./switchyard.db-inflight.lock: The module '/x/better_sqlite3.node' was compiled against a different Node.js version using NODE_MODULE_VERSION 115. This version of Node.js requires NODE_MODULE_VERSION 127.",
    );
    expect(ledgerOpenHint(err, 'sqlite:./switchyard.db', false, false)).toContain('run npm rebuild better-sqlite3 with this node');
  });

  it('a journal that cannot be opened: storage.journal or off', () => {
    expect(ledgerOpenHint(new Error('cannot open the in-flight journal /x: EACCES'), 'sqlite:/x.db', false, true)).toContain(
      'storage.journal to a writable path prefix',
    );
  });

  it("a SQLite ledger's journal or lock it may not write: says which files and what to give (it said only EACCES)", () => {
    const eacces = Object.assign(new Error("EACCES: permission denied, open '/var/l.db-inflight-0'"), { code: 'EACCES' });
    const lock = new Error("cannot take the in-flight journal's lock /var/l.db-inflight.lock: attempt to write a readonly database");
    for (const err of [eacces, lock])
      expect(ledgerOpenHint(err, 'sqlite:/var/l.db', false, true)).toBe(
        ' (switchyard writes, beside the ledger file, its in-flight journal /var/l.db-inflight-0 and -1 and their lock /var/l.db-inflight.lock: give its user write access to them and to their directory)',
      );
  });
});
