/**
 * The README's example config file (the one under "Running it as a sidecar") is a valid config:
 * a user copies it first.
 */
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { ROOT } from '../product.js';

it("the README's example config file passes validation", async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('A config file with two providers and one route');
  expect(at).toBeGreaterThan(0);
  const start = readme.indexOf('```yaml\n', at) + '```yaml\n'.length;
  const yaml = readme.slice(start, readme.indexOf('```', start));
  const file = join(mkdtempSync(join(tmpdir(), 'sy-readme-')), 'switchyard.yaml');
  writeFileSync(file, yaml);
  const res = await loadConfigFile(file);
  expect(res.ok ? [] : res.errors).toEqual([]);
});
