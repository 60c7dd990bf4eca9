// The request loop under FilesClient: keep-alive pool, rate limiter, retries, counters, logging.
import { setMaxListeners } from 'node:events';
import type { Dispatcher } from 'undici';
import { AbortedError, ApiError, LocalFileError, requestSuffix, ResponseFormatError, withCounts } from './errors.js';
import { ExitCode } from '../errors.js';
import { answerFailure, codeOf, describeNetworkError, finalError, isBlobReadError, type Failure } from './failures.js';
import { SlidingWindowLimiter } from './limiter.js';
import { headerValue, limiterWindowMs, mayHaveStored, retryDelayMs } from './retry.js';
import { sleepUnless } from './back-off.js';
import type { Exchange, RemoteStats, RequestBody, Sent, TransportOptions } from './exchange.js';
import { Agent, request } from './undici.js';
import { dispatchWhole, streamedAnswer, type Answer } from './answer.js';
import { ServerClock } from './server-clock.js';

export type { Exchange, RemoteStats, RequestBody, RequestKind, Sent, TransportOptions } from './exchange.js';

/** Where a call stands: its attempt (1-based), whether that attempt was sent, lost upload answers. */
interface CallState {
  attempt: number;
  sent: boolean;
  unknown: number;
}

/** A success this long after the last retried failure ends the logged trouble state (no flapping). */
const RECOVERY_QUIET_MS = 30_000;

/** Sends exchanges with retries through one keep-alive pool and one rate limiter. */
export class Transport {
  readonly #o: TransportOptions;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #limiter: SlidingWindowLimiter | undefined;
  readonly #prefix: string;
  /** `baseUrl.origin`, read once: the URL getter serializes it at every read (~1 µs a request). */
  readonly #origin: string;
  #closing: Promise<void> | undefined;
  readonly #closed = new AbortController();
  /** Server clock minus local clock, bounded by the answers' `Date` headers (see `clockOffsetMs`). */
  readonly #clock = new ServerClock();
  /** Set while calls fail and are retried; logged when it starts and when it has been quiet a while. */
  #trouble: { lastFailure: number } | undefined;
  readonly stats: RemoteStats = {
    requests: 0,
    byKind: { upload: 0, list: 0, lookup: 0, get: 0, delete: 0, download: 0 },
    retries: 0,
    rateLimited: 0,
    unknownOutcomes: 0,
    inFlight: 0,
  };

  constructor(options: TransportOptions) {
    this.#o = options;
    this.#prefix = options.baseUrl.pathname.replace(/\/+$/, '');
    this.#origin = options.baseUrl.origin;
    this.#ownsDispatcher = options.dispatcher === undefined;
    // Every call waiting on the limiter or a back-off listens here: as many as the callers queue.
    setMaxListeners(0, this.#closed.signal);
    this.#dispatcher =
      options.dispatcher ??
      new Agent({
        connections: options.connections,
        keepAliveTimeout: 10_000,
        keepAliveMaxTimeout: 60_000,
        headersTimeout: options.timeouts.responseMs,
        bodyTimeout: options.timeouts.bodyIdleMs,
        connect: { timeout: options.timeouts.connectMs },
      });
    // A sliding window (strict) so that no window ever holds more than the cap; unlimited
    // concurrency: the limiter only spaces requests, the caller's queue decides how many run.
    this.#limiter = Number.isFinite(options.requestsPerWindow)
      ? new SlidingWindowLimiter(options.requestsPerWindow, limiterWindowMs(options.windowMs))
      : undefined;
  }

  /**
   * How far the API's clock runs ahead of this host's (ms; negative: behind), at least, from the
   * answers' `Date` headers (server-clock.ts); undefined before any answer carried one. A server
   * time computed with it is never later than the true one.
   */
  clockOffsetMs(): number | undefined {
    return this.#clock.low;
  }

  /** Runs one call to completion: an answer, an outcome, or a final typed error. */
  async run<T>(ex: Exchange<T>): Promise<Sent<T>> {
    // Waits (limiter slot, back-off) end on the caller's signal or on close(); requests in flight
    // end only on the caller's signal: close() lets them finish. No controller is made unless a
    // call waits: most never do, and one per call cost more than the limiter.
    return this.#attempts(ex);
  }

  async #attempts<T>(ex: Exchange<T>): Promise<Sent<T>> {
    const call: CallState = { attempt: 0, sent: false, unknown: 0 };
    for (;;) {
      call.attempt++;
      call.sent = false;
      if (this.#closing) throw this.#stopped(ex, call, undefined, false);
      let body: RequestBody | undefined;
      try {
        ex.signal?.throwIfAborted();
        body = ex.body ? await ex.body() : undefined;
      } catch (err) {
        if (ex.signal?.aborted) throw this.#stopped(ex, call, err, false);
        throw new LocalFileError(ex.sourcePath ?? ex.label, codeOf(err) ?? 'EIO', {
          attempts: call.attempt - 1,
          unknownOutcomeAttempts: call.unknown,
          cause: err,
        });
      }
      try {
        ex.signal?.throwIfAborted();
        this.#closed.signal.throwIfAborted();
        const slot = this.#limiter?.take(ex.signal, this.#closed.signal);
        if (slot) await slot;
      } catch (err) {
        throw this.#stopped(ex, call, err, false);
      }
      call.sent = true;
      this.stats.inFlight++;
      this.stats.byKind[ex.kind]++;
      this.stats.requests++;
      if (call.attempt > 1) this.stats.retries++;
      let result: { value: T; requestId?: string | undefined } | Failure;
      try {
        const options = {
          origin: this.#origin,
          path: this.#prefix + ex.path,
          method: ex.method,
          headers: body?.headers ? { ...this.#o.headers, ...body.headers } : this.#o.headers,
          body: body?.body ?? null,
          headersTimeout: body?.headersTimeoutMs ?? this.#o.timeouts.responseMs,
          bodyTimeout: this.#o.timeouts.bodyIdleMs,
        };
        const sentAt = Date.now();
        const res = ex.streamed
          ? streamedAnswer(await request.call(this.#dispatcher, { ...options, signal: ex.signal }))
          : await dispatchWhole(this.#dispatcher, options, ex.signal);
        this.#clock.observe(headerValue(res.headers, 'date'), sentAt, Date.now());
        result = await this.#answer(ex, call, res);
      } catch (err) {
        if (err instanceof ApiError) throw err;
        // An upload aborted after it was handed to the connection may have been stored.
        if (ex.signal?.aborted) throw this.#stopped(ex, call, err, ex.kind === 'upload');
        if (isBlobReadError(err)) {
          throw new LocalFileError(ex.sourcePath ?? ex.label, 'changed', {
            attempts: call.attempt,
            unknownOutcomeAttempts: call.unknown,
            cause: err,
          });
        }
        const net = describeNetworkError(err);
        if (net.bodyMayHaveBeenSent) this.#lostAnswer(ex, call);
        result = { type: net.type, message: net.message, retryable: net.retryable, cause: err };
      } finally {
        this.stats.inFlight--;
      }
      if ('value' in result) {
        this.#recovered(result);
        return { value: result.value, attempts: call.attempt, unknownOutcomeAttempts: call.unknown };
      }

      if (!result.retryable || call.attempt >= this.#o.policy.maxAttempts) throw this.#final(ex, result, call);
      const delayMs = retryDelayMs(this.#o.policy, call.attempt - 1, result.status, result.headers);
      this.#troubled(ex, result, call.attempt, delayMs);
      try {
        await sleepUnless(delayMs, ex.signal, this.#closed.signal);
      } catch (err) {
        throw this.#stopped(ex, call, err, false);
      }
    }
  }

  /** Judges an answer: a value, an outcome, or a failure. Rejects only with ApiErrors that are final. */
  async #answer<T>(ex: Exchange<T>, call: CallState, res: Answer): Promise<{ value: T; requestId?: string | undefined } | Failure> {
    const status = res.statusCode;
    const requestId = headerValue(res.headers, 'request-id');
    if (status < 200 || status >= 300) {
      const { failure, body } = await answerFailure(res, requestId);
      if (status === 429) this.stats.rateLimited++;
      if (mayHaveStored(status)) this.#lostAnswer(ex, call); // an outcome unknown, as a lost answer
      const outcome = ex.outcome?.(status, body);
      return outcome ? { ...outcome, requestId } : { ...failure, errorClass: ex.errorClass?.(status, body) };
    }
    try {
      return { value: await ex.read(res, requestId), requestId };
    } catch (err) {
      res.body.dump(); // what is left of a streamed answer
      // A 2xx to an upload means the file is stored: if its answer is lost, so is its id.
      if (ex.signal?.aborted) throw this.#stopped(ex, call, err, ex.kind === 'upload');
      if (err instanceof ResponseFormatError) {
        this.#lostAnswer(ex, call);
        throw new ResponseFormatError(err.what, err.field, err.expected, {
          status,
          requestId,
          attempts: call.attempt,
          unknownOutcomeAttempts: call.unknown,
          // A listing or look-up that is not the API's at all (not JSON, not a page: a proxy in its
          // place) leaves the API unusable (5), not a file failed (1). One bad item is not that: the
          // daemon would take the API for down, and its probe (the first page) might never tell it up.
          ...((ex.kind === 'list' || ex.kind === 'lookup') && !/\bitem\b/.test(err.what) ? { exitCode: ExitCode.unavailable } : {}),
          // An upload's answer that does not fit is the API's fault, not the file's: the next run tries again.
          ...(ex.kind === 'upload' ? { retryable: true } : {}),
          cause: err,
        });
      }
      if (err instanceof ApiError) throw withCounts(err, call.attempt, call.unknown);
      this.#lostAnswer(ex, call);
      const net = describeNetworkError(err);
      return { type: net.type, message: `answer lost: ${net.message}`, retryable: true, requestId, cause: err };
    }
  }

  /** The error for a call ended by the caller's signal, or by close() while it waited. */
  #stopped(ex: Exchange<unknown>, call: CallState, cause: unknown, lostAnswer: boolean): ApiError {
    const attempts = call.sent ? call.attempt : call.attempt - 1;
    if (!ex.signal?.aborted && this.#closing) {
      return new ApiError(`${ex.label}: the client is closed`, {
        type: 'client_closed',
        retryable: false,
        attempts,
        unknownOutcomeAttempts: call.unknown,
      });
    }
    if (lostAnswer) this.#lostAnswer(ex, call);
    return new AbortedError(`${ex.label} aborted`, {
      type: 'aborted',
      retryable: false,
      attempts,
      unknownOutcomeAttempts: call.unknown,
      cause: ex.signal?.reason ?? cause,
    });
  }

  /** Counts an upload attempt whose answer was lost after its body was sent: a possible orphan. */
  #lostAnswer(ex: Exchange<unknown>, call: CallState): void {
    if (ex.kind !== 'upload') return;
    call.unknown++;
    this.stats.unknownOutcomes++;
  }

  /**
   * Refuses new calls, ends calls waiting for a limiter slot or a back-off with a `client_closed`
   * error, lets requests in flight finish, then closes the pool. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed.abort();
      if (this.#ownsDispatcher) await this.#dispatcher.close();
    })();
    return this.#closing;
  }

  #final(ex: Exchange<unknown>, f: Failure, call: CallState): ApiError {
    if (f.retryable && this.#trouble) this.#trouble.lastFailure = Date.now();
    const err = finalError(ex.label, f, call.attempt, call.unknown);
    // The request id goes in its own field, not twice in the line.
    const line = f.requestId ? err.message.replace(requestSuffix(f.requestId), '') : err.message;
    const context = {
      requestId: f.requestId,
      status: f.status,
      type: f.type,
      attempts: call.attempt,
      unknownOutcomeAttempts: call.unknown || undefined,
    };
    // The caller reports the error it gets (the command's last line, the summary's failed line,
    // the daemon's log): logged here too, a person would read it twice. Debug keeps the detail.
    this.#o.logger.debug(line, context);
    return err;
  }

  #troubled(ex: Exchange<unknown>, f: Failure, attempt: number, delayMs: number): void {
    if (this.#trouble) this.#trouble.lastFailure = Date.now();
    else {
      this.#trouble = { lastFailure: Date.now() };
      const what = f.status === 429 ? 'rate limiting requests' : f.status !== undefined ? 'failing' : 'unreachable';
      this.#o.logger.warn(`Files API ${what}, retrying with back-off: ${f.message}`, { requestId: f.requestId });
    }
    this.#o.logger.debug(`retrying ${ex.label} in ${Math.round(delayMs)} ms after ${f.message}`, {
      attempt,
      requestId: f.requestId,
    });
  }

  /** Ends the trouble state after a success that follows RECOVERY_QUIET_MS without failures. */
  #recovered({ requestId }: { requestId?: string | undefined }): void {
    if (this.#trouble === undefined || Date.now() - this.#trouble.lastFailure < RECOVERY_QUIET_MS) return;
    this.#trouble = undefined;
    this.#o.logger.info('Files API answering normally again', { requestId });
  }
}
