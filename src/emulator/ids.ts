// Identifiers and timestamps the emulator hands out: file ids, request ids, created_at.
import { randomInt } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[randomInt(62)];
  return out;
}

/** A new file id: `file_` and 24 random base62 characters, like `file_011CNha8iCJcU1wXNR6q4V8w`. */
export function newFileId(): string {
  return `file_${base62(24)}`;
}

/** A new request id for the `request-id` header and error bodies. */
export function newRequestId(): string {
  return `req_${base62(24)}`;
}

/**
 * Microseconds since the epoch that never repeat or go back: each call answers more than the
 * previous one (and more than `floorMicros`, the newest stamp already stored), so `created_at`
 * strictly increases in creation order even across restarts or a clock step back.
 */
export class MicroClock {
  private last: number;
  /**
   * Test option: how far the emulator's clock runs ahead of this host's (negative: behind), for
   * `created_at` and the `Date` header alike, so tests can put the server on another clock.
   */
  offsetMs = 0;
  /** How far the clock was moved ahead by `advance` (tests: expiry), in microseconds. */
  private aheadMicros = 0;
  constructor(floorMicros = 0) {
    this.last = floorMicros;
  }
  /** Moves the clock ahead by `ms` (never back, so creation order stays strict). */
  advance(ms: number): void {
    this.aheadMicros += Math.round(ms * 1000);
  }
  /** The clock's time without taking a stamp. */
  peek(): number {
    return Math.max(this.wall(), this.last);
  }
  /** The server's wall clock in milliseconds (the `Date` header's time). */
  wallMs(): number {
    return this.wall() / 1000;
  }
  private wall(): number {
    return Math.floor((performance.timeOrigin + performance.now() + this.offsetMs) * 1000) + this.aheadMicros;
  }
  /** Raises the floor (when loading stored files). */
  observe(micros: number): void {
    if (micros > this.last) this.last = micros;
  }
  now(): number {
    this.last = Math.max(this.wall(), this.last + 1);
    return this.last;
  }
}

/** RFC 3339 with microseconds, e.g. `2025-04-15T18:37:24.100435Z`. */
export function formatMicros(micros: number): string {
  const iso = new Date(Math.floor(micros / 1000)).toISOString(); // ...T18:37:24.100Z
  const sub = String(micros % 1000).padStart(3, '0');
  return `${iso.slice(0, -1)}${sub}Z`;
}

/** Inverse of {@link formatMicros}; NaN for anything else. */
export function parseMicros(stamp: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)\.(\d{6})Z$/.exec(stamp);
  if (!m?.[1] || !m[2]) return Number.NaN;
  const ms = Date.parse(`${m[1]}.${m[2].slice(0, 3)}Z`);
  return ms * 1000 + Number(m[2].slice(3));
}
