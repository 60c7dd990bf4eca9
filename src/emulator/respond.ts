// Writing answers: JSON bodies, error envelopes, and the `request-id` header on every one.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, errorBody } from './errors.js';

/** One request being answered. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  /** Whether error bodies may carry `details` (API version 2026-10-21). */
  details: boolean;
  /** The contract the request is routed to: the files beta header present, or GA. */
  contract: 'beta' | 'ga';
  /**
   * Records the outcome (the status sent, or `reset` / `lost` / `aborted` when no answer was);
   * only the first call counts. Called before the answer leaves, so a client never sees an
   * outcome the counters do not show yet.
   */
  settle(outcome: string): void;
}

/** Sends a JSON answer (unless the connection is already gone). */
export function sendJson(ex: Exchange, status: number, body: unknown, headers: Record<string, string> = {}): void {
  ex.settle(String(status));
  if (ex.res.headersSent || ex.res.destroyed) return;
  const text = JSON.stringify(body);
  ex.res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'request-id': ex.requestId,
  });
  ex.res.end(text);
}

/** Sends the error envelope of an {@link ApiError}. */
export function sendError(ex: Exchange, err: ApiError): void {
  sendJson(ex, err.status, errorBody(err, ex.requestId, ex.details), err.headers);
}

/** Sends an empty 204. */
export function sendNoContent(ex: Exchange): void {
  ex.settle('204');
  if (ex.res.headersSent || ex.res.destroyed) return;
  ex.res.writeHead(204, { 'request-id': ex.requestId });
  ex.res.end();
}

/** Destroys the connection without an answer (a fault), recording why. */
export function dropConnection(ex: Exchange, outcome: 'reset' | 'lost'): void {
  ex.settle(outcome);
  ex.req.socket.destroy();
}
