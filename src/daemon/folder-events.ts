// What the daemon does when the folder moves under it: a watcher event becomes path jobs, a changed
// root is watched again (or no longer), and a flood of events becomes one full reconciliation.
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config.js';
import { IGNORE_FILE_NAME } from '../local/filter.js';
import type { Logger } from '../log.js';
import { readLedger } from './faults.js';
import type { FloodNotices } from './notices.js';
import { listFiles } from './pathsync.js';
import { describeRootChange, type RootState } from './rootcheck.js';
import type { Settings, SettingsChange } from './settings.js';
import type { WatchEventKind } from './watcher.js';
import type { DaemonParts } from './wiring.js';

/** True when `dir` is a directory now. */
export function isDirectory(dir: string): Promise<boolean> {
  return stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** What the folder's events read of the daemon and ask of it. */
export interface FolderHost {
  readonly phase: 'starting' | 'running' | 'stopping';
  readonly parts: DaemonParts;
  readonly settings: Settings;
  readonly config: Config;
  readonly log: Logger;
  /** Applies a settings change once it is built. */
  whenSettled(change: Promise<SettingsChange | null>): void;
  /** A timer the daemon's stop clears. */
  later(ms: number, fn: () => void): NodeJS.Timeout;
}

/**
 * How long a reconciliation waits for the watch before it walks anyway (and walks once more when
 * the watch is in place): a tree of hundreds of thousands of folders on a slow disk can take longer.
 */
const WATCH_WAIT_MS = 120_000;

/**
 * The least time between two reconciliations asked for by watcher errors: whoever writes into the
 * folder can make one a second (a folder made unreadable, again and again), and each is a full
 * walk and a read of the remote side. Errors within the gap share one run at its end.
 */
export const WATCHER_ERROR_GAP_MS = 30_000;

/** The daemon's answers to the watcher, the root check and the queue's overflow. */
export class FolderEvents {
  /** When the last reconciliation for a watcher error was asked for (performance.now()), and the one waiting for the gap. */
  private watcherErrorAt = -Infinity;
  private watcherErrorWaits = false;
  /** Why the watcher started again: the reason of the reconciliation that follows once it watches. */
  private readonly rewatched = new Set<string>();
  /** A walk began before the watch was in place: one more follows once it is. */
  private walkedUnwatched = false;
  /** Reconciliations between `beforeWalk` and their walk (or their end without one): at most one. */
  private waitingWalks = 0;
  /** The reason of a follow-up not run because a reconciliation waited to walk: run if it does not. */
  private owed: string | null = null;

  constructor(
    private readonly host: FolderHost,
    private readonly floods: FloodNotices,
  ) {}

  /** Watches the (new) root with the (new) filter; reconciles once every directory is watched. */
  rewatch(why: string): void {
    this.rewatched.add(why);
    const { root, followSymlinks } = this.host.config;
    this.host.parts.watcher.restart({ root, filter: this.host.settings.filter, followSymlinks });
  }

  /**
   * A reconciliation succeeded, so the root is there. If it ended a fault on the root (begun at
   * `since`), watch the root again unless the watch was set up since (the root check saw it come
   * back, or its own watch said it went): a root back within one look may be another directory,
   * told apart only by a birth time some file systems do not keep. And a watch set up while the
   * root was missing watches nothing: set it up again.
   */
  rootBack(since: number | null): void {
    const watcher = this.host.parts.watcher;
    if (since !== null && (watcher.status().state === 'waiting' || watcher.startedAt <= since)) this.rewatch('the sync root is back');
    else if (watcher.rootAbsent) this.rewatch('the sync root is there again');
  }

  /**
   * Before a reconciliation (outside the queue's exclusive section, so path jobs go on meanwhile):
   * waits, bounded, until the watch has settled, so that a change the walk passes by is an event.
   * A file written between a walk and the watch would otherwise wait for the periodic run.
   */
  async beforeWalk(): Promise<void> {
    this.waitingWalks++;
    const watcher = this.host.parts.watcher;
    if (watcher.status().state !== 'starting') return;
    await Promise.race([watcher.settled(), sleep(WATCH_WAIT_MS, undefined, { ref: false })]);
  }

  /** The walk begins (true, for the caller): a watch still being set up (restarted since, or past the bound) gets one more. */
  walkBegins(): true {
    this.waitingWalks--;
    this.owed = null;
    if (this.host.parts.watcher.status().state === 'starting') this.walkedUnwatched = true;
    return true;
  }

  /** A reconciliation ended without walking (it failed before, or the daemon stops): what it stood for runs. */
  walkAbandoned(): void {
    this.waitingWalks--;
    const owed = this.owed;
    if (owed === null || this.waitingWalks > 0) return;
    this.owed = null;
    if (this.host.phase !== 'stopping') this.host.parts.loop.trigger(owed);
  }

  /**
   * Every directory is watched (TreeWatcher onReady). After a restart or a retry, or a walk that
   * began before, what changed in between is known to no one yet: one reconciliation more, unless
   * one waits for this very moment to walk (if it ends without walking, this one runs then).
   */
  watching(again: boolean): void {
    const reasons = this.rewatched.size > 0 ? [...this.rewatched].join('; ') : 'the watch is in place';
    this.rewatched.clear();
    if (this.host.phase === 'stopping' || (!again && !this.walkedUnwatched)) return;
    this.walkedUnwatched = false;
    if (this.waitingWalks > 0) this.owed = reasons;
    else this.host.parts.loop.trigger(reasons);
  }

  /** The root's own watch said it was deleted or moved: the watcher starts again; its reconciliation says why. */
  rootLost(): void {
    if (this.host.phase === 'stopping') return;
    this.host.log.warn(`the sync root ${this.host.config.root} was deleted or moved: watching its path again`);
    this.rewatched.add('the sync root was deleted or moved');
  }

  watchEvent(kind: WatchEventKind, rel: string): void {
    if (this.host.phase === 'stopping') return;
    if (rel === IGNORE_FILE_NAME) return this.host.whenSettled(this.host.settings.ignoreFileChanged(this.host.log));
    if (kind === 'unlinkDir') {
      for (const row of readLedger(() => this.host.parts.ledger.filesUnder(rel), [])) this.host.parts.queue.schedule(row.path);
    } else if (kind === 'addDir') {
      listFiles(this.host.config.root, rel, this.host.settings.filter).then(
        (files) => files.forEach((f) => this.host.parts.queue.schedule(f)),
        () => undefined,
      );
    } else {
      this.host.parts.queue.schedule(rel);
    }
  }

  /**
   * The root changed under the daemon (rootcheck.ts): gone, it is no longer watched (inotify would
   * follow the moved folder) and the reconciliation says why nothing is done; back or replaced, it
   * is watched again and reconciled once watched (unless the watcher already restarted on it, told
   * by the old root's own watch), and the reconciliation's root check decides whether its deletes
   * can be trusted (rule 4).
   */
  rootChange(before: RootState, after: RootState): void {
    if (this.host.phase === 'stopping') return;
    const change = describeRootChange(this.host.config.root, before, after);
    this.host.log.warn(change.message);
    const watcher = this.host.parts.watcher;
    if (change.newDirectory !== null && watcher.watchesRoot(change.newDirectory)) {
      // The old root's own watch told first, and the watcher restarted on this very directory:
      // its reconciliation follows once it watches (with this reason, if it still sets up).
      if (watcher.status().state === 'starting') this.rewatched.add(change.what);
      return;
    }
    if (!change.gone) return this.rewatch(change.what);
    this.host.parts.watcher.suspend(change.what);
    this.host.parts.loop.trigger(change.what);
  }

  /** Too many paths waited (`maxPendingHints`): the queue dropped them; one full walk finds their changes with flat memory. */
  queueOverflow(pending: number): void {
    if (this.host.phase === 'stopping') return;
    const max = this.host.config.maxPendingHints;
    this.floods.note(
      'hints',
      `more than ${max} paths wait for a job (an event flood): their hints are dropped and a full reconciliation finds the changes instead`,
      { pending },
    );
    this.host.parts.loop.trigger('too many pending changes');
  }

  /** The watcher failed on a directory: a full walk finds what it cannot watch, at most once per WATCHER_ERROR_GAP_MS. */
  watcherError(): void {
    if (this.host.phase === 'stopping' || this.watcherErrorWaits) return;
    const wait = this.watcherErrorAt + WATCHER_ERROR_GAP_MS - performance.now();
    const run = () => {
      this.watcherErrorWaits = false;
      this.watcherErrorAt = performance.now();
      if (this.host.phase !== 'stopping') this.host.parts.loop.trigger('watcher error');
    };
    if (wait <= 0) return run();
    this.watcherErrorWaits = true;
    this.host.later(wait, run);
  }

  /** The kernel dropped watcher events (see TreeWatcher.onOverflow): only a full walk finds their changes. */
  kernelOverflow(events: number): void {
    if (this.host.phase === 'stopping') return;
    this.floods.note(
      'kernel',
      `the kernel dropped file events (inotify queue overflow: ${events} events at once); reconciling fully to find the changes they named`,
    );
    this.host.parts.loop.trigger('inotify queue overflow');
  }
}
