/** Near misses in a config: a misspelt key or model id, said with what was probably meant. */

/** Edit distance with adjacent transpositions (optimal string alignment): hots → host is 1. */
export function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The name of `known` that `name` probably meant (case aside, at most one edit per four
 * characters, at least one), or null when none is that near.
 */
export function nearest(name: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  const lower = name.toLowerCase();
  for (const k of known) {
    const d = distance(lower, k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== null && bestD <= Math.max(1, Math.floor(Math.min(name.length, best.length) / 4)) ? best : null;
}

/**
 * `unknown model "gpt4.1" (did you mean "gpt-4.1"?)`, or with the catalogue's ids when none is
 * near (at most 12 of them named).
 */
export function unknownModel(name: string, models: readonly string[], aliasOf?: string): string {
  // A model's alias is a name requests may use; the config itself names models by id.
  if (aliasOf !== undefined) return `"${name}" is an alias of model "${aliasOf}": the config names a model by its id, write "${aliasOf}"`;
  const near = nearest(name, models);
  if (near !== null) return `unknown model "${name}" (did you mean "${near}"?)`;
  if (models.length === 0) return `unknown model "${name}" (the catalogue has no models)`;
  const shown = models.slice(0, 12).join(', ');
  return `unknown model "${name}" (the catalogue's models: ${shown}${models.length > 12 ? `, … ${models.length - 12} more` : ''})`;
}
