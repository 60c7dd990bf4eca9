// The resident service (`files-sync daemon`): wires the watcher, the path-job queue, the
// reconciliation loop, the API health tracker and the control socket around one ledger, and owns
// the process's life: signals, reload, and a stop that leaves the ledger consistent. Test hooks:
// `readTestHooks` in settings.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import { countsLine } from '../report.js';
import { clientFor, ledgerPath, lockStateDir, loggerFor, type CommandContext } from '../commands.js';
import { loadApiKey, loadConfig, type Config } from '../config.js';
import { ExitCode, SyncError, errorMessage } from '../errors.js';
import { Ledger } from '../ledger/ledger.js';
import { IGNORE_FILE_NAME } from '../local/filter.js';
import type { Logger } from '../log.js';
import type { FilesClient } from '../remote/client.js';
import { reconcile, type SyncReport } from '../sync/reconcile.js';
import { startControlServer, type ControlServer } from './control.js';
import { ApiGate, ApiHealth, isAuthFailure, isUnavailable, quietWhileDown } from './health.js';
import { PathQueue, type JobErrorAction } from './jobs.js';

import { ReconcileLoop, type ProgressListener } from './loop.js';
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

/** Runs the daemon until a signal or a fatal error; resolves to the exit code. */
export async function runDaemon(context: CommandContext): Promise<number> {
  const config = loadConfig(context.overrides, context.env);
  const logger = loggerFor(context, config);
  const apiKey = loadApiKey(config, context.env);
  const lock = lockStateDir(config, 'daemon'); // a second daemon: LockedError, exit 2, naming the pid
  try {
    return await new Daemon(context, config, logger).run(apiKey);
  } finally {
    lock.release();
  }
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
  private control: ControlServer | null = null;
  private held: { count: number; reason: string } | null = null;
  private lastBlocked: string | null = null;
  private rootProblem: string | null = null;
  private rootRetry: NodeJS.Timeout | null = null;
  private readonly timers = new Timers();
  private hardStop: () => void = () => undefined;
  private finished!: (code: number) => void;
  private readonly done = new Promise<number>((resolve) => (this.finished = resolve));

  constructor(
    private readonly context: CommandContext,
    config: Config,
    private readonly logger: Logger,
  ) {
    this.log = logger.child({ module: 'daemon' });
    this.hooks = readTestHooks(context.env);
    this.settings = new Settings(config);
  }

  private get config(): Config {
    return this.settings.config;
  }

  async run(apiKey: string): Promise<number> {
    const signal = this.controller.signal;
    this.ledger = Ledger.open(ledgerPath(this.config));
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
        failures: () => this.ledger.failures(),
        logger: deps.logger,
      });
      this.loop = new ReconcileLoop({
        run: (reasons, allowMassDelete, onProgress) => this.reconcileNow(reasons, allowMassDelete, onProgress),
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
        mode: this.hooks.watcher,
      });
      this.control = await startControlServer(
        this.config.stateDir,
        { sync: (allowMassDelete, onProgress) => this.loop.request('sync request', { allowMassDelete, onProgress }), status: () => this.status() },
        this.logger.child({ module: 'control' }),
      );
      const signals = this.installSignals();
      this.log.info(`started (pid ${process.pid})`, { root: this.config.root, stateDir: this.config.stateDir });
      if (this.hooks.watcher !== 'on' || this.hooks.reconcileMs !== null) this.log.warn('test hooks active', this.hooks);
      // Watch first: changes made during the first reconciliation queue up behind it.
      this.watcher.start();
      // A fatal error (401, a missing root at start) has already begun the stop when this runs.
      const started = () => this.started();
      this.loop.request('start').then(started, started);
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

  /** The first reconciliation ended (or the API was down for it): from now on a missing root is not fatal. */
  private started(): void {
    if (this.phase !== 'starting') return;
    this.phase = 'running';
    this.log.info('initial reconciliation done; syncing changes as they happen');
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
      api: { state: this.health.state, since: new Date(this.health.since).toISOString(), error: this.health.lastError, failedProbes: this.health.failedProbes },
      held: this.held,
      rootProblem: this.rootProblem,
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
    if (rel === IGNORE_FILE_NAME) return this.applied(this.settings.ignoreFileChanged(this.log));
    if (kind === 'unlinkDir') {
      for (const row of this.ledger.filesUnder(rel)) this.queue.schedule(row.path);
    } else if (kind === 'addDir') {
      listFiles(this.config.root, rel, this.settings.filter).then(
        (files) => files.forEach((f) => this.queue.schedule(f)),
        () => undefined,
      );
    } else {
      this.queue.schedule(rel);
    }
  }

  private reconcileNow(reasons: readonly string[], allowMassDelete: boolean, onProgress: ProgressListener): Promise<SyncReport> {
    return this.queue
      .exclusive(async () => {
        this.log.debug('reconciling', { reasons });
        const report = await reconcile({
          config: this.config,
          ledger: this.ledger,
          remote: this.gate,
          logger: this.logger.child({ module: 'sync' }),
          respectBackoff: true,
          allowMassDelete,
          signal: this.controller.signal,
          onProgress,
        });
        this.held = report.held ? { count: report.held.count, reason: report.held.reason } : null;
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
    this.log.error(`reconciliation failed: ${errorMessage(err)}; trying again at the next one`, { requestId: (err as { requestId?: unknown }).requestId });
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    return this.timers.later(ms, fn);
  }

  /** SIGHUP: the config file is read again; a bad one is logged and the running one kept. */
  private reload(): void {
    if (this.phase !== 'stopping') this.applied(this.settings.reload(this.context.overrides, this.context.env, this.log));
  }

  /** Acts on a reload or a changed ignore file: a new root or filter is watched again and reconciled. */
  private applied(change: SettingsChange | null): void {
    if (!change) return;
    this.logger.level = this.context.logLevel ?? this.config.logLevel;
    this.queue.concurrency = this.config.concurrency;
    if (change.intervalChanged) this.loop.schedulePeriodic();
    if (!change.rewatch) return;
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

