/** Option checks the commands share. */

/**
 * A usage line for the first of `flags` given an empty value (`--config "$CFG"` with CFG unset),
 * or null: an empty value must not quietly mean the default (the built-in catalogue, port 0).
 */
export function emptyOption(values: Readonly<Record<string, unknown>>, flags: readonly string[]): string | null {
  for (const flag of flags) {
    const v = values[flag];
    if (typeof v === 'string' && v.trim() === '') return `--${flag} is empty (an unset variable?): give it a value, or leave --${flag} out`;
  }
  return null;
}

/**
 * A `--port` value: decimal digits only, 0–65535, or NaN. `Number()` alone would take "0x1F90",
 * "1e3" or " 80" as a port, so a typo could start on a port nobody meant.
 */
export function portNumber(value: string): number {
  return /^\d{1,5}$/.test(value) && Number(value) <= 65535 ? Number(value) : NaN;
}

/**
 * `--port -1` as `--port=-1`: node's parser takes a value starting with a dash for another
 * option and answers "argument is ambiguous"; joined, the command's own check says what is
 * wrong with the value (a negative port, a negative limit).
 */
export function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (/^--[a-z][a-z-]*$/.test(a) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}
