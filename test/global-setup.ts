/**
 * Runs once before any test file: rebuilds dist/ when a source is newer than the last build,
 * so the tests that start `switchyard` as a process never run stale JavaScript. A fresh dist/
 * costs a directory walk; a stale one an incremental tsc.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

export default function setup(): void {
  const root = resolve(import.meta.dirname, '..');
  execFileSync(process.execPath, [join(root, 'scripts/build.js'), '--if-stale'], { cwd: root, stdio: 'inherit' });
}
