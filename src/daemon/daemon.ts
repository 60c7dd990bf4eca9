// The resident service (`files-sync daemon`): wires the watcher, the path-job queue, the
// reconciliation loop, the API health tracker and the control socket around one ledger, and owns
// the process's life: signals, reload, and a stop that leaves the ledger consistent. Test hooks:
// `readTestHooks` in settings.ts.
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { countsLine } from '../sync/report.js';
import { clientFor, ledgerPath, lockStateDir, loggerFor, type CommandContext } from '../app.js';
import { loadApiKey, loadConfig, type Config } from '../config.js';
import { ExitCode, SyncError, errorMessage } from '../errors.js';
import { Ledger, LedgerError } from '../ledger/ledger.js';
import { IGNORE_FILE_NAME } from '../local/filter.js';
import type { Logger } from '../log.js';
import type { FilesClient } from '../remote/client.js';
import { reconcile, type SyncReport } from '../sync/reconcile.js';
import { startControlServer, type ControlServer } from './control.js';
import { ApiGate, ApiHealth, isAuthFailure, isUnavailable, quietWhileDown } from './health.js';
import { PathQueue, type JobErrorAction } from './jobs.js';
import { FloodNotices, InitialReconciliation } from './notices.js';
import { RootCheck, describeRootChange, type RootState } from './rootcheck.js';
import { ReconcileLoop, type Allow, type ProgressListener } from './loop.js';
import { deleteBatch, listFiles, syncPath, type PathSyncDeps } from './pathsync.js';
import { Settings, readTestHooks, type SettingsChange, type TestHooks } from './settings.js';
import { TreeWatcher, type WatchEventKind } from './watcher.js';
import { Timers } from './timers.js';

/** After SIGTERM, requests in flight get this long to finish before they are aborted (the unit allows 30 s). */
const STOP_GRACE_MS = 15_000;
/** After the abort, how long the jobs get to unwind before the ledger is closed. */
const STOP_UNWIND_MS = 5_000;
/** While the root is missing, a reconciliation tries again this often. */
const ROOT_RETRY_MS = 60_000;
/** A full or busy ledger: the reconciliation is retried after this, doubling up to 10 minutes. */
const LEDGER_RETRY_MS = 30_000;

/** Runs the daemon until a signal or a fatal error; resolves to the exit code. */
export async function runDaemon(context: CommandContext): Promise<number> {
  const config = loadConfig(context.overrides, context.env);
  const logger = loggerFor(context, config);
  const apiKey = loadApiKey(config, context.env);
  const lock = lockStateDir(config, 'daemon'); // a second daemon: LockedError, exit 2, naming the pid
  try {
    // The root's ignore file is read before anything starts: a bad one stops the start (exit 3).
    return await new Daemon(context, await Settings.load(config), logger).run(apiKey);
  } finally {
    lock.release();
  }
}

/** True when `dir` is a directory now. */
function isDirectory(dir: string): Promise<boolean> {
  return stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

class Daemon {
  private readonly controller = new AbortController();
  private readonly log: Logger;
  private readonly hooks: TestHooks;
  private readonly settings: Settings;
  private phase: 'starting' | 'running' | 'stopping' = 'starting';
  private readonly startedAt = new Date().toISOString();
  private ledger!: Ledger;
  private client!: FilesClient;
  private health!: ApiHealth;
  private gate!: ApiGate;
  private queue!: PathQueue;
  private loop!: ReconcileLoop;
  private watcher!: TreeWatcher;
  private rootCheck!: RootCheck;
  private control: ControlServer | null = null;
  private held: { count: number; reason: string } | null = null;
  private lastBlocked: string | null = null;
  private rootProblem: string | null = null;
  private readonly floods: FloodNotices;
  private readonly initial: InitialReconciliation;
  private rootRetry: NodeJS.Timeout | null = null;
  /** A passing ledger fault (full, busy) being retried: said once, and once when it clears. */
  private ledgerTrouble: { message: string; retryMs: number } | null = null;
  private readonly timers = new Timers();
  private hardStop: () => void = () => undefined;
  private finished!: (code: number) => void;
  private readonly done = new Promise<number>((resolve) => (this.finished = resolve));

  constructor(
    private readonly context: CommandContext,
    settings: Settings,
    private readonly logger: Logger,
  ) {
    this.log = logger.child({ module: 'daemon' });
    this.hooks = readTestHooks(context.env);
    this.settings = settings;
    this.floods = new FloodNotices(this.log);
    this.initial = new InitialReconciliation(this.log);
  }

  private get config(): Config {
    return this.settings.config;
  }

  async run(apiKey: string): Promise<number> {
    const signal = this.controller.signal;
    this.ledger = Ledger.open(ledgerPath(this.config));
    this.ledger.onFault((err) => this.onLedgerFault(err));
    try {
      this.health = new ApiHealth({
        logger: this.logger.child({ module: 'api' }),
        probe: (s) => this.gate.probe(s),
        onDown: () => this.queue.park(),
        onUp: () => {
          this.queue.unpark();
          this.loop.trigger('API recovered');
        },
        onFatal: (err) => this.stop(ExitCode.auth, err),
        signal,
      });
      this.client = clientFor(this.config, apiKey, quietWhileDown(this.logger, () => this.health));
      this.gate = new ApiGate(this.client, this.health, signal);
      const deps: PathSyncDeps = { config: () => this.config, filter: () => this.settings.filter, ledger: this.ledger, remote: this.gate, logger: this.logger.child({ module: 'jobs' }), signal };
      this.queue = new PathQueue({
        concurrency: this.config.concurrency,
        deleteDelayMs: () => this.config.deleteDelaySeconds * 1000,
        runPath: async (p) => {
          const outcome = await syncPath(deps, p);
          if (outcome.kind === 'done' && (outcome.report?.unknownOutcomes ?? 0) > 0) this.loop.trigger('answers lost during an upload');
          return outcome;
        },
        runDeletes: (paths) => this.runDeletes(deps, paths),
        onError: (err, paths) => this.onJobError(err, paths),
        nextRetryAfter: (t) => this.readLedger(() => this.ledger.nextRetryAfter(t), null),
        retriesDueBy: (t) => this.readLedger(() => this.ledger.retriesDueBy(t), []),
        maxPending: () => this.config.maxPendingHints,
        onOverflow: (pending) => this.onFlood(pending),
        logger: deps.logger,
      });
      this.loop = new ReconcileLoop({
        run: (reasons, allow, onProgress) => this.reconcileNow(reasons, allow, onProgress),
        intervalMs: () => this.hooks.reconcileMs ?? this.config.reconcileIntervalMinutes * 60_000,
        onError: (err) => this.onReconcileError(err),
      });
      this.watcher = new TreeWatcher({
        root: this.config.root,
        filter: this.settings.filter,
        followSymlinks: this.config.followSymlinks,
        logger: this.logger.child({ module: 'watcher' }),
        onEvent: (kind, rel) => this.onEvent(kind, rel),
        onError: () => this.loop.trigger('watcher error'),
        onOverflow: (events) => this.onKernelOverflow(events),
        mode: this.hooks.watcher,
      });
      this.rootCheck = new RootCheck({
        root: () => this.config.root,
        marker: () => this.config.rootMarker,
        onChange: (before, after) => this.onRootChange(before, after),
      });
      this.control = await startControlServer(
        this.config.stateDir,
        { sync: (allow, onProgress) => this.loop.request('sync request', { allow, onProgress }), status: () => this.status() },
        this.logger.child({ module: 'control' }),
      );
      const signals = this.installSignals();
      this.log.info(`started (pid ${process.pid})`, { root: this.config.root, stateDir: this.config.stateDir });
      if (this.hooks.watcher !== 'on' || this.hooks.reconcileMs !== null) this.log.warn('test hooks active', this.hooks);
      // Watch first: changes made during the first reconciliation queue up behind it.
      await this.rootCheck.start();
      this.watcher.start();
      this.startInitial('start');
      const code = await this.done;
      signals();
      return code;
    } finally {
      await this.control?.close();
      await Promise.race([this.client?.close(), sleep(2_000, undefined, { ref: false })]).catch(() => undefined);
      this.ledger.close();
      // Anything still open (a stuck socket) must not keep a stopped daemon alive.
      setTimeout(() => process.exit(process.exitCode ?? 0), 5_000).unref();
    }
  }

  /** Runs the initial reconciliation (again); a fatal error has begun the stop when it settles. */
  private startInitial(reason: string): void {
    this.loop.request(reason).then(
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
    if (ms === null) return;
    this.later(ms, () => {
      if (!this.initial.done && this.phase !== 'stopping') this.startInitial('start (retry)');
    });
  }

  /** Live state for `files-sync status`. */
  private status(): Record<string, unknown> {
    return {
      pid: process.pid,
      startedAt: this.startedAt,
      state: this.phase,
      root: this.config.root,
      queue: this.queue.stats(),
      requestsInFlight: this.gate.active,
      uploadsInFlight: this.gate.uploads,
      reconcile: this.loop.status(),
      watcher: this.watcher.status(),
      rootCheck: this.rootCheck.status(),
      api: { state: this.health.state, since: new Date(this.health.since).toISOString(), error: this.health.lastError, failedProbes: this.health.failedProbes },
      held: this.held,
      rootProblem: this.rootProblem,
      initialReconciliation: this.initial.status(),
    };
  }

  private installSignals(): () => void {
    const handlers: [NodeJS.Signals, () => void][] = [
      ['SIGTERM', () => this.stop(ExitCode.ok, 'SIGTERM')],
      ['SIGINT', () => this.stop(ExitCode.ok, 'SIGINT')],
      ['SIGHUP', () => this.reload()],
      ['SIGUSR1', () => this.loop.trigger('SIGUSR1')],
    ];
    for (const [name, fn] of handlers) process.on(name, fn);
    return () => {
      for (const [name, fn] of handlers) process.off(name, fn);
    };
  }

  private onEvent(kind: WatchEventKind, rel: string): void {
    if (this.phase === 'stopping') return;
    if (rel === '') {
      if (kind === 'unlinkDir') this.loop.trigger('the root was removed');
      return;
    }
    if (rel === IGNORE_FILE_NAME) return this.whenSettled(this.settings.ignoreFileChanged(this.log));
    if (kind === 'unlinkDir') {
      for (const row of this.readLedger(() => this.ledger.filesUnder(rel), [])) this.queue.schedule(row.path);
    } else if (kind === 'addDir') {
      listFiles(this.config.root, rel, this.settings.filter).then(
        (files) => files.forEach((f) => this.queue.schedule(f)),
        () => undefined,
      );
    } else {
      this.queue.schedule(rel);
    }
  }

  /**
   * The root changed under the daemon (rootcheck.ts): gone, it is no longer watched (inotify would
   * follow the moved folder); back or replaced, it is watched again and reconciled, and the
   * reconciliation's root check decides whether its deletes can be trusted (rule 4).
   */
  private onRootChange(before: RootState, after: RootState): void {
    if (this.phase === 'stopping') return;
    const change = describeRootChange(this.config.root, before, after);
    this.log.warn(change.message);
    if (change.gone) this.watcher.suspend(change.what);
    else this.rewatch();
    this.loop.trigger(change.what);
  }

  /** Too many paths waited (`maxPendingHints`): the queue dropped them; one full walk finds their changes with flat memory. */
  private onFlood(pending: number): void {
    if (this.phase === 'stopping') return;
    const max = this.config.maxPendingHints;
    this.floods.note('hints', `more than ${max} paths wait for a job (an event flood): their hints are dropped and a full reconciliation finds the changes instead`, { pending });
    this.loop.trigger('too many pending changes');
  }

  /** The kernel dropped watcher events (see TreeWatcher.onOverflow): only a full walk finds their changes. */
  private onKernelOverflow(events: number): void {
    if (this.phase === 'stopping') return;
    this.floods.note('kernel', `the kernel dropped file events (inotify queue overflow: ${events} events at once); reconciling fully to find the changes they named`);
    this.loop.trigger('inotify queue overflow');
  }

  private reconcileNow(reasons: readonly string[], allow: Allow, onProgress: ProgressListener): Promise<SyncReport> {
    return this.queue
      .exclusive(async () => {
        this.log.debug('reconciling', { reasons });
        // This walk covers every path: hints dropped before it are not needed, later ones are.
        this.queue.acceptHints();
        // The ignore file is read again (a change the watcher missed); a bad one keeps the running
        // filter. Not while the root is missing: its absent ignore file would read as "no rules".
        if (await isDirectory(this.config.root)) this.applied(await this.settings.ignoreFileChanged(this.log));
        const report = await reconcile({
          config: this.config,
          filter: this.settings.built,
          ledger: this.ledger,
          remote: this.gate,
          logger: this.logger.child({ module: 'sync' }),
          respectBackoff: true,
          allowMassDelete: allow.massDelete,
          allowDuplicates: allow.duplicates,
          signal: this.controller.signal,
          onProgress,
        });
        if (!this.queue.overflowed) this.floods.caughtUp();
        this.started();
        this.held = report.held ? { count: report.held.count, reason: report.held.reason } : null;
        if (this.ledgerTrouble) {
          this.ledgerTrouble = null;
          this.log.info('the ledger is writable again');
        }
        if (this.rootProblem) {
          this.rootProblem = null;
          this.log.info('the sync root is back');
          this.rewatch();
        }
        // The one vocabulary of counts (report.ts), in the line and as fields.
        this.log.info(`reconciled (${reasons.join(', ')}): ${countsLine(report.counts)}`, { ...report.counts, ms: report.finishedAt - report.startedAt });
        return report;
      })
      .finally(() => this.queue.afterWork());
  }

  private async runDeletes(deps: PathSyncDeps, paths: string[]) {
    const outcome = await deleteBatch(deps, paths);
    if (outcome.held) {
      this.held = outcome.held;
      this.log.warn(`deletes held: ${outcome.held.reason}`);
    }
    if (outcome.blocked !== this.lastBlocked && outcome.blocked) this.log.warn(`no remote file deleted: ${outcome.blocked}`);
    this.lastBlocked = outcome.blocked;
    if (outcome.deleted > 0) this.log.info('deleted remote copies of removed files', { count: outcome.deleted, paths: paths.slice(0, 5) });
    return outcome;
  }

  private onJobError(err: unknown, paths: readonly string[]): JobErrorAction {
    if (this.phase === 'stopping' || this.controller.signal.aborted) return 'drop';
    if (err instanceof LedgerError) return err.fatal ? 'drop' : 'retry'; // onLedgerFault has said it
    if (isUnavailable(err)) return 'park'; // the health tracker has paused the queue and said so
    if (isAuthFailure(err) || (err instanceof SyncError && err.exitCode === ExitCode.usage)) {
      this.stop(err instanceof SyncError ? err.exitCode : ExitCode.usage, err);
      return 'drop';
    }
    if (err instanceof SyncError && err.exitCode === ExitCode.guard) {
      this.loop.trigger('the root looks missing'); // says so once, and retries
      return 'drop';
    }
    this.log.error(`could not sync ${paths[0]}${paths.length > 1 ? ` and ${paths.length - 1} more` : ''}: ${errorMessage(err)}; retrying in a minute`, {
      requestId: (err as { requestId?: unknown }).requestId,
    });
    return 'retry';
  }

  private onReconcileError(err: unknown): void {
    if (this.phase === 'stopping' || this.controller.signal.aborted || isUnavailable(err)) return;
    if (err instanceof LedgerError) {
      // A fatal one has stopped the daemon; a passing one (full, busy) is retried with back-off.
      if (!err.fatal && this.ledgerTrouble) {
        const retryMs = this.ledgerTrouble.retryMs;
        this.ledgerTrouble.retryMs = Math.min(retryMs * 2, 600_000);
        this.later(retryMs, () => this.loop.trigger('ledger retry'));
      }
      return;
    }
    const code = err instanceof SyncError ? err.exitCode : null;
    if (isAuthFailure(err) || code === ExitCode.usage || (code === ExitCode.guard && this.phase === 'starting')) {
      return this.stop(code ?? ExitCode.usage, err);
    }
    if (code === ExitCode.guard) {
      if (this.rootProblem !== errorMessage(err)) this.log.warn(`cannot reconcile: ${errorMessage(err)}; trying again every minute`);
      this.rootProblem = errorMessage(err);
      if (!this.rootRetry) {
        this.rootRetry = this.later(ROOT_RETRY_MS, () => {
          this.rootRetry = null;
          this.loop.trigger('root check');
        });
      }
      return;
    }
    // Before the first success, `startFailed` says it, with when it tries again.
    if (!this.initial.done) return;
    this.log.error(`reconciliation failed: ${errorMessage(err)}; trying again at the next one`, { requestId: (err as { requestId?: unknown }).requestId });
  }

  /**
   * Every ledger fault, as the ledger raises it: a fatal one stops the daemon with its exit code
   * (6) and one line; a passing one (disk full, busy) is logged once and retried.
   */
  private onLedgerFault(err: LedgerError): void {
    if (this.phase === 'stopping') return; // a second stop() would cut the grace period short
    if (err.fatal) return this.stop(err.exitCode, err);
    if (this.ledgerTrouble?.message === err.message) return;
    this.ledgerTrouble = { message: err.message, retryMs: LEDGER_RETRY_MS };
    this.log.warn(err.message);
  }

  /** A read whose ledger fault is already handled (onLedgerFault): the caller carries on with `fallback`. */
  private readLedger<T>(read: () => T, fallback: T): T {
    try {
      return read();
    } catch (err) {
      if (err instanceof LedgerError) return fallback;
      throw err;
    }
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    return this.timers.later(ms, fn);
  }

  /** SIGHUP: the config file is read again; a bad one is logged and the running one kept. */
  private reload(): void {
    if (this.phase !== 'stopping') this.whenSettled(this.settings.reload(this.context.overrides, this.context.env, this.log));
  }

  /** Applies a settings change once it is built (the ignore file is read asynchronously). */
  private whenSettled(change: Promise<SettingsChange | null>): void {
    change.then(
      (c) => this.applied(c),
      (err: unknown) => this.log.error(`settings not applied: ${errorMessage(err)}`),
    );
  }

  /** Acts on a reload or a changed ignore file: a new root or filter is watched again and reconciled. */
  private applied(change: SettingsChange | null): void {
    if (!change || this.phase === 'stopping') return;
    this.logger.level = this.context.logLevel ?? this.config.logLevel;
    this.queue.concurrency = this.config.concurrency;
    if (change.intervalChanged) this.loop.schedulePeriodic();
    if (!change.rewatch) return;
    this.rootCheck.reset();
    this.rewatch();
    this.loop.trigger('new root or filter');
  }

  private rewatch(): void {
    this.watcher.restart({ root: this.config.root, filter: this.settings.filter, followSymlinks: this.config.followSymlinks });
  }

  /**
   * Stops: no new work, requests in flight finish (at most STOP_GRACE_MS, or at once on a second
   * signal), then everything still waiting is aborted and unwinds before the ledger is closed.
   * Every ledger write is one transaction, so the ledger is consistent at any point of this.
   */
  private stop(code: number, why: string | unknown): void {
    if (this.phase === 'stopping') return this.hardStop();
    this.phase = 'stopping';
    if (typeof why === 'string') this.log.info(`stopping (${why})`);
    else this.log.error(`stopping: ${errorMessage(why)}`, { requestId: (why as { requestId?: unknown }).requestId });
    void this.shutdown().then(() => this.finished(code));
  }

  private async shutdown(): Promise<void> {
    this.timers.clear();
    this.rootCheck.stop();
    const watcherClosed = this.watcher.close();
    this.queue.stop();
    const loopStopped = this.loop.stop();
    const hard = new Promise<void>((resolve) => (this.hardStop = resolve));
    const grace = sleep(STOP_GRACE_MS, undefined, { ref: false });
    await Promise.race([this.gate.drain(), grace, hard]);
    this.controller.abort(new SyncError('the daemon is stopping', ExitCode.fileFailures));
    const unwound = Promise.allSettled([loopStopped, this.queue.settled(), watcherClosed]);
    await Promise.race([unwound, sleep(STOP_UNWIND_MS, undefined, { ref: false })]);
    this.log.info('stopped');
  }
}

