// The client-side rate limiter: a strict sliding window shared by every request of one client.

/**
 * At most `cap` takes in any window of `windowMs`, waiters served first come, first served. A
 * take that finds a free slot and nobody waiting costs no promise and no timer (the common case
 * below the limit: 10,000 uploads paid ~0.35 s of CPU for a queue job each); one that must wait
 * resolves when the oldest take in the window leaves it.
 */
export class SlidingWindowLimiter {
  readonly #cap: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  /** Times of the takes still in the window, oldest first, from `#head` on. */
  #times: number[] = [];
  #head = 0;
  readonly #waiters: Waiter[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(cap: number, windowMs: number, now: () => number = () => performance.now()) {
    if (!Number.isInteger(cap) || cap < 1) throw new RangeError('the limiter cap must be a positive integer');
    if (!(windowMs > 0)) throw new RangeError('the limiter window must be positive');
    this.#cap = cap;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /**
   * Takes a slot: `undefined` when one was free now, else a promise that resolves once taken.
   * Rejects (or throws) with the reason of the first of `signals` aborted before; the slot is not used.
   */
  take(...signals: (AbortSignal | undefined)[]): Promise<void> | undefined {
    for (const signal of signals) signal?.throwIfAborted();
    if (this.#waiters.length === 0 && this.#tryTake()) return undefined;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signals: signals.filter((s) => s !== undefined), onAbort: undefined };
      waiter.onAbort = (event: Event) => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        if (this.#waiters.length === 0) this.#cancelTimer();
        unlisten(waiter);
        const reason: unknown = (event.target as AbortSignal).reason;
        reject(reason instanceof Error ? reason : new Error(String(reason)));
      };
      for (const signal of waiter.signals) signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#schedule();
    });
  }

  /** Takes currently in the window (for tests and status). */
  get inWindow(): number {
    this.#expire(this.#now());
    return this.#times.length - this.#head;
  }

  #expire(now: number): void {
    const times = this.#times;
    while (this.#head < times.length && times[this.#head]! <= now - this.#windowMs) this.#head++;
    // Compact now and then so the array does not grow with every request ever made.
    if (this.#head > 1024 && this.#head * 2 > times.length) {
      this.#times = times.slice(this.#head);
      this.#head = 0;
    }
  }

  #tryTake(): boolean {
    const now = this.#now();
    this.#expire(now);
    if (this.#times.length - this.#head >= this.#cap) return false;
    this.#times.push(now);
    return true;
  }

  /** Arms one timer for when the oldest take leaves the window. */
  #schedule(): void {
    if (this.#timer !== undefined || this.#waiters.length === 0) return;
    const oldest = this.#times[this.#head];
    const delay = oldest === undefined ? 0 : Math.max(0, oldest + this.#windowMs - this.#now());
    // Rounded up: a timer firing a fraction early would find the slot still taken.
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#drain();
      },
      Math.ceil(delay) + 1,
    );
  }

  /** Nobody waits any more: no timer may keep the process alive. */
  #cancelTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #drain(): void {
    while (this.#waiters.length > 0 && this.#tryTake()) {
      const waiter = this.#waiters.shift()!;
      unlisten(waiter);
      waiter.resolve();
    }
    this.#schedule();
  }
}

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  signals: AbortSignal[];
  onAbort: ((event: Event) => void) | undefined;
}

function unlisten(waiter: Waiter): void {
  if (waiter.onAbort) for (const signal of waiter.signals) signal.removeEventListener('abort', waiter.onAbort);
}
