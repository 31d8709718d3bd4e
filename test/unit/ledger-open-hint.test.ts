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

  it('a journal that cannot be opened: storage.journal or off', () => {
    expect(ledgerOpenHint(new Error('cannot open the in-flight journal /x: EACCES'), 'sqlite:/x.db', false, true)).toContain(
      'storage.journal to a writable path prefix',
    );
  });
});
