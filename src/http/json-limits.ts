/**
 * Shape limits of a request body. V8's JSON.parse is iterative and takes any nesting, but every
 * recursive walk after it (validation, token counting, serialisation) would overflow the stack
 * on a deep one and end in a 500: nesting beyond MAX_JSON_DEPTH is refused right after parsing.
 */
import { SwitchyardError } from '../errors.js';

/** Deepest array/object nesting a body may have; real chat requests use under 20. */
export const MAX_JSON_DEPTH = 64;

/** Why a parsed body is refused for its shape, or null: nesting beyond `limit`, or a key named `__proto__`. */
export function shapeProblem(value: unknown, limit: number): string | null {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > limit) return `request body nests deeper than ${limit} levels`;
    if (Array.isArray(v)) {
      for (const c of v) if (typeof c === 'object' && c !== null) stack.push([c, depth + 1]);
      continue;
    }
    for (const k of Object.keys(v)) {
      // JSON.parse makes `"__proto__"` an own key; any copy by assignment (a spread into
      // Object.assign, a schema library's output) would make it the copy's prototype instead, and
      // the field would vanish or be inherited: refused, at any depth.
      if (k === '__proto__') return 'request body has a key named "__proto__", which switchyard does not accept (at any depth)';
      const c = (v as Record<string, unknown>)[k];
      if (typeof c === 'object' && c !== null) stack.push([c, depth + 1]);
    }
  }
  return null;
}

/** Throws 400 when the parsed body nests deeper than MAX_JSON_DEPTH or has a `__proto__` key. */
export function checkJsonShape(value: unknown): void {
  const problem = shapeProblem(value, MAX_JSON_DEPTH);
  if (problem !== null) throw new SwitchyardError('invalid_request', problem);
}
