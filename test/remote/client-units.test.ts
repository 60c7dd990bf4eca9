// Pure parts of the Files API client: the contract seam, the retry policy, timeouts, validation.
import { describe, expect, it } from 'vitest';
import { createContract } from '../../src/remote/contract.js';
import { describeNetworkError } from '../../src/remote/failures.js';
import {
  DEFAULT_RETRY_POLICY,
  DEFAULT_TIMEOUTS,
  isRetryableStatus,
  limiterWindowMs,
  resolveRetryPolicy,
  retryDelayMs,
  serverRequestedDelayMs,
  uploadTimeoutMs,
} from '../../src/remote/retry.js';
import { parseErrorBody, parseFileMetadata } from '../../src/remote/validate.js';
import { FilesClient, ResponseFormatError } from '../../src/remote/index.js';
import { ConfigError } from '../../src/errors.js';
import { fileMeta } from '../helpers/client-fixtures.js';

describe('contract', () => {
  it('beta: x-api-key, version and beta headers, ?beta=true, after_id paging', () => {
    const beta = createContract();
    expect(beta.headers('k')).toEqual({
      'x-api-key': 'k',
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'files-api-2025-04-14',
    });
    expect(beta.path('/v1/files', beta.listQuery(1000, 'file_b'))).toBe('/v1/files?beta=true&limit=1000&after_id=file_b');
    expect(beta.path('/v1/files/x')).toBe('/v1/files/x?beta=true');
    expect(beta.parsePage({ data: [{ id: 'a' }, { id: 'b' }], has_more: true, first_id: 'a', last_id: 'b' }).nextCursor).toBe('b');
    expect(beta.parsePage({ data: [{ id: 'a' }], has_more: false, last_id: 'a' }).nextCursor).toBeUndefined();
    expect(beta.parsePage({ data: [{ id: 'a' }] }).nextCursor).toBeUndefined(); // has_more defaults to false
    // An empty page that says more follow has no cursor to go on with: ending there would take the
    // rest of the workspace for deleted.
    expect(() => beta.parsePage({ data: [], has_more: true, last_id: null })).toThrow(/data is not a file or more when has_more is true/);
    expect(beta.parsePage({ data: [], has_more: false }).nextCursor).toBeUndefined();
    // has_more without last_id continues after the last item instead of ending the listing short
    expect(beta.parsePage({ data: [{ id: 'a' }, { id: 'z' }], has_more: true, last_id: null }).nextCursor).toBe('z');
  });

  it('beta: a malformed page names the field', () => {
    const beta = createContract({ name: 'beta' });
    expect(() => beta.parsePage({ has_more: false })).toThrow(/data/);
    expect(() => beta.parsePage({ data: [], has_more: 'yes' })).toThrow(/has_more/);
    expect(() => beta.parsePage([])).toThrow(ResponseFormatError);
  });

  it('ga: no beta header, page/next_page cursor; version 2026-10-21 sends a bearer token', () => {
    const ga = createContract({ name: 'ga', apiVersion: '2026-10-21' });
    expect(ga.headers('k')).toEqual({ authorization: 'Bearer k', 'anthropic-version': '2026-10-21' });
    expect(ga.path('/v1/files', ga.listQuery(1000, undefined))).toBe('/v1/files?limit=1000');
    expect(ga.path('/v1/files', ga.listQuery(500, 'page_abc'))).toBe('/v1/files?limit=500&page=page_abc');
    expect(ga.parsePage({ data: [{ id: 'a' }], next_page: 'page_2' })).toEqual({
      data: [{ id: 'a' }],
      nextCursor: 'page_2',
    });
    expect(ga.parsePage({ data: [{ id: 'a' }], next_page: null }).nextCursor).toBeUndefined();
    // An empty page with a next_page goes on, as the 1.x SDK does.
    expect(ga.parsePage({ data: [], next_page: 'page_3' }).nextCursor).toBe('page_3');
    expect(ga.parsePage({ data: [], next_page: null }).nextCursor).toBeUndefined();
    expect(() => ga.parsePage({ data: [], next_page: 3 })).toThrow(/next_page/);
    expect(createContract({ name: 'ga' }).headers('k')).toEqual({
      'x-api-key': 'k',
      'anthropic-version': '2023-06-01',
    });
  });
});

describe('retry policy', () => {
  it('retries 408, 409, 429 and 5xx, obeying x-should-retry first', () => {
    for (const s of [408, 409, 429, 500, 502, 503, 504, 529]) expect(isRetryableStatus(s)).toBe(true);
    for (const s of [400, 401, 402, 403, 404, 413]) expect(isRetryableStatus(s)).toBe(false);
    expect(isRetryableStatus(500, { 'x-should-retry': 'false' })).toBe(false);
    expect(isRetryableStatus(400, { 'x-should-retry': 'true' })).toBe(true);
  });

  it('reads retry-after-ms, then retry-after in seconds or as a date', () => {
    const now = Date.parse('2025-04-15T18:00:00Z');
    expect(serverRequestedDelayMs({ 'retry-after-ms': '250', 'retry-after': '9' }, now)).toBe(250);
    expect(serverRequestedDelayMs({ 'retry-after': '2' }, now)).toBe(2_000);
    expect(serverRequestedDelayMs({ 'retry-after': 'Tue, 15 Apr 2025 18:00:05 GMT' }, now)).toBe(5_000);
    expect(serverRequestedDelayMs({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(serverRequestedDelayMs({}, now)).toBeUndefined();
  });

  it('takes a zero or past wait for none (the caller backs off), and reads a date on the server clock', () => {
    const now = Date.parse('2025-04-15T18:00:00Z');
    expect(serverRequestedDelayMs({ 'retry-after': '0' }, now)).toBeUndefined();
    expect(serverRequestedDelayMs({ 'retry-after-ms': '0', 'retry-after': '3' }, now)).toBe(3_000);
    expect(serverRequestedDelayMs({ 'retry-after': 'Tue, 15 Apr 2025 17:00:00 GMT' }, now)).toBeUndefined();
    // The server's clock an hour behind this host's: 30 s from its own Date, not an hour ago.
    const behind = { 'retry-after': 'Tue, 15 Apr 2025 17:00:30 GMT', date: 'Tue, 15 Apr 2025 17:00:00 GMT' };
    expect(serverRequestedDelayMs(behind, now)).toBe(30_000);
    expect(retryDelayMs(DEFAULT_RETRY_POLICY, 0, 429, { 'retry-after': '0' }, () => 0)).toBe(5_000);
    expect(retryDelayMs(DEFAULT_RETRY_POLICY, 0, 500, { 'retry-after-ms': '0' }, () => 0)).toBe(500);
  });

  it('backs off min(0.5 s × 2^n, 8 s) with a jitter in (0.75, 1], long for a bare 429, capped server waits', () => {
    const p = DEFAULT_RETRY_POLICY;
    expect(retryDelayMs(p, 0, 500, {}, () => 0)).toBe(500);
    expect(retryDelayMs(p, 3, 500, {}, () => 0)).toBe(4_000);
    expect(retryDelayMs(p, 10, 500, {}, () => 0)).toBe(8_000);
    expect(retryDelayMs(p, 0, 500, {}, () => 0.999_999)).toBeGreaterThan(375);
    expect(retryDelayMs(p, 0, undefined, undefined, () => 0)).toBe(500);
    expect(retryDelayMs(p, 0, 429, {}, () => 0)).toBe(5_000);
    expect(retryDelayMs(p, 5, 429, {}, () => 0)).toBe(60_000);
    expect(retryDelayMs(p, 0, 429, { 'retry-after': '1' }, () => 0)).toBe(1_000);
    expect(retryDelayMs(p, 0, 429, { 'retry-after': '86400' }, () => 0)).toBe(60_000);
  });

  it('bounds maxAttempts', () => {
    expect(resolveRetryPolicy({}).maxAttempts).toBe(5);
    expect(() => resolveRetryPolicy({ maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => resolveRetryPolicy({ maxAttempts: 1000 })).toThrow(/maxAttempts/);
    expect(() => new FilesClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'sk-ant-unit-test-key', maxAttempts: 99 })).toThrow(ConfigError);
  });
});

describe('timeouts and limiter window', () => {
  it('sizes the upload timeout from the file size, at least 10 min for big files', () => {
    expect(uploadTimeoutMs(1_000, DEFAULT_TIMEOUTS)).toBe(60_010);
    expect(uploadTimeoutMs(20 * 1024 * 1024, DEFAULT_TIMEOUTS)).toBe(600_000);
    expect(uploadTimeoutMs(500_000_000, DEFAULT_TIMEOUTS)).toBe(60_000 + 5_000_000);
  });

  it('pads the limiter window a little so arrivals stay inside the server window', () => {
    expect(limiterWindowMs(60_000)).toBe(61_200);
    expect(limiterWindowMs(1_000)).toBe(1_100);
  });
});

describe('network errors', () => {
  it('knows which failures happened before anything was sent', () => {
    expect(describeNetworkError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toMatchObject({
      type: 'connection_error',
      retryable: true,
      bodyMayHaveBeenSent: false,
    });
    expect(describeNetworkError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }))).toMatchObject({
      bodyMayHaveBeenSent: true,
      retryable: true,
    });
    expect(describeNetworkError(Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' }))).toMatchObject({
      type: 'timeout_error',
      bodyMayHaveBeenSent: true,
    });
    expect(describeNetworkError(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]))).toMatchObject({
      bodyMayHaveBeenSent: false,
    });
    expect(describeNetworkError(Object.assign(new Error('invalid'), { code: 'UND_ERR_INVALID_ARG' }))).toMatchObject({
      retryable: false,
    });
    expect(describeNetworkError(new Error('mystery'))).toMatchObject({ retryable: true, bodyMayHaveBeenSent: true });
  });
});

describe('validation', () => {
  it('parses FileMetadata and drops unknown fields', () => {
    expect(parseFileMetadata({ ...fileMeta('file_1'), scope: null, extra: 1 })).toEqual({
      ...fileMeta('file_1'),
      scope: null,
    });
    expect(parseFileMetadata(fileMeta('file_1', { expires_at: null })).expires_at).toBeNull();
  });

  it('names the bad field', () => {
    for (const [field, value] of [
      ['id', ''],
      ['type', 'folder'],
      ['filename', 3],
      ['mime_type', null],
      ['size_bytes', -1],
      ['created_at', undefined],
      ['downloadable', 'yes'],
    ] as const) {
      const err = (() => {
        try {
          parseFileMetadata(fileMeta('file_1', { [field]: value }));
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ResponseFormatError);
      expect(err).toMatchObject({ field });
    }
  });

  it('reads error envelopes leniently', () => {
    expect(
      parseErrorBody(
        JSON.stringify({
          type: 'error',
          error: { type: 'invalid_request_error', message: 'm', details: { error_code: 'file_expired' } },
          request_id: 'req_1',
        }),
      ),
    ).toEqual({
      type: 'invalid_request_error',
      message: 'm',
      errorCode: 'file_expired',
      requestId: 'req_1',
    });
    expect(parseErrorBody('<html>\nBad gateway')).toMatchObject({ type: undefined, message: '<html>' });
    expect(parseErrorBody('')).toMatchObject({ message: undefined });
  });
});
