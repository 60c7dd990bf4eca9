// The planner's two pure steps that a reconciliation runs as it goes: the decision for one path of
// the merge (the walk's file, the ledger's row, whether the remote side holds it), and the guard
// over the deletes collected on the way (rule 4), judged once the merge has ended.
import type { CollectedRow, CollectedSummary, Failure, FileRow } from '../ledger/ledger.js';
import { FAILURE_BACKOFF_MAX_MS } from '../ledger/types.js';
import { UNSEEN_FOLDERS_MAX } from '../local/sorted-walk.js';
import type { LocalFile, LocalProblem } from '../local/types.js';
import type { AddedContents } from './moves.js';
import type { Plan, PlanOptions, Skip, UploadableFile, UploadAction, UploadReason } from './types.js';

/** One path of the merge. */
export interface Pairing {
  path: string;
  /** What the walk found (a file, or a problem: present but not taken); undefined when it found nothing. */
  local: LocalFile | LocalProblem | undefined;
  row: FileRow | undefined;
  /** Whether the remote side holds the row's id; null when it was not read completely (the ledger is trusted). */
  listed: boolean | null;
  failure: Failure | undefined;
}

/**
 * A ledger row whose path the walk did not find: a delete (or a forget) if the guard allows. The
 * shape the ledger collects (CollectedRow), so a pass hands its gone rows over as they are.
 */
export type GoneRow = CollectedRow;

export type StatUpdate = Plan['statUpdates'][number];

export type Decision =
  | { kind: 'upload'; upload: UploadAction }
  | { kind: 'stat'; update: StatUpdate }
  | { kind: 'unchanged' }
  | { kind: 'skip'; skip: Skip }
  | { kind: 'gone'; gone: GoneRow }
  | { kind: 'none' };

function isProblem(local: LocalFile | LocalProblem): local is LocalProblem {
  return 'kind' in local;
}

/** Is a recorded failure still in force for the file as it is now? */
function failureHolds(failure: Failure | undefined, local: LocalFile, now: number): boolean {
  if (!failure) return false;
  const sameFile = failure.size === local.size && failure.mtimeMs === local.mtimeMs;
  if (!sameFile) return false;
  if (!failure.retryable) return true;
  // A retry time further off than the longest wait was stamped by a clock since set back: due.
  return failure.nextRetryAt !== null && now < failure.nextRetryAt && failure.nextRetryAt - now <= FAILURE_BACKOFF_MAX_MS;
}

/** The decision for one path. Pure. */
export function decidePath(p: Pairing, options: PlanOptions): Decision {
  const { local, row } = p;
  if (local === undefined) {
    return row ? { kind: 'gone', gone: { path: row.path, fileId: row.fileId, sha256: row.sha256, listed: p.listed } } : { kind: 'none' };
  }
  // A name that does not decode is another file than the row's, whose name did (it was read and
  // uploaded by it): the row's file is gone, whatever shares its text (the entry is told next run).
  if (row && isProblem(local) && local.undecodable) return decidePath({ ...p, local: undefined }, options);
  if (isProblem(local)) {
    const skip: Skip = {
      path: local.path,
      reason: local.kind === 'changing' ? `changing while read: ${local.reason}` : local.reason,
      failed: local.kind !== 'changing',
      record: local.kind === 'unreadable' ? { retry: 'backoff', stat: null } : null,
    };
    return { kind: 'skip', skip };
  }
  const stat = { size: local.size, mtimeMs: local.mtimeMs };
  if (local.size > options.maxFileBytes || (local.sha256 === null && local.hashLater !== true)) {
    // Reported every time; recorded again only when it is news.
    const skip: Skip = {
      path: local.path,
      reason: `too large: ${local.size} bytes, the limit is ${options.maxFileBytes}`,
      failed: true,
      record: failureHolds(p.failure, local, options.now) ? null : { retry: 'on-change', stat },
    };
    return { kind: 'skip', skip };
  }
  const remoteName = options.remoteName(local.path);
  let reason: UploadReason | null;
  if (!row) reason = 'new';
  else if (p.listed === false) reason = 'missing-remote';
  else if (row.sha256 !== local.sha256) reason = 'changed';
  else if (row.remoteName !== remoteName) reason = 'renamed';
  else reason = null;
  if (reason === null) {
    if (row && (row.size !== local.size || row.mtimeMs !== local.mtimeMs || row.ino !== local.ino))
      return { kind: 'stat', update: { path: local.path, size: local.size, mtimeMs: local.mtimeMs, ino: local.ino } };
    return { kind: 'unchanged' };
  }
  if (failureHolds(p.failure, local, options.now)) {
    const f = p.failure!;
    const wait = f.retryable ? 'backing off' : 'waiting for the file to change';
    const skip: Skip = { path: local.path, reason: `failed before (${f.error}); ${wait}`, failed: true, record: null };
    if (reason === 'new' && local.sha256 !== null) skip.newContent = local.sha256;
    return { kind: 'skip', skip };
  }
  // Hashed by the walk, or a large new file its upload hashes (`hashLater`: read once).
  return {
    kind: 'upload',
    upload: { path: local.path, local: local as UploadableFile, remoteName, reason, replaces: row?.fileId ?? null },
  };
}

/** The counts the guard judges (the ledger's summary of collected rows has the same shape). */
export type DeleteSummary = CollectedSummary;

/** What the guard knows of the whole run besides the counts. */
export interface GuardFacts {
  /** The walk read every folder. */
  localComplete: boolean;
  /** The remote side was read completely, or not read at all (the ledger is trusted). */
  remoteComplete: boolean;
  /** The walk found no file and no problem (an unmounted disk looks so); false for a scoped plan. */
  localEmpty: boolean;
  /** Rows in the ledger: the share the guard measures against. */
  tracked: number;
  options: PlanOptions;
}

/**
 * The guard's verdict: `allow` runs `deletes` deletes and `forgets` forgets; `held` runs only the
 * forgets and reports `count` deletes held; `blocked` runs nothing.
 */
export type DeleteVerdict =
  | { kind: 'allow'; deletes: number; forgets: number }
  | { kind: 'held'; count: number; forgets: number; reason: string }
  | { kind: 'blocked'; reason: string };

/**
 * Rule 4, defined once, over counts: nothing on a partial view or a doubtful root, and no mass
 * delete unasked; moves (paired one to one) do not count as deletions. Pure.
 */
export function deleteVerdict(summary: DeleteSummary, facts: GuardFacts): DeleteVerdict {
  const { options, tracked } = facts;
  if (summary.deletable + summary.forgets === 0) return { kind: 'allow', deletes: 0, forgets: 0 };
  if (!facts.localComplete) return { kind: 'blocked', reason: 'some folders could not be read' };
  if (!facts.remoteComplete) return { kind: 'blocked', reason: 'the remote listing was incomplete' };
  if (options.rootDistrust) return { kind: 'blocked', reason: options.rootDistrust };
  if (facts.localEmpty) return { kind: 'blocked', reason: 'the root is empty while the ledger is not' };
  // Someone else already deleted these remote copies: forgetting the rows deletes nothing.
  const forgets = summary.forgets;
  if (options.deleteMode === 'keep') return { kind: 'allow', deletes: 0, forgets };
  const counted = summary.deletable - summary.moved;
  const overCount = counted > options.maxDeleteCount;
  const overShare = tracked >= 10 && counted / tracked > options.maxDeleteShare;
  if ((overCount || overShare) && !options.allowMassDelete) {
    const limit = overCount
      ? `more than deletes.maxCount (${options.maxDeleteCount})`
      : `more than deletes.maxShare (${Math.round(options.maxDeleteShare * 100)}%) of ${tracked} tracked files`;
    const reason = `${counted} files deleted locally, ${limit}: run with --allow-mass-delete to delete them remotely`;
    return { kind: 'held', count: summary.deletable, forgets, reason };
  }
  return { kind: 'allow', deletes: summary.deletable, forgets };
}

/**
 * The summary of gone rows held in memory (the planner's modes): the same counts the ledger's
 * `collectedSummary` gives for the reconciliation's pass. `added` is used up.
 */
export function summarizeGone(gone: readonly GoneRow[], added: AddedContents): DeleteSummary {
  const summary: DeleteSummary = { deletable: 0, forgets: 0, moved: 0 };
  for (const row of gone) {
    if (row.listed === false) summary.forgets++;
    else {
      summary.deletable++;
      if (added.take(row.sha256)) summary.moved++;
    }
  }
  return summary;
}

/**
 * What rule 4 holds of an incomplete walk: the folders it could not list, when they are all that
 * made it incomplete (a path under none of them was seen whole: gone if not found), else null
 * (every delete waits: the walk failed some other way, or too many folders to scope to). [] for a
 * complete walk. Pure.
 */
export function holdScope(complete: boolean, unseen: readonly string[] | null | undefined): readonly string[] | null {
  if (complete) return [];
  if (!unseen || unseen.length === 0 || unseen.length > UNSEEN_FOLDERS_MAX || unseen.includes('')) return null;
  return unseen;
}

/** True when `path` is under one of `folders` (not the folder's own path; `a/bc/x` is not under `a/b`). */
export function underAny(path: string, folders: readonly string[]): boolean {
  return folders.some((folder) => path.startsWith(`${folder}/`));
}

/** How many held paths a plan keeps to show (the report's sample); the count is the whole. */
export const HELD_SAMPLE = 10;

/** What the guard knows of the whole run when it judges deletes collected in memory. */
export interface GuardInput extends GuardFacts {
  gone: readonly GoneRow[];
  /** Content uploaded at new paths (this plan's, and with `recentlyAdded` the daemon's): moves pair with it. */
  added: AddedContents;
}

export type DeleteJudgement = Pick<Plan, 'deletes' | 'forget' | 'held' | 'deletesBlocked'>;

/** The held delete as a plan carries it: the count, the reason, the first paths. */
export function heldOf(verdict: Extract<DeleteVerdict, { kind: 'held' }>, sample: readonly string[]): NonNullable<Plan['held']> {
  return { count: verdict.count, reason: verdict.reason, paths: sample.slice(0, HELD_SAMPLE) };
}

/** Rule 4 (`deleteVerdict`) over deletes collected in memory, and the actions it allows. Pure. */
export function judgeDeletes(input: GuardInput): DeleteJudgement {
  const verdict = deleteVerdict(summarizeGone(input.gone, input.added), input);
  const judged: DeleteJudgement = { deletes: [], forget: [], held: null, deletesBlocked: null };
  if (verdict.kind === 'blocked') return { ...judged, deletesBlocked: verdict.reason };
  for (const row of input.gone) {
    if (row.listed === false) judged.forget.push(row.path);
    else if (verdict.kind === 'allow' && verdict.deletes > 0)
      judged.deletes.push({ fileId: row.fileId, path: row.path, reason: 'deleted', fromLocalDelete: true });
  }
  if (verdict.kind === 'held') {
    const sample = input.gone.filter((row) => row.listed !== false).slice(0, HELD_SAMPLE);
    judged.held = heldOf(
      verdict,
      sample.map((row) => row.path),
    );
  }
  return judged;
}
