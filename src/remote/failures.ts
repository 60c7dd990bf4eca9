// Classifies failed attempts (error answers, errors instead of answers) and builds the final errors.
import type { Answer } from './answer.js';
import { redact } from '../log.js';
import {
  ApiError,
  AuthError,
  FileExpiredError,
  KNOWN_ERROR_CODES,
  NotDownloadableError,
  requestSuffix,
  StorageQuotaExceededError,
  UnavailableError,
  type ApiErrorDetails,
} from './errors.js';
import { isRetryableStatus, type Headers } from './retry.js';
import { defaultErrorType, parseErrorBody, type ErrorBody } from './validate.js';

/** One failed attempt, as the request loop judges it. */
export interface Failure {
  status?: number | undefined;
  headers?: Headers | undefined;
  type: string;
  /** One line without the request id: `529 overloaded_error: Overloaded`. */
  message: string;
  apiMessage?: string | undefined;
  errorCode?: string | undefined;
  requestId?: string | undefined;
  retryable: boolean;
  errorClass?: typeof ApiError | undefined;
  cause?: unknown;
}

const ERROR_BODY_CAP = 64 * 1024;

/**
 * The class a stable `error.details.error_code` decides, on the status the API documents it with
 * (files-api.md); undefined for no code, an unknown code, or a known code on another status: the
 * answer then acts as its bare `error.type`.
 */
export function classOfErrorCode(status: number | undefined, errorCode: string | undefined): typeof ApiError | undefined {
  if (errorCode === undefined || !KNOWN_ERROR_CODES.has(errorCode)) return undefined;
  if (status === 400 && errorCode === 'storage_quota_exceeded') return StorageQuotaExceededError;
  if (status === 400 && errorCode === 'file_not_downloadable') return NotDownloadableError;
  if (status === 404 && errorCode === 'file_expired') return FileExpiredError;
  return undefined;
}

/**
 * The error a call ends with: AuthError for a 401, the class a known error code names, the
 * exchange's own class when it named one, UnavailableError when retryable failures outlasted every
 * attempt, else a per-file ApiError.
 */
export function finalError(label: string, f: Failure, attempts: number, unknownOutcomeAttempts: number): ApiError {
  const details: ApiErrorDetails = {
    status: f.status,
    type: f.type,
    errorCode: f.errorCode,
    requestId: f.requestId,
    retryable: f.retryable,
    attempts,
    unknownOutcomeAttempts,
    cause: f.cause,
  };
  const text = `${f.message}${requestSuffix(f.requestId)}`;
  if (f.status === 401) return new AuthError({ ...details, apiMessage: f.apiMessage });
  const byCode = f.retryable ? undefined : classOfErrorCode(f.status, f.errorCode);
  if (byCode) return new byCode(`${label} failed: ${text}`, details);
  if (f.errorClass) return new f.errorClass(`${label} failed: ${text}`, details);
  if (f.retryable) return new UnavailableError(attempts, `${label}: ${text}`, details);
  return new ApiError(`${label} failed: ${text}`, details);
}

/** Reads an error answer (keeping 64 KB of it) and describes it; the parsed body goes to the caller's hooks. */
export async function answerFailure(res: Answer, requestId: string | undefined): Promise<{ failure: Failure; body: ErrorBody }> {
  const body = parseErrorBody(await readCapped(res.body).catch(() => ''));
  const status = res.statusCode;
  const type = body.type ?? defaultErrorType(status);
  const failure: Failure = {
    status,
    headers: res.headers,
    type,
    message: `${status} ${type}${body.message ? `: ${body.message}` : ''}`,
    apiMessage: body.message,
    errorCode: body.errorCode,
    requestId: requestId ?? body.requestId,
    retryable: isRetryableStatus(status, res.headers),
  };
  return { failure, body };
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

/**
 * The local file behind a request body changed or vanished while it was sent: the body's own
 * SourceChangedError (multipart.ts), or Node's file-backed Blob errors.
 */
export function isBlobReadError(err: unknown): boolean {
  const name = (err as { name?: unknown } | undefined)?.name;
  return name === 'SourceChangedError' || name === 'NotReadableError' || name === 'NotFoundError';
}

/** What the request loop needs to know about a failure without an answer. */
export interface NetworkFailure {
  type: 'connection_error' | 'timeout_error' | 'client_error';
  retryable: boolean;
  /** False only when the connection was never made: nothing of the request reached the server. */
  bodyMayHaveBeenSent: boolean;
  /** One line for messages and logs, without secrets. */
  message: string;
}

/** Errors raised while connecting: the request never left the client. */
const CONNECT_PHASE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/** Misuse or a closed client: retrying cannot help, and nothing was sent. */
const CLIENT_SIDE = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_INVALID_RETURN_VALUE',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_DESTROYED',
  'UND_ERR_CLOSED',
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
]);

const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

/**
 * Classifies an error thrown by undici (or by reading an answer's body). Anything unrecognised
 * counts as a connection error that may have reached the server: retried, and for an upload a
 * possible orphan, which is the safe side of both questions.
 */
export function describeNetworkError(err: unknown): NetworkFailure {
  const code = codeOf(err);
  const text = redact(err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
  const label = code && !text.includes(code) ? `${text} [${code}]` : text;
  if (code !== undefined && CLIENT_SIDE.has(code)) {
    return {
      type: 'client_error',
      retryable: false,
      bodyMayHaveBeenSent: false,
      message: `request not sent: ${label}`,
    };
  }
  const timeout = code !== undefined && TIMEOUTS.has(code);
  return {
    type: timeout ? 'timeout_error' : 'connection_error',
    retryable: true,
    bodyMayHaveBeenSent: !(code !== undefined && CONNECT_PHASE.has(code)),
    message: `${timeout ? 'timeout' : 'connection error'}: ${label}`,
  };
}

/** The error's code; for an AggregateError (happy eyeballs) without one, its first inner code. */
export function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const c = codeOf(inner);
      if (c !== undefined) return c;
    }
  }
  return undefined;
}
