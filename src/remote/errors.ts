// Errors of the Files API client: one base class with what callers branch on, a few subclasses.
import { ExitCode, SyncError } from '../errors.js';
import { redact } from '../log.js';

/** What an ApiError carries besides its message. */
export interface ApiErrorDetails {
  /** HTTP status; undefined when no answer arrived (connection error, timeout, abort). */
  status?: number | undefined;
  /**
   * The API's `error.type` (`invalid_request_error`, `rate_limit_error`, ...), or for failures
   * without an API answer: `connection_error`, `timeout_error`, `aborted`, `invalid_response`,
   * `local_file_error`, `client_closed`.
   */
  type: string;
  /** `error.details.error_code` (API version 2026-10-21) when present. */
  errorCode?: string | undefined;
  /** The `request-id` of the answer, to quote to support. */
  requestId?: string | undefined;
  /** True when the same request may succeed later (429, 5xx, connection errors). */
  retryable: boolean;
  /** Attempts made before giving up. */
  attempts?: number;
  /** Upload attempts whose answer was lost after the body was sent: possible orphans. */
  unknownOutcomeAttempts?: number;
  exitCode?: ExitCode;
  cause?: unknown;
}

/**
 * Any failure of a Files API call. Per-file failures (4xx) end a one-shot run with exit code 1;
 * subclasses mark the fatal ones. Every error an upload throws carries `unknownOutcomeAttempts`.
 */
export class ApiError extends SyncError {
  override name = 'ApiError';
  readonly status: number | undefined;
  readonly type: string;
  readonly errorCode: string | undefined;
  readonly requestId: string | undefined;
  readonly retryable: boolean;
  readonly attempts: number;
  readonly unknownOutcomeAttempts: number;

  constructor(message: string, details: ApiErrorDetails) {
    // Messages are built from server text and library errors: pass them through the secret filter.
    super(redact(message), details.exitCode ?? ExitCode.fileFailures, { cause: details.cause });
    this.status = details.status;
    this.type = details.type;
    this.errorCode = details.errorCode;
    this.requestId = details.requestId;
    this.retryable = details.retryable;
    this.attempts = details.attempts ?? 1;
    this.unknownOutcomeAttempts = details.unknownOutcomeAttempts ?? 0;
  }

  /** The fields worth logging, without the cause (which may be a large library object). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      status: this.status,
      type: this.type,
      errorCode: this.errorCode,
      requestId: this.requestId,
      retryable: this.retryable,
      attempts: this.attempts,
      unknownOutcomeAttempts: this.unknownOutcomeAttempts,
      exitCode: this.exitCode,
    };
  }
}

/** 401: the API key was refused. Fatal: exit code 4, never retried into a loop. */
export class AuthError extends ApiError {
  override name = 'AuthError';
  constructor(details: Omit<ApiErrorDetails, 'exitCode' | 'retryable'> & { apiMessage?: string }) {
    const reason = details.apiMessage ? `: ${details.apiMessage}` : '';
    super(
      `the API key was refused (${details.status ?? 401} ${details.type}${reason}${requestSuffix(details.requestId)}); ` +
        'check ANTHROPIC_API_KEY or the API key file in the configuration, and that the key is active',
      { ...details, retryable: false, exitCode: ExitCode.auth },
    );
  }
}

/** Retryable failures (connection errors, timeouts, 429, 5xx) outlasted every attempt: exit code 5. */
export class UnavailableError extends ApiError {
  override name = 'UnavailableError';
  constructor(attempts: number, lastFailure: string, details: Omit<ApiErrorDetails, 'exitCode' | 'retryable' | 'attempts'>) {
    // No answer at all (refused, unreachable, timed out), as opposed to the API answering 5xx or 429: where to look.
    const advice =
      details.status === undefined
        ? '; nothing answered: check the network (proxy, firewall, DNS) and api.baseUrl or ANTHROPIC_BASE_URL'
        : '';
    super(`remote unavailable after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${lastFailure}${advice}`, {
      ...details,
      attempts,
      retryable: true,
      exitCode: ExitCode.unavailable,
    });
  }
}

/**
 * 404 or 405 on the listing's route, which the Files API always serves: what answered is not the
 * API at the configured base URL (a path too many, another server). Not a file's failure: exit 5,
 * with where to look.
 */
export class EndpointError extends ApiError {
  override name = 'EndpointError';
  constructor(message: string, details: ApiErrorDetails) {
    super(
      `${message}: no Files API answers at this base URL; check api.baseUrl or ANTHROPIC_BASE_URL ` +
        '(the API root, such as https://api.anthropic.com, without /v1) and api.workspaceId',
      { ...details, retryable: false, exitCode: ExitCode.unavailable },
    );
  }
}

/** The listing's and look-up's error class: EndpointError for a route the API does not serve. */
export function notTheApi(status: number): typeof ApiError | undefined {
  return status === 404 || status === 405 ? EndpointError : undefined;
}

/** 400 on the download route: only files the API created (`downloadable: true`) can be downloaded. */
export class NotDownloadableError extends ApiError {
  override name = 'NotDownloadableError';
}

/** 404 `file_expired` on the download route: the file's `expires_at` has passed and its content is gone. */
export class FileExpiredError extends ApiError {
  override name = 'FileExpiredError';
}

/**
 * 400 `storage_quota_exceeded` (API version 2026-10-21): the organisation's file storage is full.
 * No upload of this run can succeed, so it ends the run (`endsRun`), not one file; the next run
 * tries again. Exit code 5, like an API that stays unavailable.
 */
export class StorageQuotaExceededError extends ApiError {
  override name = 'StorageQuotaExceededError';
  /** Ends the whole run at once (failure.ts `endsRun`). */
  readonly endsRun = true;
  /** An answer, not an outage: the API is reachable, its storage is not (failure.ts `isStorageFull`). */
  readonly storageFull = true;
  constructor(message: string, details: ApiErrorDetails) {
    super(
      `${message}: the organisation's Files API storage quota is exhausted; delete files you no longer need ` +
        '(files-sync never deletes files it does not own), then run again',
      { ...details, retryable: false, exitCode: ExitCode.unavailable },
    );
  }
}

/** `error.details.error_code` values files-sync acts on; any other code acts as its bare `error.type`. */
export const KNOWN_ERROR_CODES: ReadonlySet<string> = new Set(['storage_quota_exceeded', 'file_not_downloadable', 'file_expired']);

/** An answer whose JSON does not have the documented shape; `field` names what was wrong. */
export class ResponseFormatError extends ApiError {
  override name = 'ResponseFormatError';
  /** What was parsed (`list answer`, `file metadata`, ...). */
  readonly what: string;
  /** The field that was wrong, `(body)` for the whole answer. */
  readonly field: string;
  /** What the field should have been. */
  readonly expected: string;
  constructor(what: string, field: string, expected: string, details: Partial<ApiErrorDetails> = {}) {
    super(
      `malformed ${what} from the Files API: ${field} is not ${expected}${requestSuffix(details.requestId)}; check api.baseUrl (is it the Files API, with no proxy answering in its place?), then try again`,
      { retryable: false, ...details, type: 'invalid_response' },
    );
    this.what = what;
    this.field = field;
    this.expected = expected;
  }
}

/** The caller's AbortSignal fired; `cause` is the signal's reason. Named AbortError like the platform's. */
export class AbortedError extends ApiError {
  override name = 'AbortError';
}

/**
 * A local file could not be used: the file to upload vanished, was unreadable or changed while it
 * was sent, or a download could not be written.
 */
export class LocalFileError extends ApiError {
  override name = 'LocalFileError';
  /** The local path. */
  readonly path: string;
  /** The Node error code (`ENOENT`, `EACCES`, `ENOSPC`, ...) or `changed` when the file changed under the upload. */
  readonly code: string;
  constructor(path: string, code: string, details: Omit<ApiErrorDetails, 'type' | 'retryable'>, action: 'read' | 'write' = 'read') {
    const what = code === 'changed' ? 'changed while it was uploaded' : `could not be ${action === 'read' ? 'read' : 'written'} (${code})`;
    super(`${path} ${what}`, { ...details, type: 'local_file_error', retryable: false });
    this.path = path;
    this.code = code;
  }
}

/** Sets the attempt counts of an error raised before they were known (internal to the client). */
export function withCounts<E extends ApiError>(err: E, attempts: number, unknownOutcomeAttempts: number): E {
  return Object.assign(err, { attempts, unknownOutcomeAttempts });
}

/** ` (request req_…)` when a request id is known. */
export function requestSuffix(requestId: string | undefined): string {
  return requestId ? ` (request ${requestId})` : '';
}

/** Possible orphans an upload failure left behind: `unknownOutcomeAttempts` of an ApiError, else 0. */
export function unknownOutcomeAttemptsOf(err: unknown): number {
  return err instanceof ApiError ? err.unknownOutcomeAttempts : 0;
}
