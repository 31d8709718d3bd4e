/**
 * The command line's own mistakes: an unknown option or a missing value is a one-line message
 * with the command's usage and exit code 2, never a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

import { BIN } from './harness.js';

const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000 });

describe('switchyard serve arguments', () => {
  it('an unknown option is a usage error (exit 2), not a crash', () => {
    const r = run('serve', '--bogus');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("Unknown option '--bogus'");
    expect(r.stderr).toContain('usage: switchyard serve');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an option without its value is a usage error (exit 2)', () => {
    const r = run('serve', '--config');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--config');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--help prints the usage and exits 0 without starting', () => {
    const r = run('serve', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('usage: switchyard serve');
    expect(r.stdout).toContain('--inspect-ws');
  });
});
