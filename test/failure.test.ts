// The error taxonomy (src/failure.ts) as a table: each kind of error the program meets, what it
// means for the program, the run, the file and the call, and the fields read through `cause`.
import { describe, expect, it } from 'vitest';
import { ConfigError, ExitCode, GuardError, SyncError } from '../src/errors.js';
import {
  classify,
  endsRun,
  errnoOf,
  isInterruption,
  isStorageFull,
  isUnavailable,
  requestIdOf,
  retryableOf,
  statusOf,
  type FailureKind,
} from '../src/failure.js';
import { LedgerError } from '../src/ledger/faults.js';
import { FileConditionError } from '../src/file-errors.js';
import { AbortedError, ApiError, AuthError, LocalFileError, StorageQuotaExceededError, UnavailableError } from '../src/remote/errors.js';

const api = (status: number, retryable: boolean) =>
  new ApiError(`status ${status}`, { status, type: 'api_error', retryable, requestId: 'req_1' });

const table: { name: string; err: unknown; kind: FailureKind; endsRun: boolean; unavailable: boolean }[] = [
  {
    name: 'a refused key',
    err: new AuthError({ status: 401, type: 'authentication_error' }),
    kind: 'fatal-program',
    endsRun: true,
    unavailable: false,
  },
  { name: 'bad configuration', err: new ConfigError('bad'), kind: 'fatal-program', endsRun: true, unavailable: false },
  {
    name: 'a ledger that cannot be set up',
    err: new LedgerError('newer schema', 'setup'),
    kind: 'fatal-program',
    endsRun: true,
    unavailable: false,
  },
  {
    name: 'a corrupt ledger',
    err: new LedgerError('corrupt', 'corrupt'),
    kind: 'fatal-run',
    endsRun: true,
    unavailable: false,
  },
  {
    name: 'a full disk under the ledger',
    err: new LedgerError('full', 'full'),
    kind: 'fatal-run',
    endsRun: true,
    unavailable: false,
  },
  {
    name: 'a full storage quota',
    err: new StorageQuotaExceededError('quota', { status: 400, type: 'invalid_request_error', retryable: false }),
    kind: 'fatal-run',
    endsRun: true,
    unavailable: false, // an answer: the API is reachable, its storage is full (isStorageFull)
  },
  {
    name: 'a missing root',
    err: new GuardError('root missing'),
    kind: 'fatal-run',
    endsRun: false,
    unavailable: false,
  },
  {
    name: 'an API unavailable through every retry',
    err: new UnavailableError(5, '503', { type: 'api_error' }),
    kind: 'retry-later',
    endsRun: false,
    unavailable: true,
  },
  { name: 'a 400 on one file', err: api(400, false), kind: 'retry-later', endsRun: false, unavailable: false },
  { name: 'a 500 after its retries', err: api(500, true), kind: 'retry-later', endsRun: false, unavailable: false },
  {
    name: 'a local file problem',
    err: new LocalFileError('/x', 'EACCES', {}),
    kind: 'retry-later',
    endsRun: false,
    unavailable: false,
  },
  {
    name: 'a file that changed',
    err: new FileConditionError('changing', '/x', 'changed'),
    kind: 'retry-later',
    endsRun: false,
    unavailable: false,
  },
  {
    name: 'a transient answer not yet retried',
    err: { type: 'rate_limit_error', retryable: true, status: 429 },
    kind: 'retry-now',
    endsRun: false,
    unavailable: false,
  },
  { name: 'an unknown error', err: new Error('boom'), kind: 'retry-later', endsRun: false, unavailable: false },
  { name: 'a thrown string', err: 'boom', kind: 'retry-later', endsRun: false, unavailable: false },
  { name: 'null', err: null, kind: 'retry-later', endsRun: false, unavailable: false },
  {
    name: 'a refused key wrapped in a plain error',
    err: new Error('job failed', { cause: new AuthError({ status: 401, type: 'authentication_error' }) }),
    kind: 'fatal-program',
    endsRun: true,
    unavailable: false,
  },
  {
    name: 'a corrupt ledger two causes deep',
    err: new Error('a', { cause: new Error('b', { cause: new LedgerError('corrupt', 'corrupt') }) }),
    kind: 'fatal-run',
    endsRun: true,
    unavailable: false,
  },
  {
    name: 'an unavailable API wrapped',
    err: new Error('job', { cause: new UnavailableError(3, 'timeout', { type: 'timeout_error' }) }),
    kind: 'retry-later',
    endsRun: false,
    unavailable: true,
  },
  {
    name: 'a per-file SyncError around a fatal cause (the outer code decides)',
    err: new SyncError('one file', ExitCode.fileFailures, { cause: new ConfigError('bad') }),
    kind: 'retry-later',
    endsRun: false,
    unavailable: false,
  },
];

describe('classify', () => {
  for (const row of table) {
    it(`${row.name}: ${row.kind}`, () => {
      expect(classify(row.err)).toBe(row.kind);
      expect(endsRun(row.err)).toBe(row.endsRun);
      expect(isUnavailable(row.err)).toBe(row.unavailable);
      expect(isStorageFull(row.err)).toBe(row.name === 'a full storage quota');
    });
  }

  it('stops at a cause loop', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(classify(a)).toBe('retry-later');
  });
});

describe('fields read through the cause chain', () => {
  it('requestIdOf, statusOf and retryableOf read the first error that says', () => {
    const wrapped = new Error('job', { cause: api(404, false) });
    expect(requestIdOf(wrapped)).toBe('req_1');
    expect(statusOf(wrapped)).toBe(404);
    expect(retryableOf(wrapped)).toBe(false);
    expect(requestIdOf(new Error('none'))).toBeUndefined();
    expect(requestIdOf({ requestId: 42 })).toBeUndefined();
    expect(statusOf(null)).toBeUndefined();
    expect(retryableOf(new Error('unsaid'))).toBe(true);
  });

  it('errnoOf reads a code, an AggregateError inner code, never an abort', () => {
    const enoent = Object.assign(new Error('gone'), { code: 'ENOENT' });
    expect(errnoOf(enoent)).toBe('ENOENT');
    expect(errnoOf(new Error('wrapped', { cause: enoent }))).toBe('ENOENT');
    expect(errnoOf(new AggregateError([new Error('x'), Object.assign(new Error('y'), { code: 'ECONNREFUSED' })]))).toBe('ECONNREFUSED');
    expect(errnoOf(new DOMException('stop', 'AbortError'))).toBeUndefined();
    expect(errnoOf('x')).toBeUndefined();
  });
});

describe('isInterruption', () => {
  const stop = new SyncError('interrupted', ExitCode.interrupted);
  it('is the stop itself, or an error the stop caused (its reason as the cause)', () => {
    expect(isInterruption(stop)).toBe(true);
    const cut = new AbortedError('upload a.txt aborted', { type: 'aborted', retryable: false, cause: stop });
    expect(isInterruption(cut)).toBe(true);
  });
  it('is not an error the run met besides: a full storage, a refused key, a ledger fault, a plain error', () => {
    expect(
      isInterruption(new StorageQuotaExceededError('upload a.txt', { status: 400, type: 'invalid_request_error', retryable: false })),
    ).toBe(false);
    expect(isInterruption(new AuthError({ status: 401, type: 'authentication_error' }))).toBe(false);
    expect(isInterruption(new LedgerError('the ledger cannot be written'))).toBe(false);
    expect(isInterruption(new Error('boom', { cause: new Error('deeper') }))).toBe(false);
  });
});
