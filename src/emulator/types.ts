// Options, fault settings and the inspection shape of the Files API emulator, shared by the
// server, its CLI, and the tests, benchmarks and demo that drive it.
import type { Logger } from '../log.js';

/** Faults the emulator injects; every share is a probability in [0, 1] per eligible request. */
export interface FaultConfig {
  /** Share of requests answered 429 `rate_limit_error` with `retry-after`. */
  rate429?: number;
  /** Share of requests answered 500 `api_error`. */
  rate500?: number;
  /** Share of requests answered 529 `overloaded_error`. */
  rate529?: number;
  /** The next N requests are answered 429 (counted down), then the share applies. */
  count429?: number;
  /** The next N requests are answered 500. */
  count500?: number;
  /** The next N requests are answered 529. */
  count529?: number;
  /** Seconds sent in `retry-after` with injected 429s (default 1). */
  retryAfterSeconds?: number;
  /** Added latency before every answer, in milliseconds. */
  latencyMs?: number;
  /** Share of uploads whose connection is reset part-way through the request body (nothing stored). */
  resetMidUpload?: number;
  /** Share of uploads that are stored but whose answer is lost (the connection is destroyed). */
  lostUploadAnswer?: number;
  /**
   * Milliseconds a deleted file still appears in listings (not in look-ups, metadata, downloads
   * or deletes, which answer 404 at once): the API's "inaccessible shortly after deletion"
   * (files-api.md). Default 0.
   */
  deleteListLagMs?: number;
  /** Seed of the fault generator, for repeatable runs. */
  seed?: number;
}

/** An optional server-side rate limit: `requests` per `windowMs`, then 429 with `retry-after`. */
export interface RateLimitConfig {
  requests: number;
  /** Default 60,000 ms (a minute); shorter in tests. */
  windowMs?: number;
}

export interface EmulatorOptions {
  /** The only API key accepted (`x-api-key`, or `Authorization: Bearer`). */
  apiKey: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port. */
  port?: number;
  /** Where content and metadata live; absent: in memory. */
  dataDir?: string;
  /**
   * Largest accepted upload in bytes (default 500,000,000) → 413 `request_too_large`. Like the API's
   * edge, the cap is on the whole request body (multipart overhead included), checked against
   * Content-Length first and counted while streaming otherwise.
   */
  maxFileBytes?: number;
  /** Storage quota in bytes over all files (default 500 GB) → 400. */
  storageQuotaBytes?: number;
  faults?: FaultConfig;
  rateLimit?: RateLimitConfig;
  /** Test option: the emulator's clock runs this far ahead of the host's (negative: behind). */
  clockOffsetMs?: number;
  /** Where the emulator reports unexpected errors (default: silent). Never sees the key. */
  logger?: Logger;
}

/** One file as the inspection route shows it. */
export interface InspectedFile {
  id: string;
  filename: string;
  mime_type: string;
  size_bytes: number;
  created_at: string;
  downloadable: boolean;
  sha256: string;
  /** `self` for files uploaded through the API, else the owner named when seeding. */
  owner: string;
  /** The session scope a seeded file was given (absent: none). */
  scope_id?: string;
  /** When the file's content expires (GA `expires_in_seconds`, or the test route); absent: never. */
  expires_at?: string;
}

/** `GET /_emulator/state`. */
export interface EmulatorState {
  files: InspectedFile[];
  /** Request counts by route (`POST /v1/files`, `GET /v1/files`, `GET /v1/files/{id}`, ...) then status. */
  requests: Record<string, Record<string, number>>;
  /** Faults injected so far, by kind (`429`, `500`, `529`, `reset`, `lost_answer`, `rate_limit`). */
  faults: Record<string, number>;
}

/** `GET /_emulator/counters`: the counters of the state without its file list, for any number of files. */
export interface EmulatorCounters {
  requests: EmulatorState['requests'];
  faults: EmulatorState['faults'];
  /** Live files. */
  files: number;
  /** Bytes the live files hold. */
  bytes: number;
}

/** `POST /_emulator/seed` body: a file owned by another application. */
export interface SeedRequest {
  filename: string;
  /** Content, base64. */
  content_base64: string;
  mime_type?: string;
  downloadable?: boolean;
  /** Default `another-application`. */
  owner?: string;
  /** Gives the file a session scope (`scope: {id, type: "session"}`), for `scope_id` listing. */
  scope_id?: string;
}
