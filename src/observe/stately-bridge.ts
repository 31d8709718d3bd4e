/**
 * The bridge to a Stately inspector (`observe.statelyInspectUrl` / `--inspect-ws`): sanitised
 * inspection events over @statelyai/inspect's WebSocket. Its queue is bounded: the library
 * keeps at most 200 events while disconnected, but once connected it hands every event to
 * the socket, which buffers without limit when the inspector does not read. So the backlog
 * is measured before each event, and an inspector more than MAX_BRIDGE_UNSENT_BYTES behind
 * is disconnected (with a warning in the log); the sidecar keeps serving without it.
 */
import { withoutPassword } from './scrub.js';
import type { Logger } from 'pino';
import type { InspectionEvent } from 'xstate';
import { sanitize } from './hub.js';

/** Unsent bytes the bridge's WebSocket may hold. */
export const MAX_BRIDGE_UNSENT_BYTES = 4 * 1024 * 1024;

/** The parts of a @statelyai/inspect inspector the bridge uses. */
export interface BridgeInspector {
  inspect: { next?: (ev: InspectionEvent) => void };
  adapter?: unknown;
  stop(): void;
}

/** An observer that forwards to `inspector` while its socket keeps up, and disconnects it once it does not. */
export function boundedForward(inspector: BridgeInspector, log: Logger, maxUnsent = MAX_BRIDGE_UNSENT_BYTES): (ev: InspectionEvent) => void {
  let disconnected = false;
  return (ev) => {
    if (disconnected) return;
    const ws = (inspector.adapter as { ws?: { bufferedAmount?: unknown } } | undefined)?.ws;
    const backlog = typeof ws?.bufferedAmount === 'number' ? ws.bufferedAmount : 0;
    if (backlog > maxUnsent) {
      disconnected = true;
      inspector.stop();
      log.warn(
        { backlog, maxUnsent },
        'the Stately inspector fell behind (its socket holds too many unsent bytes): disconnected; restart switchyard to reconnect',
      );
      return;
    }
    inspector.inspect.next?.(ev);
  };
}

/** The parts of the library's socket (ws) the connection report listens to. */
interface BridgeSocket {
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'open', listener: () => void): unknown;
}

/**
 * The library reconnects every 5 s without a word: say once when the inspector cannot be
 * reached (and why), and again when it is. Its adapter makes a new socket per attempt, so each
 * one is watched as it is set.
 */
export function reportConnection(adapter: unknown, url: string, log: Logger): void {
  if (typeof adapter !== 'object' || adapter === null || !('ws' in adapter)) return;
  let down = false;
  const watch = (ws: unknown): void => {
    if (typeof (ws as Partial<BridgeSocket> | undefined)?.on !== 'function') return;
    (ws as BridgeSocket).on('error', (err) => {
      if (down) return;
      down = true;
      log.warn({ url, err: err.message }, `cannot reach the Stately inspector at ${url} (${err.message}): retrying every 5 s; the sidecar serves without it`);
    });
    (ws as BridgeSocket).on('open', () => {
      if (!down) return;
      down = false;
      log.info({ url }, 'connected to the Stately inspector');
    });
  };
  let current: unknown = (adapter as { ws?: unknown }).ws;
  Object.defineProperty(adapter, 'ws', {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (ws: unknown) => {
      current = ws;
      watch(ws);
    },
  });
  watch(current);
}

/** Connects to the inspector at `url`; the returned observer goes to the hub as a raw observer. */
export async function startStatelyBridge(url: string, log: Logger): Promise<{ observer: (ev: InspectionEvent) => void; stop(): void }> {
  const { createWebSocketInspector } = await import('@statelyai/inspect');
  const inspector = createWebSocketInspector({ url, sanitizeContext: (c) => sanitize(c) as typeof c, sanitizeEvent: (e) => sanitize(e) as typeof e });
  // Logged without a password or a token it may carry in its query.
  const shown = withoutPassword(url);
  reportConnection(inspector.adapter, shown, log);
  log.info({ url: shown }, 'forwarding sanitised inspection events to the Stately inspector');
  return { observer: boundedForward(inspector, log), stop: () => inspector.stop() };
}
