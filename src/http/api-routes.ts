/** The routes of the APIs beside chat completions (and its legacy Completions form), by path (with and without `/v1`). */
import type { ResponseStore } from '../accounting/response-store.js';
import type { ApiRoute } from './edge.js';
import { completionsRoute } from './completions-route.js';
import { embeddingsRoute } from './embeddings-route.js';
import { countTokensRoute, messagesRoute } from './messages-route.js';
import { inputTokensRoute, responsesRoute, retrieveResponseRoute } from './responses-route.js';

export function apiRoutes(o: { responses: () => ResponseStore | null }): Record<string, ApiRoute> {
  const responses = responsesRoute(o.responses);
  return {
    '/v1/responses': responses,
    '/responses': responses,
    '/v1/responses/input_tokens': inputTokensRoute(o.responses),
    '/responses/input_tokens': inputTokensRoute(o.responses),
    /** By prefix: `/v1/responses/{id}`, `…/{id}/input_items`, `…/{id}/cancel`. */
    '/v1/responses/': retrieveResponseRoute(o.responses),
    '/v1/messages': messagesRoute,
    '/v1/messages/count_tokens': countTokensRoute,
    '/v1/completions': completionsRoute,
    '/completions': completionsRoute,
    '/v1/embeddings': embeddingsRoute,
    '/embeddings': embeddingsRoute,
  };
}
