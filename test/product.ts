/** Where the product under test is: the built executable the package's `bin` points at. */
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');
/** dist/ is rebuilt when stale by test/global-setup.ts before any test runs. */
export const BIN = join(ROOT, 'dist/src/bin/switchyard.js');
