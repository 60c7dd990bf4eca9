// Pure policy: retries and back-off (after the official SDK), timeout sizing, the limiter's window.

/** Response headers as undici gives them. */
export type Headers = Record<string, string | string[] | undefined>;

/** Tunables of the retry policy; the defaults follow the SDK. */
export interface RetryPolicy {
  /** Attempts per call, the first included (default 5, at most 10). */
  maxAttempts: number;
  /** First back-off step (default 500 ms), doubled per retry... */
  baseDelayMs: number;
  /** ...up to this (default 8 s). */
  maxDelayMs: number;
  /** First step for a 429 without `retry-after` (a spend cap: back off long; default 5 s)... */
  rateLimitBaseDelayMs: number;
  /** ...up to this (default 60 s). */
  rateLimitMaxDelayMs: number;
  /** Longest wait honoured from `retry-after`/`retry-after-ms` (default 60 s); longer asks are capped. */
  maxServerWaitMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  rateLimitBaseDelayMs: 5_000,
  rateLimitMaxDelayMs: 60_000,
  maxServerWaitMs: 60_000,
});

/** Upper bound of `maxAttempts`: a call never hammers the API more than this. */
export const MAX_ATTEMPTS_LIMIT = 10;

/** One header's value (the first when repeated). */
export function headerValue(headers: Headers | undefined, name: string): string | undefined {
  const v = headers?.[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Whether an upload answered `status` may have been stored all the same: a gateway's timeout or a
 * server error can come after the whole body arrived (408, 500, 502, 504). A refusal (4xx, 429,
 * 503 or 529: overloaded, not taken in) stores nothing.
 */
export function mayHaveStored(status: number): boolean {
  return status === 408 || status === 500 || status === 502 || status === 504;
}

/** Whether an HTTP error answer is worth retrying: `x-should-retry` first, then the status. */
export function isRetryableStatus(status: number, headers?: Headers): boolean {
  const says = headerValue(headers, 'x-should-retry');
  if (says === 'true') return true;
  if (says === 'false') return false;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/**
 * The wait the server asked for: `retry-after-ms`, else `retry-after` in seconds or as an HTTP
 * date, read against the answer's own `Date` (the server's clock; the host's when it has none);
 * undefined when absent, unparseable, or not a wait (zero or past): then the caller backs off as
 * without one, as the official SDK does, instead of asking again at once.
 */
export function serverRequestedDelayMs(headers: Headers | undefined, now: number = Date.now()): number | undefined {
  const ms = Number(headerValue(headers, 'retry-after-ms')?.trim() || NaN);
  if (ms > 0 && Number.isFinite(ms)) return ms;
  const after = headerValue(headers, 'retry-after')?.trim();
  if (after === undefined || after === '') return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds)) return seconds > 0 ? seconds * 1000 : undefined;
  const date = Date.parse(after);
  const serverNow = Date.parse(headerValue(headers, 'date') ?? '');
  const wait = date - (Number.isFinite(serverNow) ? serverNow : now);
  return wait > 0 ? wait : undefined;
}

/**
 * How long to wait before retry number `retryIndex` (0 for the first retry). A wait the server
 * asked for wins (capped at `maxServerWaitMs`); otherwise exponential back-off with a jitter in
 * (0.75, 1], long for a 429 that named no wait.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  retryIndex: number,
  status: number | undefined,
  headers: Headers | undefined,
  random: () => number = Math.random,
  now: number = Date.now(),
): number {
  const asked = serverRequestedDelayMs(headers, now);
  if (asked !== undefined) return Math.min(asked, policy.maxServerWaitMs);
  const jitter = 1 - random() * 0.25;
  const [base, max] = status === 429 ? [policy.rateLimitBaseDelayMs, policy.rateLimitMaxDelayMs] : [policy.baseDelayMs, policy.maxDelayMs];
  return Math.min(base * 2 ** retryIndex, max) * jitter;
}

/** Checks and completes a partial policy; throws a RangeError naming the bad field. */
export function resolveRetryPolicy(partial: Partial<RetryPolicy> = {}): RetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY, ...definedOnly(partial) };
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1 || policy.maxAttempts > MAX_ATTEMPTS_LIMIT) {
    throw new RangeError(`maxAttempts must be an integer from 1 to ${MAX_ATTEMPTS_LIMIT}`);
  }
  for (const key of ['baseDelayMs', 'maxDelayMs', 'rateLimitBaseDelayMs', 'rateLimitMaxDelayMs', 'maxServerWaitMs'] as const) {
    if (!(policy[key] >= 0) || !Number.isFinite(policy[key])) throw new RangeError(`${key} must be a non-negative number`);
  }
  return policy;
}

/** Timeouts of the client (milliseconds). */
export interface Timeouts {
  /** TCP + TLS connect (default 10 s). */
  connectMs: number;
  /** Waiting for the answer's headers of anything but an upload (default 60 s). */
  responseMs: number;
  /** Longest silence between two chunks of an answer's body, e.g. a download (default 60 s). */
  bodyIdleMs: number;
  /** Upload: the slowest link planned for; the answer may take `responseMs` + size at this rate (default 100 KB/s). */
  uploadBytesPerSecond: number;
  /** Upload: floor for files of `bigUploadBytes` and more (default 10 min, the SDK's timeout). */
  bigUploadMinMs: number;
  /** Size from which `bigUploadMinMs` applies (default 16 MiB). */
  bigUploadBytes: number;
}

export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  connectMs: 10_000,
  responseMs: 60_000,
  bodyIdleMs: 60_000,
  uploadBytesPerSecond: 100_000,
  bigUploadMinMs: 600_000,
  bigUploadBytes: 16 * 1024 * 1024,
});

/** Checks and completes partial timeouts; throws a RangeError naming the bad field. */
export function resolveTimeouts(partial: Partial<Timeouts> = {}): Timeouts {
  const t = { ...DEFAULT_TIMEOUTS, ...definedOnly(partial) };
  for (const [key, value] of Object.entries(t)) {
    if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`timeouts.${key} must be a positive number`);
  }
  return t;
}

/**
 * The headers timeout of an upload of `sizeBytes`. undici's `headersTimeout` runs while the body is
 * still being sent, so it must cover sending the whole file on a slow link, then the answer.
 */
export function uploadTimeoutMs(sizeBytes: number, t: Timeouts): number {
  const sized = t.responseMs + (sizeBytes / t.uploadBytesPerSecond) * 1000;
  return Math.ceil(sizeBytes >= t.bigUploadBytes ? Math.max(sized, t.bigUploadMinMs) : sized);
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Margin added to the limiter's window: the client counts departures, the server arrivals, and a
 * request that leaves on time may arrive a little late (measured: without it, a burst at exactly
 * the server's limit drew a dozen 429s on loopback). 2% of the window, 100 ms to 2 s.
 */
export function limiterWindowMs(windowMs: number): number {
  return windowMs + Math.min(2_000, Math.max(100, Math.ceil(windowMs * 0.02)));
}
