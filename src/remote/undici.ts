// The slice of undici the transport uses, loaded without the rest of the package.
import { createRequire } from 'node:module';
import type { Dispatcher } from 'undici';

/** undici's `request`, called with a dispatcher as `this`. */
export type RequestFn = (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

/**
 * undici's Agent and request API alone: the package's index also loads fetch, WebSocket, caches
 * and mock agents, 85 ms at every start of the CLI against 29 ms for these two (measured on the
 * bench machine). Falls back to the whole package should its files move.
 */
export const { Agent, request } = ((): { Agent: typeof import('undici').Agent; request: RequestFn } => {
  const require = createRequire(import.meta.url);
  try {
    const api = require('undici/lib/api/index.js') as { request: RequestFn };
    return { Agent: require('undici/lib/dispatcher/agent.js') as typeof import('undici').Agent, request: api.request };
  } catch {
    const undici = require('undici') as typeof import('undici');
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called with the agent as `this` (request.call)
    return { Agent: undici.Agent, request: undici.Dispatcher.prototype.request };
  }
})();
