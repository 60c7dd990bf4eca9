// The daemon's object graph, built in one function in dependency order: the ledger, the API health
// tracker and gate around the client, the path-job queue, the reconciliation loop, the watcher and
// the root check. Where two parts answer each other (the health tracker parks the queue, the queue
// wakes the loop), the edge goes through `DaemonEvents`, the lifecycle that owns the graph, so no
// part is created half-wired.
import { clientFor, ledgerPath } from '../app.js';
import { Ledger, type LedgerError } from '../ledger/ledger.js';
import type { Logger } from '../log.js';
import type { FilesClient } from '../remote/client.js';
import type { SyncReport } from '../sync/reconcile.js';
import { checkedLedger } from '../sync/api-target.js';
import { readLedger } from './faults.js';
import { ApiGate, ApiHealth, quietWhileDown } from './health.js';
import { PathQueue, type JobErrorAction } from './jobs.js';
import { ReconcileLoop, type ProgressListener, type RunRequest } from './loop.js';
import { syncPath, type DeleteBatchOutcome, type PathSyncDeps } from './pathsync.js';
import { RootCheck, type RootState } from './rootcheck.js';
import type { Settings, TestHooks } from './settings.js';
import { TreeWatcher, type WatchEventKind } from './watcher.js';

/** The parts of a running daemon. */
export interface DaemonParts {
  ledger: Ledger;
  client: FilesClient;
  health: ApiHealth;
  gate: ApiGate;
  /** What the path jobs are given: the live config and filter, the ledger, the gated remote. */
  deps: PathSyncDeps;
  queue: PathQueue;
  loop: ReconcileLoop;
  watcher: TreeWatcher;
  rootCheck: RootCheck;
}

/** What the parts tell the daemon's lifecycle; none of them is called while the graph is built. */
export interface DaemonEvents {
  ledgerFault(err: LedgerError): void;
  apiDown(): void;
  apiUp(): void;
  apiFatal(err: unknown): void;
  /** Asks the gate to probe the API (the health tracker's probe; the gate is built after it). */
  probe(signal: AbortSignal): Promise<void>;
  /** Wakes the reconciliation loop. */
  trigger(reason: string): void;
  /** The watcher failed on a directory (it goes on without it): reconcile, not more often than a gap allows. */
  watcherError(): void;
  runDeletes(paths: string[]): Promise<DeleteBatchOutcome>;
  jobError(err: unknown, paths: readonly string[]): JobErrorAction;
  queueOverflow(pending: number): void;
  reconcile(walking: () => RunRequest, onProgress: ProgressListener): Promise<SyncReport>;
  reconcileError(err: unknown): void;
  watchEvent(kind: WatchEventKind, rel: string): void;
  kernelOverflow(events: number): void;
  rootChange(before: RootState, after: RootState): void;
  /** Every directory is watched (`again`: not the first start). */
  watching(again: boolean): void;
  /** The root was deleted or moved under the watch (which starts again by itself). */
  rootLost(): void;
  /** A look of the root check: the root there or not, changed since the last look or not. */
  rootLooked(present: boolean, changed: boolean): void;
}

/** What the graph is built from. */
export interface WiringInput {
  settings: Settings;
  apiKey: string;
  logger: Logger;
  hooks: TestHooks;
  signal: AbortSignal;
}

/** Builds the daemon's parts; when a part cannot be built, those already built are closed. */
export function wireDaemon(input: WiringInput, on: DaemonEvents): DaemonParts {
  const { settings, logger, signal } = input;
  const ledger = checkedLedger(Ledger.open(ledgerPath(settings.config)), settings.config, true);
  ledger.onFault((err) => on.ledgerFault(err));
  let client: FilesClient | undefined;
  try {
    const health = new ApiHealth({
      logger: logger.child({ module: 'api' }),
      probe: (s) => on.probe(s),
      onDown: () => on.apiDown(),
      onUp: () => on.apiUp(),
      onFatal: (err) => on.apiFatal(err),
      signal,
    });
    client = clientFor(
      settings.config,
      input.apiKey,
      quietWhileDown(logger, () => health),
    );
    const gate = new ApiGate(client, health, signal);
    const deps: PathSyncDeps = {
      config: () => settings.config,
      filter: () => settings.filter,
      ledger,
      remote: gate,
      logger: logger.child({ module: 'jobs' }),
      signal,
    };
    return { ledger, client, health, gate, deps, ...wireWork(input, deps, on) };
  } catch (err) {
    void client?.close().catch(() => undefined);
    ledger.close();
    throw err;
  }
}

/** The queue, the loop, the watcher and the root check. */
function wireWork(input: WiringInput, deps: PathSyncDeps, on: DaemonEvents): Pick<DaemonParts, 'queue' | 'loop' | 'watcher' | 'rootCheck'> {
  const { settings, hooks, logger } = input;
  const queue = new PathQueue({
    concurrency: settings.config.concurrency,
    deleteDelayMs: () => settings.config.deleteDelaySeconds * 1000,
    runPath: async (p) => {
      const outcome = await syncPath(deps, p);
      if (outcome.kind === 'done' && (outcome.report?.unknownOutcomes ?? 0) > 0) on.trigger('answers lost during an upload');
      if (outcome.kind === 'held') on.trigger('a new file while look-alikes are held');
      return outcome;
    },
    runDeletes: (paths) => on.runDeletes(paths),
    onError: (err, paths) => on.jobError(err, paths),
    nextRetryAfter: (t) => readLedger(() => deps.ledger.nextRetryAfter(t), null),
    retriesDueBy: (t) => readLedger(() => deps.ledger.retriesDueBy(t), []),
    maxPending: () => settings.config.maxPendingHints,
    onOverflow: (pending) => on.queueOverflow(pending),
    logger: deps.logger,
  });
  const loop = new ReconcileLoop({
    run: (walking, onProgress) => on.reconcile(walking, onProgress),
    intervalMs: () => hooks.reconcileMs ?? settings.config.reconcileIntervalMinutes * 60_000,
    onError: (err) => on.reconcileError(err),
  });
  const watcher = new TreeWatcher({
    root: settings.config.root,
    filter: settings.filter,
    followSymlinks: settings.config.followSymlinks,
    logger: logger.child({ module: 'watcher' }),
    onEvent: (kind, rel) => on.watchEvent(kind, rel),
    onError: () => on.watcherError(),
    onOverflow: (events) => on.kernelOverflow(events),
    onReady: (again) => on.watching(again),
    onRootLost: () => on.rootLost(),
    mode: hooks.watcher,
    startDelayMs: hooks.watchDelayMs,
  });
  const rootCheck = new RootCheck({
    root: () => settings.config.root,
    marker: () => settings.config.rootMarker,
    onChange: (before, after) => on.rootChange(before, after),
    onLook: (present, changed) => on.rootLooked(present, changed),
  });
  return { queue, loop, watcher, rootCheck };
}
