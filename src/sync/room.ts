// The executor's bound on queued jobs: its producers (the merge's takes, the deletes) wait for room,
// so that memory holds the queue, not the tree (issue 13).
import type PQueue from 'p-queue';

/** Queued jobs before producers wait: twice an intent batch (the walk's 16 takes may each add one past it). */
export const MAX_QUEUED = 256;

/** The size a full queue drains to before producers go on: one wait a drain, not one a job. */
export const QUEUED_LOW = MAX_QUEUED - 8;

/** Room in one queue: a single wait, whatever the number of producers waiting (one queue listener, ~1.5 KB of garbage). */
export class QueueRoom {
  #wait: Promise<void> | null = null;

  constructor(private readonly queue: PQueue) {}

  /** Resolves at once below MAX_QUEUED, else once the queue has drained below QUEUED_LOW. */
  async wait(): Promise<void> {
    if (this.queue.size < MAX_QUEUED) return;
    this.#wait ??= this.queue.onSizeLessThan(QUEUED_LOW).finally(() => {
      this.#wait = null;
    });
    await this.#wait;
  }
}
