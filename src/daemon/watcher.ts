// The watcher: watches the sync root's directories through the sync's own filter (dir-tree.ts) and
// turns events into path hints; when watching fails (the inotify limit, too many open files) it says
// once which limit to raise and by how much, and retries with back-off while the daemon runs on
// reconciliations.
import { errorMessage } from '../errors.js';
import { fsReason } from '../local/entry.js';
import type { PathFilter } from '../local/types.js';
import type { Logger } from '../log.js';
import { DirectoryTree } from './dir-tree.js';
import { WatchErrorLog } from './watch-errors.js';
import type { DirId } from './dir-children.js';
import { limitAdvice, readLimit } from './watch-limits.js';

/** What the watcher reports; each is only a hint that a path should be looked at. */
export type WatchEventKind = 'add' | 'change' | 'unlink' | 'addDir' | 'unlinkDir';

/** `on`: watch. Test hooks: `off` never watches; `enospc` fails as if the inotify limit were reached. */
export type WatcherMode = 'on' | 'off' | 'enospc';

/** The tree to watch, its filter, and where hints and errors go. */
export interface WatcherOptions {
  /** The sync root (absolute). */
  root: string;
  /** The sync's filter: what it rejects is not watched. */
  filter: PathFilter;
  /** Follow symbolic links (config `followSymlinks`). */
  followSymlinks: boolean;
  logger: Logger;
  /** A path hint: `rel` is relative to the root with POSIX separators ('' is the root itself). */
  onEvent: (kind: WatchEventKind, rel: string) => void;
  /** The watcher failed or reported an error: events may have been lost. */
  onError: (err: Error) => void;
  /**
   * Every directory is watched (in mode `off`: at once, there is nothing to wait for); `again` for
   * every start but the first (a restart, a retry after a failure).
   */
  onReady?: (again: boolean) => void;
  /**
   * The kernel's event queue most likely overflowed (IN_Q_OVERFLOW, which libuv drops silently):
   * `events` arrived in one read, as many as the queue holds, so later ones were lost.
   */
  onOverflow?: (events: number) => void;
  mode?: WatcherMode;
  /** First wait before watching again after a failure (default 30 s), doubling up to `retryMaxMs` (30 min). */
  retryFirstMs?: number;
  retryMaxMs?: number;
  /** The root was deleted or moved under the watch, which starts again on its path (then `onReady`). */
  onRootLost?: () => void;
  /** Test hook: each (re)start waits this long before it sets its watches. */
  startDelayMs?: number;
  /** Directory listings in flight at most (default dir-tree.ts MAX_LISTINGS). */
  maxListings?: number;
}

/** The watcher's health, for `status`. */
export interface WatcherStatus {
  /** `waiting`: the root is missing or replaced by a non-directory; watching resumes when it is back. */
  state: 'starting' | 'watching' | 'failed' | 'waiting' | 'off' | 'closed';
  directories: number | null;
  error: string | null;
  retryAt: string | null;
}

const LIMIT_CODES = new Set(['ENOSPC', 'EMFILE', 'ENFILE']);

/** Watches one root; `restart` after the root or filter changed; `close()` is safe to call twice. */
export class TreeWatcher {
  private tree: DirectoryTree | null = null;
  private generation = 0;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs: number;
  private readonly errors: WatchErrorLog;
  private health: WatcherStatus = { state: 'starting', directories: null, error: null, retryAt: null };
  /** Raw events in the current turn of the event loop. */
  private burst = 0;
  /** Starts so far (the first, restarts, retries), and when the latest was (performance.now(), as faults.ts times a root fault). */
  private starts = 0;
  startedAt = 0;
  /** Resolved when the current start has settled (see `settled`). */
  private waiters: Array<() => void> = [];
  /** The kernel's queue size per inotify instance (fs.inotify.max_queued_events). */
  private queueSize = 16_384;

  constructor(private o: WatcherOptions) {
    this.retryMs = o.retryFirstMs ?? 30_000;
    this.errors = new WatchErrorLog(o.logger);
    void readLimit('max_queued_events').then((n) => {
      if (n !== null && n > 0) this.queueSize = n;
    });
  }

  /** Watching, but the root was missing when the watch started: nothing is watched. */
  get rootAbsent(): boolean {
    return this.health.state === 'watching' && this.tree?.rootAbsent === true;
  }

  /** Watching, or setting up the watch of, the root directory `id` (a restart already follows it). */
  watchesRoot(id: DirId): boolean {
    return (this.health.state === 'watching' || this.health.state === 'starting') && this.tree?.rootIs(id) === true;
  }

  status(): WatcherStatus {
    const directories = this.health.state === 'watching' && this.tree ? this.tree.size : this.health.directories;
    return { ...this.health, directories };
  }

  /**
   * Resolves once the latest start has settled: every directory watched, watching failed or
   * suspended, or the watcher closed. A walk begun after it misses nothing an event will not report.
   */
  settled(): Promise<void> {
    if (this.health.state !== 'starting' || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Starts watching (again); `onReady` says when every directory is watched. */
  start(): void {
    if (this.closed) return;
    const gen = ++this.generation;
    this.errors.clear();
    this.starts++;
    this.startedAt = performance.now();
    this.health = { state: 'starting', directories: null, error: null, retryAt: null };
    const mode = this.o.mode ?? 'on';
    if (mode === 'off') {
      this.health.state = 'off';
      this.o.logger.warn('watcher disabled (test hook FILES_SYNC_TEST_WATCHER=off): changes are found by periodic reconciliation only');
      this.wake();
      this.o.onReady?.(this.starts > 1);
      return;
    }
    if (mode === 'enospc') {
      const err = Object.assign(new Error('ENOSPC: System limit for number of file watchers reached, watch'), {
        code: 'ENOSPC',
      });
      queueMicrotask(() => this.fail(gen, err));
      return;
    }
    if (this.o.startDelayMs) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (gen === this.generation && !this.closed) this.watchTree(gen);
      }, this.o.startDelayMs);
    } else this.watchTree(gen);
  }

  private watchTree(gen: number): void {
    const tree = new DirectoryTree({
      root: this.o.root,
      filter: this.o.filter,
      followSymlinks: this.o.followSymlinks,
      ...(this.o.maxListings !== undefined ? { maxListings: this.o.maxListings } : {}),
      onHint: (kind, rel) => {
        if (gen === this.generation) this.o.onEvent(kind, rel);
      },
      onRaw: () => {
        if (gen === this.generation) this.countBurst();
      },
      onError: (err) => this.onWatchError(gen, err),
      // The root deleted or moved (its watch is dead, or follows the moved folder): watch its path anew.
      onRootLost: () => {
        if (gen !== this.generation) return;
        this.o.onRootLost?.();
        this.restart();
      },
    });
    this.tree = tree;
    // A failure inside the tree is reported through onError and leaves the rest watched; so does
    // an unexpected rejection of its start.
    tree.start().then(
      () => this.ready(gen, tree),
      (err: unknown) => {
        this.onWatchError(gen, err instanceof Error ? err : new Error(String(err)));
        this.ready(gen, tree);
      },
    );
  }

  /** Every directory is watched: say so (tests and the bench wait for this line). */
  private ready(gen: number, tree: DirectoryTree): void {
    if (gen !== this.generation || this.health.state === 'failed') return;
    const directories = tree.size;
    const retried = this.retryMs !== (this.o.retryFirstMs ?? 30_000);
    this.health = { state: 'watching', directories, error: null, retryAt: null };
    this.retryMs = this.o.retryFirstMs ?? 30_000;
    // Nothing is watched when the root was missing (FolderEvents watches it again once it is back).
    if (tree.rootAbsent) this.o.logger.warn(`cannot watch ${this.o.root}: it is missing; watching it again once it is there`);
    else this.o.logger.info(retried ? `watching ${this.o.root} again` : `watching ${this.o.root}`, { directories });
    this.wake();
    this.o.onReady?.(this.starts > 1);
  }

  /**
   * libuv reads the inotify descriptor until it is empty and delivers every event in the same
   * turn of the event loop. A turn with as many events as the kernel's queue holds means the
   * queue was full, so the kernel dropped what came next (its overflow event never reaches us).
   */
  private countBurst(): void {
    if (this.burst++ > 0) return;
    setImmediate(() => {
      const events = this.burst;
      this.burst = 0;
      if (events < this.queueSize || this.closed) return;
      // A lost event may have named a new directory: look at every directory's entries again.
      this.tree?.lookAgainEverywhere();
      this.o.onOverflow?.(events);
    });
  }

  /** Watches a new root or with a new filter. */
  restart(options: Partial<Pick<WatcherOptions, 'root' | 'filter' | 'followSymlinks'>> = {}): void {
    this.o = { ...this.o, ...options };
    this.retryMs = this.o.retryFirstMs ?? 30_000;
    // The old watcher closes in the background; it never rejects (stopCurrent swallows close errors).
    void this.stopCurrent();
    this.start();
  }

  /**
   * The root is gone (moved away, unmounted): stop watching it, since inotify would follow the
   * moved folder and report its changes under the root's path. `restart` watches again.
   */
  suspend(why: string): void {
    if (this.closed) return;
    this.generation++;
    void this.stopCurrent();
    this.health = { state: 'waiting', directories: null, error: why, retryAt: null };
    this.wake();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.generation++;
    this.health.state = 'closed';
    this.wake();
    await this.stopCurrent();
  }

  private stopCurrent(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.tree?.close();
    this.tree = null;
    return Promise.resolve();
  }

  private onWatchError(gen: number, err: Error): void {
    if (gen !== this.generation) return;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (LIMIT_CODES.has(code)) return this.fail(gen, err);
    // Other errors (a folder that cannot be read) leave the rest watched; the first few of each kind are said.
    this.errors.say(err, code);
    this.o.onError(err);
  }

  /** Watching failed: stop, explain once, let the daemon reconcile, retry with back-off. */
  private fail(gen: number, err: Error): void {
    if (gen !== this.generation || this.closed) return;
    const first = this.health.state !== 'failed' && this.health.error === null;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    void this.stopCurrent();
    const retryIn = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, this.o.retryMaxMs ?? 30 * 60_000);
    this.health = {
      state: 'failed',
      directories: null,
      error: fsReason(code, err),
      retryAt: new Date(Date.now() + retryIn).toISOString(),
    };
    this.wake();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.start();
      this.health.error ??= fsReason(code, err); // still the same episode until `ready`
    }, retryIn);
    if (!first) {
      this.o.logger.debug('watcher still failing', { error: errorMessage(err), retryInMs: retryIn });
      return;
    }
    void limitAdvice(this.o.root, this.o.filter, code).then(
      (advice) =>
        this.o.logger.error(
          `cannot watch ${this.o.root} for changes (${code}): ${advice}; until then changes are found by the periodic reconciliation, and watching is retried with back-off`,
        ),
      () => undefined,
    );
    this.o.onError(err);
  }
}
