// The emulator's shared state (files, faults, rate limit, counters) and the operations on it.
import { createHash } from 'node:crypto';
import type { Logger } from '../log.js';
import { MAX_MIME_TYPE } from './multipart.js';
import { FaultInjector, RateLimiter, validateRateLimit } from './faults.js';
import type { FileStore } from './store.js';
import { toInspected } from './store.js';
import type { EmulatorCounters, EmulatorState, FaultConfig, InspectedFile, RateLimitConfig, SeedRequest } from './types.js';

/** Label of an API route in the request counters. */
export type RouteLabel =
  | 'POST /v1/files'
  | 'GET /v1/files'
  | 'GET /v1/files?ids[]'
  | 'GET /v1/files/{id}'
  | 'GET /v1/files/{id}/content'
  | 'DELETE /v1/files/{id}'
  | 'unknown';

/** Settings fixed at start. */
export interface CoreSettings {
  /** sha256 of the accepted key: compared in constant time, and the key itself is not kept. */
  apiKeyDigest: Buffer;
  maxFileBytes: number;
}

/** Default owner of seeded files. */
export const DEFAULT_SEED_OWNER = 'another-application';

export class EmulatorCore {
  readonly faults: FaultInjector;
  private limiter: RateLimiter | undefined;
  private requests = new Map<string, Map<string, number>>();
  private faultCounts = new Map<string, number>();

  constructor(
    readonly store: FileStore,
    readonly settings: CoreSettings,
    readonly logger: Logger,
    faults: FaultConfig = {},
    rateLimit?: RateLimitConfig,
  ) {
    this.faults = new FaultInjector(faults);
    this.setRateLimit(rateLimit);
  }

  get rateLimiter(): RateLimiter | undefined {
    return this.limiter;
  }

  /** Counts one API request under its route and final outcome (a status, `reset`, `lost`, `aborted`). */
  countRequest(route: RouteLabel, outcome: string): void {
    let byStatus = this.requests.get(route);
    if (!byStatus) this.requests.set(route, (byStatus = new Map<string, number>()));
    byStatus.set(outcome, (byStatus.get(outcome) ?? 0) + 1);
  }

  /** Counts one injected fault (`429`, `500`, `529`, `reset`, `lost_answer`, `rate_limit`). */
  countFault(kind: string): void {
    this.faultCounts.set(kind, (this.faultCounts.get(kind) ?? 0) + 1);
  }

  /** A snapshot: every live file (oldest first) and the counters. */
  state(): EmulatorState {
    return { files: this.store.all().map(toInspected), requests: this.requestCounts(), faults: Object.fromEntries(this.faultCounts) };
  }

  /** The counters and the live files' number and bytes, without listing them (cheap at any size). */
  counters(): EmulatorCounters {
    return {
      requests: this.requestCounts(),
      faults: Object.fromEntries(this.faultCounts),
      files: this.store.live.length,
      bytes: this.store.usedBytes,
    };
  }

  private requestCounts(): EmulatorState['requests'] {
    const requests: EmulatorState['requests'] = {};
    for (const [route, byStatus] of this.requests) requests[route] = Object.fromEntries(byStatus);
    return requests;
  }

  /** Replaces the fault configuration (throws TypeError when invalid). */
  setFaults(config: FaultConfig): void {
    this.faults.set(config);
  }

  /** Sets or removes the rate limit; a new limit starts with an empty window. */
  setRateLimit(config: RateLimitConfig | undefined | null): void {
    this.limiter = config ? new RateLimiter(validateRateLimit(config)) : undefined;
  }

  /** Moves the emulator's clock ahead (TypeError for anything but a non-negative number of ms). */
  advanceClock(ms: number): void {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
      throw new TypeError('advance_ms must be a non-negative number of milliseconds');
    this.store.advanceClock(ms);
  }

  /** Makes a file expire `seconds` from now on the emulator's clock (TypeError when invalid or unknown). */
  expire(id: string, seconds: number): InspectedFile {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0)
      throw new TypeError('expires_in_seconds must be a non-negative number');
    if (typeof id !== 'string' || !this.store.expire(id, seconds)) throw new TypeError(`no file with id ${JSON.stringify(id)}`);
    return toInspected(this.store.get(id)!);
  }

  resetCounters(): void {
    this.requests = new Map<string, Map<string, number>>();
    this.faultCounts = new Map<string, number>();
  }

  /** Stores a file as another application would have (throws TypeError when the request is invalid). */
  seed(req: SeedRequest): InspectedFile {
    if (typeof req !== 'object' || req === null) throw new TypeError('seed request must be an object');
    const { filename, content_base64: b64 } = req;
    if (typeof filename !== 'string' || filename.length === 0 || [...filename].length > 500) {
      throw new TypeError('filename must be a string of 1 to 500 characters');
    }
    if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64.replace(/\s+/g, ''))) {
      throw new TypeError('content_base64 must be a base64 string');
    }
    for (const key of ['mime_type', 'owner', 'scope_id'] as const) {
      const v = req[key];
      if (v !== undefined && (typeof v !== 'string' || v.length === 0)) throw new TypeError(`${key} must be a non-empty string`);
    }
    if (req.mime_type !== undefined && [...req.mime_type].length > MAX_MIME_TYPE) {
      throw new TypeError(`mime_type must be at most ${MAX_MIME_TYPE} characters`);
    }
    if (req.downloadable !== undefined && typeof req.downloadable !== 'boolean') throw new TypeError('downloadable must be a boolean');
    const content = Buffer.from(b64, 'base64');
    const sha256 = createHash('sha256').update(content).digest('hex');
    const stored = this.store.putSync(
      content,
      {
        filename,
        mime_type: req.mime_type ?? 'application/octet-stream',
        downloadable: req.downloadable ?? false,
        owner: req.owner ?? DEFAULT_SEED_OWNER,
        scope_id: req.scope_id ?? null,
      },
      sha256,
    );
    return toInspected(stored);
  }
}
