// What the daemon does when the folder moves under it: a watcher event becomes path jobs, a changed
// root is watched again (or no longer), and a flood of events becomes one full reconciliation.
import { stat } from 'node:fs/promises';
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
  /** Watches the (new) root with the (new) filter. */
  rewatch(): void;
  /** Applies a settings change once it is built. */
  whenSettled(change: Promise<SettingsChange | null>): void;
}

/** The daemon's answers to the watcher, the root check and the queue's overflow. */
export class FolderEvents {
  constructor(
    private readonly host: FolderHost,
    private readonly floods: FloodNotices,
  ) {}

  watchEvent(kind: WatchEventKind, rel: string): void {
    if (this.host.phase === 'stopping') return;
    if (rel === '') {
      if (kind === 'unlinkDir') this.host.parts.loop.trigger('the root was removed');
      return;
    }
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
   * follow the moved folder); back or replaced, it is watched again and reconciled, and the
   * reconciliation's root check decides whether its deletes can be trusted (rule 4).
   */
  rootChange(before: RootState, after: RootState): void {
    if (this.host.phase === 'stopping') return;
    const change = describeRootChange(this.host.config.root, before, after);
    this.host.log.warn(change.message);
    if (change.gone) this.host.parts.watcher.suspend(change.what);
    else this.host.rewatch();
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
