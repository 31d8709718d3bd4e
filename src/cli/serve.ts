/**
 * `switchyard serve`: start the sidecar from the composition root's starter and keep running
 * until a signal stops it (the starter installs the handlers).
 */
import { parseArgs } from 'node:util';
import { StartupError, type StartSidecar } from '../runtime/sidecar.js';

export async function serveCommand(argv: string[], serve: StartSidecar): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, pretty: { type: 'boolean' }, 'inspect-ws': { type: 'string' } },
  });
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    console.error(`--port must be a whole number from 0 to 65535, got "${values.port}"`);
    return 2;
  }
  try {
    const s = await serve({
      ...(values.config ? { config: values.config } : {}),
      ...(values.host ? { host: values.host } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(values.pretty ? { pretty: true } : {}),
      ...(values['inspect-ws'] ? { inspectWs: values['inspect-ws'] } : {}),
      signals: true,
    });
    const banner = s.simulated
      ? `switchyard ${s.url}/v1 — SIMULATED: no provider key found, answering from the built-in simulator at ${s.simulator?.url}.\nSet OPENAI_API_KEY / ANTHROPIC_API_KEY / GEMINI_API_KEY / DEEPSEEK_API_KEY (or --config FILE) for real providers.`
      : `switchyard ${s.url}/v1 — ${s.runtime.handles.size} endpoints, ${Object.keys(s.runtime.cfg.models).length} models`;
    process.stderr.write(`${banner}\ninspector: ${s.url}/switchyard/inspect   state: ${s.url}/switchyard/state\n`);
    return await new Promise<number>(() => undefined);
  } catch (err) {
    if (err instanceof StartupError) {
      console.error(`switchyard: cannot start: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
