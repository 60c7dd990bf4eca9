// The path-job queue's contract (jobs.ts): what the daemon supplies it, what it reports, and its
// per-path entries.
import type { Logger } from '../log.js';
import type { DeleteBatchOutcome, PathOutcome } from './pathsync.js';

/** One path waiting in or running through the queue. */
export interface Entry {
  /** `queued`: in the p-queue; `running`: its job runs; `settling`: waiting on a timer. */
  state: 'queued' | 'running' | 'settling';
  /** A hint arrived while the job ran: it runs once more afterwards. */
  dirty: boolean;
  timer: NodeJS.Timeout | null;
}

/** What to do with the paths of a job that threw. */
export type JobErrorAction = 'park' | 'retry' | 'drop';

/** Why path jobs are parked: the API does not answer, or its storage is full. */
export type ParkReason = 'api' | 'storage';

/** The queue's work and policy, supplied by the daemon. */
export interface PathQueueOptions {
  /** Path jobs at once. */
  concurrency: number;
  /** How long a gone path waits before its remote copy is deleted. */
  deleteDelayMs: () => number;
  runPath: (path: string) => Promise<PathOutcome>;
  /** Runs due deletes; called inside an exclusive section, after the queue went idle. */
  runDeletes: (paths: string[]) => Promise<DeleteBatchOutcome>;
  /** A job or batch threw: the daemon classifies the error (and stops on a fatal one). */
  onError: (err: unknown, paths: readonly string[]) => JobErrorAction;
  /** The earliest end of a retryable failure's back-off after `time` (the ledger's), or null. */
  nextRetryAfter: (time: number) => number | null;
  /** The paths whose retryable failure's back-off ends by `time`: they are scheduled again. */
  retriesDueBy: (time: number) => string[];
  /** At most this many paths wait (queued, settling, parked, delete candidates); read at each hint. */
  maxPending: () => number;
  /**
   * The cap was passed: every waiting path was dropped, and hints are dropped until
   * `acceptHints()`. The daemon runs a full reconciliation, which finds what they would have.
   */
  onOverflow: (pending: number) => void;
  logger: Logger;
}

/** Queue depth and the like, for `status`. */
export interface QueueStats {
  queued: number;
  running: number;
  settling: number;
  parked: number;
  deletesWaiting: number;
}
