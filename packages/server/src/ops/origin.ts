import type { IncomingMessage } from 'node:http';
import { globToRegExp } from '../core/glob.js';

/**
 * Origin allow-list for browser connections. With no patterns only same-host origins
 * pass; clients without an Origin header (servers, SDKs in Node) always pass.
 */
export function originChecker(patterns: readonly string[]): (req: IncomingMessage) => boolean {
  const allowed = patterns.map(globToRegExp);
  return (req) => {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    if (allowed.length > 0) return allowed.some((re) => re.test(origin));
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  };
}
