// The daemon's one control loop for full reconciliations (STYLE.md 6): they run one at a time;
// a request made before the running one begins its walk joins it, later ones fold into a single
// follow-up, which every requester shares; a periodic run every `reconcileIntervalMinutes` ±20%.
import { ExitCode, SyncError } from '../errors.js';
import type { Progress } from '../sync/types.js';
import type { Counts, SyncReport } from '../sync/reconcile.js';

/** Receives the progress of the reconciliation a requester waits for. */
export type ProgressListener = (phase: 'scan' | 'sync', progress: Progress) => void;

interface Waiter {
  resolve: (report: SyncReport) => void;
  reject: (err: unknown) => void;
  onProgress?: ProgressListener | undefined;
}

/** The reason of a reconciliation `files-sync sync` asked for over the control socket. */
export const SYNC_REQUEST = 'sync request';

/** What the user's word allows a requested reconciliation (`sync --allow-mass-delete`, `--allow-duplicates`). */
export interface Allow {
  massDelete: boolean;
  duplicates: boolean;
}

interface Run {
  reasons: Set<string>;
  allow: Allow;
  waiters: Waiter[];
  /** Begun, but not yet walking (it waits for the watch, or for the path jobs to pause): requests join it. */
  joinable: boolean;
}

/** What a run serves: every reason and permission asked for before its walk began. */
export interface RunRequest {
  reasons: readonly string[];
  allow: Allow;
}

/** What the loop runs and how often. */
export interface ReconcileLoopOptions {
  /**
   * One reconciliation (the daemon runs it in an exclusive section of the path queue). It calls
   * `walking()` as its walk begins: requests made until then join it, and it serves what that returns.
   */
  run: (walking: () => RunRequest, onProgress: ProgressListener) => Promise<SyncReport>;
  /** The period before jitter (read at each scheduling: a reload may change it). */
  intervalMs: () => number;
  /** A run failed; the waiters get the error too. */
  onError: (err: unknown) => void;
  random?: () => number;
}

/** What `status` shows of the loop. */
export interface LoopStatus {
  running: boolean;
  followUp: boolean;
  last: { at: string; exitCode: number; counts: Counts; durationMs: number } | null;
  lastError: string | null;
  nextAt: string | null;
}

/** Full reconciliations, one at a time. */
export class ReconcileLoop {
  private next: Run | null = null;
  private current: Run | null = null;
  private draining: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private nextAt: number | null = null;
  private last: LoopStatus['last'] = null;
  private lastError: string | null = null;
  private stopped = false;

  constructor(private readonly o: ReconcileLoopOptions) {}

  /**
   * Asks for a reconciliation; resolves with the report of the run that serves the request: the
   * running one if it has not begun its walk yet, else the queued follow-up, or a new one when none
   * is running. A run whose walk began may have passed the requester's changes: it does not serve it.
   */
  request(reason: string, options: { allow?: Partial<Allow>; onProgress?: ProgressListener } = {}): Promise<SyncReport> {
    if (this.stopped) return Promise.reject(new SyncError('the daemon is stopping', ExitCode.fileFailures));
    const run = this.current?.joinable
      ? this.current
      : (this.next ??= { reasons: new Set(), allow: { massDelete: false, duplicates: false }, waiters: [], joinable: false });
    run.reasons.add(reason);
    if (options.allow?.massDelete) run.allow.massDelete = true;
    if (options.allow?.duplicates) run.allow.duplicates = true;
    const promise = new Promise<SyncReport>((resolve, reject) => run.waiters.push({ resolve, reject, onProgress: options.onProgress }));
    this.kick();
    return promise;
  }

  /** A request nobody waits for (timer, signal, watcher error); failures go to `onError`. */
  trigger(reason: string): void {
    this.request(reason).catch(() => undefined);
  }

  /** (Re)arms the periodic run: the interval ±20%, from now. */
  schedulePeriodic(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    const jitter = 0.8 + 0.4 * (this.o.random ?? Math.random)();
    const ms = Math.max(1000, Math.round(this.o.intervalMs() * jitter));
    this.nextAt = Date.now() + ms;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.trigger('periodic');
      },
      Math.min(ms, 2 ** 31 - 1),
    );
  }

  status(): LoopStatus {
    return {
      running: this.current !== null,
      followUp: this.next !== null,
      last: this.last,
      lastError: this.lastError,
      nextAt: this.nextAt === null || this.current ? null : new Date(this.nextAt).toISOString(),
    };
  }

  /** No more runs; waiters of queued runs get an error. Resolves when the running one ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const queued = this.next;
    this.next = null;
    for (const waiter of queued?.waiters ?? []) waiter.reject(new SyncError('the daemon is stopping', ExitCode.fileFailures));
    await this.draining;
  }

  private kick(): void {
    if (this.draining || this.stopped) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
    });
  }

  private async drain(): Promise<void> {
    while (this.next && !this.stopped) {
      const run = this.next;
      this.next = null;
      this.current = run;
      run.joinable = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      const onProgress: ProgressListener = (phase, progress) => {
        for (const waiter of run.waiters) waiter.onProgress?.(phase, progress);
      };
      const walking = (): RunRequest => {
        run.joinable = false;
        return { reasons: [...run.reasons], allow: { ...run.allow } };
      };
      try {
        const report = await this.o.run(walking, onProgress);
        this.last = {
          at: new Date(report.finishedAt).toISOString(),
          exitCode: report.exitCode,
          counts: report.counts,
          durationMs: report.finishedAt - report.startedAt,
        };
        this.lastError = null;
        for (const waiter of run.waiters) waiter.resolve(report);
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err);
        for (const waiter of run.waiters) waiter.reject(err);
        this.o.onError(err);
      } finally {
        run.joinable = false;
        this.current = null;
        this.schedulePeriodic();
      }
    }
  }
}
