// A full reconciliation: check the root, walk it and list the workspace, plan, execute, sweep the
// orphans lost answers may have left, and record the result. Used by `sync` and by the daemon.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { ExitCode, GuardError, errorMessage } from '../errors.js';
import type { Ledger } from '../ledger/ledger.js';
import { IGNORE_FILE_NAME, createFilter, filterHash } from '../local/filter.js';
import type { FilterOptions, PathFilter, WalkResult } from '../local/types.js';
import { RootError, statOne, walk } from '../local/walk.js';
import type { Logger } from '../log.js';
import type { FileMetadata, RemoteFiles } from '../remote/types.js';
import { execute, type ExecuteReport, type Progress } from './execute.js';
import { remoteName } from './names.js';
import { ALREADY_REMOTE, reportOf, type SyncReport } from './outcome.js';
import { plan, type DeleteReason, type Plan, type PlanOptions } from './plan.js';

export { ALREADY_REMOTE, type Counts, type SyncReport } from './outcome.js';

/** Remote files created up to this long before an upload's recorded start still count as its orphans. */
export const ORPHAN_SKEW_MS = 120_000;

/**
 * The walk keeps the bytes of new or changed files up to 64 KiB, 64 MiB in all, and their uploads
 * send them: each such file is read once, not twice (four file operations fewer per upload).
 */
const KEEP_FILE_BYTES = 64 * 1024;
const KEEP_TOTAL_BYTES = 64 * 1024 * 1024;

export interface ReconcileOptions {
  config: Config;
  ledger: Ledger;
  remote: RemoteFiles;
  logger: Logger;
  allowMassDelete?: boolean;
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
}

/** Builds the filter the walk and the watcher share, reading the root's `.filesyncignore`. */
export function buildFilter(config: Config): { filter: PathFilter; options: FilterOptions } {
  let ignoreFile: string | undefined;
  try {
    ignoreFile = fs.readFileSync(path.join(config.root, IGNORE_FILE_NAME), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new GuardError(`cannot read ${IGNORE_FILE_NAME}: ${errorMessage(err)}`, { cause: err });
  }
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
 * a missing marker or another device does not stop uploads but forbids deletes.
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
  const recorded = ledger.getMetaJson<{ dev: number }>('root_identity');
  if (!distrust && !acceptNewDevice && recorded && recorded.dev !== stat.dev && ledger.counts().files > 0) {
    distrust =
      `${config.root} is on another device than when it was last synced (is the disk mounted?); ` +
      'if the folder really moved to another disk, run files-sync sync --allow-mass-delete once';
  }
  return { distrust, dev: stat.dev };
}

async function listAll(remote: RemoteFiles, signal?: AbortSignal): Promise<FileMetadata[]> {
  const files: FileMetadata[] = [];
  for await (const file of remote.list(signal ? { signal } : {})) files.push(file);
  return files;
}

/** Runs one full reconciliation. Throws only fatal errors (config, 401, unreachable, root missing). */
export async function reconcile(options: ReconcileOptions): Promise<SyncReport> {
  const { config, ledger, remote, logger } = options;
  const now = options.now ?? Date.now;
  const startedAt = now();
  const requestsBefore = requestCount(remote);
  const root = checkRoot(config, ledger, options.allowMassDelete ?? false);
  const { filter, options: filterOptions } = buildFilter(config);
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
  const [local, listing] = await Promise.all([walking, listAll(remote, scanSignal)]);
  for (const skip of local.skipped) logger.debug('skipped', { path: skip.path, reason: skip.reason });

  const planOptions: PlanOptions = {
    deleteMode: config.deletes.mode,
    maxDeleteCount: config.deletes.maxCount,
    maxDeleteShare: config.deletes.maxShare,
    allowMassDelete: options.allowMassDelete ?? false,
    maxFileBytes: config.maxFileBytes,
    remoteName: nameFor(config),
    rootDistrust: root.distrust,
    now: startedAt,
    orphanSkewMs: ORPHAN_SKEW_MS,
  };
  const ledgerView = (files = ledger.files()) => ({
    files,
    pendingDeletes: ledger.pendingDeletes(),
    inFlight: ledger.inFlight(),
    failures: options.respectBackoff ? ledger.failures() : ledger.failures().filter((f) => !f.retryable),
  });
  const sizes = new Map(listing.map((f) => [f.id, f.size_bytes]));
  const thePlan = plan(local, ledgerView(rows), { files: listing, complete: true }, planOptions);
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
  const result = await execute(thePlan, deps);
  if (result.unknownOutcomes > 0 && !options.signal?.aborted && !result.interrupted) {
    // Lost answers may have stored files we hold no id for: one more listing finds and settles them.
    logger.info('answers were lost during uploads; sweeping the listing for orphans', { attempts: result.unknownOutcomes });
    const sweep = plan(local, ledgerView(), { files: await listAll(remote, options.signal), complete: true }, planOptions);
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
  ledger.setMeta('filter_hash', filterHash(filterOptions));
  const report = reportOf(thePlan, result, options, startedAt, now(), requestCount(remote) - requestsBefore, local, sizes);
  ledger.setMetaJson('last_sync', report);
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
