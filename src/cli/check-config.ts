/** `switchyard check-config FILE`: validate a config file without starting anything. */
import { loadConfigFile } from '../config/load.js';

export async function checkConfigCommand(argv: string[]): Promise<number> {
  const file = argv[0];
  if (!file) {
    console.error('usage: switchyard check-config FILE');
    return 2;
  }
  const res = await loadConfigFile(file);
  if (res.ok) {
    console.log(`${file}: ok (${Object.keys(res.config.models).length} models, ${Object.keys(res.config.providers).length} providers, ${Object.keys(res.config.routing.routes).length} routes)`);
    return 0;
  }
  console.error(`${file}: ${res.errors.length} problem${res.errors.length === 1 ? '' : 's'}`);
  for (const e of res.errors) console.error(`  ${e}`);
  return 1;
}
