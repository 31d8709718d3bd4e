/**
 * Stored Responses-API conversations, for `previous_response_id` (and the response object and
 * input items, for `GET /v1/responses/{id}` and `…/input_items`): in the ledger's database
 * (a table beside the ledger, own connection), bounded by age (`storage.responses.ttlSeconds`),
 * count (`storage.responses.maxEntries`) and size (`storage.responses.maxBytes`), oldest dropped
 * first. A stored response can be continued only with the client key that created it.
 */
import type { ChatMessage } from '../upstream/types.js';

export interface StoredResponse {
  id: string;
  keyId: string | null;
  createdAt: number;
  /** The whole conversation without instructions, the answer included. */
  messages: ChatMessage[];
  /** The Responses-API object the client received, for `GET /v1/responses/{id}`. */
  response?: Record<string, unknown>;
  /** The request's own input items (with their ids), for `GET /v1/responses/{id}/input_items`; absent on rows stored before they were kept. */
  inputItems?: Record<string, unknown>[];
}

export interface ResponseStoreLimits {
  ttlMs: number;
  maxEntries: number;
  /** Bound on the stored rows' bytes (see storedBytes); a row larger than this alone is not stored. */
  maxBytes: number;
}

export interface ResponseStore {
  /**
   * Stores a response, dropping the oldest ones to stay within the limits; false (nothing stored,
   * nothing dropped) when the row alone is over `maxBytes`.
   */
  put(r: StoredResponse): Promise<boolean>;
  /**
   * The conversation, or null when unknown, expired or created under another key. A stored
   * conversation over `maxBytes` (UTF-8 JSON) is not decoded: its size in bytes comes back instead.
   */
  get(id: string, keyId: string | null, now: number, maxBytes?: number): Promise<ChatMessage[] | number | null>;
  /** The response object as answered, or null when unknown, expired, created under another key, or stored before objects were kept. */
  getResponse(id: string, keyId: string | null, now: number): Promise<Record<string, unknown> | null>;
  /** The whole stored record under the same rules as get (`response` and `inputItems` absent when not kept). */
  find(id: string, keyId: string | null, now: number): Promise<StoredResponse | null>;
  /**
   * What `GET /v1/responses/{id}/input_items` lists, under the same rules: the input items, or the
   * conversation of a record stored before they were kept. Only that is decoded: `find` decoded the
   * conversation and the response object too (three parses of a 3.9 MB record, 0.3-0.6 s a GET).
   */
  findItems(id: string, keyId: string | null, now: number): Promise<StoredItems | null>;
  /** Deletes a stored response; false when unknown, expired or created under another key (nothing deleted then). */
  delete(id: string, keyId: string | null, now: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Opens the store in the database named by `storage.ledger`; drivers load on demand. */
export async function openResponseStore(ledgerUrl: string, limits: () => ResponseStoreLimits): Promise<ResponseStore> {
  if (ledgerUrl.startsWith('postgres://') || ledgerUrl.startsWith('postgresql://')) {
    const { PostgresResponseStore } = await import('./response-store-pg.js');
    return PostgresResponseStore.open(ledgerUrl, limits);
  }
  const { SqliteResponseStore } = await import('./response-store-sqlite.js');
  const memory = ledgerUrl === 'memory' || ledgerUrl === 'sqlite::memory:';
  return SqliteResponseStore.open(memory ? ':memory:' : ledgerUrl.slice('sqlite:'.length), limits);
}

/** A stored response's column values, in the order both stores insert them (id, key, created, messages, response, input items). */
export function storedValues(r: StoredResponse): [string, string | null, number, string, string | null, string | null] {
  return [
    r.id,
    r.keyId,
    r.createdAt,
    JSON.stringify(r.messages),
    r.response ? JSON.stringify(r.response) : null,
    r.inputItems ? JSON.stringify(r.inputItems) : null,
  ];
}

/**
 * A row's size as the byte bound counts it: the UTF-8 bytes of its three JSON columns (the
 * conversation, the response object, the input items), which are all but a few bytes of it.
 */
export function storedBytes(values: ReturnType<typeof storedValues>): number {
  return Buffer.byteLength(values[3]) + (values[4] === null ? 0 : Buffer.byteLength(values[4])) + (values[5] === null ? 0 : Buffer.byteLength(values[5]));
}

/** storedBytes in SQL, the same in SQLite (3.43+) and PostgreSQL, for rows already stored; `row` qualifies the columns (`OLD.` in a trigger). */
export function storedBytesSql(row = ''): string {
  return `octet_length(${row}messages) + COALESCE(octet_length(${row}response), 0) + COALESCE(octet_length(${row}input_items), 0)`;
}

export function decodeObject(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function decodeItems(text: string | null): Record<string, unknown>[] | undefined {
  if (text === null) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? (v as Record<string, unknown>[]) : undefined;
  } catch {
    return undefined;
  }
}

/** A row as a StoredResponse; null when its conversation does not decode. */
export function storedOf(
  id: string,
  row: { key_id: string | null; created_at: number | string; messages: string; response: string | null; input_items: string | null },
): StoredResponse | null {
  const messages = decodeMessages(row.messages);
  if (!messages) return null;
  const r: StoredResponse = { id, keyId: row.key_id, createdAt: Number(row.created_at), messages };
  const response = decodeObject(row.response);
  if (response) r.response = response;
  const items = decodeItems(row.input_items);
  if (items) r.inputItems = items;
  return r;
}

export type StoredItems = { inputItems: Record<string, unknown>[] } | { messages: ChatMessage[] };

/** A row's input items, else its conversation; null when neither decodes. */
export function storedItemsOf(row: { messages: string; input_items: string | null }): StoredItems | null {
  const inputItems = decodeItems(row.input_items);
  if (inputItems) return { inputItems };
  const messages = decodeMessages(row.messages);
  return messages ? { messages } : null;
}

/** A stored conversation's text decoded, or its size in bytes when over `maxBytes` (then left undecoded). */
export function conversationOf(text: string, maxBytes = Infinity): ChatMessage[] | number | null {
  const bytes = Buffer.byteLength(text);
  return bytes > maxBytes ? bytes : decodeMessages(text);
}

export function decodeMessages(text: string): ChatMessage[] | null {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? (v as ChatMessage[]) : null;
  } catch {
    return null;
  }
}
