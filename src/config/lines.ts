/**
 * The line of the config file an error's path points at: `models.m1.price.outputPerMTok: expected
 * number, got string (line 7)`. The path alone leaves a person searching a long file (and a path
 * through an alias or a merge key, `<<: *defaults`, is not where the value is written).
 */
import type { Document, LineCounter, Node as YamlNode } from 'yaml';

type Yaml = typeof import('yaml');

/** A map or a list of the document, as the walk reads it. */
interface Collection {
  items: unknown[];
}

/**
 * The errors with ` (line N)` added where their leading path (`a.b[0].c: …`) is found in `text`:
 * the line of its key (or list item); for a key that is missing (`…: required`) or unknown
 * (`unknown key "x"`), the line of the place it belongs to or of that key. An error whose path is
 * not found, or that is about the file itself, is left as it is.
 */
export function withLines(errors: readonly string[], text: string, yaml: Yaml): string[] {
  let doc: { doc: Document; lines: LineCounter } | null = null;
  try {
    const lines = new yaml.LineCounter();
    doc = { doc: yaml.parseDocument(text, { merge: true, lineCounter: lines, uniqueKeys: false }), lines };
  } catch {
    return [...errors];
  }
  // A JSON file YAML does not read as it is (a tab where YAML takes none): no lines rather than wrong ones.
  if (doc.doc.errors.length > 0) return [...errors];
  const { doc: d, lines } = doc;
  return errors.map((e) => {
    const offset = locate(e, d, yaml);
    return offset === null ? e : `${e} (line ${lines.linePos(offset).line})`;
  });
}

/** The offset in the file of the place an error's path names, or null. */
function locate(error: string, doc: Document, yaml: Yaml): number | null {
  let rest = error;
  let node: unknown = doc.contents;
  let at: number | null = null;
  if (rest.startsWith('(root): ')) rest = rest.slice('(root)'.length);
  else if (!(rest.startsWith('[') || /^[^\s:]/.test(rest))) return null;
  let first = true;
  for (;;) {
    if (rest.startsWith(': ')) break;
    // `[3]`: an item of a list.
    const index = /^\[(\d+)\]/.exec(rest);
    if (index) {
      const seq = resolve(node, doc, yaml);
      const item = yaml.isSeq(seq) ? (seq as Collection).items[Number(index[1])] : undefined;
      if (item === undefined) return lastSegment(rest.slice(index[0].length)) ? at : null;
      node = item;
      at = rangeStart(item) ?? at;
      rest = rest.slice(index[0].length);
      first = false;
      continue;
    }
    if (!first) {
      if (!rest.startsWith('.')) return null;
      rest = rest.slice(1);
    }
    first = false;
    const pair = findKey(node, rest, doc, yaml);
    // A key that is not written (`…: required`): the line of the place it goes.
    if (pair === null) return lastSegment(rest) ? at : null;
    node = pair.value;
    at = pair.line;
    rest = rest.slice(pair.key.length);
  }
  // `(root): unknown key "x"`, `models.m1: unknown keys "a", "b"`: the first such key's own line.
  const unknown = /^: unknown keys? "([^"]+)"/.exec(rest);
  if (unknown) {
    const pair = findKey(node, `${unknown[1]!}: `, doc, yaml);
    if (pair !== null) return pair.line;
  }
  return at;
}

/** Whether `rest` is one path segment and then the message (`key: …`, or `: …` itself). */
function lastSegment(rest: string): boolean {
  const colon = rest.indexOf(': ');
  return colon >= 0 && !/[.[]/.test(rest.slice(0, colon));
}

function rangeStart(n: unknown): number | null {
  const range = (n as { range?: [number, number, number] } | null)?.range;
  return range ? range[0] : null;
}

/** An alias's target (`*defaults`), or the node itself. */
function resolve(node: unknown, doc: Document, yaml: Yaml): unknown {
  return yaml.isAlias(node) ? node.resolve(doc) : node;
}

/**
 * The key of the map `node` that `rest` starts with, followed by `.`, `[` or `: ` (the longest,
 * as a model id may hold dots: `gpt-4.1`), with its value and line; merge keys (`<<: *x`) are
 * looked through. Null when none is.
 */
function findKey(node: unknown, rest: string, doc: Document, yaml: Yaml, depth = 0): { key: string; value: unknown; line: number | null } | null {
  const map = resolve(node, doc, yaml);
  if (!yaml.isMap(map) || depth > 8) return null;
  let best: { key: string; value: unknown; line: number | null } | null = null;
  const merged: unknown[] = [];
  for (const pair of (map as Collection).items as Array<{ key: unknown; value: unknown }>) {
    const k = yaml.isScalar(pair.key) ? pair.key.value : pair.key;
    if (typeof k === 'symbol' || (yaml.isScalar(pair.key) && pair.key.source === '<<')) {
      merged.push(...(yaml.isSeq(pair.value) ? (pair.value as Collection).items : [pair.value]));
      continue;
    }
    if (typeof k !== 'string' && typeof k !== 'number') continue;
    const key = String(k);
    if (!rest.startsWith(key) || !/^(\.|\[|: )/.test(rest.slice(key.length))) continue;
    if (best === null || key.length > best.key.length) best = { key, value: pair.value, line: rangeStart(pair.key as YamlNode) };
  }
  if (best !== null) return best;
  // A key the map takes from a merge (`<<: *defaults`): written, and so pointed at, where the anchor is.
  for (const m of merged) {
    const found = findKey(m, rest, doc, yaml, depth + 1);
    if (found !== null) return found;
  }
  return null;
}

/**
 * `withLines` for messages that name a client key by its id (`auth.keys (team-c).keyEnv: …`, as
 * the secrets' checks say them): located as `auth.keys[i]`, the key's place in `ids`, the message kept.
 */
export function withKeyLines(errors: readonly string[], ids: readonly string[], text: string, yaml: Yaml): string[] {
  return errors.map((e) => {
    const m = /^auth\.keys \((.*?)\)((?:\.\w+)?): /.exec(e);
    const i = m === null ? -1 : ids.indexOf(m[1]!);
    const probe = i < 0 ? e : `auth.keys[${i}]${m![2]}: ${e.slice(m![0].length)}`;
    const [located] = withLines([probe], text, yaml);
    const line = / \(line \d+\)$/.exec(located!);
    return line !== null && !e.endsWith(line[0]) ? `${e}${line[0]}` : e;
  });
}
