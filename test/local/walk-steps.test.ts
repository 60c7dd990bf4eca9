// forEachConcurrent, the bounded pool of the walk and the pass: how many run at once, failures, and
// turns of the event loop during a long run of items that never wait on it.
import { describe, expect, it } from 'vitest';
import { forEachConcurrent } from '../../src/local/walk-steps.js';

/** Busy for `ms` on the main thread, as a synchronous read and hash of a small file is. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('forEachConcurrent', () => {
  it('lets a timer fire during a run of synchronous items, long before the last', async () => {
    const items = Array.from({ length: 1000 }, (_, i) => i);
    let doneWhenTimerFired: number | undefined;
    let done = 0;
    setTimeout(() => (doneWhenTimerFired = done), 0);

    await forEachConcurrent(items, 16, async () => {
      busy(0.05);
      done++;
    });

    // 50 ms of work in all: without a turn of the loop the timer would wait for every item.
    expect(done).toBe(1000);
    expect(doneWhenTimerFired).toBeDefined();
    expect(doneWhenTimerFired!).toBeLessThan(500);
  });

  it('starts no item once a run failed during a turn of the loop', async () => {
    let failedAt: number | undefined;
    let startedAfter = 0;
    let started = 0;
    const run = forEachConcurrent(
      Array.from({ length: 1000 }, (_, i) => i),
      16,
      (i) => {
        started++;
        if (failedAt !== undefined) startedAfter++;
        busy(0.05);
        // The first item fails in a timer, so its failure lands in the pool's first turn.
        if (i === 0)
          return new Promise<void>((_, reject) =>
            setTimeout(() => {
              failedAt = started;
              reject(new Error('item 0 failed'));
            }, 0),
          );
        return Promise.resolve();
      },
    );
    await expect(run).rejects.toThrow('item 0 failed');
    expect(failedAt).toBeDefined();
    expect(startedAfter).toBe(0);
  });

  it('runs at most `concurrency` at once and every item once', async () => {
    let running = 0;
    let most = 0;
    const seen: number[] = [];
    await forEachConcurrent(
      Array.from({ length: 100 }, (_, i) => i),
      4,
      async (i) => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 1));
        seen.push(i);
        running--;
      },
    );
    expect(most).toBe(4);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('starts nothing after a failure and rejects once the runs in flight settled', async () => {
    let started = 0;
    let settled = 0;
    const run = forEachConcurrent(
      Array.from({ length: 50 }, (_, i) => i),
      3,
      async (i) => {
        started++;
        await new Promise((resolve) => setTimeout(resolve, 2));
        settled++;
        if (i === 5) throw new Error('item 5 failed');
      },
    );
    await expect(run).rejects.toThrow('item 5 failed');
    expect(started).toBeLessThan(12);
    expect(settled).toBe(started);
  });
});
