/**
 * Duplicate keys in one JSON object: `JSON.parse` keeps the last one silently, so a config file
 * with two `budget` blocks (or two `tier`s in one model) would run on half of what it says. YAML
 * files get this check from the YAML parser; this is the JSON one. Runs on text `JSON.parse` has
 * accepted, so it only has to tell keys from values.
 */

/** Each key that repeats within its object, with its 1-based line, in order of appearance. */
export function duplicateJsonKeys(text: string): Array<{ key: string; line: number }> {
  const found: Array<{ key: string; line: number }> = [];
  /** Per open container: the keys of an object, or null for an array. */
  const stack: Array<Set<string> | null> = [];
  /** In an object, the next string is a key (after `{` or `,`). */
  let expectKey = false;
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) line++;
    else if (c === 123 /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 91 /* [ */) {
      stack.push(null);
      expectKey = false;
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 44 /* , */) {
      expectKey = stack[stack.length - 1] instanceof Set;
    } else if (c === 34 /* " */) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 34) j += text.charCodeAt(j) === 92 /* \ */ ? 2 : 1;
      if (expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        const keys = stack[stack.length - 1]!;
        if (keys.has(key)) found.push({ key, line });
        else keys.add(key);
        expectKey = false;
      }
      i = j;
    }
  }
  return found;
}
