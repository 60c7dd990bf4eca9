// The request loop under FilesClient: keep-alive pool, shared rate limiter, attempts and retries,
// classification of failures into typed errors, counters and state-change logging.
import { setTimeout as sleep } from 'node:timers/promises';
import PQueue from 'p-queue';
import { Agent, type Dispatcher, type FormData } from 'undici';
import type { Logger } from '../log.js';
import {
  AbortedError,
  ApiError,
  AuthError,
  LocalFileError,
  requestSuffix,
  ResponseFormatError,
  UnavailableError,
  withCounts,
  type ApiErrorDetails,
} from './errors.js';
import { headerValue, isRetryableStatus, retryDelayMs, type Headers, type RetryPolicy } from './retry.js';
import { defaultErrorType, parseErrorBody, type ErrorBody } from './validate.js';
import { describeNetworkError } from './network.js';

/** The kinds of request the counters distinguish. */
export type RequestKind = 'upload' | 'list' | 'get' | 'delete' | 'download';

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
  body?: () => Promise<{ body: FormData; headersTimeoutMs?: number }>;
  /** The local file behind `body`, for LocalFileError. */
  sourcePath?: string;
  /** Reads a 2xx answer. ApiErrors it throws are final; any other rejection is a lost answer. */
  read(res: Dispatcher.ResponseData, requestId: string | undefined): Promise<T>;
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
  responseTimeoutMs: number;
  bodyIdleTimeoutMs: number;
  connectTimeoutMs: number;
  /** Requests per window; Infinity disables the limiter. */
  requestsPerWindow: number;
  windowMs: number;
  connections: number;
  dispatcher?: Dispatcher | undefined;
  logger: Logger;
}

interface Failure {
  status?: number | undefined;
  headers?: Headers | undefined;
  type: string;
  /** One line: `529 overloaded_error: Overloaded (request req_…)`. */
  message: string;
  apiMessage?: string | undefined;
  errorCode?: string | undefined;
  requestId?: string | undefined;
  retryable: boolean;
  errorClass?: typeof ApiError | undefined;
  cause?: unknown;
}

/**
 * Margin added to the limiter's window: the client counts departures, the server arrivals, and a
 * request that leaves on time may arrive a little late. 2% of the window, 50 ms to 2 s.
 */
export function limiterWindowMs(windowMs: number): number {
  return windowMs + Math.min(2_000, Math.max(50, Math.ceil(windowMs * 0.02)));
}

const ERROR_BODY_CAP = 64 * 1024;

/** Sends exchanges with retries through one keep-alive pool and one rate limiter. */
export class Transport {
  readonly #o: TransportOptions;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #limiter: PQueue | undefined;
  readonly #prefix: string;
  #closing: Promise<void> | undefined;
  /** The reason calls are failing and being retried, while they are; logged on each change. */
  #trouble: string | undefined;
  readonly stats: RemoteStats = {
    requests: 0,
    byKind: { upload: 0, list: 0, get: 0, delete: 0, download: 0 },
    retries: 0,
    rateLimited: 0,
    unknownOutcomes: 0,
  };

  constructor(options: TransportOptions) {
    this.#o = options;
    this.#prefix = options.baseUrl.pathname.replace(/\/+$/, '');
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ??
      new Agent({
        connections: options.connections,
        keepAliveTimeout: 10_000,
        keepAliveMaxTimeout: 60_000,
        headersTimeout: options.responseTimeoutMs,
        bodyTimeout: options.bodyIdleTimeoutMs,
        connect: { timeout: options.connectTimeoutMs },
      });
    // A sliding window (strict) so that no window ever holds more than the cap; unlimited
    // concurrency: the limiter only spaces requests, the caller's queue decides how many run.
    this.#limiter = Number.isFinite(options.requestsPerWindow)
      ? new PQueue({ intervalCap: options.requestsPerWindow, interval: limiterWindowMs(options.windowMs), strict: true })
      : undefined;
  }

  /** Runs one call to completion: an answer, an outcome, or a final typed error. */
  async run<T>(ex: Exchange<T>): Promise<Sent<T>> {
    let unknown = 0;
    for (let attempt = 1; ; attempt++) {
      if (this.#closing) throw new ApiError(`${ex.label}: the client is closed`, { type: 'client_closed', retryable: false, attempts: attempt - 1, unknownOutcomeAttempts: unknown });
      const aborted = (cause: unknown, lostAnswer: boolean): AbortedError => {
        if (lostAnswer) this.#countUnknown(ex, 1);
        return new AbortedError(`${ex.label} aborted`, { type: 'aborted', retryable: false, attempts: attempt, unknownOutcomeAttempts: unknown + (lostAnswer ? 1 : 0), cause: ex.signal?.reason ?? cause });
      };
      let body: { body: FormData; headersTimeoutMs?: number } | undefined;
      try {
        ex.signal?.throwIfAborted();
        body = ex.body ? await ex.body() : undefined;
      } catch (err) {
        if (ex.signal?.aborted) throw aborted(err, false);
        throw new LocalFileError(ex.sourcePath ?? ex.label, codeOf(err) ?? 'EIO', { attempts: attempt - 1, unknownOutcomeAttempts: unknown, cause: err });
      }
      try {
        if (this.#limiter) await this.#limiter.add(() => undefined, { signal: ex.signal });
      } catch (err) {
        throw aborted(err, false);
      }
      this.stats.byKind[ex.kind]++;
      this.stats.requests++;
      if (attempt > 1) this.stats.retries++;

      let failure: Failure;
      let res: Dispatcher.ResponseData | undefined;
      try {
        res = await this.#dispatcher.request({
          origin: this.#o.baseUrl.origin,
          path: this.#prefix + ex.path,
          method: ex.method,
          headers: this.#o.headers,
          body: body?.body ?? null,
          signal: ex.signal,
          headersTimeout: body?.headersTimeoutMs ?? this.#o.responseTimeoutMs,
          bodyTimeout: this.#o.bodyIdleTimeoutMs,
        });
      } catch (err) {
        // An upload aborted after it was handed to the connection may have been stored.
        if (ex.signal?.aborted) throw aborted(err, ex.kind === 'upload');
        if (isBlobReadError(err)) {
          throw new LocalFileError(ex.sourcePath ?? ex.label, 'changed', { attempts: attempt, unknownOutcomeAttempts: unknown, cause: err });
        }
        const net = describeNetworkError(err);
        if (ex.kind === 'upload' && net.bodyMayHaveBeenSent) unknown += this.#countUnknown(ex, 1);
        failure = { type: net.type, message: net.message, retryable: net.retryable, cause: err };
      }

      if (res !== undefined) {
        const status = res.statusCode;
        const requestId = headerValue(res.headers, 'request-id');
        if (status >= 200 && status < 300) {
          try {
            const value = await ex.read(res, requestId);
            this.#recovered(requestId);
            return { value, attempts: attempt, unknownOutcomeAttempts: unknown };
          } catch (err) {
            res.body.destroy();
            // A 2xx to an upload means the file is stored: if its answer is lost, so is its id.
            const stored = ex.kind === 'upload';
            if (ex.signal?.aborted) throw aborted(err, stored);
            if (err instanceof ResponseFormatError) {
              if (stored) unknown += this.#countUnknown(ex, 1);
              throw new ResponseFormatError(err.what, err.field, err.expected, { status, requestId, attempts: attempt, unknownOutcomeAttempts: unknown, cause: err });
            }
            if (err instanceof ApiError) throw withCounts(err, attempt, unknown);
            if (stored) unknown += this.#countUnknown(ex, 1);
            const net = describeNetworkError(err);
            failure = { type: net.type, message: `answer lost: ${net.message}${requestSuffix(requestId)}`, retryable: true, requestId, cause: err };
          }
        } else {
          const text = await readCapped(res.body).catch(() => '');
          const info = parseErrorBody(text);
          if (status === 429) this.stats.rateLimited++;
          const outcome = ex.outcome?.(status, info);
          if (outcome) {
            this.#recovered(requestId);
            return { value: outcome.value, attempts: attempt, unknownOutcomeAttempts: unknown };
          }
          failure = httpFailure(status, res.headers, info, requestId ?? info.requestId);
          failure.errorClass = ex.errorClass?.(status, info);
        }
      }

      if (!failure!.retryable || attempt >= this.#o.policy.maxAttempts) throw this.#final(ex, failure!, attempt, unknown);
      const delayMs = retryDelayMs(this.#o.policy, attempt - 1, failure!.status, failure!.headers);
      this.#troubled(ex, failure!, attempt, delayMs);
      try {
        await sleep(delayMs, undefined, { signal: ex.signal });
      } catch (err) {
        throw aborted(err, false);
      }
    }
  }

  /** Closes the pool (waiting for requests in flight) and drops queued limiter slots. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#limiter?.clear();
      if (this.#ownsDispatcher) await this.#dispatcher.close();
    })();
    return this.#closing;
  }

  #countUnknown(ex: Exchange<unknown>, n: number): number {
    if (ex.kind === 'upload') this.stats.unknownOutcomes += n;
    return n;
  }

  #final(ex: Exchange<unknown>, f: Failure, attempts: number, unknown: number): ApiError {
    const details: ApiErrorDetails = {
      status: f.status,
      type: f.type,
      errorCode: f.errorCode,
      requestId: f.requestId,
      retryable: f.retryable,
      attempts,
      unknownOutcomeAttempts: unknown,
      cause: f.cause,
    };
    let err: ApiError;
    if (f.status === 401) err = new AuthError({ ...details, apiMessage: f.apiMessage });
    else if (f.errorClass) err = new f.errorClass(`${ex.label} failed: ${f.message}`, details);
    else if (f.retryable) err = new UnavailableError(attempts, `${ex.label}: ${f.message}`, details);
    else err = new ApiError(`${ex.label} failed: ${f.message}`, details);
    const log = { requestId: f.requestId, status: f.status, type: f.type, attempts };
    if (err instanceof AuthError || err instanceof UnavailableError) this.#o.logger.error(err.message, log);
    else this.#o.logger.warn(err.message, log);
    return err;
  }

  #troubled(ex: Exchange<unknown>, f: Failure, attempt: number, delayMs: number): void {
    const state = f.status === 429 ? 'rate limited' : f.status !== undefined ? 'failing' : 'unreachable';
    if (this.#trouble !== state) {
      this.#trouble = state;
      this.#o.logger.warn(`Files API ${state}, retrying: ${f.message}`, { requestId: f.requestId });
    }
    this.#o.logger.debug(`retrying ${ex.label} in ${Math.round(delayMs)} ms after ${f.message}`, { attempt, requestId: f.requestId });
  }

  #recovered(requestId: string | undefined): void {
    if (this.#trouble === undefined) return;
    this.#o.logger.info(`Files API answering again (was ${this.#trouble})`, { requestId });
    this.#trouble = undefined;
  }
}

function httpFailure(status: number, headers: Headers, info: ErrorBody, requestId: string | undefined): Failure {
  const type = info.type ?? defaultErrorType(status);
  const text = info.message ? `: ${info.message}` : '';
  return {
    status,
    headers,
    type,
    message: `${status} ${type}${text}${requestSuffix(requestId)}`,
    apiMessage: info.message,
    errorCode: info.errorCode,
    requestId,
    retryable: isRetryableStatus(status, headers),
  };
}

/** The body as text, keeping at most `cap` bytes but reading it all so the connection is reused. */
async function readCapped(body: AsyncIterable<Buffer>, cap = ERROR_BODY_CAP): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < cap) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).subarray(0, cap).toString('utf8');
}

/** Node's file-backed Blob fails its reads with these when the file changed or vanished. */
function isBlobReadError(err: unknown): boolean {
  const name = (err as { name?: unknown } | undefined)?.name;
  return name === 'NotReadableError' || name === 'NotFoundError';
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
