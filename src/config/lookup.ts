/**
 * Lookups by a name a client chose (a model, a route, a task, a body field). A plain `obj[name]`
 * finds inherited members: `constructor`, `__proto__` and `toString` are "in" every object,
 * which once gave 500s and mapped `x-switchyard-task: constructor` to `function Object()`.
 */

/** `rec[key]` if `key` is the record's own property, else undefined. */
export function own<V>(rec: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}

/** Each configuration's aliases (`models.<id>.aliases`) → model id, made once per configuration object (a reload makes a new one). */
const aliasMaps = new WeakMap<object, Map<string, string>>();

/**
 * The catalogue id a request's `model` names: itself, or the model it is an alias of. Only a
 * name that is no model, route or `auto` is looked up (an id always means itself).
 */
export function catalogueModel(cfg: { models: Readonly<Record<string, { aliases?: readonly string[] }>> }, model: string): string {
  if (Object.hasOwn(cfg.models, model)) return model;
  let map = aliasMaps.get(cfg);
  if (map === undefined) {
    map = new Map();
    for (const [id, m] of Object.entries(cfg.models)) for (const a of m.aliases ?? []) map.set(a, id);
    aliasMaps.set(cfg, map);
  }
  return map.size === 0 ? model : (map.get(model) ?? model);
}

/** A parsed request body with its `model`, when an alias, replaced by the model's catalogue id. */
export function withCatalogueModel(cfg: Parameters<typeof catalogueModel>[0], json: unknown): void {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return;
  const body = json as { model?: unknown };
  if (typeof body.model === 'string') body.model = catalogueModel(cfg, body.model);
}

/** Each configuration's client keys with a `models` list → that list as a set, made once per configuration object. */
const keyModelSets = new WeakMap<object, Map<string, ReadonlySet<string>>>();

/**
 * The models client key `keyId` may use (`auth.keys[].models`), or null when it may use every
 * model (no list, no key, or auth off).
 */
export function keyModels(
  cfg: { auth?: { keys: ReadonlyArray<{ id: string; models?: readonly string[] | undefined }> } | undefined },
  keyId: string | null,
): ReadonlySet<string> | null {
  if (keyId === null || cfg.auth === undefined) return null;
  let map = keyModelSets.get(cfg);
  if (map === undefined) {
    map = new Map();
    for (const k of cfg.auth.keys) if (k.models !== undefined) map.set(k.id, new Set(k.models));
    keyModelSets.set(cfg, map);
  }
  return map.get(keyId) ?? null;
}
