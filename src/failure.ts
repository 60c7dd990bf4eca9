// The one error taxonomy of files-sync: what any thrown value means for the program, the run, the
// file and the call, read by walking its `cause` chain; and the fields worth logging from it.
import { ExitCode, SyncError } from './errors.js';

/**
 * What an error means, from the widest to the narrowest consequence:
 * - `fatal-program`: nothing can succeed until a person acts (a refused key, bad configuration,
 *   an unusable ledger setup): a command exits, the daemon stops.
 * - `fatal-run`: this run cannot go on (the ledger cannot record, the storage quota is full, the
 *   root is missing or a guard tripped): the run ends; the next one may succeed.
 * - `retry-later`: this file (or call) failed for now (a 4xx, an API that stayed unavailable through
 *   its retries, a local file problem): it is recorded and retried with back-off or once it changes.
 * - `retry-now`: a transient answer the call has not yet been retried for (a 429, a 5xx, a lost
 *   connection: `retryable` without an exit code): the caller may repeat the call at once.
 */
export type FailureKind = 'fatal-program' | 'fatal-run' | 'retry-later' | 'retry-now';

/** The errors of a chain, outermost first (`cause` by `cause`, at most 16 deep, never in a loop). */
export function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = err;
  while (current !== undefined && current !== null && chain.length < 16 && !chain.includes(current)) {
    chain.push(current);
    current = typeof current === 'object' ? (current as { cause?: unknown }).cause : undefined;
  }
  return chain;
}

/** The first value of the chain for which `read` gives an answer. */
function firstOf<T>(err: unknown, read: (e: unknown) => T | undefined): T | undefined {
  for (const e of causeChain(err)) {
    const value = read(e);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** The exit code of the outermost SyncError of the chain, if any. */
export function exitCodeOf(err: unknown): ExitCode | undefined {
  return firstOf(err, (e) => (e instanceof SyncError ? e.exitCode : undefined));
}

/**
 * The run was ended by its own stop (Ctrl-C, SIGTERM: a SyncError with exit 130 somewhere in the
 * chain, as the stop's reason or an abort's cause), and by nothing else the error says.
 */
export function isInterruption(err: unknown): boolean {
  return causeChain(err).some((e) => e instanceof SyncError && e.exitCode === ExitCode.interrupted);
}

/** The Files API request id the chain carries (ApiError and look-alikes), for logs. */
export function requestIdOf(err: unknown): string | undefined {
  return firstOf(err, (e) => {
    const id = (e as { requestId?: unknown } | null)?.requestId;
    return typeof id === 'string' ? id : undefined;
  });
}

/** The HTTP status the chain carries, if any (ApiError and look-alikes). */
export function statusOf(err: unknown): number | undefined {
  return firstOf(err, (e) => {
    const status = (e as { status?: unknown } | null)?.status;
    return typeof status === 'number' ? status : undefined;
  });
}

/**
 * The errno-style code (`ENOENT`, `ECONNRESET`, ...) the chain carries; for an AggregateError
 * (happy eyeballs) without one, its first inner code. An abort (a DOMException) has none.
 */
export function errnoOf(err: unknown): string | undefined {
  return firstOf(err, (e) => {
    if (e instanceof DOMException) return undefined;
    const code = (e as { code?: unknown } | null)?.code;
    if (typeof code === 'string') return code;
    if (e instanceof AggregateError) for (const inner of e.errors) if (errnoOf(inner) !== undefined) return errnoOf(inner);
    return undefined;
  });
}

/** Whether retrying can help, as the chain says; an error that does not say is taken as retryable. */
export function retryableOf(err: unknown): boolean {
  return (
    firstOf(err, (e) => {
      const retryable = (e as { retryable?: unknown } | null)?.retryable;
      return typeof retryable === 'boolean' ? retryable : undefined;
    }) ?? true
  );
}

/** Classifies any thrown value (see FailureKind). */
export function classify(err: unknown): FailureKind {
  const code = exitCodeOf(err);
  if (code === ExitCode.auth || code === ExitCode.usage) return 'fatal-program';
  if (code === ExitCode.ledger || code === ExitCode.guard) return 'fatal-run';
  if (firstOf(err, (e) => ((e as { endsRun?: unknown } | null)?.endsRun === true ? true : undefined))) return 'fatal-run';
  if (code === undefined && firstOf(err, (e) => ((e as { retryable?: unknown } | null)?.retryable === true ? true : undefined)))
    return 'retry-now';
  return 'retry-later';
}

/**
 * Ends the whole run at once instead of one file (the executor): a refused key, bad configuration,
 * an unusable ledger, a full quota. A guard error is not among them: the executor never meets one.
 */
export function endsRun(err: unknown): boolean {
  if (exitCodeOf(err) === ExitCode.guard) return false;
  return classify(err).startsWith('fatal');
}

/** Nothing can succeed until a person acts: the daemon stops, a command exits (exit 2 or 4). */
export function isFatalForProgram(err: unknown): boolean {
  return classify(err) === 'fatal-program';
}

/** A refused key (401): the daemon stops with exit 4. */
export function isAuthFailure(err: unknown): boolean {
  return exitCodeOf(err) === ExitCode.auth;
}

/** The root is missing or a guard tripped (exit 3): the run ends, a later one may succeed. */
export function isGuard(err: unknown): boolean {
  return exitCodeOf(err) === ExitCode.guard;
}

/**
 * The organisation's Files API storage is full (a 400 `storage_quota_exceeded`): an answer, so the
 * API is reachable; uploads wait for room while deletes and listings still work. Exit 5, like an
 * outage, for a one-shot run.
 */
export function isStorageFull(err: unknown): boolean {
  return firstOf(err, (e) => ((e as { storageFull?: unknown } | null)?.storageFull === true ? true : undefined)) === true;
}

/**
 * The API stayed unreachable, rate-limited or failing through every retry of a call (exit 5). A
 * full storage has the same exit code but is not an outage (`isStorageFull`).
 */
export function isUnavailable(err: unknown): boolean {
  return exitCodeOf(err) === ExitCode.unavailable && !isStorageFull(err);
}
