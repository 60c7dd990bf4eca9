// The resident service (`files-sync daemon`, started by run.ts): its life around the graph wiring.ts
// builds (watcher, path-job queue, reconciliation loop, API health, one ledger) and the control socket:
// signals, reload, a stop that leaves the ledger consistent. Trouble: faults.ts; live status: status.ts;
// hooks: settings.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import { countsLine, movesWaitingLine } from '../sync/report.js';
import type { CommandContext } from '../app.js';
import type { Config } from '../config.js';
import { ExitCode, SyncError, errorMessage } from '../errors.js';
import { isStorageFull, requestIdOf } from '../failure.js';
import type { Logger } from '../log.js';
import { reconcile, type SyncReport } from '../sync/reconcile.js';
import { startControlServer, type ControlServer } from './control.js';
import { DaemonFaults, type FaultHost } from './faults.js';
import { FolderEvents, isDirectory, type FolderHost } from './folder-events.js';
import { FloodNotices, InitialReconciliation } from './notices.js';
import { SYNC_REQUEST, type ProgressListener, type RunRequest } from './loop.js';
import { deleteBatch, type DeleteBatchOutcome } from './pathsync.js';
import { Settings, readTestHooks, testHooksActive, type SettingsChange, type TestHooks } from './settings.js';
import { daemonStatus } from './status.js';
import { Timers, onSignals } from './timers.js';
import { wireDaemon, type DaemonEvents, type DaemonParts } from './wiring.js';

/** After SIGTERM, requests in flight get this long to finish before they are aborted (the unit allows 30 s). */
const STOP_GRACE_MS = 15_000;
/** After the abort, how long the jobs get to unwind before the ledger is closed. */
const STOP_UNWIND_MS = 5_000;

export class Daemon implements FaultHost, FolderHost {
  private readonly controller = new AbortController();
  readonly log: Logger;
  private readonly hooks: TestHooks;
  phase: 'starting' | 'running' | 'stopping' = 'starting';
  private readonly startedAt = new Date().toISOString();
  readonly parts: DaemonParts;
  private readonly faults: DaemonFaults;
  private readonly folder: FolderEvents;
  private control: ControlServer | null = null;
  private held: { count: number; reason: string } | null = null;
  private lastBlocked: string | null = null;
  private readonly floods: FloodNotices;
  private readonly initial: InitialReconciliation;
  private readonly timers = new Timers();
  private hardStop: () => void = () => undefined;
  private finished: (code: number) => void = () => undefined;
  private readonly done: Promise<number>;

  constructor(
    private readonly context: CommandContext,
    readonly settings: Settings,
    private readonly logger: Logger,
    apiKey: string,
  ) {
    this.log = logger.child({ module: 'daemon' });
    this.hooks = readTestHooks(context.env);
    this.floods = new FloodNotices(this.log);
    this.initial = new InitialReconciliation(this.log);
    this.faults = new DaemonFaults(this, this.log);
    this.done = new Promise<number>((resolve) => (this.finished = resolve));
    this.folder = new FolderEvents(this, this.floods);
    this.parts = wireDaemon({ settings, apiKey, logger, hooks: this.hooks, signal: this.controller.signal }, this.events());
  }

  /** The edges between the parts, and from the parts to the daemon; called only once the graph is built. */
  private events(): DaemonEvents {
    return {
      ledgerFault: (err) => this.faults.ledgerFault(err),
      apiDown: () => this.parts.queue.park(),
      apiUp: () => {
        this.parts.queue.unpark();
        this.parts.loop.trigger('API recovered');
      },
      apiFatal: (err) => this.stop(ExitCode.auth, err),
      probe: (signal) => this.parts.gate.probe(signal),
      trigger: (reason) => this.trigger(reason),
      watcherError: () => this.folder.watcherError(),
      runDeletes: (paths) => this.runDeletes(paths),
      jobError: (err, paths) => this.faults.jobError(err, paths),
      queueOverflow: (pending) => this.folder.queueOverflow(pending),
      reconcile: (walking, onProgress) => this.reconcile(walking, onProgress),
      reconcileError: (err) => this.faults.reconcileError(err),
      watchEvent: (kind, rel) => this.folder.watchEvent(kind, rel),
      kernelOverflow: (events) => this.folder.kernelOverflow(events),
      rootChange: (before, after) => this.folder.rootChange(before, after),
      watching: (again) => this.folder.watching(again),
      rootLost: () => this.folder.rootLost(),
      rootLooked: (present, changed) => this.faults.rootLooked(present, changed),
    };
  }

  get config(): Config {
    return this.settings.config;
  }
  get aborted(): boolean {
    return this.controller.signal.aborted;
  }
  get initialDone(): boolean {
    return this.initial.done;
  }

  async run(): Promise<number> {
    let signals: (() => void) | undefined;
    try {
      this.control = await startControlServer(
        this.config.stateDir,
        {
          sync: (allow, onProgress) => this.parts.loop.request(SYNC_REQUEST, { allow, onProgress }),
          status: () => this.status(),
        },
        this.logger.child({ module: 'control' }),
      );
      signals = onSignals({
        SIGTERM: () => this.stop(ExitCode.ok, 'SIGTERM'),
        SIGINT: () => this.stop(ExitCode.ok, 'SIGINT'),
        // The config file is read again; a bad one is logged and the running one kept.
        SIGHUP: () => {
          if (this.phase !== 'stopping') this.whenSettled(this.settings.reload(this.context.overrides, this.context.env, this.log));
        },
        SIGUSR1: () => this.parts.loop.trigger('SIGUSR1'),
      });
      this.log.info(`started (pid ${process.pid})`, { root: this.config.root, stateDir: this.config.stateDir });
      if (testHooksActive(this.hooks)) this.log.warn('test hooks active', this.hooks);
      // Watch first: changes made during the first reconciliation queue up behind it.
      await this.parts.rootCheck.start();
      this.parts.watcher.start();
      this.startInitial('start');
      return await this.done;
    } finally {
      signals?.(); // however it ends: a dead daemon's handlers must not answer the next attempt's signals
      await this.control?.close();
      await Promise.race([this.parts.client.close(), sleep(2_000, undefined, { ref: false })]).catch(() => undefined);
      this.parts.ledger.close();
      // Anything still open (a stuck socket) must not keep a stopped daemon alive. Not after a start
      // that failed: run.ts may wait and start again (a full disk).
      if (this.phase === 'stopping') setTimeout(() => process.exit(process.exitCode ?? 0), 5_000).unref();
    }
  }

  /** Runs the initial reconciliation (again); a fatal error has begun the stop when it settles. */
  private startInitial(reason: string): void {
    this.parts.loop.request(reason).then(
      () => this.started(),
      (err: unknown) => this.startFailed(err),
    );
  }

  /** A full reconciliation succeeded (the first is announced): from now on a missing root is not fatal. */
  private started(): void {
    if (this.phase === 'starting') this.phase = 'running';
    if (this.phase !== 'stopping') this.initial.succeeded();
  }

  /** The initial reconciliation failed (the API down, a transient error): say so, and try again. */
  private startFailed(err: unknown): void {
    if (this.phase === 'stopping' || this.controller.signal.aborted) return;
    if (this.phase === 'starting') this.phase = 'running';
    const ms = this.initial.failed(err);
    if (ms === null || isStorageFull(err)) return; // the storage back-off (faults.ts) tries again
    this.later(ms, () => {
      if (!this.initial.done && this.phase !== 'stopping') this.startInitial('start (retry)');
    });
  }

  /** Live state for `files-sync status`. */
  private status(): Record<string, unknown> {
    const { phase, startedAt, parts, held, initial } = this;
    return daemonStatus({
      phase,
      startedAt,
      root: this.config.root,
      parts,
      held,
      faults: this.faults,
      initial,
    });
  }

  private async reconcile(walking: () => RunRequest, onProgress: ProgressListener): Promise<SyncReport> {
    await this.folder.beforeWalk();
    let walked = false;
    return this.parts.queue
      .exclusive(async () => {
        // This walk covers every path: hints dropped before it are not needed, later ones are.
        this.parts.queue.acceptHints();
        // The ignore file is read again (a change the watcher missed); a bad one keeps the running
        // filter. Not while the root is missing: its absent ignore file would read as "no rules".
        if (await isDirectory(this.config.root)) this.applied(await this.settings.ignoreFileChanged(this.log));
        const { reasons, allow } = walking(); // what it serves: the requests made until now
        walked = this.folder.walkBegins();
        this.log.debug('reconciling', { reasons });
        const report = await reconcile({
          config: this.config,
          filter: this.settings.built,
          ledger: this.parts.ledger,
          remote: this.parts.gate,
          logger: this.logger.child({ module: 'sync' }),
          respectBackoff: !reasons.includes(SYNC_REQUEST), // a person's `sync` retries what backs off, as a one-shot does
          allowMassDelete: allow.massDelete,
          allowDuplicates: allow.duplicates,
          signal: this.controller.signal,
          onProgress,
        });
        if (!this.parts.queue.overflowed) this.floods.caughtUp();
        this.started();
        this.held = report.held ? { count: report.held.count, reason: report.held.reason } : null;
        this.folder.rootBack(this.faults.cleared(report.counts));
        // The one vocabulary of counts (report.ts), in the line and as fields; then the moves that wait.
        const kept = report.movesWaiting ? `; ${movesWaitingLine(report.movesWaiting)}` : '';
        // A stop aborts the work in flight: the counts are those done before it, not a whole pass.
        const cut = report.interrupted !== null || this.controller.signal.aborted;
        this.log.info(`${cut ? 'reconciliation cut short' : 'reconciled'} (${reasons.join(', ')}): ${countsLine(report.counts)}${kept}`, {
          ...report.counts,
          ms: report.finishedAt - report.startedAt,
        });
        return report;
      })
      .finally(() => {
        if (!walked) this.folder.walkAbandoned();
        this.parts.queue.afterWork();
      });
  }

  private async runDeletes(paths: string[]): Promise<DeleteBatchOutcome> {
    const outcome = await deleteBatch(this.parts.deps, paths);
    if (outcome.held) {
      this.held = outcome.held;
      this.log.warn(`deletes held: ${outcome.held.reason}`);
    }
    if (outcome.blocked !== this.lastBlocked && outcome.blocked) this.log.warn(`no remote file deleted: ${outcome.blocked}`);
    this.lastBlocked = outcome.blocked;
    if (outcome.deleted > 0) this.log.info('deleted remote copies of removed files', { count: outcome.deleted, paths: paths.slice(0, 5) });
    return outcome;
  }

  /** Wakes the reconciliation loop. */
  trigger(reason: string): void {
    this.parts.loop.trigger(reason);
  }

  later(ms: number, fn: () => void): NodeJS.Timeout {
    return this.timers.later(ms, fn);
  }

  /** Applies a settings change once it is built (the ignore file is read asynchronously). */
  whenSettled(change: Promise<SettingsChange | null>): void {
    change.then(
      (c) => this.applied(c),
      (err: unknown) => this.log.error(`settings not applied: ${errorMessage(err)}`),
    );
  }

  /** Acts on a reload or a changed ignore file: a new root or filter is watched again and reconciled. */
  private applied(change: SettingsChange | null): void {
    if (!change || this.phase === 'stopping') return;
    this.logger.level = this.context.logLevel ?? this.config.logLevel;
    this.parts.queue.concurrency = this.config.concurrency;
    if (change.intervalChanged) this.parts.loop.schedulePeriodic();
    if (!change.rewatch) return;
    this.parts.rootCheck.reset();
    this.folder.rewatch('new root or filter');
  }

  /**
   * Stops: no new work, requests in flight finish (at most STOP_GRACE_MS, or at once on a second
   * signal), then everything still waiting is aborted and unwinds before the ledger is closed.
   * Every ledger write is one transaction, so the ledger is consistent at any point of this.
   */
  stop(code: number, why: unknown): void {
    if (this.phase === 'stopping') return this.hardStop();
    this.phase = 'stopping';
    if (typeof why === 'string') this.log.info(`stopping (${why})`);
    else this.log.error(`stopping: ${errorMessage(why)}`, { requestId: requestIdOf(why) });
    void this.shutdown().then(() => this.finished(code));
  }

  private async shutdown(): Promise<void> {
    this.timers.clear();
    this.parts.rootCheck.stop();
    const watcherClosed = this.parts.watcher.close();
    this.parts.queue.stop();
    const loopStopped = this.parts.loop.stop();
    const hard = new Promise<void>((resolve) => (this.hardStop = resolve));
    const grace = sleep(STOP_GRACE_MS, undefined, { ref: false });
    await Promise.race([this.parts.gate.drain(), grace, hard]);
    this.controller.abort(new SyncError('the daemon is stopping', ExitCode.fileFailures));
    const unwound = Promise.allSettled([loopStopped, this.parts.queue.settled(), watcherClosed]);
    await Promise.race([unwound, sleep(STOP_UNWIND_MS, undefined, { ref: false })]);
    this.log.info('stopped');
  }
}
