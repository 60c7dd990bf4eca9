// A counting semaphore: at most N tasks run at once, the rest wait in arrival order.

/** Runs async tasks at most `size` at a time, in the order they asked. */
export class Slots {
  private free: number;
  private waiting: (() => void)[] = [];
  /** Index of the first waiter (shifting a long array is O(n) a call). */
  private head = 0;

  constructor(size: number) {
    this.free = Math.max(1, size);
  }

  /** Runs `task` once a slot is free; the slot is given back when it settles. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting[this.head];
    if (next === undefined) {
      this.waiting = [];
      this.head = 0;
      this.free++;
      return;
    }
    this.head++;
    if (this.head >= 1024 && this.head * 2 >= this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    next();
  }
}
