// The transport's contract (transport.ts): one logical call, what it returns, the counters, and
// the options FilesClient builds it with.
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Logger } from '../log.js';
import type { Answer } from './answer.js';
import type { ApiError } from './errors.js';
import type { RetryPolicy, Timeouts } from './retry.js';
import type { ErrorBody } from './validate.js';

/** The kinds of request the counters distinguish. */
export type RequestKind = 'upload' | 'list' | 'lookup' | 'get' | 'delete' | 'download';

/** Counters for the sync summary ("API requests"). */
export interface RemoteStats {
  /** Requests sent, every attempt counted (retries included). */
  requests: number;
  /** `requests` by kind. */
  byKind: Record<RequestKind, number>;
  /** Attempts that were retries. */
  retries: number;
  /** 429 answers seen. */
  rateLimited: number;
  /** Upload attempts whose answer was lost after the body was sent (possible orphans). */
  unknownOutcomes: number;
  /** Requests sent whose answer has not been read yet (none: nothing is on the wire to cut). */
  inFlight: number;
}

/** A request body with the headers that describe it (an upload's multipart framing). */
export interface RequestBody {
  body: Buffer | Readable;
  /** Added to the client's headers (`content-type`, `content-length`). */
  headers?: Record<string, string>;
  /** How long to wait for the answer's headers once the body is sent (default: the client's). */
  headersTimeoutMs?: number;
}

/** One logical call: everything the loop needs to make, judge and repeat its attempts. */
export interface Exchange<T> {
  kind: RequestKind;
  /** For messages: `upload of notes.md`, `get file_…`. */
  label: string;
  method: 'GET' | 'POST' | 'DELETE';
  /** Path and query, as the contract built them. */
  path: string;
  signal?: AbortSignal | undefined;
  /**
   * Builds the body afresh for each attempt (an upload reopens its file), with the wait for the
   * answer's headers it needs (default the client's response timeout). fs errors become LocalFileError.
   */
  body?: () => Promise<RequestBody>;
  /** The local file behind `body`, for LocalFileError. */
  sourcePath?: string;
  /**
   * The answer is streamed to `read` (a download) instead of read whole first; whole answers are
   * capped (answer.ts WHOLE_ANSWER_MAX_BYTES).
   */
  streamed?: boolean;
  /** Reads a 2xx answer. ApiErrors it throws are final; any other rejection is a lost answer. */
  read(res: Answer, requestId: string | undefined): Promise<T>;
  /** An error status that is an outcome rather than a failure (404 on delete). */
  outcome?(status: number, body: ErrorBody): { value: T } | undefined;
  /** A more specific class for a final error status (400 on download). */
  errorClass?(status: number, body: ErrorBody): typeof ApiError | undefined;
}

/** What a call returns besides its value. */
export interface Sent<T> {
  value: T;
  attempts: number;
  unknownOutcomeAttempts: number;
}

/** Options of the transport (FilesClient resolves and validates them). */
export interface TransportOptions {
  baseUrl: URL;
  headers: Record<string, string>;
  policy: RetryPolicy;
  timeouts: Timeouts;
  /** Requests per window; Infinity disables the limiter. */
  requestsPerWindow: number;
  windowMs: number;
  connections: number;
  dispatcher?: Dispatcher | undefined;
  logger: Logger;
}
