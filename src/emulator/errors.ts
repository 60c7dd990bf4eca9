// The API's error envelope: the error types the emulator answers with and how they are serialised.

/** `error.type` values of the Files API (files-api.md, "Responses and errors"). */
export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'overloaded_error';

/** Stable codes that API version `2026-10-21` adds as `error.details.error_code`. */
export type ApiErrorCode = 'storage_quota_exceeded' | 'file_not_downloadable' | 'file_expired';

/** An API answer other than 2xx, thrown by handlers and turned into the envelope by the server. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  readonly type: ApiErrorType;
  readonly code: ApiErrorCode | undefined;
  /** Extra response headers (`retry-after`). */
  readonly headers: Record<string, string>;
  constructor(status: number, type: ApiErrorType, message: string, extra: { code?: ApiErrorCode; headers?: Record<string, string> } = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.code = extra.code;
    this.headers = extra.headers ?? {};
  }
}

/** 400 `invalid_request_error`. */
export function badRequest(message: string, code?: ApiErrorCode): ApiError {
  return new ApiError(400, 'invalid_request_error', message, code ? { code } : {});
}

/** 404 `not_found_error`. */
export function notFound(message: string, code?: ApiErrorCode): ApiError {
  return new ApiError(404, 'not_found_error', message, code ? { code } : {});
}

/**
 * The JSON body of an error answer. `details` is only sent to clients that asked for API version
 * `2026-10-21`; the beta envelope has none.
 */
export function errorBody(err: ApiError, requestId: string, withDetails: boolean): Record<string, unknown> {
  const error: Record<string, unknown> = { type: err.type, message: err.message };
  if (withDetails && err.code) error.details = { error_code: err.code };
  return { type: 'error', error, request_id: requestId };
}
