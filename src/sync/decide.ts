// The planner's two pure steps that a reconciliation runs as it goes: the decision for one path of
// the merge (the walk's file, the ledger's row, whether the remote side holds it), and the guard
// over the deletes collected on the way (rule 4), judged once the merge has ended.
import type { Failure, FileRow } from '../ledger/ledger.js';
import type { LocalFile, LocalProblem } from '../local/types.js';
import { pairMoves, type AddedContents } from './moves.js';
import type { DeleteAction, Plan, PlanOptions, Skip, UploadableFile, UploadAction, UploadReason } from './types.js';

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

/** A ledger row whose path the walk did not find: a delete (or a forget) if the guard allows. */
export interface GoneRow {
  path: string;
  fileId: string;
  sha256: string;
  listed: boolean | null;
}

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
  return failure.nextRetryAt !== null && now < failure.nextRetryAt;
}

/** The decision for one path. Pure. */
export function decidePath(p: Pairing, options: PlanOptions): Decision {
  const { local, row } = p;
  if (local === undefined) {
    return row ? { kind: 'gone', gone: { path: row.path, fileId: row.fileId, sha256: row.sha256, listed: p.listed } } : { kind: 'none' };
  }
  if (isProblem(local)) {
    const skip: Skip = {
      path: local.path,
      reason: local.kind === 'changing' ? `changing while read: ${local.reason}` : local.reason,
      failed: local.kind !== 'changing',
      record: local.kind === 'unreadable' ? { retryable: true, stat: null } : null,
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
      record: failureHolds(p.failure, local, options.now) ? null : { retryable: false, stat },
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
    return { kind: 'skip', skip: { path: local.path, reason: `failed before (${f.error}); ${wait}`, failed: true, record: null } };
  }
  // Hashed by the walk, or a large new file its upload hashes (`hashLater`: read once).
  return {
    kind: 'upload',
    upload: { path: local.path, local: local as UploadableFile, remoteName, reason, replaces: row?.fileId ?? null },
  };
}

/** What the guard knows of the whole run when it judges the collected deletes. */
export interface GuardInput {
  gone: readonly GoneRow[];
  /** The walk read every folder. */
  localComplete: boolean;
  /** The remote side was read completely, or not read at all (the ledger is trusted). */
  remoteComplete: boolean;
  /** The walk found no file and no problem (an unmounted disk looks so); false for a scoped plan. */
  localEmpty: boolean;
  /** Rows in the ledger: the share the guard measures against. */
  tracked: number;
  /** Content uploaded at new paths (this plan's, and with `recentlyAdded` the daemon's): moves pair with it. */
  added: AddedContents;
  options: PlanOptions;
}

export type DeleteJudgement = Pick<Plan, 'deletes' | 'forget' | 'held' | 'deletesBlocked'>;

/** Rule 4 over the deletes a plan collected: nothing on a partial view or a doubtful root, and no mass delete unasked. Pure. */
export function judgeDeletes(input: GuardInput): DeleteJudgement {
  const { gone, options } = input;
  const judged: DeleteJudgement = { deletes: [], forget: [], held: null, deletesBlocked: null };
  if (gone.length === 0) return judged;
  let blocked: string | null = null;
  if (!input.localComplete) blocked = 'some folders could not be read';
  else if (!input.remoteComplete) blocked = 'the remote listing was incomplete';
  else if (options.rootDistrust) blocked = options.rootDistrust;
  else if (input.localEmpty) blocked = 'the root is empty while the ledger is not';
  if (blocked) return { ...judged, deletesBlocked: blocked };
  const deletes: DeleteAction[] = [];
  const content = new Map<string, string>();
  for (const row of gone) {
    if (row.listed === false) {
      judged.forget.push(row.path); // someone else already deleted the remote copy
      continue;
    }
    if (options.deleteMode === 'keep') continue;
    deletes.push({ fileId: row.fileId, path: row.path, reason: 'deleted', fromLocalDelete: true });
    content.set(row.path, row.sha256);
  }
  // A move is not a deletion: content that reappears at a new path does not count, one to one.
  const moved = pairMoves(
    deletes.map((d) => ({ path: d.path!, sha256: content.get(d.path!)! })),
    input.added,
  );
  const counted = deletes.length - moved.size;
  const tracked = input.tracked;
  const overCount = counted > options.maxDeleteCount;
  const overShare = tracked >= 10 && counted / tracked > options.maxDeleteShare;
  if ((overCount || overShare) && !options.allowMassDelete) {
    const limit = overCount
      ? `more than deletes.maxCount (${options.maxDeleteCount})`
      : `more than deletes.maxShare (${Math.round(options.maxDeleteShare * 100)}%) of ${tracked} tracked files`;
    judged.held = { deletes, reason: `${counted} files deleted locally, ${limit}: run with --allow-mass-delete to delete them remotely` };
    return judged;
  }
  judged.deletes = deletes;
  return judged;
}
