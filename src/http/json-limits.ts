/**
 * Shape limits of a request body, checked on the raw text before JSON.parse: nesting deeper
 * than MAX_JSON_DEPTH would overflow the stack of every recursive walk after the parse
 * (validation, token counting, serialisation) and end in a 500.
 */
import { SwitchyardError } from '../errors.js';

/** Deepest array/object nesting a body may have; real chat requests use under 20. */
export const MAX_JSON_DEPTH = 64;

/** The deepest nesting of `text` (brackets inside strings do not count). Linear, no allocation. */
export function jsonDepth(text: string, stopAt = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth;
      if (max > stopAt) return max;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** Throws 400 when `text` nests deeper than MAX_JSON_DEPTH. */
export function checkJsonDepth(text: string): void {
  if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new SwitchyardError('invalid_request', `request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
}
