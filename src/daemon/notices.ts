// The daemon's state changes said once: whether the initial reconciliation has succeeded (with
// its retry back-off, for the log and `status`), and event floods (the hint cap, the kernel's
// inotify queue) until a reconciliation has caught up with them.
import { errorMessage } from '../errors.js';
import { requestIdOf } from '../failure.js';
import type { Logger } from '../log.js';

/** A failed initial reconciliation is tried again after this long, doubling up to the max. */
const RETRY_FIRST_MS = 10_000;
const RETRY_MAX_MS = 5 * 60_000;

/** What `status` shows of the initial reconciliation. */
export interface InitialStatus {
  state: 'pending' | 'failed' | 'done';
  error: string | null;
  retryAt: string | null;
}

/**
 * The daemon's first full reconciliation: "done" is said only once one has succeeded (whichever
 * run it was: the first, a retry, or one the API's recovery triggered); until then each failure
 * says why and when it is tried again.
 */
export class InitialReconciliation {
  private state: InitialStatus['state'] = 'pending';
  private error: string | null = null;
  private retryAt: number | null = null;
  private nextRetryMs = RETRY_FIRST_MS;

  constructor(private readonly log: Logger) {}

  get done(): boolean {
    return this.state === 'done';
  }

  /** A full reconciliation succeeded. */
  succeeded(): void {
    if (this.done) return;
    this.state = 'done';
    this.error = null;
    this.retryAt = null;
    this.log.info('initial reconciliation done; syncing changes as they happen');
  }

  /** It failed: says so; returns the wait before the retry (null when one already succeeded). */
  failed(err: unknown): number | null {
    if (this.done) return null;
    const ms = this.nextRetryMs;
    this.nextRetryMs = Math.min(ms * 2, RETRY_MAX_MS);
    this.state = 'failed';
    this.error = errorMessage(err);
    this.retryAt = Date.now() + ms;
    this.log.warn(`initial reconciliation failed (${this.error}); retrying in ${Math.round(ms / 1000)} s`, {
      requestId: requestIdOf(err),
    });
    return ms;
  }

  status(): InitialStatus {
    return {
      state: this.state,
      error: this.error,
      retryAt: this.retryAt === null ? null : new Date(this.retryAt).toISOString(),
    };
  }
}

/** An event flood: too many waiting paths (`maxPendingHints`), or the kernel's queue overflowed. */
export type FloodKind = 'hints' | 'kernel';

/** Says each kind of flood once, until a reconciliation has caught up (`caughtUp`). */
export class FloodNotices {
  private readonly noted = new Set<FloodKind>();

  constructor(private readonly log: Logger) {}

  /** Logs `message` (a warning) unless this kind of flood was already said. */
  note(kind: FloodKind, message: string, meta: Record<string, unknown> = {}): void {
    if (this.noted.has(kind)) this.log.debug('event flood goes on', { kind, ...meta });
    else this.log.warn(message, meta);
    this.noted.add(kind);
  }

  caughtUp(): void {
    this.noted.clear();
  }
}
