// The torture suite's seeded randomness: one PRNG per run, so `--seed N` replays the same schedule.
import { mulberry32 } from '../../src/emulator/faults.js';

/** A seeded source of the choices a run makes (changes, delays, fault settings, contents). */
export class Rng {
  private readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next();
  }

  /** An integer in [lo, hi] (both included). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** A 32-bit seed for a derived generator (the emulator's fault draws). */
  derive(): number {
    return Math.floor(this.next() * 0xffffffff) >>> 0;
  }

  /** `size` bytes drawn from the generator (4 bytes per draw: fast enough for tens of MB). */
  bytes(size: number): Buffer {
    const buf = Buffer.allocUnsafe(size);
    let i = 0;
    for (; i + 4 <= size; i += 4) buf.writeUInt32LE(Math.floor(this.next() * 0x100000000) >>> 0, i);
    for (; i < size; i++) buf[i] = Math.floor(this.next() * 256);
    return buf;
  }
}

/** A fresh seed when none is given (printed at start, so the run can be replayed). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x7fffffff);
}
