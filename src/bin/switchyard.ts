#!/usr/bin/env node
// The `switchyard` executable. Compiled to dist/src/bin/switchyard.js, which is what the
// package's `bin` runs on plain node: no TypeScript loader at run time.
import { main } from '../cli/index.js';

// A reader of stdout or stderr that went away (`| head`, a supervisor that closed its pipe) must
// not end the process: what cannot be written is dropped (the banner's EPIPE killed `serve`).
for (const s of [process.stdout, process.stderr]) s.on('error', () => undefined);

const code = await main(process.argv.slice(2));
if (typeof code === 'number') process.exitCode = code;
