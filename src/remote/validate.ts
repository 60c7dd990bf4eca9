// Minimal shape checks of Files API answers: a malformed answer fails here, naming the field.
import { asObject, type ContractName } from './contract.js';
import { ResponseFormatError } from './errors.js';
import type { FileMetadata } from './types.js';

/** Parses one FileMetadata (files-api.md); unknown extra fields are dropped. */
export function parseFileMetadata(value: unknown, what = 'file metadata'): FileMetadata {
  const o = asObject(value, what);
  const id = requireString(o, 'id', what);
  if (o.type !== 'file') throw new ResponseFormatError(what, 'type', '"file"');
  const filename = requireString(o, 'filename', what);
  const mimeType = requireString(o, 'mime_type', what);
  const size = o.size_bytes;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new ResponseFormatError(what, 'size_bytes', 'a non-negative integer');
  }
  const createdAt = requireString(o, 'created_at', what);
  const file: FileMetadata = {
    id,
    type: 'file',
    filename,
    mime_type: mimeType,
    size_bytes: size,
    created_at: createdAt,
  };
  if (o.downloadable !== undefined && o.downloadable !== null) {
    if (typeof o.downloadable !== 'boolean') throw new ResponseFormatError(what, 'downloadable', 'a boolean');
    file.downloadable = o.downloadable;
  }
  if (o.scope !== undefined) {
    if (o.scope === null) file.scope = null;
    else {
      const scope = asObject(o.scope, `${what} scope`);
      file.scope = {
        id: requireString(scope, 'id', `${what} scope`),
        type: requireString(scope, 'type', `${what} scope`),
      };
    }
  }
  if (o.expires_at !== undefined) {
    if (o.expires_at !== null && typeof o.expires_at !== 'string') throw new ResponseFormatError(what, 'expires_at', 'a string or null');
    file.expires_at = o.expires_at;
  }
  return file;
}

/**
 * Parses an upload's answer and checks that it names what was sent: `filename` (under GA, its last
 * path component, as the API keeps it; both sides NFC, should the API normalise) and the size
 * sent. An answer naming another file (another application's, a copy cut short) is malformed, so
 * its id is never recorded as the path's copy: the upload counts as one whose answer was lost, and
 * the orphan sweep finds what it stored, if anything (DESIGN.md rule 3).
 */
export function uploadAnswer(value: unknown, filename: string, bytes: number, contract: ContractName): FileMetadata {
  const file = parseFileMetadata(value, 'upload answer');
  // files-sync's names hold no / or \ (sync/names.ts): the last component is for other callers.
  const expected = contract === 'ga' ? (filename.split(/[/\\]/).pop() ?? filename) : filename;
  if (file.filename.normalize('NFC') !== expected.normalize('NFC')) {
    throw new ResponseFormatError('upload answer', 'filename', `${JSON.stringify(expected)}, the name sent`);
  }
  if (file.size_bytes !== bytes) throw new ResponseFormatError('upload answer', 'size_bytes', `${bytes}, the bytes sent`);
  return file;
}

/** Parses the delete answer `{id, type: "file_deleted"}`; returns the id. */
export function parseDeleted(value: unknown): string {
  const o = asObject(value, 'delete answer');
  const id = requireString(o, 'id', 'delete answer');
  if (o.type !== undefined && o.type !== 'file_deleted') throw new ResponseFormatError('delete answer', 'type', '"file_deleted"');
  return id;
}

/** The parts of an error answer the client uses; every field may be missing (a proxy's HTML page). */
export interface ErrorBody {
  type: string | undefined;
  message: string | undefined;
  errorCode: string | undefined;
  requestId: string | undefined;
}

/** Reads `{"type":"error","error":{type, message, details?:{error_code}},"request_id"}` leniently. */
export function parseErrorBody(text: string): ErrorBody {
  const out: ErrorBody = { type: undefined, message: undefined, errorCode: undefined, requestId: undefined };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    const line = text.trim().split('\n')[0] ?? '';
    if (line !== '') out.message = line.slice(0, 200);
    return out;
  }
  if (typeof json !== 'object' || json === null) return out;
  const body = json as Record<string, unknown>;
  if (typeof body.request_id === 'string') out.requestId = body.request_id;
  const error = body.error;
  if (typeof error === 'object' && error !== null) {
    const e = error as Record<string, unknown>;
    if (typeof e.type === 'string') out.type = e.type;
    if (typeof e.message === 'string') out.message = e.message.slice(0, 1000);
    const details = e.details;
    if (typeof details === 'object' && details !== null) {
      const code = (details as Record<string, unknown>).error_code;
      if (typeof code === 'string') out.errorCode = code;
    }
  }
  return out;
}

/** The error type the API documents for a status, for answers without a JSON envelope. */
export function defaultErrorType(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 409:
      return 'conflict_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 504:
      return 'timeout_error';
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'http_error';
  }
}

function requireString(o: Record<string, unknown>, key: string, what: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw new ResponseFormatError(what, key, 'a non-empty string');
  return v;
}
