/** Whether a bind address is the loopback interface (a module of its own: `check-config` reads it without the HTTP server). */
import { isIP } from 'node:net';

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
