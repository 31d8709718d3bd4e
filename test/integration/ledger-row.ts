/** One ledger row of a sidecar's SQLite ledger, read with its own read-only connection. */
import Database from 'better-sqlite3';

export function ledgerFileOf(cfg: Record<string, unknown>): string {
  return String((cfg.storage as { ledger: string }).ledger).slice('sqlite:'.length);
}

export function ledgerRow(file: string, requestId: string | null): Record<string, unknown> | undefined {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('select * from ledger where request_id = ?').get(requestId) as Record<string, unknown> | undefined;
  } finally {
    db.close();
  }
}
