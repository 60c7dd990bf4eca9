// The outcome of a reconciliation: the report the summary, --json, status and the daemon's log
// read, with its counts in the one vocabulary, built from the plan and what the executor did.
import { ExitCode } from '../errors.js';
import { pushListed } from '../arrays.js';
import type { DeleteReason, ExecuteReport, FailedDelete, Plan } from './types.js';

/** A path of a report's failed or skipped list, with why. */
type Listed = { path: string; reason: string };

/**
 * The one vocabulary of a sync's outcome (the human line, --json, status, the daemon's log and the
 * dry run): paths new, changed, removed, unchanged, failed, skipped; and the remote copies that
 * went with them: old copies of changed files deleted, orphans of lost answers cleaned.
 */
export interface Counts {
  new: number;
  changed: number;
  removed: number;
  unchanged: number;
  failed: number;
  skipped: number;
  oldCopiesDeleted: number;
  orphansCleaned: number;
  /** Deletes that failed: their copies stay pending for the next run (absent in reports of older versions). */
  deletesFailed?: number;
}

/** The outcome of a reconciliation, as the summary, `status` and the exit code report it. */
export interface SyncReport {
  startedAt: number;
  finishedAt: number;
  dryRun: boolean;
  /** Done (or, for a dry run, planned), in the one vocabulary. */
  counts: Counts;
  uploaded: number;
  replaced: number;
  adopted: number;
  deleted: number;
  unchanged: number;
  /** The first LISTED_MAX failed and skipped paths (arrays.ts); `counts` has them all. */
  failed: { path: string; reason: string }[];
  skipped: { path: string; reason: string }[];
  /** The first LISTED_MAX deletes that failed (absent when none); `counts.deletesFailed` has them all. */
  failedDeletes?: FailedDelete[];
  /** Deletes the guard held: how many, why, and the first paths (a sample: `count` is the whole). */
  held: { count: number; reason: string; paths: string[] } | null;
  deletesBlocked: string | null;
  bytesUploaded: number;
  apiRequests: number;
  foreign: number;
  /** Set when `stop` ended the run early: files done of the files planned. */
  interrupted: { done: number; total: number; scanDone?: false } | null;
  /** New paths held because the workspace seems to hold their copy already (see `files-sync adopt`). */
  alreadyRemote: string[];
  /** How many new paths are held so; `alreadyRemote` lists the first LISTED_MAX (absent in reports of older versions). */
  alreadyRemoteCount?: number;
  /** Old copies of moved files kept until their new copies are stored (absent in reports of older versions). */
  movesWaiting?: number;
  /** Tracked files under folders the walk could not list: unseen, so neither deleted nor forgotten (absent when none). */
  unseenKept?: number;
  /** What a dry run would do. */
  planned?: {
    uploads: { path: string; reason: string; size: number }[];
    deletes: { path: string | null; fileId: string; reason: string; size: number | null }[];
    bytesToUpload: number;
  };
  exitCode: ExitCode;
}

/** The warning for uploads held as likely duplicates: the count and the command that settles them. */
export const ALREADY_REMOTE = (n: number): string =>
  `${n} ${n === 1 ? 'file is' : 'files are'} not uploaded: the workspace already holds ${n === 1 ? 'a file' : 'files'} with the same name and size that this ledger does not know ` +
  '(a lost or different state directory?): if they are this folder\'s copies, run "files-sync adopt --dry-run", then "files-sync adopt" ' +
  'to take them over; if they belong to another application, run "files-sync sync --allow-duplicates"';

/** How many new paths a report holds as look-alikes (a report of an older version lists them all). */
export function heldAsLookalikes(r: Pick<SyncReport, 'alreadyRemote' | 'alreadyRemoteCount'>): number {
  return r.alreadyRemoteCount ?? r.alreadyRemote?.length ?? 0;
}

/** The line for tracked files kept because the folders holding them could not be read (rule 4). */
export const UNSEEN_KEPT = (n: number): string =>
  `kept: ${n} tracked ${n === 1 ? 'file' : 'files'} under folders that could not be read: not deleted while those folders cannot be read`;

/** What a report is made of: the plan, what the executor did (null for a dry run), and the run's frame. */
export interface ReportInput {
  plan: Plan;
  result: ExecuteReport | null;
  dryRun: boolean;
  startedAt: number;
  finishedAt: number;
  apiRequests: number;
  /** The remote size of an id, for a dry run's planned deletes. */
  sizes: (fileId: string) => number | undefined;
}

/** The report of a run (`result`) or of a dry run (`result` null). */
export function reportOf(input: ReportInput): SyncReport {
  const { plan: p, result, startedAt, finishedAt, apiRequests, sizes } = input;
  // The lists keep the first LISTED_MAX of each (arrays.ts); the counts have them all.
  const failed: Listed[] = [];
  const skipped: Listed[] = [];
  const more = {
    failed: (result?.failedNotListed ?? 0) + p.skipsNotListed.failed,
    skipped: p.skipsNotListed.skipped,
  };
  for (const f of result?.failed ?? []) if (!pushListed(failed, f)) more.failed++;
  for (const s of p.skips)
    if (!pushListed(s.failed ? failed : skipped, { path: s.path, reason: s.reason })) more[s.failed ? 'failed' : 'skipped']++;
  for (const s of p.walkSkipped) if (!pushListed(skipped, { path: s.path, reason: s.reason })) more.skipped++;
  const held = p.held ? { count: p.held.count, reason: p.held.reason, paths: [...p.held.paths] } : null;
  let exitCode: ExitCode = ExitCode.ok;
  // By the counts, not the lists: a failure past a list's cap fails the run all the same.
  const deletesFailed = (result?.failedDeletes.length ?? 0) + (result?.failedDeletesNotListed ?? 0);
  if (failed.length + more.failed > 0 || deletesFailed > 0) exitCode = ExitCode.fileFailures;
  // A reconciliation always has its walk (a failed walk throws): any block is a guard's.
  if (held || p.deletesBlocked !== null || p.alreadyRemoteCount > 0) exitCode = ExitCode.guard;
  const interrupted = result?.interrupted
    ? {
        done:
          result.uploaded +
          result.unchangedAfterCheck +
          result.failed.length +
          result.failedNotListed +
          result.deleted +
          result.failedDeletes.length +
          result.failedDeletesNotListed,
        total: (result.queued ?? p.uploads.length) + p.deletes.length + (result.collectedDeletes ?? 0),
      }
    : null;
  if (interrupted) exitCode = ExitCode.interrupted;
  const unchanged = p.unchanged + p.statUpdates.length + (result?.unchangedAfterCheck ?? 0);
  const counts = countsOf(p, result, unchanged, failed.length + more.failed, skipped.length + more.skipped);
  return {
    startedAt,
    finishedAt,
    dryRun: input.dryRun,
    counts,
    uploaded: result?.uploaded ?? 0,
    replaced: result?.replaced ?? 0,
    adopted: result?.adopted ?? 0,
    deleted: result?.deleted ?? 0,
    unchanged,
    failed,
    skipped,
    ...(result && result.failedDeletes.length > 0 ? { failedDeletes: result.failedDeletes } : {}),
    held,
    deletesBlocked: p.deletesBlocked,
    bytesUploaded: result?.bytesUploaded ?? 0,
    apiRequests,
    foreign: p.foreign,
    alreadyRemote: p.alreadyRemote,
    alreadyRemoteCount: p.alreadyRemoteCount,
    ...(p.movesWaiting > 0 ? { movesWaiting: p.movesWaiting } : {}),
    ...(p.unseenKept > 0 ? { unseenKept: p.unseenKept } : {}),
    interrupted,
    ...(input.dryRun
      ? {
          planned: {
            uploads: p.uploads.map((u) => ({
              path: u.path,
              reason: u.reason === 'new' ? 'new' : 'changed',
              size: u.local.size,
            })),
            deletes: p.deletes.map((d) => ({
              path: d.path,
              fileId: d.fileId,
              reason: deleteWord(d.reason),
              size: sizes(d.fileId) ?? null,
            })),
            bytesToUpload: p.uploads.reduce((sum, u) => sum + u.local.size, 0),
          },
        }
      : {}),
    exitCode,
  };
}

/** A delete's reason in the vocabulary: a removed path, an old copy, an orphan. */
function deleteWord(reason: DeleteReason): 'removed' | 'old copy' | 'orphan' {
  return reason === 'deleted' ? 'removed' : reason === 'orphan' ? 'orphan' : 'old copy';
}

/** The counts of a run (from what was done) or of a dry run (from the plan). */
function countsOf(p: Plan, result: ExecuteReport | null, unchanged: number, failed: number, skipped: number): Counts {
  const fresh = p.adoptions.filter((a) => a.inFlight.resolvedFileId === null).length;
  if (!result) {
    const changed = p.uploads.filter((u) => u.reason !== 'new').length;
    return {
      new: p.uploads.length - changed + fresh,
      changed,
      removed: p.deletes.filter((d) => d.reason === 'deleted').length,
      unchanged,
      failed,
      skipped,
      // Each changed file's old copy goes once its new one is up.
      oldCopiesDeleted: p.deletes.filter((d) => d.reason === 'replaced' || d.reason === 'torn').length + changed,
      orphansCleaned: p.deletes.filter((d) => d.reason === 'orphan').length,
      deletesFailed: 0,
    };
  }
  const up = result.uploadsBy;
  const del = result.deletesBy;
  return {
    new: (up.new ?? 0) + result.adopted,
    changed: (up.changed ?? 0) + (up.renamed ?? 0) + (up['missing-remote'] ?? 0),
    removed: del.deleted ?? 0,
    unchanged,
    failed,
    skipped,
    oldCopiesDeleted: (del.replaced ?? 0) + (del.torn ?? 0),
    orphansCleaned: del.orphan ?? 0,
    deletesFailed: result.failedDeletes.length + result.failedDeletesNotListed,
  };
}

/** What an execution reports before it has done anything. */
export function emptyExecuteReport(): ExecuteReport {
  return {
    uploaded: 0,
    replaced: 0,
    adopted: 0,
    deleted: 0,
    unchangedAfterCheck: 0,
    failed: [],
    failedNotListed: 0,
    failedDeletes: [],
    failedDeletesNotListed: 0,
    bytesUploaded: 0,
    unknownOutcomes: 0,
    interrupted: false,
    uploadsBy: {},
    deletesBy: {},
  };
}
