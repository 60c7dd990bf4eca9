// The daemon's scheduling in isolation, with fake timers: the path-job queue (coalescing, settle
// waits, delete batches, exclusive sections, parking, failure back-off) and the reconciliation loop
// (one at a time, triggers folded into one follow-up, periodic runs with jitter).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PathQueue, type PathQueueOptions } from '../../src/daemon/jobs.js';
import { ReconcileLoop, type Allow, type RunRequest } from '../../src/daemon/loop.js';
import type { DeleteBatchOutcome, PathOutcome } from '../../src/daemon/pathsync.js';
import { silentLogger } from '../../src/log.js';
import type { SyncReport } from '../../src/sync/reconcile.js';
import type { ExecuteReport } from '../../src/sync/types.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const DONE: PathOutcome = { kind: 'done', report: null };
const NO_DELETES: DeleteBatchOutcome = { deleted: 0, back: [], held: null, blocked: null, waiting: [] };

function queue(overrides: Partial<PathQueueOptions> = {}) {
  const calls: string[] = [];
  const batches: string[][] = [];
  const q = new PathQueue({
    concurrency: 2,
    deleteDelayMs: () => 1000,
    runPath: async (p) => {
      calls.push(p);
      return DONE;
    },
    runDeletes: async (paths) => {
      batches.push([...paths].sort());
      return NO_DELETES;
    },
    onError: () => 'drop',
    nextRetryAfter: () => null,
    retriesDueBy: () => [],
    maxPending: () => 100_000,
    onOverflow: () => undefined,
    logger: silentLogger(),
    ...overrides,
  });
  return { q, calls, batches };
}

describe('PathQueue', () => {
  it('runs one job for many hints to a queued path', async () => {
    const { q, calls } = queue();
    for (let i = 0; i < 5; i++) q.schedule('a');
    q.schedule('b');
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.sort()).toEqual(['a', 'b']);
  });

  it('runs a path once more when a hint arrives while its job runs', async () => {
    const gate = deferred();
    const calls: string[] = [];
    const { q } = queue({
      runPath: async (p) => {
        calls.push(p);
        if (calls.length === 1) await gate.promise;
        return DONE;
      },
    });
    q.schedule('a');
    await vi.advanceTimersByTimeAsync(0);
    q.schedule('a');
    q.schedule('a');
    expect(q.stats()).toMatchObject({ running: 1, queued: 0 });
    gate.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['a', 'a']);
  });

  it('waits off the queue for a file to settle, then looks again', async () => {
    let young = true;
    const calls: string[] = [];
    const { q } = queue({
      runPath: async (p) => {
        calls.push(p);
        return young ? { kind: 'settle', waitMs: 500 } : DONE;
      },
    });
    q.schedule('a');
    await vi.advanceTimersByTimeAsync(0);
    expect(q.stats()).toMatchObject({ settling: 1, running: 0 });
    young = false;
    await vi.advanceTimersByTimeAsync(499);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(1); // the job starts an immediate after it is queued
    expect(calls).toHaveLength(2);
    expect(q.stats().settling).toBe(0);
  });

  it('deletes every waiting gone path in one batch once the first is due, behind pending uploads', async () => {
    const slow = deferred();
    const order: string[] = [];
    const { q, batches } = queue({
      runPath: async (p) => {
        if (p.startsWith('gone')) return { kind: 'gone' };
        await slow.promise;
        order.push(`upload ${p}`);
        return DONE;
      },
      runDeletes: async (paths) => {
        order.push(`delete ${paths.length}`);
        batches.push([...paths].sort());
        return NO_DELETES;
      },
    });
    q.schedule('gone-1');
    q.schedule('gone-2');
    q.schedule('new');
    await vi.advanceTimersByTimeAsync(200);
    q.schedule('gone-3');
    await vi.advanceTimersByTimeAsync(800); // the first two are due, the upload still runs
    expect(batches).toEqual([]);
    slow.resolve();
    await vi.advanceTimersByTimeAsync(0);
    // One batch takes every waiting candidate, so the guard sees a burst of deletes whole.
    expect(order).toEqual(['upload new', 'delete 3']);
    await vi.advanceTimersByTimeAsync(300);
    expect(batches).toEqual([['gone-1', 'gone-2', 'gone-3']]);
  });

  it('schedules a path whose delete finds it back, instead of deleting it', async () => {
    const { q, calls } = queue({
      runPath: async (p) => (calls.push(p), calls.length === 1 ? { kind: 'gone' } : DONE),
      runDeletes: async (paths) => ({ ...NO_DELETES, back: [...paths] }),
    });
    q.schedule('a');
    await vi.advanceTimersByTimeAsync(1001);
    expect(calls).toEqual(['a', 'a']);
  });

  it("keeps a batch's waiting moves for every later batch, and makes them due again after a path job", async () => {
    const batches: string[][] = [];
    const uploaded: PathOutcome = { kind: 'done', report: { uploaded: 1 } as ExecuteReport };
    const { q } = queue({
      runPath: async (p) => (p.startsWith('gone') ? { kind: 'gone' } : p === 'stored' ? uploaded : DONE),
      // The first batch keeps its old copy: the move's new path waits on a failed upload.
      runDeletes: async (paths) => (batches.push([...paths].sort()), { ...NO_DELETES, waiting: batches.length === 1 ? ['gone-1'] : [] }),
    });
    q.schedule('gone-1');
    await vi.advanceTimersByTimeAsync(1001);
    expect(batches).toEqual([['gone-1']]);
    // Nothing makes it due by itself: no batch runs again.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(batches).toHaveLength(1);
    // A path job (maybe the move's new path: stored, or gone) makes it due again.
    q.schedule('stored');
    await vi.advanceTimersByTimeAsync(1001);
    expect(batches).toEqual([['gone-1'], ['gone-1']]);
    // It was let go the second time: a later batch has only its own paths.
    q.schedule('gone-2');
    await vi.advanceTimersByTimeAsync(1001);
    expect(batches.at(-1)).toEqual(['gone-2']);
  });

  it('puts the waiting moves in the next batch another delete starts', async () => {
    const batches: string[][] = [];
    const { q } = queue({
      runPath: async () => ({ kind: 'gone' }),
      runDeletes: async (paths) => (
        batches.push([...paths].sort()),
        { ...NO_DELETES, waiting: paths.includes('gone-1') ? ['gone-1'] : [] }
      ),
    });
    q.schedule('gone-1');
    await vi.advanceTimersByTimeAsync(1001);
    q.schedule('gone-2');
    await vi.advanceTimersByTimeAsync(1001);
    expect(batches).toEqual([['gone-1'], ['gone-1', 'gone-2']]);
  });

  it('runs an exclusive section only when no job runs, and holds new jobs until it ends', async () => {
    const job = deferred();
    const section = deferred();
    const events: string[] = [];
    const { q } = queue({
      runPath: async (p) => {
        events.push(`start ${p}`);
        if (p === 'a') await job.promise;
        events.push(`end ${p}`);
        return DONE;
      },
    });
    q.schedule('a');
    await vi.advanceTimersByTimeAsync(0);
    const done = q.exclusive(async () => {
      events.push('section');
      await section.promise;
      events.push('section end');
    });
    q.schedule('b');
    await vi.advanceTimersByTimeAsync(0);
    expect(events).toEqual(['start a']);
    job.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(events).toEqual(['start a', 'end a', 'section']);
    section.resolve();
    await done;
    await vi.advanceTimersByTimeAsync(0);
    expect(events).toEqual(['start a', 'end a', 'section', 'section end', 'start b', 'end b']);
  });

  it('parks the paths of jobs that met an unreachable API until it is back', async () => {
    let down = true;
    const calls: string[] = [];
    const { q } = queue({
      runPath: async (p) => {
        calls.push(p);
        if (down) throw new Error('unavailable');
        return DONE;
      },
      onError: () => 'park',
    });
    q.schedule('a');
    await vi.advanceTimersByTimeAsync(0);
    q.park();
    q.schedule('b'); // queued behind the parked API
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toEqual(['a']);
    expect(q.stats()).toMatchObject({ parked: 1, queued: 1 });
    down = false;
    q.unpark();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.sort()).toEqual(['a', 'a', 'b']);
  });

  it('retries a failed path when its back-off ends', async () => {
    const now = Date.now();
    const failures = [
      { path: 'flaky.txt', retryable: true, nextRetryAt: now + 30_000 },
      { path: 'never.txt', retryable: false, nextRetryAt: null },
    ];
    const retryable = failures.filter((f) => f.retryable);
    const { q, calls } = queue({
      nextRetryAfter: (t) =>
        retryable
          .map((f) => f.nextRetryAt!)
          .filter((at) => at > t)
          .sort()[0] ?? null,
      retriesDueBy: (t) => retryable.filter((f) => f.nextRetryAt! <= t).map((f) => f.path),
    });
    q.afterWork();
    await vi.advanceTimersByTimeAsync(29_000);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_500);
    expect(calls).toEqual(['flaky.txt']);
  });
});

function report(n: number): SyncReport {
  return { startedAt: n, finishedAt: n, exitCode: 0, uploaded: n, failed: [] } as unknown as SyncReport;
}

describe('ReconcileLoop', () => {
  it('runs one reconciliation at a time and folds requests made meanwhile into one follow-up', async () => {
    const runs: { reasons: readonly string[]; allow: Allow; done: ReturnType<typeof deferred<SyncReport>> }[] = [];
    const loop = new ReconcileLoop({
      run: (walking) => {
        const done = deferred<SyncReport>();
        runs.push({ ...walking(), done });
        return done.promise;
      },
      intervalMs: () => 60_000,
      onError: () => undefined,
    });
    const first = loop.request('start');
    await vi.advanceTimersByTimeAsync(0);
    const a = loop.request('sync request', { allow: { massDelete: true } });
    loop.trigger('SIGUSR1');
    const b = loop.request('watcher error');
    expect(runs).toHaveLength(1);
    runs[0]!.done.resolve(report(1));
    expect(await first).toEqual(report(1));
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toHaveLength(2);
    expect(runs[1]!.reasons).toEqual(['sync request', 'SIGUSR1', 'watcher error']);
    expect(runs[1]!.allow).toEqual({ massDelete: true, duplicates: false });
    runs[1]!.done.resolve(report(2));
    expect(await a).toEqual(report(2));
    expect(await b).toEqual(report(2));
    await loop.stop();
  });

  it('a request made while the running reconciliation has not begun its walk joins it; later ones follow it', async () => {
    const walk = deferred();
    const served: RunRequest[] = [];
    const done = [deferred<SyncReport>(), deferred<SyncReport>()];
    const loop = new ReconcileLoop({
      // Like the daemon's: it waits (for the watch, for the path jobs) before its walk begins.
      run: async (walking) => {
        const n = served.length;
        if (n === 0) await walk.promise;
        served.push(walking());
        return done[n]!.promise;
      },
      intervalMs: () => 60_000,
      onError: () => undefined,
    });
    const first = loop.request('start');
    await vi.advanceTimersByTimeAsync(0);
    const joined = loop.request('sync request', { allow: { massDelete: true } });
    loop.trigger('watcher error');
    expect(loop.status()).toMatchObject({ running: true, followUp: false });
    walk.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(served).toEqual([{ reasons: ['start', 'sync request', 'watcher error'], allow: { massDelete: true, duplicates: false } }]);
    // Its walk has begun: a request now may name a change it passed, so it gets a run of its own.
    const later = loop.request('SIGUSR1');
    expect(loop.status()).toMatchObject({ running: true, followUp: true });
    done[0]!.resolve(report(1));
    expect(await first).toEqual(report(1));
    expect(await joined).toEqual(report(1));
    await vi.advanceTimersByTimeAsync(0);
    expect(served[1]).toEqual({ reasons: ['SIGUSR1'], allow: { massDelete: false, duplicates: false } });
    done[1]!.resolve(report(2));
    expect(await later).toEqual(report(2));
    await loop.stop();
  });

  it('runs periodically, the interval ±20% from the end of the last run', async () => {
    let runs = 0;
    let jitter = 0;
    const loop = new ReconcileLoop({
      run: async () => report(++runs),
      intervalMs: () => 100_000,
      onError: () => undefined,
      random: () => jitter,
    });
    loop.schedulePeriodic(); // random 0: 80% of the interval
    await vi.advanceTimersByTimeAsync(79_999);
    expect(runs).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toBe(1);
    jitter = 1; // 120%
    await vi.advanceTimersByTimeAsync(80_000); // the next was armed at 80% before jitter changed
    expect(runs).toBe(2);
    await vi.advanceTimersByTimeAsync(119_999);
    expect(runs).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toBe(3);
    expect(loop.status().nextAt).not.toBeNull();
    await loop.stop();
  });
});
