// A full reconciliation: check the root, walk it and list the workspace, plan, execute, sweep the
// orphans lost answers may have left, and record the result. Used by `sync` and by the daemon.
import type { Config } from '../config.js';
import { GuardError } from '../errors.js';
import { backupLedger } from '../ledger/backup.js';
import type { FileRow, Ledger } from '../ledger/ledger.js';
import { buildFilter, filterHash } from '../local/filter.js';
import { deferHashFor } from '../local/entry.js';
import { checkRoot } from '../local/root.js';
import type { FilterOptions, PathFilter, WalkResult } from '../local/types.js';
import { RootError, walk } from '../local/walk.js';
import type { Logger } from '../log.js';
import type { RemoteFiles } from '../remote/types.js';
import { execute } from './execute.js';
import { nameFor } from './names.js';
import { ORPHAN_SKEW_MS } from './orphans.js';
import { ALREADY_REMOTE, reportOf, type SyncReport } from './outcome.js';
import { planFor } from './plan.js';
import { readRemoteSide, seenAfterRun, WORKSPACE_META_KEY, type RemoteSide, type WorkspaceSeen } from './remote-view.js';
import { parseRestoreWindow, restoreCopies, RESTORE_WINDOW_META_KEY, type RestoreWindow } from './restore-window.js';
import { executeDepsFor, planOptionsFor } from './session.js';
import type { DeleteReason, ExecuteDeps, ExecuteReport, LedgerView, Plan, PlanOptions, Progress } from './types.js';

export { ALREADY_REMOTE, type Counts, type SyncReport } from './outcome.js';
export { ORPHAN_SKEW_MS } from './orphans.js';

/**
 * The walk keeps the bytes of new or changed files up to 64 KiB, 64 MiB in all, and their uploads
 * send them: each such file is read once, not twice (four file operations fewer per upload).
 */
const KEEP_FILE_BYTES = 64 * 1024;
const KEEP_TOTAL_BYTES = 64 * 1024 * 1024;

/** Ledger meta: when a full listing first found no look-alike to hold (see PlanOptions.holdLookalikes). */
const LOOKALIKES_SETTLED = 'lookalikes_settled_at';

export interface ReconcileOptions {
  config: Config;
  ledger: Ledger;
  remote: RemoteFiles;
  logger: Logger;
  allowMassDelete?: boolean;
  /** Upload new files even where the workspace holds same-name, same-size files a fresh ledger does not know. */
  allowDuplicates?: boolean;
  /** Plan only: no request but the listing, no ledger change. */
  dryRun?: boolean;
  /** Honour per-file back-off (the daemon); a one-shot run retries every retryable failure now. */
  respectBackoff?: boolean;
  signal?: AbortSignal;
  /** Stops new work (Ctrl-C): the scan ends, transfers in flight finish, nothing new starts. */
  stop?: AbortSignal;
  now?: () => number;
  /** Called as the run moves: `scan` (walk and listing), then `sync` with transfer progress. */
  onProgress?: (phase: 'scan' | 'sync', progress: Progress) => void;
  /** A filter already built (the daemon's, kept when a new ignore file cannot be read); else read now. */
  filter?: { filter: PathFilter; options: FilterOptions };
}

/** One reconciliation's state, shared by its steps. */
interface Run {
  options: ReconcileOptions;
  now: () => number;
  startedAt: number;
  requestsBefore: number;
  root: { distrust: string | null; dev: number };
  filter: PathFilter;
  filterOptions: FilterOptions;
  /** The scan stops at once on `stop`: it has changed nothing yet. */
  scanSignal: AbortSignal | undefined;
  /** After `ledger restore`: copies uploaded since the backup are looked for in the whole listing. */
  restoreWindow: RestoreWindow | undefined;
}

/** Runs one full reconciliation. Throws only fatal errors (config, 401, unreachable, root missing). */
export async function reconcile(options: ReconcileOptions): Promise<SyncReport> {
  const { config, ledger, remote, logger } = options;
  const now = options.now ?? Date.now;
  const startedAt = now();
  const requestsBefore = requestCount(remote);
  const root = checkRoot(config, ledger, options.allowMassDelete ?? false);
  const { filter, options: filterOptions } = options.filter ?? (await buildFilter(config));
  const scanSignal = options.stop ? (options.signal ? AbortSignal.any([options.signal, options.stop]) : options.stop) : options.signal;
  const run: Run = {
    options,
    now,
    startedAt,
    requestsBefore,
    root,
    filter,
    filterOptions,
    scanSignal,
    restoreWindow: undefined,
  };
  // Read once for the walk and the plan: 100,000 rows are ~50 MB of objects.
  const rows = ledger.files();
  const walking = walkRoot(run, rows);
  run.restoreWindow = parseRestoreWindow(ledger.getMetaJson(RESTORE_WINDOW_META_KEY));
  const [local, remoteSide] = await Promise.all([walking, readRemote(run, rows)]);
  logger.debug('remote side read', {
    mode: remoteSide.choice.mode,
    why: remoteSide.choice.reason,
    ...remoteSide.requests,
  });
  for (const skip of local.skipped) logger.debug('skipped', { path: skip.path, reason: skip.reason });

  const sizes = new Map(remoteSide.view.files.map((f) => [f.id, f.size_bytes]));
  const thePlan = planFor({ kind: 'full', local, remote: remoteSide.view }, ledgerView(run, rows), planOptions(run));
  thePlan.foreign = remoteSide.foreign ?? thePlan.foreign;
  logPlan(thePlan, logger);
  const report = (result: ExecuteReport | null) =>
    reportOf({
      plan: thePlan,
      result,
      dryRun: options.dryRun ?? false,
      startedAt,
      finishedAt: now(),
      apiRequests: requestCount(remote) - requestsBefore,
      local,
      sizes,
    });
  if (options.dryRun) return report(null);

  const deps = executeDepsFor(
    config,
    { remote, ledger, logger, filter },
    {
      now,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.stop ? { stop: options.stop } : {}),
      ...(local.contents ? { contents: local.contents } : {}),
      onProgress: (p: Progress) => options.onProgress?.('sync', p),
    },
  );
  if (run.restoreWindow) {
    const claims = {
      localPaths: local.files.map((f) => f.path),
      remoteName: nameFor(config),
      serverOffsetMs: remote.clockOffsetMs?.() ?? null,
      skewMs: ORPHAN_SKEW_MS,
    };
    addRestoreCopies(thePlan, restoreCopies(run.restoreWindow, remoteSide.view.files, ledgerView(run, rows), thePlan, claims));
  }
  recordUnclaimed(thePlan, ledger, logger, now());
  const result = await execute(thePlan, deps);
  if (result.unknownOutcomes > 0 && !options.signal?.aborted && !result.interrupted) await sweepOrphans(run, local, deps, result);
  finish(run, thePlan, result, local, remoteSide);
  const done = report(result);
  return recordReport(run, done);
}

/** The walk of the root, for the plan (a root that went away under it is a guard error: exit 3). */
function walkRoot(run: Run, rows: readonly FileRow[]): Promise<WalkResult> {
  const options = run.options;
  const { config, logger } = options;
  const known = new Map(rows.map((row) => [row.path, row]));
  return walk(config.root, {
    filter: run.filter,
    followSymlinks: config.followSymlinks,
    maxFileBytes: config.maxFileBytes,
    known: (p) => known.get(p),
    deferHash: deferHashFor(options.ledger, config.maxFileBytes),
    ...(options.dryRun ? {} : { keepContent: { maxFileBytes: KEEP_FILE_BYTES, remainingBytes: KEEP_TOTAL_BYTES } }),
    logger,
    ...(run.scanSignal ? { signal: run.scanSignal } : {}),
    onProgress: (p) => options.onProgress?.('scan', { filesDone: p.files, filesTotal: 0, bytesDone: p.bytesHashed, bytesTotal: 0 }),
  }).catch((err: unknown) => {
    if (err instanceof RootError) throw new GuardError(`${err.message}: nothing was deleted`, { cause: err });
    throw err;
  });
}

/** The remote side; GA: the owned ids by look-up when that is cheaper than listing the workspace (remote-view.ts). */
function readRemote(run: Run, files: readonly FileRow[]): Promise<RemoteSide> {
  const { config, ledger, remote } = run.options;
  return readRemoteSide({
    remote,
    files,
    pendingDeletes: ledger.pendingDeletes(),
    inFlight: ledger.inFlight(),
    seen: ledger.getMetaJson<WorkspaceSeen>(WORKSPACE_META_KEY),
    now: run.startedAt,
    fullListHours: config.api.fullListHours,
    orphanSkewMs: ORPHAN_SKEW_MS,
    forceFull: run.restoreWindow
      ? 'the ledger was restored from a backup: the whole listing is searched for copies uploaded since'
      : undefined,
    signal: run.scanSignal,
  });
}

/** The plan's options now: orphans are matched on the server's clock (rule 3), which the listing just measured. */
function planOptions(run: Run): PlanOptions {
  const options = run.options;
  const { config, ledger, remote } = options;
  return planOptionsFor(config, {
    now: run.now(),
    allowMassDelete: options.allowMassDelete ?? false,
    // Look-alikes are held until one full listing found none to hold (or the user allowed them):
    // after that, a same-name file of the workspace is another application's.
    holdLookalikes: !(options.allowDuplicates ?? false) && ledger.getMeta(LOOKALIKES_SETTLED) === undefined,
    rootDistrust: run.root.distrust,
    serverOffsetMs: remote.clockOffsetMs?.() ?? null,
  });
}

function ledgerView(run: Run, files: readonly FileRow[] = run.options.ledger.files()): LedgerView {
  const { ledger, respectBackoff } = run.options;
  return {
    files,
    pendingDeletes: ledger.pendingDeletes(),
    inFlight: ledger.inFlight(),
    failures: respectBackoff ? ledger.failures() : ledger.failures().filter((f) => !f.retryable),
    unclaimed: ledger.unclaimedCopies().map((c) => c.fileId),
  };
}

/** Lost answers may have stored files we hold no id for: one more listing finds and settles them. */
async function sweepOrphans(run: Run, local: WalkResult, deps: ExecuteDeps, result: ExecuteReport): Promise<void> {
  const { ledger, logger } = run.options;
  logger.info('answers were lost during uploads; sweeping the listing for orphans', {
    attempts: result.unknownOutcomes,
  });
  const view = ledgerView(run);
  const remote = (await readRemote(run, ledger.files())).view;
  const sweep = planFor({ kind: 'orphan-sweep', local, remote }, view, planOptions(run));
  recordUnclaimed(sweep, ledger, logger, run.now());
  const swept = await execute(sweep, deps);
  result.adopted += swept.adopted;
  result.deleted += swept.deleted;
  for (const [reason, n] of Object.entries(swept.deletesBy))
    result.deletesBy[reason as DeleteReason] = (result.deletesBy[reason as DeleteReason] ?? 0) + n;
  result.failedDeletes.push(...swept.failedDeletes);
}

/** What a finished run records in the ledger's meta: the root's identity, the workspace seen, the filter. */
function finish(run: Run, thePlan: Plan, result: ExecuteReport, local: WalkResult, remoteSide: RemoteSide): void {
  const { ledger } = run.options;
  // A distrusted root (another device) is not recorded as the new truth: its deletes stay
  // blocked until the right disk is back (or the state is reset by hand).
  if (run.root.distrust === null) ledger.setMetaJson('root_identity', { dev: run.root.dev, ino: local.root.ino });
  const seen = seenAfterRun(remoteSide, ledger.getMetaJson<WorkspaceSeen>(WORKSPACE_META_KEY), result.uploaded, result.deleted);
  if (seen) ledger.setMetaJson(WORKSPACE_META_KEY, seen);
  ledger.setMeta('filter_hash', filterHash(run.filterOptions));
  if (remoteSide.choice.mode === 'full' && thePlan.alreadyRemote.length === 0 && !result.interrupted)
    ledger.setMeta(LOOKALIKES_SETTLED, new Date(run.now()).toISOString());
}

/** Records the report as the last sync, closes a restore window, and backs the ledger up (rule 6). */
async function recordReport(run: Run, report: SyncReport): Promise<SyncReport> {
  const options = run.options;
  const { ledger, logger, remote } = options;
  ledger.setMetaJson('last_sync', report);
  // The copies of the restore window are recorded: closed, before the backup (which must not carry it).
  if (run.restoreWindow && !options.signal?.aborted) ledger.setMetaJson(RESTORE_WINDOW_META_KEY, null);
  // A copy to restore from if the ledger is ever damaged (rule 6); an interrupted run is not one to keep.
  if (!options.signal?.aborted) await backupLedger(ledger, logger, { clockOffsetMs: remote.clockOffsetMs?.() ?? null });
  return report;
}

/**
 * Records the copies a plan could not claim for sure (rule 3) before its rows are settled, so a
 * crash in between leaves the rows to match again rather than the copies unreported.
 */
function recordUnclaimed(p: Plan, ledger: Ledger, logger: Logger, at: number): void {
  ledger.recordUnclaimed(p.unclaimed, p.unclaimedGone, at);
  for (const copy of p.unclaimed) {
    logger.warn('a remote copy may or may not be ours: left alone (files-sync status lists it; forget-copies deletes it)', {
      fileId: copy.fileId,
      path: copy.path,
      reason: copy.reason,
    });
  }
}

/** After `ledger restore`: the copies a restore window found (restore-window.ts) join the plan's unclaimed copies, not the foreign count. */
function addRestoreCopies(p: Plan, found: Plan['unclaimed']): void {
  p.unclaimed.push(...found);
  p.foreign = Math.max(0, p.foreign - found.length);
}

function requestCount(remote: RemoteFiles): number {
  const stats = (remote as { stats?: { requests?: unknown } }).stats;
  return typeof stats?.requests === 'number' ? stats.requests : 0;
}

function logPlan(p: Plan, logger: Logger): void {
  logger.debug('plan', {
    uploads: p.uploads.length,
    adoptions: p.adoptions.length,
    deletes: p.deletes.length,
    statUpdates: p.statUpdates.length,
    unchanged: p.unchanged,
    skips: p.skips.length,
  });
  if (p.held) logger.warn(`deletes held: ${p.held.reason}`);
  if (p.alreadyRemote.length > 0) logger.warn(ALREADY_REMOTE(p.alreadyRemote.length));
  if (p.deletesBlocked) logger.warn(`no deletes planned: ${p.deletesBlocked}`);
}
