import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { anthropicWire } from './anthropic-wire.js';
import { handleChat, readBody } from './chat.js';
import type { SimState } from './chat.js';
import { FaultSchema, FaultStore } from './faults.js';
import { ProfileResolver } from './profile.js';
import { formatIssue } from '../config/load.js';
import type { SimulatorProfile } from './profile.js';
import { RpmWindows } from './rate-limit.js';
import { ClientGone, sendJson } from './respond.js';
import { handleEmbeddings } from './embeddings.js';
import { openAiWire } from './openai-wire.js';
import type { SimRequestLogEntry, Wire } from './types.js';

/** Oldest entries are dropped beyond this, so a long benchmark does not grow without bound. */
const MAX_LOG_ENTRIES = 10_000;

export class RequestLog {
  private entries: SimRequestLogEntry[] = [];
  private seq = 0;

  /** Records a request on arrival; the handler fills in model, fault and status as they become known. */
  start(provider: string, wire: Wire, authPresent: boolean): SimRequestLogEntry {
    const entry: SimRequestLogEntry = {
      seq: ++this.seq,
      at: Date.now(),
      provider,
      wire: wire.name,
      model: '',
      stream: false,
      fault: null,
      status: null,
      prefill: false,
      authPresent,
    };
    this.entries.push(entry);
    if (this.entries.length > MAX_LOG_ENTRIES) this.entries.splice(0, this.entries.length - MAX_LOG_ENTRIES);
    return entry;
  }

  list(): SimRequestLogEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }

  reset(): void {
    this.entries = [];
  }
}

const SetFaultBody = z.strictObject({ model: z.string().min(1), fault: FaultSchema });

/** Which wire a path speaks and the provider prefix before its endpoint. */
export function routeOf(path: string): { wire: Wire; provider: string } | null {
  let prefix: string | null = null;
  let wire: Wire = openAiWire;
  if (path.endsWith('/chat/completions')) prefix = path.slice(0, -'/chat/completions'.length);
  else if (path.endsWith('/v1/messages')) [prefix, wire] = [path.slice(0, -'/v1/messages'.length), anthropicWire];
  else if (path.endsWith('/messages')) [prefix, wire] = [path.slice(0, -'/messages'.length), anthropicWire];
  if (prefix === null) return null;
  return { wire, provider: prefix.split('/').find((s) => s.length > 0) ?? '' };
}

function notFound(res: ServerResponse, path: string): void {
  sendJson(res, 404, { error: { message: `Unknown simulator path ${path}`, type: 'invalid_request_error', param: null, code: 'not_found' } });
}

async function control(sim: SimulatorCore, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const route = `${req.method ?? 'GET'} ${url.pathname}`;
  switch (route) {
    case 'GET /_sim/health':
      return sendJson(res, 200, { status: 'ok' });
    case 'GET /_sim/log':
      return sendJson(res, 200, sim.log.list());
    case 'DELETE /_sim/log':
      sim.log.reset();
      return sendJson(res, 200, { ok: true });
    case 'DELETE /_sim/faults':
      sim.state.faults.clear(url.searchParams.get('model') ?? undefined);
      return sendJson(res, 200, { ok: true });
    case 'POST /_sim/faults': {
      const raw = await readBody(req);
      let value: unknown;
      try {
        value = JSON.parse(raw?.toString('utf8') ?? '');
      } catch {
        return sendJson(res, 400, { error: 'body is not valid JSON' });
      }
      const parsed = SetFaultBody.safeParse(value, { reportInput: true });
      // Said as a profile's faults are (a misspelt kind with the one meant, a fraction as one), not zod's own words.
      if (!parsed.success) return sendJson(res, 400, { error: parsed.error.issues.map((issue) => formatIssue(issue, SetFaultBody)).join('\n') });
      sim.state.faults.set(parsed.data.model, parsed.data.fault);
      return sendJson(res, 200, { ok: true });
    }
    default:
      return notFound(res, url.pathname);
  }
}

/** The simulator's state and its node:http server, before it listens. */
export class SimulatorCore {
  readonly state: SimState;
  readonly log = new RequestLog();
  readonly server: Server;

  constructor(profile: SimulatorProfile) {
    this.state = { profile: new ProfileResolver(profile), faults: new FaultStore(), windows: new RpmWindows() };
    for (const [model, fault] of Object.entries(profile.faults ?? {})) this.state.faults.set(model, fault);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: { message: String(err), type: 'server_error', param: null, code: null } });
        else res.destroy();
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://simulator');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    if (path.startsWith('/_sim/')) return control(this, req, res, url);
    if (req.method === 'POST' && path.endsWith('/embeddings')) {
      const gone = new ClientGone();
      res.on('close', () => {
        if (!res.writableFinished) gone.abort();
      });
      const provider = path.split('/').find((s) => s.length > 0) ?? '';
      return handleEmbeddings(this.state, req, res, this.log.start(provider, openAiWire, openAiWire.authPresent(req.headers)), gone);
    }
    const route = req.method === 'POST' ? routeOf(path) : null;
    if (route !== null) {
      const gone = new ClientGone();
      res.on('close', () => {
        if (!res.writableFinished) gone.abort();
      });
      const entry = this.log.start(route.provider, route.wire, route.wire.authPresent(req.headers));
      return handleChat(this.state, route.wire, req, res, entry, gone);
    }
    if (req.method === 'GET' && path.endsWith('/models')) {
      const data = this.state.profile.modelNames().map((id) => ({ id, object: 'model', created: 0, owned_by: 'simulated' }));
      return sendJson(res, 200, { object: 'list', data });
    }
    return notFound(res, path);
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops listening and cuts every open connection (hung and stalled ones included). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
