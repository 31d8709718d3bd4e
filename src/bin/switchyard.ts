#!/usr/bin/env node
// The `switchyard` executable. Compiled to dist/src/bin/switchyard.js, which is what the
// package's `bin` runs on plain node: no TypeScript loader at run time.
import { main } from '../cli/index.js';

const code = await main(process.argv.slice(2));
if (typeof code === 'number') process.exitCode = code;
