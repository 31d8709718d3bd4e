/**
 * The operations routes (`/switchyard/*`, `/metrics`) and the `/v1/models` listing, built from
 * the parts the composition root assembled. The server mounts them behind its admin check.
 */
import type { LedgerStore } from '../accounting/ledger.js';
import type { Config } from '../config/schema.js';
import { SwitchyardError } from '../errors.js';
import type { InspectionHub } from '../observe/hub.js';
import type { Metrics } from '../observe/metrics.js';
import { listModelIds } from '../routing/resolve.js';
import type { Runtime } from '../runtime/runtime.js';
import type { ReloadResult } from '../runtime/sidecar.js';
import { eventsRoute } from './events-route.js';
import { inspectorPage } from './inspector-page.js';
import { readBody, sendJson, type OpsRoutes } from './server.js';
import { spendRoute } from './spend-route.js';
import { feedbackRoute } from './feedback-route.js';

export interface OpsDeps {
  runtime: Runtime;
  ledger: LedgerStore;
  hub: InspectionHub;
  metrics: Metrics;
  reload(): Promise<ReloadResult>;
}

export function opsRoutes(d: OpsDeps): OpsRoutes {
  const { runtime, ledger, hub, metrics: m } = d;
  return {
    '/switchyard/state': (_req, res) => sendJson(res, 200, runtime.state()),
    '/switchyard/reload': async (req, res) => {
      if (req.method !== 'POST') throw new SwitchyardError('method_not_allowed', 'use POST /switchyard/reload');
      await readBody(req, 1024, undefined, 'the fixed limit of reload bodies; send none');
      const r = await d.reload();
      sendJson(
        res,
        r.ok ? 200 : 400,
        r.ok
          ? r
          : {
              error: {
                message: `config refused, the running one stays:\n${r.errors.join('\n')}`,
                type: 'invalid_request_error',
                param: null,
                code: 'invalid_config',
              },
              errors: r.errors,
            },
      );
    },
    '/switchyard/spend': spendRoute(() => runtime.cfg, ledger),
    '/switchyard/feedback': feedbackRoute(ledger, () => runtime.now()),
    '/switchyard/events': eventsRoute(hub),
    '/switchyard/inspect': inspectorPage,
    '/metrics': async (_req, res) => {
      const text = await m.text();
      res.writeHead(200, { 'content-type': m.registry.contentType });
      res.end(text);
    },
  };
}

/** The body of `GET /v1/models`: every id a client may send, with a plausible owner. */
export function modelsList(cfg: Config, simulatedMode: boolean): unknown {
  const created = 1_735_689_600;
  const owner = (id: string): string =>
    simulatedMode ? 'simulated' : id.startsWith('route/') || id === 'auto' ? 'switchyard' : (cfg.models[id]?.endpoints[0]?.provider ?? 'switchyard');
  return { object: 'list', data: listModelIds(cfg).map((id) => ({ id, object: 'model', created, owned_by: owner(id) })) };
}
