// The steps of a reconciliation around its pass (reconcile.ts): reading the remote side, the
// small ledger views the planner's remote side needs, the look-alike hold, the orphan sweep, and
// what a finished run records.
import { BACKUP_MARK_META_KEY, backupLedger } from '../ledger/backup.js';
import { listBackups } from '../ledger/faults.js';
import type { FileRow, InFlightUpload, Ledger } from '../ledger/ledger.js';
import { filterHash } from '../local/filter.js';
import type { SortedWalk } from '../local/sorted-walk.js';
import type { FilterOptions, LocalFile, PathFilter } from '../local/types.js';
import { statOne } from '../local/walk.js';
import type { Logger } from '../log.js';
import type { FileMetadata } from '../remote/types.js';
import { nameFor } from './names.js';
import { ORPHAN_SKEW_MS } from './orphans.js';
import { ALREADY_REMOTE, UNSEEN_KEPT, type SyncReport } from './outcome.js';
import { execute } from './execute.js';
import { listFailedDelete } from './delete-one.js';
import { planFor } from './plan.js';
import { seenAfterRun, WORKSPACE_META_KEY, type WorkspaceSeen } from './remote-choice.js';
import { readRemoteSide, type RemoteSide } from './remote-view.js';
import { restoreCopies, RESTORE_WINDOW_META_KEY, type RestoreWindow } from './restore-window.js';
import { planOptionsFor } from './session.js';
import type { DeleteReason, ExecuteDeps, ExecuteReport, LedgerView, Plan, PlanOptions, Progress } from './types.js';
import type { Config } from '../config.js';
import type { RemoteFiles } from '../remote/types.js';
import { append } from '../arrays.js';

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
  /** Called as the run moves: `scan` (files walked), then `sync` with transfer progress. */
  onProgress?: (phase: 'scan' | 'sync', progress: Progress) => void;
  /** A filter already built (the daemon's, kept when a new ignore file cannot be read); else read now. */
  filter?: { filter: PathFilter; options: FilterOptions };
}

/** One reconciliation's state, shared by its steps. */
export interface Run {
  options: ReconcileOptions;
  now: () => number;
  startedAt: number;
  requestsBefore: number;
  root: { distrust: string | null; dev: number };
  filter: PathFilter;
  filterOptions: FilterOptions;
  /** The scan stops at once on `stop`. */
  scanSignal: AbortSignal | undefined;
  /** After `ledger restore`: copies uploaded since the backup are looked for in the whole listing. */
  restoreWindow: RestoreWindow | undefined;
  /** Rows in the ledger before the run: what the guard's share measures against. */
  tracked: number;
}

/** The remote side; GA: the owned ids by look-up when that is cheaper than listing the workspace (remote-view.ts). */
export function readRemote(run: Run): Promise<RemoteSide> {
  const { config, ledger, remote } = run.options;
  return readRemoteSide({
    remote,
    ledger,
    pendingDeletes: ledger.pendingDeletes(),
    inFlight: ledger.inFlight(),
    seen: ledger.getMetaJson<WorkspaceSeen>(WORKSPACE_META_KEY),
    now: run.startedAt,
    fullListHours: config.api.fullListHours,
    orphanSkewMs: ORPHAN_SKEW_MS,
    forceFull: run.restoreWindow
      ? 'the ledger was restored from a backup: the whole listing is searched for copies uploaded since'
      : holdsLookalikes(run)
        ? 'look-alikes are held until a full listing finds none'
        : undefined,
    signal: run.scanSignal,
  });
}

/**
 * Look-alikes are held until one full listing found none to hold (or the user allowed them): after
 * that, a same-name file of the workspace is another application's. Until then every run lists
 * the whole workspace: the hold needs the listing (a run that looked its owned ids up instead
 * uploaded every held file again).
 */
function holdsLookalikes(run: Run): boolean {
  return !(run.options.allowDuplicates ?? false) && !lookalikesSettled(run.options.ledger);
}

/** The plan's options now: orphans are matched on the server's clock (rule 3), which the listing just measured. */
export function planOptions(run: Run): PlanOptions {
  const options = run.options;
  const { config, remote } = options;
  return planOptionsFor(config, {
    now: run.now(),
    allowMassDelete: options.allowMassDelete ?? false,
    holdLookalikes: holdsLookalikes(run),
    rootDistrust: run.root.distrust,
    serverOffsetMs: remote.clockOffsetMs?.() ?? null,
  });
}

/**
 * The ledger as the remote side of the plan reads it: everything but `files`, which the pass
 * reads a page at a time (their count is `tracked`).
 */
export function ledgerView(run: Run): LedgerView {
  const { ledger, respectBackoff } = run.options;
  return {
    files: [],
    pendingDeletes: ledger.pendingDeletes(),
    inFlight: ledger.inFlight(),
    failures: respectBackoff ? ledger.failures() : ledger.failures().filter((f) => !f.retryable),
    unclaimed: ledger.unclaimedCopies().map((c) => c.fileId),
    tracked: run.tracked,
  };
}

/** The local files and ledger rows at the paths of open uploads: all the orphan matching reads of either side. */
export async function inFlightSides(
  run: Run,
  inFlight: readonly InFlightUpload[],
): Promise<{ localByPath: Map<string, LocalFile>; ledgerByPath: Map<string, FileRow>; bytesHashed: number }> {
  const { config, ledger, logger } = run.options;
  const localByPath = new Map<string, LocalFile>();
  const ledgerByPath = new Map<string, FileRow>();
  let bytesHashed = 0;
  for (const path of new Set(inFlight.map((r) => r.path))) {
    const row = ledger.fileByPath(path);
    if (row) ledgerByPath.set(path, row);
    const found = await statOne(config.root, path, {
      filter: run.filter,
      followSymlinks: config.followSymlinks,
      maxFileBytes: config.maxFileBytes,
      known: () => row,
      logger,
      signal: run.scanSignal,
    });
    if (typeof found !== 'object' || 'kind' in found) continue;
    localByPath.set(path, found);
    // Read unless the ledger's row vouched for it (same size, mtime and inode).
    const reused = row !== undefined && row.size === found.size && row.mtimeMs === found.mtimeMs && row.ino === found.ino;
    if (found.sha256 !== null && !reused) bytesHashed += found.size;
  }
  return { localByPath, ledgerByPath, bytesHashed };
}

/** Lost answers may have stored files we hold no id for: one more read of the remote side finds and settles them. */
export async function sweepOrphans(run: Run, deps: ExecuteDeps, result: ExecuteReport): Promise<void> {
  const { ledger, logger } = run.options;
  logger.info('answers were lost during uploads; sweeping the listing for orphans', {
    attempts: result.unknownOutcomes,
  });
  const view = ledgerView(run);
  const sides = await inFlightSides(run, view.inFlight);
  const remote = (await readRemote(run)).view;
  const local = { files: [...sides.localByPath.values()], problems: [], complete: true };
  const sweep = planFor({ kind: 'orphan-sweep', local, remote }, { ...view, files: [...sides.ledgerByPath.values()] }, planOptions(run));
  recordUnclaimed(sweep, ledger, logger, run.now());
  const swept = await execute(sweep, deps);
  result.adopted += swept.adopted;
  result.deleted += swept.deleted;
  for (const [reason, n] of Object.entries(swept.deletesBy))
    result.deletesBy[reason as DeleteReason] = (result.deletesBy[reason as DeleteReason] ?? 0) + n;
  for (const failed of swept.failedDeletes) listFailedDelete(result, failed);
  result.failedDeletesNotListed += swept.failedDeletesNotListed;
}

/** After `ledger restore`: the copies the window finds are recorded as unclaimed, not counted as foreign. */
export function restoreFindings(run: Run, thePlan: Plan, files: readonly FileMetadata[], paths: readonly string[]): void {
  const { config, ledger, logger, remote } = run.options;
  const found = restoreCopies(
    run.restoreWindow!,
    files,
    {
      files: [],
      pendingDeletes: ledger.pendingDeletes(),
      inFlight: ledger.inFlight(),
      unclaimed: ledger.unclaimedCopies().map((c) => c.fileId),
    },
    thePlan,
    {
      localPaths: paths,
      remoteName: nameFor(config),
      serverOffsetMs: remote.clockOffsetMs?.() ?? null,
      skewMs: ORPHAN_SKEW_MS,
      now: run.now(),
    },
  );
  thePlan.foreign = Math.max(0, thePlan.foreign - found.length);
  recordUnclaimed({ ...thePlan, unclaimed: found, unclaimedGone: [] }, ledger, logger, run.now(), !run.options.dryRun);
  append(thePlan.unclaimed, found);
}

/** What a finished run records in the ledger's meta: the root's identity, the workspace seen, the filter. */
export function finish(run: Run, thePlan: Plan, result: ExecuteReport, walk: SortedWalk, remoteSide: RemoteSide): void {
  const { ledger } = run.options;
  // A distrusted root (another device) is not recorded as the new truth: its deletes stay
  // blocked until the right disk is back (or the state is reset by hand).
  if (run.root.distrust === null) ledger.setMetaJson('root_identity', { dev: run.root.dev, ino: walk.opened.ino });
  const seen = seenAfterRun(remoteSide.seen, ledger.getMetaJson<WorkspaceSeen>(WORKSPACE_META_KEY), result.uploaded, result.deleted);
  if (seen) ledger.setMetaJson(WORKSPACE_META_KEY, seen);
  ledger.setMeta('filter_hash', filterHash(run.filterOptions));
  // Paths the pass skipped (too large, unreadable, failing) or could not see (an unreadable
  // folder) are not looked at: settling waits for none of them. Waiting for every one held the
  // hold for good behind one lasting failure (an unreadable `lost+found`, a too-large file that
  // `adopt` does not take), the whole workspace listed at every run and a reconciliation for each
  // new file in the daemon; the price is a copy sent again if such a file was in the workspace.
  if (remoteSide.choice.mode === 'full' && thePlan.alreadyRemoteCount === 0 && !result.interrupted)
    ledger.setMeta(LOOKALIKES_SETTLED, new Date(run.now()).toISOString());
}

/** Whether look-alikes are no longer held: one full listing found none to hold (reconcile-steps.ts `finish`). */
export function lookalikesSettled(ledger: Ledger): boolean {
  return ledger.getMeta(LOOKALIKES_SETTLED) !== undefined;
}

/** Records the report as the last sync, closes a restore window, and backs the ledger up (rule 6). */
export async function recordReport(run: Run, report: SyncReport): Promise<SyncReport> {
  const options = run.options;
  const { ledger, logger, remote } = options;
  ledger.setMetaJson('last_sync', report);
  // The copies of the restore window are recorded: closed, before the backup (which must not carry it).
  if (run.restoreWindow && !options.signal?.aborted && !report.interrupted) ledger.setMetaJson(RESTORE_WINDOW_META_KEY, null);
  // A copy to restore from if the ledger is ever damaged (rule 6); an interrupted run is not one to
  // keep, and a ledger whose copies did not change since the newest backup (this run's work, and
  // the daemon's path jobs since its last reconciliation) leaves that backup as good as a new one
  // (a backup of a million rows is a few hundred megabytes to write).
  const changed =
    report.uploaded + report.deleted + report.adopted > 0 ||
    run.restoreWindow !== undefined ||
    listBackups(ledger.file).length === 0 ||
    ledger.getMeta(BACKUP_MARK_META_KEY) !== ledger.contentMark();
  if (!options.signal?.aborted && changed) await backupLedger(ledger, logger, { clockOffsetMs: remote.clockOffsetMs?.() ?? null });
  return report;
}

/**
 * Records the copies a plan could not claim for sure (rule 3) before its rows are settled, so a
 * crash in between leaves the rows to match again rather than the copies unreported.
 */
export function recordUnclaimed(
  p: Pick<Plan, 'unclaimed' | 'unclaimedGone'>,
  ledger: Ledger,
  logger: { warn: (m: string, meta: object) => void },
  at: number,
  write = true,
): void {
  // A dry run (`write` false) says them and records nothing: its ledger is open read-only.
  if (write) ledger.recordUnclaimed(p.unclaimed, p.unclaimedGone, at);
  for (const copy of p.unclaimed) {
    logger.warn('a remote copy may or may not be ours: left alone (files-sync status lists it; forget-copies deletes it)', {
      fileId: copy.fileId,
      path: copy.path,
      reason: copy.reason,
    });
  }
}

export function requestCount(remote: object): number {
  const stats = (remote as { stats?: { requests?: unknown } }).stats;
  return typeof stats?.requests === 'number' ? stats.requests : 0;
}

/** Logs the plan; `pagedDeletes`: allowed deletes the executor reads from the ledger, not held in the plan. */
export function logPlan(p: Plan, logger: { debug: (m: string, meta?: object) => void; warn: (m: string) => void }, pagedDeletes = 0): void {
  logger.debug('plan', {
    uploads: p.uploads.length,
    adoptions: p.adoptions.length,
    deletes: p.deletes.length + pagedDeletes,
    unchanged: p.unchanged,
    skips: p.skips.length + p.walkSkipped.length + p.skipsNotListed.failed + p.skipsNotListed.skipped,
  });
  if (p.held) logger.warn(`deletes held: ${p.held.reason}`);
  if (p.alreadyRemoteCount > 0) logger.warn(ALREADY_REMOTE(p.alreadyRemoteCount));
  if (p.deletesBlocked) logger.warn(`no deletes planned: ${p.deletesBlocked}`);
  if (p.unseenKept > 0) logger.warn(UNSEEN_KEPT(p.unseenKept));
}
