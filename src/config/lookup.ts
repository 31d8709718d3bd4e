/**
 * Lookups by a name a client chose (a model, a route, a task, a body field). A plain `obj[name]`
 * finds inherited members: `constructor`, `__proto__` and `toString` are "in" every object,
 * which once gave 500s and mapped `x-switchyard-task: constructor` to `function Object()`.
 */

/** `rec[key]` if `key` is the record's own property, else undefined. */
export function own<V>(rec: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}
