// An API answer read whole, through undici's dispatch: every call but a download, whose answers
// are small JSON. Cheaper than `request()` by about a third of the client's cost per request on the
// bench (BENCHMARKS.md, issue 13): no body stream, no async resource, and no abort listener per
// request: the requests in flight on one caller's signal share one listener.
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { ResponseFormatError } from './errors.js';
import type { Headers } from './retry.js';

/** The most bytes an answer read whole may have: a list page of 1,000 files is ~300 KB. */
export const WHOLE_ANSWER_MAX_BYTES = 32 * 1024 * 1024;

/** An answer's body as the exchanges read it: whole text, or chunks (an error body, a download). */
export interface AnswerBody extends AsyncIterable<Buffer> {
  text(): Promise<string>;
  /** Drops what is left of a streamed body (its connection is not reused); nothing for one read whole. */
  dump(): void;
}

/** An answer as the transport hands it to an exchange. */
export interface Answer {
  statusCode: number;
  headers: Headers;
  body: AnswerBody;
}

/** A body already read whole, or cut at the cap (`undefined`): then every read fails as malformed. */
class WholeBody implements AnswerBody {
  constructor(private readonly chunks: readonly Buffer[] | undefined) {}

  text(): Promise<string> {
    const { chunks } = this;
    if (chunks === undefined) return Promise.reject(tooLarge());
    return Promise.resolve((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8'));
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    const { chunks } = this;
    let next = 0;
    return {
      next: () => {
        if (chunks === undefined) return Promise.reject(tooLarge());
        return Promise.resolve(next < chunks.length ? { value: chunks[next++]!, done: false } : { value: undefined, done: true });
      },
    };
  }

  dump(): void {}
}

function tooLarge(): ResponseFormatError {
  return new ResponseFormatError('answer', '(body)', `at most ${WHOLE_ANSWER_MAX_BYTES} bytes long`);
}

/** An abort's reason as an Error (undici's controller takes one). */
function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/** A streamed undici answer (`request()`) as an Answer. */
export function streamedAnswer(res: Dispatcher.ResponseData): Answer {
  const body = res.body;
  return {
    statusCode: res.statusCode,
    headers: res.headers,
    body: {
      text: () => body.text(),
      [Symbol.asyncIterator]: () => (body as AsyncIterable<Buffer>)[Symbol.asyncIterator](),
      // undici reports a destroyed body as an 'error' event.
      dump: () => void body.on('error', () => undefined).destroy(),
    },
  };
}

/** The requests in flight on one caller's signal, and the one listener that aborts them all. */
interface Watch {
  requests: Set<WholeRequest>;
  onAbort: () => void;
}

/**
 * Watches per caller's signal. The listener goes when the last request in flight settles: a signal
 * made by `AbortSignal.any` lives as long as it has a listener, and a daemon's batches each make one.
 */
const watches = new WeakMap<AbortSignal, Watch>();

function watch(signal: AbortSignal, request: WholeRequest): void {
  let w = watches.get(signal);
  if (w === undefined) {
    const requests = new Set<WholeRequest>();
    w = { requests, onAbort: () => requests.forEach((r) => r.abort(signal.reason)) };
    watches.set(signal, w);
    signal.addEventListener('abort', w.onAbort, { once: true });
  }
  w.requests.add(request);
}

function unwatch(signal: AbortSignal, request: WholeRequest): void {
  const w = watches.get(signal);
  if (w === undefined || !w.requests.delete(request) || w.requests.size > 0) return;
  signal.removeEventListener('abort', w.onAbort);
  watches.delete(signal);
}

/** One request's handler (undici's DispatchHandler): the answer's status, headers and bytes. */
class WholeRequest implements Dispatcher.DispatchHandler {
  #controller: Dispatcher.DispatchController | undefined;
  /** Set once the caller's signal aborted this request. */
  #reason: Error | undefined;
  #statusCode = 0;
  #headers: Headers = {};
  /** Undefined once past the cap. */
  #chunks: Buffer[] | undefined = [];
  #bytes = 0;
  #settled = false;

  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly resolve: (answer: Answer) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  /** The caller's signal fired: abort now, or as soon as undici hands the request its controller. */
  abort(reason: unknown): void {
    if (this.#reason !== undefined) return;
    this.#reason = asError(reason);
    this.#controller?.abort(this.#reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#reason !== undefined) controller.abort(this.#reason);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[]>): void {
    if (statusCode < 200) return; // 1xx: informational, the answer follows
    this.#statusCode = statusCode;
    this.#headers = headers;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#bytes += chunk.length;
    if (this.#bytes <= WHOLE_ANSWER_MAX_BYTES) {
      this.#chunks?.push(chunk);
      return;
    }
    // Not read on: the answer is whatever its status says, with a body that cannot be read.
    this.#chunks = undefined;
    this.#finish();
    controller.abort(tooLarge());
  }

  onResponseEnd(): void {
    this.#finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    // An error answer cut off in its body is still that answer: its status decides, as a body
    // read after the headers failed (`request()`) let it. A cut-off 2xx is a lost answer.
    if (this.#statusCode >= 300 && this.#reason === undefined) return this.#finish();
    if (this.#settled) return;
    this.#settled = true;
    this.#forget();
    this.reject(err);
  }

  #finish(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#forget();
    this.resolve({ statusCode: this.#statusCode, headers: this.#headers, body: new WholeBody(this.#chunks) });
  }

  #forget(): void {
    if (this.signal !== undefined) unwatch(this.signal, this);
  }
}

/**
 * Sends one request through `dispatcher` and reads its answer whole. Rejects with the caller's
 * signal's reason when it aborts the request, and with undici's error when the request fails; an
 * answer over WHOLE_ANSWER_MAX_BYTES resolves with a body whose reads fail (ResponseFormatError).
 */
export function dispatchWhole(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  signal: AbortSignal | undefined,
): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    if (signal?.aborted) {
      reject(asError(signal.reason));
      return;
    }
    const request = new WholeRequest(signal, resolve, reject);
    if (signal !== undefined) watch(signal, request);
    try {
      dispatcher.dispatch(options, request);
    } catch (err) {
      // Refused before it was queued (an invalid option): a streamed body is not read.
      if (options.body instanceof Readable) options.body.destroy();
      request.onResponseError(undefined as never, err as Error);
    }
  });
}
