// The HTTP server: routing between the API and the test routes, counters, and a clean close.
import http from 'node:http';
import { handleAdmin } from './admin.js';
import { handleApi, matchApiRoute } from './api.js';
import type { EmulatorCore } from './core.js';
import { notFound } from './errors.js';
import { newRequestId } from './ids.js';
import { sendError, type Exchange } from './respond.js';

/** A listening server and how to stop it. */
export interface RunningServer {
  port: number;
  /** Stops accepting, destroys every connection (keep-alive ones too), waits for handlers. */
  close(): Promise<void>;
}

/** Starts the server on `host:port` (port 0: ephemeral). */
export async function listen(core: EmulatorCore, host: string, port: number): Promise<RunningServer> {
  const stop = new AbortController();
  const inflight = new Set<Promise<void>>();
  const server = http.createServer((req, res) => {
    const task = handle(core, req, res, stop.signal).catch((err: unknown) => {
      core.logger.error('request failed', { error: String(err) });
      res.destroy();
    });
    inflight.add(task);
    void task.finally(() => inflight.delete(task));
  });
  // Keep-alive for clients that reuse connections; no overall request timeout, so a slow 500 MB
  // upload is not cut off.
  server.keepAliveTimeout = 5_000;
  server.requestTimeout = 0;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('emulator: no TCP address');

  let closing: Promise<void> | undefined;
  return {
    port: address.port,
    close() {
      closing ??= (async () => {
        stop.abort();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        await Promise.allSettled([...inflight]);
      })();
      return closing;
    },
  };
}

async function handle(core: EmulatorCore, req: http.IncomingMessage, res: http.ServerResponse, signal: AbortSignal): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://emulator.invalid');
  const method = req.method ?? 'GET';
  const isAdmin = url.pathname.startsWith('/_emulator/');
  const matched = isAdmin ? undefined : matchApiRoute(method, url.pathname);
  // Look-ups by id are counted apart from listings, so tests and benchmarks can tell them apart.
  const route =
    matched?.label === 'GET /v1/files' && url.searchParams.has('ids[]') ? { ...matched, label: 'GET /v1/files?ids[]' as const } : matched;
  let settled = isAdmin; // the test routes are not counted
  const ex: Exchange = {
    req,
    res,
    requestId: newRequestId(),
    details: false,
    contract: 'ga',
    settle(outcome) {
      if (settled) return;
      settled = true;
      core.countRequest(route?.label ?? 'unknown', outcome);
    },
  };
  if (isAdmin) return handleAdmin(core, ex, method, url.pathname);
  // The API's wall clock (ahead of the host's once a test advanced or offset it). Not the stamps'
  // clock, which never goes back: after a step back the Date header goes back, as a server's does.
  res.setHeader('date', new Date(core.store.clock.wallMs()).toUTCString());
  try {
    if (route) await handleApi(core, ex, route, url, signal);
    else sendError(ex, notFound(`Not found: ${method} ${url.pathname}`));
  } finally {
    ex.settle('aborted');
  }
}
