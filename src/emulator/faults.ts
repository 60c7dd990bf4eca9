// Injected faults (429/500/529, latency, reset or lost uploads) and the optional rate limit.
import type { FaultConfig, RateLimitConfig } from './types.js';

/** A small seedable PRNG (mulberry32): the same seed gives the same fault sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fault that replaces the answer of an API request. */
export type StatusFault = { status: 429 | 500 | 529; retryAfterSeconds?: number };

/** What happens to an upload beyond the normal path. */
export type UploadFault = 'reset' | 'lost_answer' | undefined;

const SHARES = ['rate429', 'rate500', 'rate529', 'resetMidUpload', 'lostUploadAnswer'] as const;
const COUNTS = ['count429', 'count500', 'count529'] as const;

/** Checks a fault config; throws a TypeError naming the bad key. */
export function validateFaults(f: FaultConfig): FaultConfig {
  if (typeof f !== 'object' || f === null || Array.isArray(f)) throw new TypeError('faults must be an object');
  const known = new Set<string>([...SHARES, ...COUNTS, 'retryAfterSeconds', 'latencyMs', 'deleteListLagMs', 'seed']);
  for (const key of Object.keys(f)) if (!known.has(key)) throw new TypeError(`unknown fault setting "${key}"`);
  const rec = f as Record<string, unknown>;
  for (const key of SHARES) {
    const v = rec[key];
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0 && v <= 1))) throw new TypeError(`${key} must be a number in [0, 1]`);
  }
  for (const key of [...COUNTS, 'retryAfterSeconds', 'latencyMs', 'deleteListLagMs'] as const) {
    const v = rec[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0))
      throw new TypeError(`${key} must be a non-negative integer`);
  }
  if (f.seed !== undefined && (typeof f.seed !== 'number' || !Number.isFinite(f.seed))) throw new TypeError('seed must be a number');
  if ((f.rate429 ?? 0) + (f.rate500 ?? 0) + (f.rate529 ?? 0) > 1) throw new TypeError('rate429 + rate500 + rate529 must not exceed 1');
  return f;
}

/**
 * Decides, request by request, which fault to inject. Counted faults (`count429`, ...) come first
 * and are used up in that order; then one draw of the PRNG picks 429, 500 or 529 by their shares.
 * Uploads that got no status fault draw once more for a reset and once for a lost answer.
 */
export class FaultInjector {
  private config: FaultConfig = {};
  private counts = { 429: 0, 500: 0, 529: 0 };
  private random: () => number = Math.random;

  constructor(config: FaultConfig = {}) {
    this.set(config);
  }

  /** Replaces the whole configuration (and the remaining counts); reseeds when `seed` is given. */
  set(config: FaultConfig): void {
    this.config = { ...validateFaults(config) };
    this.counts = { 429: config.count429 ?? 0, 500: config.count500 ?? 0, 529: config.count529 ?? 0 };
    this.random = config.seed === undefined ? Math.random : mulberry32(config.seed);
  }

  /** The configuration with the counts that are still left. */
  current(): FaultConfig {
    return { ...this.config, count429: this.counts[429], count500: this.counts[500], count529: this.counts[529] };
  }

  get latencyMs(): number {
    return this.config.latencyMs ?? 0;
  }

  get deleteListLagMs(): number {
    return this.config.deleteListLagMs ?? 0;
  }

  /** The status fault for the next API request, if any. */
  nextStatus(): StatusFault | undefined {
    for (const status of [429, 500, 529] as const) {
      if (this.counts[status] > 0) {
        this.counts[status]--;
        return this.withRetryAfter(status);
      }
    }
    const r429 = this.config.rate429 ?? 0;
    const r500 = this.config.rate500 ?? 0;
    const r529 = this.config.rate529 ?? 0;
    if (r429 + r500 + r529 === 0) return undefined;
    const draw = this.random();
    if (draw < r429) return this.withRetryAfter(429);
    if (draw < r429 + r500) return { status: 500 };
    if (draw < r429 + r500 + r529) return { status: 529 };
    return undefined;
  }

  /** The upload fault for an upload that got no status fault. */
  nextUpload(): UploadFault {
    const reset = this.config.resetMidUpload ?? 0;
    if (reset > 0 && this.random() < reset) return 'reset';
    const lost = this.config.lostUploadAnswer ?? 0;
    if (lost > 0 && this.random() < lost) return 'lost_answer';
    return undefined;
  }

  private withRetryAfter(status: 429 | 500 | 529): StatusFault {
    return status === 429 ? { status, retryAfterSeconds: this.config.retryAfterSeconds ?? 1 } : { status };
  }
}

/** Checks a rate limit config; throws a TypeError naming the bad key. */
export function validateRateLimit(r: RateLimitConfig): RateLimitConfig {
  if (typeof r !== 'object' || r === null) throw new TypeError('rateLimit must be an object');
  if (!Number.isInteger(r.requests) || r.requests < 1) throw new TypeError('rateLimit.requests must be a positive integer');
  if (r.windowMs !== undefined && (!Number.isInteger(r.windowMs) || r.windowMs < 1))
    throw new TypeError('rateLimit.windowMs must be a positive integer');
  return r;
}

/**
 * A sliding-window log: a request is admitted when fewer than `requests` requests were admitted in
 * the last `windowMs`. A refused request is not recorded, and is told to retry when the oldest
 * admitted one leaves the window (`retry-after` in whole seconds, rounded up, at least 1).
 */
export class RateLimiter {
  private readonly requests: number;
  private readonly windowMs: number;
  private readonly admitted: number[] = [];

  constructor(
    config: RateLimitConfig,
    private readonly now: () => number = Date.now,
  ) {
    validateRateLimit(config);
    this.requests = config.requests;
    this.windowMs = config.windowMs ?? 60_000;
  }

  /** `undefined` when admitted, else the seconds to wait. */
  take(): number | undefined {
    const now = this.now();
    while (this.admitted.length > 0 && (this.admitted[0] ?? 0) <= now - this.windowMs) this.admitted.shift();
    if (this.admitted.length < this.requests) {
      this.admitted.push(now);
      return undefined;
    }
    const oldest = this.admitted[0] ?? now;
    return Math.max(1, Math.ceil((oldest + this.windowMs - now) / 1000));
  }
}
