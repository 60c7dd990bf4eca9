// The path-job queue's cap on waiting paths, in isolation with fake timers: past `maxPending` it
// drops every waiting path, reports the overflow once, ignores hints until `acceptHints()`.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PathQueue } from '../../src/daemon/jobs.js';
import type { PathOutcome } from '../../src/daemon/pathsync.js';
import { silentLogger } from '../../src/log.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('PathQueue: the cap on waiting paths', () => {
  it('drops everything waiting past the cap, reports it once, and takes hints again when told', async () => {
    const calls: string[] = [];
    const overflows: number[] = [];
    const q = new PathQueue({
      concurrency: 1,
      deleteDelayMs: () => 1000,
      runPath: async (p): Promise<PathOutcome> => {
        calls.push(p);
        return { kind: 'settle', waitMs: 5_000 }; // keeps every path waiting
      },
      runDeletes: async () => ({ deleted: 0, back: [], held: null, blocked: null, waiting: [] }),
      onError: () => 'drop',
      nextRetryAfter: () => null,
      retriesDueBy: () => [],
      maxPending: () => 10,
      onOverflow: (pending) => overflows.push(pending),
      logger: silentLogger(),
    });
    q.park(); // nothing runs: every hint stays queued
    for (let i = 0; i < 1000; i++) q.schedule(`f${i}`);
    expect(overflows).toEqual([10]);
    expect(q.overflowed).toBe(true);
    expect(q.stats()).toMatchObject({ queued: 0, settling: 0, parked: 0, deletesWaiting: 0 });
    q.unpark();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toEqual([]); // the dropped paths are the reconciliation's now

    q.acceptHints();
    q.schedule('after.txt');
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['after.txt']);
    expect(overflows).toEqual([10]);
    q.stop();
  });
});
