/** `GET /switchyard/inspect` — placeholder until the inspector page lands (issue 6). */
import type { IncomingMessage, ServerResponse } from 'node:http';

export function inspectorPage(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(501, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('the inspector page is not built yet; see /switchyard/state and /switchyard/events\n');
}
