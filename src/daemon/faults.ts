// How the daemon answers trouble: a path job that failed, a reconciliation that failed, and a
// ledger fault as the ledger raises it. Each passing trouble is said once and retried; a fatal one
// stops the daemon with its exit code.
import { diskFull } from '../app.js';
import { ExitCode, errorMessage } from '../errors.js';
import { exitCodeOf, isFatalForProgram, isGuard, isStorageFull, isUnavailable, requestIdOf } from '../failure.js';
import { LedgerError } from '../ledger/ledger.js';
import { RootFileError } from '../local/rootfile.js';
import { LockedError } from '../lock.js';
import type { Logger } from '../log.js';
import type { JobErrorAction, PathQueue } from './jobs.js';

/**
 * A reconciliation refused on the root (missing, unreadable, changed under the walk) is tried again
 * when the root check (every 2 s) finds the root present and unchanged, at most this often,
 * doubling up to a minute while it keeps failing: a root moved away and back between two looks is
 * found within seconds. A root the check sees come back is watched again and reconciled instead.
 */
const ROOT_RETRY_FIRST_MS = 2_000;
const ROOT_RETRY_MAX_MS = 60_000;
/** A full or busy ledger: the reconciliation is retried after this, doubling up to 10 minutes. */
const LEDGER_RETRY_MS = 30_000;
/** A full Files API storage: a reconciliation tries again after this, doubling up to 15 minutes. */
const STORAGE_RETRY_MS = 60_000;
const STORAGE_RETRY_MAX_MS = 15 * 60_000;

/** What the fault policy reads of the daemon and asks of it. */
export interface FaultHost {
  readonly phase: 'starting' | 'running' | 'stopping';
  /** The daemon's stop has aborted the work in flight. */
  readonly aborted: boolean;
  /** The initial reconciliation has succeeded once. */
  readonly initialDone: boolean;
  stop(code: number, why: unknown): void;
  later(ms: number, fn: () => void): NodeJS.Timeout;
  trigger(reason: string): void;
  /** The path jobs, parked while the storage is full. */
  readonly parts: { readonly queue: Pick<PathQueue, 'park' | 'unpark'> };
}

/**
 * Whether what ended the daemon's start passes by itself: a full disk (the state directory, its
 * lock, the ledger's open), a busy ledger, the state directory held by a one-shot command (a
 * scheduled `sync`, `adopt`, a `ledger restore`: it ends), or a `.filesyncignore` it cannot take
 * (whoever writes into the folder can write one: it must not end the service, rule 9; nothing
 * is synced until it is fixed). The daemon then waits and starts again
 * (run.ts), as it retries the same troubles once running; a damaged ledger, a bad config or
 * another daemon stop it.
 */
export function passesAtStart(err: unknown): boolean {
  return diskFull(err) || (err instanceof LedgerError && !err.fatal) || heldByCommand(err) || err instanceof RootFileError;
}

/**
 * The state directory's lock is held by a files-sync command that ends by itself, not by a daemon
 * (a holder not named yet, its hint file not written, is waited for too: a second daemon's is).
 */
export function heldByCommand(err: unknown): err is LockedError {
  return err instanceof LockedError && err.holder !== 'daemon';
}

/** The daemon's answers to failures, and the passing troubles it is waiting out. */
export class DaemonFaults {
  /** A passing ledger fault (full, busy) being retried: said once, and once when it clears. */
  private ledgerTrouble: { message: string; retryMs: number } | null = null;
  /** Why the ledger cannot be written now (a full disk, a busy file), for `status`; null when it can. */
  get ledgerProblem(): string | null {
    return this.ledgerTrouble?.message ?? null;
  }

  /** Why reconciliations cannot run now (the root is missing), for `status`. */
  rootProblem: string | null = null;
  /** When the current root fault began (performance.now(): a wall clock set back must not reorder it). */
  private rootProblemSince = 0;
  /** The next retry's earliest time (performance.now()), and the wait after it. */
  private rootRetry = { at: 0, ms: ROOT_RETRY_FIRST_MS };
  /** Why uploads wait (the Files API storage is full), for `status`. */
  storageProblem: string | null = null;
  /** The next wait and whether a retry is armed; replaced at each episode (a timer of an ended one does nothing). */
  private storageRetry = { ms: STORAGE_RETRY_MS, armed: false };

  constructor(
    private readonly host: FaultHost,
    private readonly log: Logger,
  ) {}

  /** A path job failed: drop it, retry it later, or park it until the API is back. */
  jobError(err: unknown, paths: readonly string[]): JobErrorAction {
    if (this.host.phase === 'stopping' || this.host.aborted) return 'drop';
    if (err instanceof LedgerError) return err.fatal ? 'drop' : 'retry'; // ledgerFault has said it
    if (isUnavailable(err)) return 'park'; // the health tracker has paused the queue and said so
    if (isStorageFull(err)) {
      this.storageFull(err);
      return 'park';
    }
    if (isFatalForProgram(err)) {
      this.host.stop(exitCodeOf(err) ?? ExitCode.usage, err);
      return 'drop';
    }
    if (isGuard(err)) {
      this.host.trigger('the root looks missing'); // says so once, and retries
      return 'drop';
    }
    this.log.error(
      `could not sync ${paths[0]}${paths.length > 1 ? ` and ${paths.length - 1} more` : ''}: ${errorMessage(err)}; retrying in a minute`,
      {
        requestId: requestIdOf(err),
      },
    );
    return 'retry';
  }

  /** A reconciliation failed: stop on what no retry can fix, otherwise say it once and try again. */
  reconcileError(err: unknown): void {
    if (this.host.phase === 'stopping' || this.host.aborted || isUnavailable(err)) return;
    if (isStorageFull(err)) return this.storageFull(err);
    if (this.storageProblem !== null) this.armStorageRetry(); // parked paths must not wait for the periodic run
    if (err instanceof LedgerError) {
      // A fatal one has stopped the daemon; a passing one (full, busy) is retried with back-off.
      if (!err.fatal && this.ledgerTrouble) {
        const retryMs = this.ledgerTrouble.retryMs;
        this.ledgerTrouble.retryMs = Math.min(retryMs * 2, 600_000);
        this.host.later(retryMs, () => this.host.trigger('ledger retry'));
      }
      return;
    }
    if (isFatalForProgram(err) || (isGuard(err) && this.host.phase === 'starting')) {
      return this.host.stop(exitCodeOf(err) ?? ExitCode.usage, err);
    }
    if (isGuard(err)) return this.rootMissing(err);
    // Before the first success, the initial reconciliation says it, with when it tries again.
    if (!this.host.initialDone) return;
    this.log.error(`reconciliation failed: ${errorMessage(err)}; trying again at the next one`, {
      requestId: requestIdOf(err),
    });
  }

  /**
   * The Files API storage is full (an answer: the API is reachable). Said once; path jobs are
   * parked, and a reconciliation tries again after a back-off (1 minute doubling to 15), or at a
   * `files-sync sync`. Never a loop: each refused upload has cost a whole upload.
   */
  private storageFull(err: unknown): void {
    if (this.storageProblem === null) {
      this.storageRetry = { ms: STORAGE_RETRY_MS, armed: false };
      this.log.warn(`${errorMessage(err)}; uploads wait, tried again in ${STORAGE_RETRY_MS / 1000} s, then less often`, {
        requestId: requestIdOf(err),
      });
    }
    this.storageProblem = errorMessage(err);
    this.host.parts.queue.park('storage');
    this.armStorageRetry();
  }

  /** One reconciliation after the current wait, which doubles for the next (up to 15 minutes). */
  private armStorageRetry(): void {
    const retry = this.storageRetry;
    if (retry.armed) return;
    retry.armed = true;
    const ms = retry.ms;
    retry.ms = Math.min(ms * 2, STORAGE_RETRY_MAX_MS);
    this.host.later(ms, () => {
      if (retry !== this.storageRetry) return; // an episode that ended
      retry.armed = false;
      if (this.storageProblem !== null) this.host.trigger('storage retry');
    });
  }

  /** The root check refused a reconciliation: said once per reason, retried as `rootLooked` finds the root. */
  private rootMissing(err: unknown): void {
    if (this.rootProblem === null) this.rootProblemSince = performance.now();
    if (this.rootProblem !== errorMessage(err)) {
      this.log.warn(`cannot reconcile: ${errorMessage(err)}; trying again once the root is there (it is looked at every 2 s)`);
    }
    this.rootProblem = errorMessage(err);
    const ms = this.rootRetry.ms;
    this.rootRetry = { at: performance.now() + ms, ms: Math.min(ms * 2, ROOT_RETRY_MAX_MS) };
  }

  /**
   * A look of the root check: present and unchanged since its last look, a root fault is retried
   * (at most as often as its back-off allows). A changed root is the root check's own business
   * (watched again, then reconciled); a missing one has nothing to retry yet.
   */
  rootLooked(present: boolean, changed: boolean): void {
    if (this.rootProblem === null || changed || !present || this.host.phase === 'stopping') return;
    if (performance.now() < this.rootRetry.at) return;
    this.rootRetry.at = performance.now() + this.rootRetry.ms;
    this.host.trigger('root check');
  }

  /**
   * Every ledger fault, as the ledger raises it: a fatal one stops the daemon with its exit code
   * (6) and one line; a passing one (disk full, busy) is logged once and retried.
   */
  ledgerFault(err: LedgerError): void {
    if (this.host.phase === 'stopping') return; // a second stop() would cut the grace period short
    if (err.fatal) return this.host.stop(err.exitCode, err);
    if (this.ledgerTrouble?.message === err.message) return;
    this.ledgerTrouble = { message: err.message, retryMs: LEDGER_RETRY_MS };
    this.log.warn(err.message);
  }

  /**
   * A reconciliation succeeded: passing troubles are over, each said once. Returns, when the root
   * came back, the time its fault began (else null). A full storage is over once an upload went
   * through, or nothing failed (nothing waits for room); otherwise the parked paths run again and
   * the back-off goes on growing.
   */
  cleared(counts: { new: number; changed: number; failed: number }): number | null {
    if (this.storageProblem !== null) {
      this.host.parts.queue.unpark('storage');
      if (counts.new + counts.changed > 0 || counts.failed === 0) {
        this.storageProblem = null;
        this.storageRetry = { ms: STORAGE_RETRY_MS, armed: false };
        this.log.info('the Files API storage takes uploads again; resuming');
      }
    }
    if (this.ledgerTrouble) {
      this.ledgerTrouble = null;
      this.log.info('the ledger is writable again');
    }
    if (!this.rootProblem) return null;
    this.rootProblem = null;
    this.rootRetry = { at: 0, ms: ROOT_RETRY_FIRST_MS };
    this.log.info('the sync root is back');
    return this.rootProblemSince;
  }
}

/** A read whose ledger fault is already handled (ledgerFault): the caller carries on with `fallback`. */
export function readLedger<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof LedgerError) return fallback;
    throw err;
  }
}
