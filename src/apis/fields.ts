/**
 * Field allow-lists for the APIs translated at the edge: every top-level field is handled,
 * harmless to drop for the values given, or refused with a 400 naming it — a field we do not
 * know about is never silently lost.
 */
import { echoName, SwitchyardError } from '../errors.js';

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const present = <T>(v: T | null | undefined): v is T => v !== undefined && v !== null;

/** The 400 for a field or value switchyard does not support, naming it. */
export function unsupported(param: string, why: string): SwitchyardError {
  return new SwitchyardError('invalid_request', `${echoName(param)}: ${why}`, { param });
}

export function checkFields(
  body: Record<string, unknown>,
  handled: ReadonlySet<string>,
  harmless: Record<string, (v: unknown) => boolean>,
  why: Record<string, string>,
): void {
  for (const [key, value] of Object.entries(body)) {
    if (value === undefined || value === null || handled.has(key)) continue;
    // Own keys only: a body's `constructor`, `toString` or `__proto__` must not find Object.prototype's.
    if (Object.hasOwn(harmless, key) && harmless[key]!(value)) continue;
    throw unsupported(key, (Object.hasOwn(why, key) ? why[key] : undefined) ?? 'this field is not supported by switchyard');
  }
}

export function str(v: unknown, param: string): string {
  if (typeof v !== 'string') throw unsupported(param, 'expected a string');
  return v;
}

export function arrayOf(v: unknown, param: string): unknown[] {
  if (!Array.isArray(v)) throw unsupported(param, 'expected an array');
  return v;
}

/** A boolean flag; absent (undefined or null) is false. */
export function flag(v: unknown, param: string): boolean {
  if (present(v) && typeof v !== 'boolean') throw unsupported(param, 'expected a boolean');
  return v === true;
}

export function positiveInt(v: unknown, param: string): number {
  // Anthropic's own words for a required field left out (it said "expected a positive integer").
  if (v === undefined || v === null) throw unsupported(param, 'Field required');
  // A safe integer: JSON's 9007199254740993 parses as …992, not the number the client wrote.
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw unsupported(param, `expected a positive integer <= ${Number.MAX_SAFE_INTEGER}`);
  return v;
}

export function numberIn(v: unknown, param: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw unsupported(param, `expected a number from ${min} to ${max}`);
  return v;
}

/** The function names of chat `tools` (what a translated request declares). */
export function toolNames(tools: unknown[] | null | undefined): string[] {
  return (tools ?? []).flatMap((t) => (isObj(t) && isObj(t.function) && typeof t.function.name === 'string' ? [t.function.name] : []));
}

/** The 400 for a `tool_choice` naming a tool the request does not declare (the provider would refuse it too). */
export function unknownTool(param: string, name: string, declared: string[]): SwitchyardError {
  const list =
    declared.length === 0 ? 'the request declares no tools' : `declared: ${declared.slice(0, 8).map(echoName).join(', ')}${declared.length > 8 ? ', …' : ''}`;
  return unsupported(param, `tool "${echoName(name)}" is not in tools (${list}); name one of them, or declare it in tools`);
}
