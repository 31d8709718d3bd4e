/**
 * Shape limits of a request body. V8's JSON.parse is iterative and takes any nesting, but every
 * recursive walk after it (validation, token counting, serialisation) would overflow the stack
 * on a deep one and end in a 500: nesting beyond MAX_JSON_DEPTH is refused right after parsing.
 */
import { SwitchyardError } from '../errors.js';

/** Deepest array/object nesting a body may have; real chat requests use under 20. */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether `value` nests deeper than `limit`. Iterative (no recursion to overflow), and its work
 * is bounded by the number of containers and values, never by the length of a string.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > limit) return true;
    const children: unknown[] = Array.isArray(v) ? v : Object.values(v);
    for (const c of children) if (typeof c === 'object' && c !== null) stack.push([c, depth + 1]);
  }
  return false;
}

/** Throws 400 when the parsed body nests deeper than MAX_JSON_DEPTH. */
export function checkJsonDepth(value: unknown): void {
  if (nestsDeeperThan(value, MAX_JSON_DEPTH)) {
    throw new SwitchyardError('invalid_request', `request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
}
