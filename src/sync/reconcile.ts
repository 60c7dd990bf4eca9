// A full reconciliation: check the root, walk it and list the workspace, plan, execute, sweep the
// orphans lost answers may have left, and record the result. Used by `sync` and by the daemon.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { ExitCode, GuardError, errorMessage } from '../errors.js';
import { backupLedger } from '../ledger/backup.js';
import type { Ledger } from '../ledger/ledger.js';
import { createFilter, filterHash, readIgnoreFile } from '../local/filter.js';
import type { FilterOptions, PathFilter, WalkResult } from '../local/types.js';
import { identityChange, type RootIdentity } from '../local/root.js';
import { RootError, statOne, walk } from '../local/walk.js';
import type { Logger } from '../log.js';
import type { FileMetadata, RemoteFiles } from '../remote/types.js';
import { execute, type ExecuteReport, type Progress } from './execute.js';
import { remoteName } from './names.js';
import { ORPHAN_SKEW_MS } from './orphans.js';
import { ALREADY_REMOTE, reportOf, type SyncReport } from './outcome.js';
import { plan, type DeleteReason, type Plan, type PlanOptions } from './plan.js';
import { readRemoteSide, seenAfterRun, WORKSPACE_META_KEY, type WorkspaceSeen } from './remote-view.js';
import { parseRestoreWindow, restoreCopies, RESTORE_WINDOW_META_KEY } from './restore-window.js';

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

/** Builds the filter the walk and the watcher share, reading the root's `.filesyncignore`. */
export async function buildFilter(config: Config): Promise<{ filter: PathFilter; options: FilterOptions }> {
  const ignoreFile = await readIgnoreFile(config.root);
  const rel = path.relative(config.root, config.stateDir);
  const stateDirInRoot = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : undefined;
  const options: FilterOptions = {
    include: config.include,
    exclude: config.exclude,
    ...(ignoreFile !== undefined ? { ignoreFile } : {}),
    ...(stateDirInRoot !== undefined ? { stateDirInRoot } : {}),
  };
  return { filter: createFilter(options), options };
}

/** Remote name for a path under the configured naming. */
export function nameFor(config: Config): (relPath: string) => string {
  return config.remoteNames === 'basename' ? (p) => remoteName(path.posix.basename(p)) : remoteName;
}

/**
 * Checks the root before anything is planned (rule 4). A missing root is an error (exit 3);
 * a missing marker or another device or inode (a replaced folder) does not stop uploads but forbids deletes.
 */
export function checkRoot(config: Config, ledger: Ledger, acceptNewDevice = false): { distrust: string | null; dev: number } {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(config.root);
  } catch (err) {
    throw new GuardError(`the sync root ${config.root} is missing or unreadable (${errorMessage(err)}): nothing was deleted`, { cause: err });
  }
  if (!stat.isDirectory()) throw new GuardError(`the sync root ${config.root} is not a directory: nothing was deleted`);
  let distrust: string | null = null;
  if (config.rootMarker && !fs.existsSync(path.join(config.root, config.rootMarker))) {
    distrust = `the root marker ${config.rootMarker} is missing from ${config.root} (is the right disk mounted?)`;
  }
  // Device and inode (src/local/root.ts): a replaced folder is as foreign as another disk.
  if (!distrust && !acceptNewDevice && ledger.counts().files > 0) {
    distrust = identityChange(config.root, ledger.getMetaJson<Partial<RootIdentity>>('root_identity'), stat);
  }
  return { distrust, dev: stat.dev };
}

/** Runs one full reconciliation. Throws only fatal errors (config, 401, unreachable, root missing). */
export async function reconcile(options: ReconcileOptions): Promise<SyncReport> {
  const { config, ledger, remote, logger } = options;
  const now = options.now ?? Date.now;
  const startedAt = now();
  const requestsBefore = requestCount(remote);
  const root = checkRoot(config, ledger, options.allowMassDelete ?? false);
  const { filter, options: filterOptions } = options.filter ?? (await buildFilter(config));
  // The scan stops at once on `stop`: it has changed nothing yet.
  const scanSignal = options.stop ? (options.signal ? AbortSignal.any([options.signal, options.stop]) : options.stop) : options.signal;
  // Read once for the walk and the plan: 100,000 rows are ~50 MB of objects.
  const rows = ledger.files();
  const known = new Map(rows.map((row) => [row.path, row]));
  const scanProgress = { files: 0, bytesHashed: 0 };
  const walking = walk(config.root, {
    filter,
    followSymlinks: config.followSymlinks,
    maxFileBytes: config.maxFileBytes,
    known: (p) => known.get(p),
    ...(options.dryRun ? {} : { keepContent: { maxFileBytes: KEEP_FILE_BYTES, remainingBytes: KEEP_TOTAL_BYTES } }),
    logger,
    ...(scanSignal ? { signal: scanSignal } : {}),
    onProgress: (p) => {
      scanProgress.files = p.files;
      options.onProgress?.('scan', { filesDone: p.files, filesTotal: 0, bytesDone: p.bytesHashed, bytesTotal: 0 });
    },
  }).catch((err: unknown) => {
    if (err instanceof RootError) throw new GuardError(`${err.message}: nothing was deleted`, { cause: err });
    throw err;
  });
  // After `ledger restore`: copies uploaded since the backup are looked for in the whole listing.
  const restoreWindow = parseRestoreWindow(ledger.getMetaJson(RESTORE_WINDOW_META_KEY));
  // GA: the owned ids by look-up when that is cheaper than listing the workspace (remote-view.ts).
  const readRemote = (files = rows) =>
    readRemoteSide({
      remote,
      files,
      pendingDeletes: ledger.pendingDeletes(),
      inFlight: ledger.inFlight(),
      seen: ledger.getMetaJson<WorkspaceSeen>(WORKSPACE_META_KEY),
      now: startedAt,
      fullListHours: config.api.fullListHours,
      orphanSkewMs: ORPHAN_SKEW_MS,
      forceFull: restoreWindow ? 'the ledger was restored from a backup: the whole listing is searched for copies uploaded since' : undefined,
      signal: scanSignal,
    });
  const [local, remoteSide] = await Promise.all([walking, readRemote()]);
  logger.debug('remote side read', { mode: remoteSide.choice.mode, why: remoteSide.choice.reason, ...remoteSide.requests });
  for (const skip of local.skipped) logger.debug('skipped', { path: skip.path, reason: skip.reason });

  // Orphans are matched on the server's clock (rule 3): the listing's answers just measured it.
  const planOptions = (): PlanOptions => ({
    deleteMode: config.deletes.mode,
    maxDeleteCount: config.deletes.maxCount,
    maxDeleteShare: config.deletes.maxShare,
    allowMassDelete: options.allowMassDelete ?? false,
    // Look-alikes are held until one full listing found none to hold (or the user allowed them):
    // after that, a same-name file of the workspace is another application's.
    holdLookalikes: !(options.allowDuplicates ?? false) && ledger.getMeta(LOOKALIKES_SETTLED) === undefined,
    maxFileBytes: config.maxFileBytes,
    remoteName: nameFor(config),
    rootDistrust: root.distrust,
    now: now(),
    orphanSkewMs: ORPHAN_SKEW_MS,
    serverOffsetMs: remote.clockOffsetMs?.() ?? null,
  });
  const ledgerView = (files = ledger.files()) => ({
    files,
    pendingDeletes: ledger.pendingDeletes(),
    inFlight: ledger.inFlight(),
    failures: options.respectBackoff ? ledger.failures() : ledger.failures().filter((f) => !f.retryable),
    unclaimed: ledger.unclaimedCopies().map((c) => c.fileId),
  });
  const sizes = new Map(remoteSide.view.files.map((f) => [f.id, f.size_bytes]));
  const thePlan = plan(local, ledgerView(rows), remoteSide.view, planOptions());
  thePlan.foreign = remoteSide.foreign ?? thePlan.foreign;
  logPlan(thePlan, logger);
  if (options.dryRun) return reportOf(thePlan, null, options, startedAt, now(), requestCount(remote) - requestsBefore, local, sizes);

  const deps = {
    root: config.root,
    remote,
    ledger,
    logger,
    concurrency: config.concurrency,
    maxFileBytes: config.maxFileBytes,
    settleMs: config.settleSeconds * 1000,
    now,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.stop ? { stop: options.stop } : {}),
    ...(local.contents ? { contents: local.contents } : {}),
    onProgress: (p: Progress) => options.onProgress?.('sync', p),
    stillPresent: presenceCheck(config, filter),
  };
  if (restoreWindow) addRestoreCopies(thePlan, restoreCopies(restoreWindow, remoteSide.view.files, ledgerView(rows), thePlan, { localPaths: local.files.map((f) => f.path), remoteName: nameFor(config), serverOffsetMs: remote.clockOffsetMs?.() ?? null, skewMs: ORPHAN_SKEW_MS }));
  recordUnclaimed(thePlan, ledger, logger, now());
  const result = await execute(thePlan, deps);
  if (result.unknownOutcomes > 0 && !options.signal?.aborted && !result.interrupted) {
    // Lost answers may have stored files we hold no id for: one more listing finds and settles them.
    logger.info('answers were lost during uploads; sweeping the listing for orphans', { attempts: result.unknownOutcomes });
    const sweep = plan(local, ledgerView(), (await readRemote(ledger.files())).view, planOptions());
    recordUnclaimed(sweep, ledger, logger, now());
    const swept = await execute(
      { ...sweep, uploads: [], statUpdates: [], skips: [], forget: [], held: null, deletes: sweep.deletes.filter((d) => d.reason === 'orphan' || d.reason === 'torn') },
      deps,
    );
    result.adopted += swept.adopted;
    result.deleted += swept.deleted;
    for (const [reason, n] of Object.entries(swept.deletesBy)) result.deletesBy[reason as DeleteReason] = (result.deletesBy[reason as DeleteReason] ?? 0) + n;
    result.failedDeletes.push(...swept.failedDeletes);
  }
  // A distrusted root (another device) is not recorded as the new truth: its deletes stay
  // blocked until the right disk is back (or the state is reset by hand).
  if (root.distrust === null) ledger.setMetaJson('root_identity', { dev: root.dev, ino: local.root.ino });
  const seen = seenAfterRun(remoteSide, ledger.getMetaJson<WorkspaceSeen>(WORKSPACE_META_KEY), result.uploaded, result.deleted);
  if (seen) ledger.setMetaJson(WORKSPACE_META_KEY, seen);
  ledger.setMeta('filter_hash', filterHash(filterOptions));
  if (remoteSide.choice.mode === 'full' && thePlan.alreadyRemote.length === 0 && !result.interrupted) ledger.setMeta(LOOKALIKES_SETTLED, new Date(now()).toISOString());
  const report = reportOf(thePlan, result, options, startedAt, now(), requestCount(remote) - requestsBefore, local, sizes);
  ledger.setMetaJson('last_sync', report);
  // The copies of the restore window are recorded: closed, before the backup (which must not carry it).
  if (restoreWindow && !options.signal?.aborted) ledger.setMetaJson(RESTORE_WINDOW_META_KEY, null);
  // A copy to restore from if the ledger is ever damaged (rule 6); an interrupted run is not one to keep.
  if (!options.signal?.aborted) await backupLedger(ledger, logger, { clockOffsetMs: remote.clockOffsetMs?.() ?? null });
  return report;
}

/**
 * Whether a path is (again) a file the sync takes: the filter applies, so an excluded file or one
 * replaced by a link counts as gone. Reads no content (a zero-byte limit leaves files unhashed).
 */
export function presenceCheck(config: Config, filter: PathFilter): (relPath: string) => Promise<boolean> {
  return async (relPath) => {
    const found = await statOne(config.root, relPath, { filter, followSymlinks: config.followSymlinks, maxFileBytes: 0, known: () => undefined });
    return typeof found !== 'string';
  };
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
