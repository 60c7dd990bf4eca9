// FilesClient: the Files API over undici, implementing RemoteFiles (upload, list, get, delete, download).
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Dispatcher } from 'undici';
import { registerSecret, silentLogger, type Logger } from '../log.js';
import { ConfigError } from '../errors.js';
import { createContract, type ApiVersion, type Contract, type ContractName } from './contract.js';
import { ApiError, LocalFileError, NotDownloadableError, ResponseFormatError, notTheApi } from './errors.js';
import { resolveRetryPolicy, resolveTimeouts, uploadTimeoutMs, type RetryPolicy, type Timeouts } from './retry.js';
import { SentHash, codeOf, encodeId, readJson, writeBody } from './client-io.js';
import { multipartBody, multipartOf } from './multipart.js';
import { Transport, type RemoteStats } from './transport.js';
import { listPages, type ListPage } from './listing.js';
import type { CallOptions, DeleteResult, FileMetadata, ListOptions, RemoteFiles, UploadOptions, UploadResult } from './types.js';
import { parseDeleted, parseFileMetadata, uploadAnswer } from './validate.js';

/** Options of FilesClient. */
export interface FilesClientOptions {
  /** API base URL, e.g. `https://api.anthropic.com` or the emulator's URL; a path prefix is kept. */
  baseUrl: string | URL;
  /** The API key. Registered as a secret: it never appears in a log line or an error. */
  apiKey: string;
  /** API contract (default `beta`; `ga` speaks the GA shapes of files-api.md). */
  contract?: ContractName;
  /** `anthropic-version` (default `2023-06-01`; `2026-10-21` sends the key as a bearer token). */
  apiVersion?: ApiVersion;
  /** Sent as `anthropic-workspace-id` on every call (keys that act on more than one workspace). */
  workspaceId?: string;
  /** Requests allowed per `rateLimitWindowMs`, attempts and retries included (default 90; Infinity: no limiter). */
  requestsPerMinute?: number;
  /** The rate limiter's window (default 60,000 ms; shorter in tests). */
  rateLimitWindowMs?: number;
  /** Attempts per call, the first included (default 5, 1 to 10). */
  maxAttempts?: number;
  /** Back-off tunables besides `maxAttempts` (tests shorten them). */
  retry?: Partial<Omit<RetryPolicy, 'maxAttempts'>>;
  /** Timeouts; see `Timeouts` for the defaults. */
  timeouts?: Partial<Timeouts>;
  /** Keep-alive connections to the API (default 16: enough for the executor's concurrency). */
  connections?: number;
  /** A dispatcher to use instead of the client's own keep-alive Agent (not closed by `close()`). */
  dispatcher?: Dispatcher;
  /** Parent logger; the client logs through a `{module: 'remote'}` child. Default: silent. */
  logger?: Logger;
  /** Page size of `list()` (default 1000, the API's maximum). */
  listPageSize?: number;
}

/** Default of `requestsPerMinute`: under the beta's ~100 requests a minute (files-api.md). */
export const DEFAULT_REQUESTS_PER_MINUTE = 90;

/** The Files API client. One per process: it owns the connection pool and the rate limiter. */
export class FilesClient implements RemoteFiles {
  readonly #contract: Contract;
  readonly #transport: Transport;
  readonly #timeouts: Timeouts;
  readonly #pageSize: number;
  /** The upload route's path under this contract, made once (not a query string built per upload). */
  readonly #uploadPath: string;

  constructor(options: FilesClientOptions) {
    const apiKey = options.apiKey;
    // Header values must be visible ASCII; undici would refuse others with an error naming the header.
    if (typeof apiKey !== 'string' || !/^[\x21-\x7e]+$/.test(apiKey)) {
      throw new ConfigError('the API key is empty or contains spaces or non-ASCII characters; check ANTHROPIC_API_KEY or the key file');
    }
    registerSecret(apiKey);
    let baseUrl: URL;
    try {
      baseUrl = new URL(String(options.baseUrl));
    } catch (cause) {
      throw new ConfigError(`the API base URL is not a URL: ${String(options.baseUrl)}`, { cause });
    }
    if (baseUrl.protocol !== 'http:' && baseUrl.protocol !== 'https:')
      throw new ConfigError(`the API base URL must be http(s): ${baseUrl.href}`);
    try {
      this.#contract = createContract({
        ...(options.contract ? { name: options.contract } : {}),
        ...(options.apiVersion ? { apiVersion: options.apiVersion } : {}),
        ...(options.workspaceId !== undefined ? { workspaceId: options.workspaceId } : {}),
      });
      const policy = resolveRetryPolicy({
        ...options.retry,
        ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
      });
      this.#timeouts = resolveTimeouts(options.timeouts);
      const perWindow = options.requestsPerMinute ?? DEFAULT_REQUESTS_PER_MINUTE;
      const windowMs = options.rateLimitWindowMs ?? 60_000;
      const connections = options.connections ?? 16;
      this.#pageSize = options.listPageSize ?? 1000;
      this.#uploadPath = this.#contract.path('/v1/files');
      if (!(perWindow >= 1) || (Number.isFinite(perWindow) && !Number.isInteger(perWindow)))
        throw new RangeError('requestsPerMinute must be a positive integer or Infinity');
      if (!Number.isInteger(windowMs) || windowMs < 1) throw new RangeError('rateLimitWindowMs must be a positive integer');
      if (!Number.isInteger(connections) || connections < 1) throw new RangeError('connections must be a positive integer');
      if (!Number.isInteger(this.#pageSize) || this.#pageSize < 1 || this.#pageSize > 1000)
        throw new RangeError('listPageSize must be an integer from 1 to 1000');
      this.#transport = new Transport({
        baseUrl,
        headers: this.#contract.headers(apiKey),
        policy,
        timeouts: this.#timeouts,
        requestsPerWindow: perWindow,
        windowMs,
        connections,
        dispatcher: options.dispatcher,
        logger: (options.logger ?? silentLogger()).child({ module: 'remote' }),
      });
    } catch (err) {
      if (err instanceof RangeError || err instanceof TypeError) throw new ConfigError(`Files API client: ${err.message}`, { cause: err });
      throw err;
    }
  }

  /** Counters since the client was made: requests by kind (every attempt), retries, 429s, lost answers. */
  get stats(): Readonly<RemoteStats> {
    const s = this.#transport.stats;
    return { ...s, byKind: { ...s.byKind } };
  }

  /** The API's clock minus this host's (ms), at least, from the `Date` headers (server-clock.ts); undefined before one. */
  clockOffsetMs(): number | undefined {
    return this.#transport.clockOffsetMs();
  }

  /** The contract spoken (`beta` or `ga`). */
  get contract(): ContractName {
    return this.#contract.name;
  }

  /**
   * Uploads a file, streamed from disk (never held in memory); each attempt reopens it. The part
   * carries `filename` and `mimeType`; the answer must name them (validate.ts `uploadAnswer`). Errors
   * carry `unknownOutcomeAttempts`. With `hash`, the result has the stored attempt's sha256.
   */
  async upload(path: string, options: UploadOptions): Promise<UploadResult> {
    const label = `upload of ${options.filename}`;
    if (!/^[\x20-\x7e]+\/[\x20-\x7e]+$/.test(options.mimeType)) {
      throw new ApiError(`${label}: "${options.mimeType}" is not a MIME type`, { type: 'invalid_argument', retryable: false, attempts: 0 });
    }
    // Attempts run one after another: the last body made is the one the stored copy was sent.
    let last: { hash: SentHash | undefined; bytes: number } | undefined;
    const sent = await this.#transport.run<FileMetadata>({
      kind: 'upload',
      label,
      method: 'POST',
      path: this.#uploadPath,
      signal: options.signal,
      sourcePath: path,
      body: async () => {
        // Framed by hand: a small file in one buffer, a large one streamed as the socket drains.
        const hash = options.hash === true ? new SentHash() : undefined;
        const { body, headers, fileSize } = options.content
          ? multipartOf(options.content, options.filename, options.mimeType, hash)
          : await multipartBody(path, options.filename, options.mimeType, options.expect, hash);
        last = { hash, bytes: fileSize };
        return { body, headers, headersTimeoutMs: uploadTimeoutMs(fileSize, this.#timeouts) };
      },
      read: async (res) => uploadAnswer(await readJson(res, 'upload answer'), options.filename, last!.bytes, this.#contract.name),
    });
    const result: UploadResult = { file: sent.value, attempts: sent.attempts, unknownOutcomeAttempts: sent.unknownOutcomeAttempts };
    const sha256 = last?.hash?.hex;
    return sha256 === undefined ? result : { ...result, sha256 };
  }

  /**
   * Every file of the workspace, newest first, one page (`listPageSize`) per request; with
   * `readAhead`, the next page is asked for before this one is handed out (listing.ts).
   */
  list(options: ListOptions = {}): AsyncGenerator<FileMetadata, void, undefined> {
    return listPages((cursor, signal) => this.#listPage(cursor, signal), options);
  }

  /** One list page after `cursor` (none: the first). */
  #listPage(cursor: string | undefined, signal: AbortSignal): Promise<ListPage> {
    return this.#transport
      .run({
        kind: 'list',
        label: 'list',
        method: 'GET',
        path: this.#contract.path('/v1/files', this.#contract.listQuery(this.#pageSize, cursor)),
        signal,
        errorClass: notTheApi,
        read: async (res) => {
          const parsed = this.#contract.parsePage(await readJson(res, 'list answer'));
          return { files: parsed.data.map((item) => parseFileMetadata(item, 'list item')), next: parsed.nextCursor };
        },
      })
      .then((sent) => sent.value);
  }

  /**
   * GA only: the files among `ids` (1 to 100) that still resolve, in one request of repeated
   * `ids[]`; ids the API left out are deleted (or never were). An answer that claims a further page
   * is malformed: a look-up is always one page, and a partial one must not pass for a whole one.
   */
  async lookup(ids: readonly string[], options: CallOptions = {}): Promise<FileMetadata[]> {
    let query;
    try {
      query = this.#contract.lookupQuery(ids);
    } catch (err) {
      throw new ApiError(`look-up: ${(err as Error).message}`, {
        type: 'invalid_argument',
        retryable: false,
        attempts: 0,
        cause: err,
      });
    }
    if (query === undefined)
      throw new ApiError('look-up by ids[] needs the GA contract', {
        type: 'invalid_argument',
        retryable: false,
        attempts: 0,
      });
    const sent = await this.#transport.run({
      kind: 'lookup',
      label: `look-up of ${ids.length} ids`,
      method: 'GET',
      path: this.#contract.path('/v1/files', query),
      signal: options.signal,
      errorClass: notTheApi,
      read: async (res) => {
        const parsed = this.#contract.parsePage(await readJson(res, 'look-up answer'));
        if (parsed.nextCursor !== undefined) throw new ResponseFormatError('look-up answer', 'next_page', 'null (a look-up is one page)');
        return parsed.data.map((item) => parseFileMetadata(item, 'look-up item'));
      },
    });
    const asked = new Set(ids);
    return sent.value.filter((file) => asked.has(file.id));
  }

  /** The API's clock (never later than the true one) in ms since the epoch; the local clock before any answer. */
  serverNow(): number {
    return Date.now() + (this.#transport.clockOffsetMs() ?? 0);
  }

  /** The metadata of one file; a missing file is an ApiError with status 404. */
  async get(id: string, options: CallOptions = {}): Promise<FileMetadata> {
    const sent = await this.#transport.run({
      kind: 'get',
      label: `get ${id}`,
      method: 'GET',
      path: this.#contract.path(`/v1/files/${encodeId(id)}`),
      signal: options.signal,
      read: async (res) => parseFileMetadata(await readJson(res, 'file metadata')),
    });
    return sent.value;
  }

  /** Deletes a file; a 404 (already gone, e.g. a retried delete) is `{alreadyDeleted: true}`. */
  async delete(id: string, options: CallOptions = {}): Promise<DeleteResult> {
    const sent = await this.#transport.run<DeleteResult>({
      kind: 'delete',
      label: `delete ${id}`,
      method: 'DELETE',
      path: this.#contract.path(`/v1/files/${encodeId(id)}`),
      signal: options.signal,
      read: async (res) => ({ id: parseDeleted(await readJson(res, 'delete answer')), alreadyDeleted: false }),
      outcome: (status) => (status === 404 ? { value: { id, alreadyDeleted: true } } : undefined),
    });
    return sent.value;
  }

  /**
   * Downloads a file's content to `toPath`, streamed into a temporary file beside it that is
   * renamed at the end (never a partial file at `toPath`). A file the API did not create is a
   * NotDownloadableError; one whose `expires_at` passed, a FileExpiredError.
   */
  async download(id: string, toPath: string, options: CallOptions = {}): Promise<{ bytes: number }> {
    const temp = join(dirname(toPath), `.${basename(toPath)}.${randomBytes(6).toString('hex')}.part`);
    try {
      const sent = await this.#transport.run({
        kind: 'download',
        label: `download ${id}`,
        method: 'GET',
        path: this.#contract.path(`/v1/files/${encodeId(id)}/content`),
        signal: options.signal,
        streamed: true,
        read: (res) => writeBody(res, temp),
        // Known error codes decide first (failures.ts); a 400 without one means the same.
        errorClass: (status) => (status === 400 ? NotDownloadableError : undefined),
      });
      try {
        await rename(temp, toPath);
      } catch (err) {
        throw new LocalFileError(toPath, codeOf(err), { cause: err }, 'write');
      }
      return { bytes: sent.value };
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  /** Closes the connection pool (after requests in flight) and refuses further calls. Idempotent. */
  close(): Promise<void> {
    return this.#transport.close();
  }
}
