// The daemon's path-job queue (DESIGN.md "Shape"): one job per path, coalesced; settle waits kept off the queue;
// delete candidates batched after a delay and behind pending and parked uploads; jobs parked while the API is
// down; and the exclusive sections (reconciliations, delete batches) that never overlap a running path job.
import PQueue from 'p-queue';
import { ExitCode, SyncError, errorMessage } from '../errors.js';
import type { Entry, ParkReason, PathQueueOptions, QueueStats } from './job-types.js';
import { Timers } from './timers.js';

export type { JobErrorAction, ParkReason, PathQueueOptions, QueueStats } from './job-types.js';

/** A retry after an unexpected error (not an API or per-file one, which the ledger tracks). */
const UNEXPECTED_RETRY_MS = 60_000;

/** The per-path job queue. */
export class PathQueue {
  private readonly queue: PQueue;
  private readonly entries = new Map<string, Entry>();
  /** Delete candidates: path → when its delete is due. */
  private readonly deletes = new Map<string, number>();
  /** Gone paths a batch kept (a move's new path waits on a failed upload): in every batch, due after any path job. */
  private readonly waiting = new Set<string>();
  private readonly parked = new Set<string>();
  private readonly holds = new Set<string>();
  private readonly timers = new Timers();
  private deleteTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private afterWorkQueued = false;
  private batchRunning = false;
  /** Exclusive sections asked for and not ended. */
  private sections = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** Past the cap: hints are dropped until the full reconciliation that covers them starts. */
  private dropping = false;

  constructor(private readonly o: PathQueueOptions) {
    this.queue = new PQueue({ concurrency: o.concurrency });
  }

  set concurrency(n: number) {
    this.queue.concurrency = n;
  }

  /** A hint for `path`: its job runs soon, and once however many hints arrive meanwhile. */
  schedule(path: string): void {
    if (this.stopped || this.dropping) return;
    const entry = this.entries.get(path);
    if (entry) {
      if (entry.state === 'running') entry.dirty = true;
      return; // queued or settling: that job will look at the path as it is then
    }
    if (this.full()) return this.overflow();
    this.enqueue(path, { state: 'queued', dirty: false, timer: null });
  }

  /** The path is gone: its remote copy is deleted after the delay, unless it comes back. */
  scheduleDelete(path: string): void {
    if (this.stopped || this.dropping) return;
    if (!this.deletes.has(path) && this.full()) return this.overflow();
    this.deletes.set(path, Date.now() + this.o.deleteDelayMs());
    this.armDeletes();
  }

  /**
   * Runs `fn` alone: path jobs are paused and the running ones awaited first; sections run one at
   * a time in call order. Path hints arriving meanwhile queue up and run afterwards.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    // No job starts from now until the last section asked for has ended.
    this.sections++;
    this.hold('exclusive');
    const run = this.chain
      .then(async () => {
        if (this.stopped) throw new SyncError('the daemon is stopping', ExitCode.fileFailures);
        await this.queue.onPendingZero();
        return await fn();
      })
      .finally(() => {
        if (--this.sections === 0) this.release('exclusive');
      });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** True while hints are dropped after an overflow. */
  get overflowed(): boolean {
    return this.dropping;
  }

  /** A full reconciliation starts: hints count again (the walk may pass a path before its change; those before are covered). */
  acceptHints(): void {
    this.dropping = false;
  }

  /** The API is down (`api`) or its storage full (`storage`): jobs stay queued, and paths whose job failed wait here. */
  park(reason: ParkReason = 'api'): void {
    this.hold(reason);
  }

  /** That trouble is over: parked paths are scheduled again (they run once no other trouble holds the queue), then the deletes. */
  unpark(reason: ParkReason = 'api'): void {
    this.release(reason);
    const paths = [...this.parked];
    this.parked.clear();
    for (const p of paths) this.schedule(p);
    this.armDeletes();
  }

  stats(): QueueStats {
    let queued = 0;
    let settling = 0;
    for (const entry of this.entries.values()) {
      if (entry.state === 'queued') queued++;
      else if (entry.state === 'settling') settling++;
    }
    return { queued, running: this.queue.pending, settling, parked: this.parked.size, deletesWaiting: this.deletes.size };
  }

  /** Drops everything queued and waiting; running jobs finish (see `settled`). */
  stop(): void {
    this.stopped = true;
    this.queue.pause();
    this.queue.clear();
    this.timers.clear();
    for (const entry of this.entries.values()) if (entry.timer) clearTimeout(entry.timer);
    if (this.deleteTimer) clearTimeout(this.deleteTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.deleteTimer = this.retryTimer = null;
  }

  /** After work (debounced): one timer for the earliest end of a back-off, which schedules every path whose back-off ended. */
  afterWork(): void {
    if (this.afterWorkQueued || this.stopped) return;
    this.afterWorkQueued = true;
    setImmediate(() => {
      this.afterWorkQueued = false;
      if (this.stopped) return;
      // One indexed row per call, not the whole failures table per finished job.
      const now = Date.now();
      const next = this.o.nextRetryAfter(now);
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = null;
      if (next === null) return;
      this.retryTimer = setTimeout(
        () => {
          this.retryTimer = null;
          for (const p of this.o.retriesDueBy(Date.now() + 250)) this.schedule(p);
        },
        Math.min(next - now + 250, 2 ** 31 - 1),
      );
    });
  }

  /** Resolves when no path job runs and no exclusive section is under way. */
  async settled(): Promise<void> {
    await Promise.all([this.queue.onPendingZero(), this.chain]);
  }

  private full(): boolean {
    return this.entries.size + this.parked.size + this.deletes.size + this.waiting.size >= this.o.maxPending();
  }

  /** Drops every waiting path (running jobs finish) and tells the daemon, which reconciles fully. */
  private overflow(): void {
    const pending = this.entries.size + this.parked.size + this.deletes.size + this.waiting.size;
    this.dropping = true;
    this.queue.clear();
    for (const [p, entry] of this.entries) {
      if (entry.state === 'running') {
        entry.dirty = false;
        continue;
      }
      if (entry.timer) clearTimeout(entry.timer);
      this.entries.delete(p);
    }
    this.parked.clear();
    this.deletes.clear();
    this.waiting.clear();
    if (this.deleteTimer) clearTimeout(this.deleteTimer);
    this.deleteTimer = null;
    this.o.onOverflow(pending);
  }

  private hold(reason: string): void {
    this.holds.add(reason);
    this.queue.pause();
  }

  private release(reason: string): void {
    this.holds.delete(reason);
    if (this.holds.size === 0 && !this.stopped) this.queue.start();
  }

  private enqueue(path: string, entry: Entry): void {
    entry.state = 'queued';
    this.entries.set(path, entry);
    this.queue
      .add(() => this.run(path))
      .catch((err: unknown) => this.o.logger.error('path job crashed', { path, error: errorMessage(err) }));
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    return this.timers.later(ms, fn);
  }

  private async run(path: string): Promise<void> {
    // Hints of the same burst (one write makes several events) arrive in this tick: this job covers them.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const entry = this.entries.get(path);
    if (!entry || this.stopped) return;
    entry.state = 'running';
    entry.dirty = false;
    let settleMs = 0;
    try {
      const outcome = await this.o.runPath(path);
      if (outcome.kind === 'settle') settleMs = outcome.waitMs;
      else if (outcome.kind === 'gone') this.scheduleDelete(path);
      else this.rearmWaiting(); // this path may be a kept move's new side: stored, gone, or its failure cleared
    } catch (err) {
      const action = this.o.onError(err, [path]);
      if (action === 'park') this.parked.add(path);
      else if (action === 'retry') this.later(UNEXPECTED_RETRY_MS, () => this.schedule(path));
    } finally {
      if (this.stopped || this.dropping || this.parked.has(path)) {
        this.entries.delete(path);
      } else if (entry.dirty) {
        this.enqueue(path, entry);
      } else if (settleMs > 0) {
        entry.state = 'settling';
        entry.timer = setTimeout(() => {
          entry.timer = null;
          if (!this.stopped) this.enqueue(path, entry);
        }, settleMs);
      } else {
        this.entries.delete(path);
      }
      this.afterWork();
    }
  }

  /** Arms the next delete batch; none while uploads are parked (a moved file's new copy may be among them): `unpark` arms it. */
  private armDeletes(): void {
    if (this.deleteTimer || this.batchRunning || this.stopped || this.deletes.size === 0 || this.parked.size > 0) return;
    let due = Infinity;
    for (const at of this.deletes.values()) due = Math.min(due, at);
    this.deleteTimer = setTimeout(
      () => {
        this.deleteTimer = null;
        this.runDueDeletes().catch(() => undefined); // it handles its own errors
      },
      Math.max(0, due - Date.now()),
    );
  }

  /** The kept moves become due again (from `waiting` into `deletes`): the next batch looks at them anew. */
  private rearmWaiting(): void {
    const kept = [...this.waiting];
    this.waiting.clear(); // before: `full()` counts `deletes` and `waiting`, a path in both twice
    for (const p of kept) this.scheduleDelete(p);
  }

  /** Resolves when nothing is queued or running (settling files are not waited for). */
  private async whenIdle(): Promise<void> {
    while (!this.stopped && (this.queue.size > 0 || this.queue.pending > 0)) await this.queue.onIdle();
  }

  /** Deletes run after the uploads queued before them, in one batch, so the guard sees an `rm -rf` whole. */
  private async runDueDeletes(): Promise<void> {
    this.batchRunning = true;
    try {
      await this.whenIdle();
      if (this.stopped || this.parked.size > 0) return; // uploads that could not run come first
      // Every waiting candidate goes in this batch, not only the due ones: the paths of one
      // `rm -rf` become candidates over a spread of job completions, and a batch split by due
      // time could pass the mass-delete guard piece by piece. The batch re-checks each path, so a
      // younger candidate that came back is not deleted.
      const due = [...new Set([...this.deletes.keys(), ...this.waiting])];
      this.deletes.clear();
      this.waiting.clear();
      if (due.length === 0) return;
      await this.exclusive(async () => {
        try {
          const outcome = await this.o.runDeletes(due);
          for (const p of outcome.back) this.schedule(p);
          for (const p of outcome.waiting) this.waiting.add(p);
        } catch (err) {
          const action = this.o.onError(err, due);
          if (action === 'park') for (const p of due) this.parked.add(p);
          else if (action === 'retry') this.later(UNEXPECTED_RETRY_MS, () => due.forEach((p) => this.scheduleDelete(p)));
        }
      }).catch(() => undefined); // only when stopping
    } finally {
      this.batchRunning = false;
      if (!this.stopped) {
        this.afterWork();
        this.armDeletes();
      }
    }
  }
}
