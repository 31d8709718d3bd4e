#!/usr/bin/env node
// Builds dist/ — the JavaScript the package's `bin` runs: tsc (incremental) over src/ and
// machines/, then the inspector page's static files. `--clean` starts from an empty dist/
// (prepack does, so a packed tarball never carries leftovers of moved files); `--if-stale`
// builds only when a source is newer than the last build (the test setup does, so tests never
// run a stale dist/ and pay nothing when it is fresh).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = resolve(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');
const STAMP = join(DIST, '.build-stamp');
const LOCK = join(ROOT, '.build-lock');
const INPUTS = ['src', 'machines', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build.js'];
/** Static files tsc does not emit, copied next to the code that reads them. */
const ASSETS = ['src/observe/page'];
/** A lock older than this was left by a killed build. */
const STALE_LOCK_MS = 120_000;

function newestMtime(path) {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const e of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, e)));
  return newest;
}

/** True when dist/ is missing or older than any source, config or this script. */
export function isStale() {
  const built = statSync(STAMP, { throwIfNoEntry: false });
  if (!built) return true;
  return INPUTS.some((p) => newestMtime(join(ROOT, p)) > built.mtimeMs);
}

/** tsc's exit status when it found type errors but still wrote every file. */
const ERRORS_BUT_EMITTED = 2;

function compile(clean, tolerateTypeErrors) {
  if (clean) rmSync(DIST, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });
  } catch (err) {
    // Tests run what the sources say even mid-edit; `npm run typecheck` is where type errors fail.
    if (!tolerateTypeErrors || err.status !== ERRORS_BUT_EMITTED) throw err;
    console.warn('build: type errors above; dist/ was written from the current sources anyway');
  }
  for (const a of ASSETS) cpSync(join(ROOT, a), join(DIST, a), { recursive: true });
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
}

/** Build under a lock, so parallel test runs in one worktree never write dist/ at once. */
export async function build({ clean = false, ifStale = false } = {}) {
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const st = statSync(LOCK, { throwIfNoEntry: false });
      if (st && Date.now() - st.mtimeMs > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
      else await sleep(200);
    }
  }
  try {
    if (ifStale && !clean && existsSync(DIST) && !isStale()) return false;
    compile(clean, ifStale);
    return true;
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const args = process.argv.slice(2);
  try {
    const built = await build({ clean: args.includes('--clean'), ifStale: args.includes('--if-stale') });
    if (!built) console.log('dist/ is up to date');
  } catch {
    // tsc printed its errors already.
    process.exitCode = 1;
  }
}
