// The test-only routes under `/_emulator/` (no key, no faults): state, counters, seed, faults, rate limit,
// the clock and expiry.
import type { IncomingMessage } from 'node:http';
import type { EmulatorCore } from './core.js';
import { ApiError, badRequest, notFound } from './errors.js';
import { sendError, sendJson, sendNoContent, type Exchange } from './respond.js';
import type { FaultConfig, RateLimitConfig, SeedRequest } from './types.js';

/** Largest JSON body a test route reads (seeds carry base64 content). */
const MAX_ADMIN_BODY = 256 * 1024 * 1024;

/** Answers a request whose path starts with `/_emulator/`. */
export async function handleAdmin(core: EmulatorCore, ex: Exchange, method: string, pathname: string): Promise<void> {
  try {
    const route = `${method} ${pathname}`;
    switch (route) {
      case 'GET /_emulator/state':
        return sendJson(ex, 200, core.state());
      case 'GET /_emulator/counters':
        return sendJson(ex, 200, core.counters());
      case 'POST /_emulator/seed': {
        const body = await readJson(ex.req);
        return sendJson(
          ex,
          200,
          asBadRequest(() => core.seed(body as SeedRequest)),
        );
      }
      case 'PUT /_emulator/faults': {
        const body = await readJson(ex.req);
        asBadRequest(() => core.setFaults(body as FaultConfig));
        return sendNoContent(ex);
      }
      case 'PUT /_emulator/rate-limit': {
        const body = await readJson(ex.req);
        asBadRequest(() => core.setRateLimit(body as RateLimitConfig | null));
        return sendNoContent(ex);
      }
      case 'POST /_emulator/clock': {
        const body = (await readJson(ex.req)) as { advance_ms?: unknown } | null;
        asBadRequest(() => core.advanceClock(body?.advance_ms as number));
        return sendJson(ex, 200, { now: new Date(core.store.nowMicros() / 1000).toISOString() });
      }
      case 'POST /_emulator/expire': {
        const body = (await readJson(ex.req)) as { id?: unknown; expires_in_seconds?: unknown } | null;
        return sendJson(
          ex,
          200,
          asBadRequest(() => core.expire(body?.id as string, body?.expires_in_seconds as number)),
        );
      }
      case 'POST /_emulator/reset-counters':
        core.resetCounters();
        return sendNoContent(ex);
      default:
        throw notFound(`No test route ${route}`);
    }
  } catch (err) {
    if (err instanceof ApiError) return sendError(ex, err);
    throw err;
  }
}

/** Runs a core call, turning its TypeError (bad input) into a 400. */
function asBadRequest<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    if (err instanceof TypeError) throw badRequest(err.message);
    throw err;
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ADMIN_BODY) throw new ApiError(413, 'request_too_large', 'Test route body too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw badRequest('The body must be JSON');
  }
}
