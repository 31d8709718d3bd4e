#!/usr/bin/env node
// Entry point that runs on plain `node`: registers tsx's loader so the TypeScript sources
// run without a separate build step, then hands over to the CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/index.ts');
const code = await main(process.argv.slice(2));
if (typeof code === 'number') process.exitCode = code;
