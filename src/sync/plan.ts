// The planner: a pure function from (local walk, ledger, remote listing) to the actions that bring
// the workspace in line with the folder. Every rule of DESIGN.md that decides what to do lives here.
import type { Failure, FileRow, InFlightUpload, PendingDelete } from '../ledger/ledger.js';
import type { LocalFile, LocalProblem } from '../local/types.js';
import type { FileMetadata } from '../remote/types.js';
import { DEFAULT_MAX_UPLOAD_ATTEMPTS, matchOrphans, type OrphanVerdict } from './orphans.js';

import { pairMoves, type MoveSide } from './moves.js';

export { ORPHAN_SKEW_MS, uploadSpanMs } from './orphans.js';
export { pairMoves, type MoveSide } from './moves.js';
import { findLookalikes } from './lookalikes.js';

/** The local side as the planner sees it; `null` when the walk could not run at all. */
export interface LocalView {
  files: readonly LocalFile[];
  problems: readonly LocalProblem[];
  /** False when some directory could not be read. */
  complete: boolean;
}

/** The remote listing; `complete` is false when paging stopped early. */
export interface RemoteView {
  files: readonly FileMetadata[];
  complete: boolean;
}

export interface LedgerView {
  files: readonly FileRow[];
  pendingDeletes: readonly PendingDelete[];
  inFlight: readonly InFlightUpload[];
  failures: readonly Failure[];
  /** Ids recorded as unclaimed copies (rule 3): never matched again, never deleted by a sync. */
  unclaimed?: readonly string[];
}

export interface PlanOptions {
  deleteMode: 'mirror' | 'keep';
  maxDeleteCount: number;
  maxDeleteShare: number;
  allowMassDelete: boolean;
  /**
   * Hold new uploads whose remote name and size the workspace already holds, unknown to the ledger
   * (a lost state directory would otherwise upload a duplicate set); off once a reconciliation finished.
   */
  holdLookalikes?: boolean;
  maxFileBytes: number;
  /** Remote filename for a relative path. */
  remoteName: (relPath: string) => string;
  /** Why the root cannot be trusted for deletes (missing marker, another device), if it cannot. */
  rootDistrust: string | null;
  /** The time of the plan (ms since the epoch): failure back-off and the orphan window. */
  now: number;
  /**
   * Plan only these paths (the daemon's jobs). Ledger rows outside the scope are neither uploaded
   * nor deleted; the "empty root" check is left to the caller, who alone sees the whole root.
   */
  scope?: (relPath: string) => boolean;
  /**
   * The skew allowance around an upload's window on the server's clock (ORPHAN_SKEW_MS: seconds,
   * for the `Date` header's resolution, not for clock drift, which the offset measures).
   */
  orphanSkewMs: number;
  /** The API's clock minus this host's, from its `Date` header; null or absent when unknown. */
  serverOffsetMs?: number | null;
  /** Attempts one upload call makes at most (default 5): the copies a crashed upload may have left. */
  maxUploadAttempts?: number;
  /**
   * Paths added since the deletes became due, outside this plan (the daemon's delete batch: its
   * uploads ran as path jobs). Each may pair with one deleted path as a move (rule 4).
   */
  recentlyAdded?: readonly MoveSide[];
}


export type UploadReason = 'new' | 'changed' | 'renamed' | 'missing-remote';

/** Upload the content of `local`; `replaces` is the id the path pointed at before. */
export interface UploadAction {
  path: string;
  local: LocalFile & { sha256: string };
  remoteName: string;
  reason: UploadReason;
  replaces: string | null;
}

export type DeleteReason = PendingDelete['reason'];

/** Delete an owned id. `path` is the path it served, if any. */
export interface DeleteAction {
  fileId: string;
  path: string | null;
  reason: DeleteReason;
  /** True for a locally deleted path (these are what the guard counts); false for old versions. */
  fromLocalDelete: boolean;
}

/** A remote file found to be the result of an upload whose answer was lost: take it as the path's copy. */
export type Adoption = OrphanVerdict['adoptions'][number];

/** A remote copy no in-flight row can claim for sure (rule 3): recorded and shown, never touched. */
export type UnclaimedFinding = OrphanVerdict['unclaimed'][number];

/** A path not synced this time, with the reason (for the summary and `status`). */
export interface Skip {
  path: string;
  reason: string;
  /** A failure (counts toward exit code 1), or only a wait (a file still changing). */
  failed: boolean;
  /** Record it in the ledger's failures (news), or not (already recorded, or a wait). */
  record: { retryable: boolean; stat: { size: number; mtimeMs: number } | null } | null;
}

export interface Plan {
  uploads: UploadAction[];
  adoptions: Adoption[];
  /** Touched files whose content did not change: only the ledger's stat moves. */
  statUpdates: { path: string; size: number; mtimeMs: number; ino: number }[];
  deletes: DeleteAction[];
  /** Deletes the guard held back (rule 4), with the reason. */
  held: { deletes: DeleteAction[]; reason: string } | null;
  /** Why no delete of a locally missing path was planned at all, when that is so. */
  deletesBlocked: string | null;
  /** Pending deletes the complete listing no longer shows: done without a request. */
  alreadyGone: string[];
  /** Ledger paths whose id the remote lost while the local file is gone too: forget them. */
  forget: string[];
  /** In-flight rows this (complete) listing settles. */
  settledInFlight: number[];
  /** Copies matched ambiguously (rule 3): to record as unclaimed, never to delete. */
  unclaimed: UnclaimedFinding[];
  /** Recorded unclaimed copies the complete listing no longer shows: forget them. */
  unclaimedGone: string[];
  skips: Skip[];
  unchanged: number;
  /** Remote files this program does not own (other applications'): never touched. */
  foreign: number;
  /**
   * New paths whose upload is held: the workspace holds a file this ledger does not own with the
   * name and size the upload would have (a lost state directory?). `files-sync adopt` settles them.
   */
  alreadyRemote: string[];
}

function hasHash(local: LocalFile): local is LocalFile & { sha256: string } {
  return local.sha256 !== null;
}

/** Is a recorded failure still in force for the file as it is now? */
function failureHolds(failure: Failure | undefined, local: LocalFile, now: number): boolean {
  if (!failure) return false;
  const sameFile = failure.size === local.size && failure.mtimeMs === local.mtimeMs;
  if (!sameFile) return false;
  if (!failure.retryable) return true;
  return failure.nextRetryAt !== null && now < failure.nextRetryAt;
}

/**
 * Plans one reconciliation. Pure: no I/O, no clock (the time comes in `options.now`).
 * `local` is null when the walk failed; nothing is uploaded or deleted for paths then.
 * `remote` is null when the workspace was not listed (the daemon's per-path jobs): the ledger is
 * then trusted for what exists remotely, and what only a listing can settle waits for one
 * (in-flight uploads, pending deletes).
 */
export function plan(local: LocalView | null, ledger: LedgerView, remoteOrNull: RemoteView | null, options: PlanOptions): Plan {
  const listed = remoteOrNull !== null;
  const remote: RemoteView = remoteOrNull ?? { files: [], complete: false };
  const result: Plan = {
    uploads: [],
    adoptions: [],
    statUpdates: [],
    deletes: [],
    held: null,
    deletesBlocked: null,
    alreadyGone: [],
    forget: [],
    settledInFlight: [],
    unclaimed: [],
    unclaimedGone: [],
    skips: [],
    unchanged: 0,
    foreign: 0,
    alreadyRemote: [],
  };
  const remoteById = new Map(remote.files.map((file) => [file.id, file]));
  const ledgerByPath = new Map(ledger.files.map((row) => [row.path, row]));
  const ledgerIds = new Set(ledger.files.map((row) => row.fileId));
  const pendingIds = new Set(ledger.pendingDeletes.map((row) => row.fileId));
  const localByPath = new Map((local?.files ?? []).map((file) => [file.path, file]));
  const failures = new Map(ledger.failures.map((row) => [row.path, row]));
  const owned = new Set<string>([...ledgerIds, ...pendingIds]);
  for (const row of ledger.inFlight) if (row.resolvedFileId) owned.add(row.resolvedFileId);

  // Rule 3: uploads whose outcome was not known. Only a complete listing can settle them.
  const adoptedPaths = new Set<string>();
  const unclaimedIds = new Set(ledger.unclaimed ?? []);
  if (remote.complete) {
    const verdict = matchOrphans(ledger.inFlight, remote.files, {
      owned,
      unclaimed: unclaimedIds,
      localByPath,
      ledgerByPath,
      now: options.now,
      skewMs: options.orphanSkewMs,
      serverOffsetMs: options.serverOffsetMs ?? null,
      maxUploadAttempts: options.maxUploadAttempts ?? DEFAULT_MAX_UPLOAD_ATTEMPTS,
    });
    result.adoptions.push(...verdict.adoptions);
    for (const a of verdict.adoptions) adoptedPaths.add(a.local.path);
    for (const o of verdict.orphans) result.deletes.push({ fileId: o.fileId, path: o.path, reason: 'orphan', fromLocalDelete: false });
    result.settledInFlight.push(...verdict.settled);
    result.unclaimed.push(...verdict.unclaimed);
    for (const id of verdict.claimed) owned.add(id);
    for (const c of verdict.unclaimed) unclaimedIds.add(c.fileId);
    result.unclaimedGone.push(...[...(ledger.unclaimed ?? [])].filter((id) => !remoteById.has(id)));
  }
  for (const file of remote.files) if (!owned.has(file.id) && !unclaimedIds.has(file.id)) result.foreign++;

  // Old versions and other owned ids already decided for deletion.
  for (const row of listed ? ledger.pendingDeletes : []) {
    if (remote.complete && !remoteById.has(row.fileId)) result.alreadyGone.push(row.fileId);
    else result.deletes.push({ fileId: row.fileId, path: row.path, reason: row.reason, fromLocalDelete: false });
  }

  if (local) planLocal(local, ledgerByPath, remoteById, remote.complete, failures, adoptedPaths, options, result);
  if (remote.complete && options.holdLookalikes) holdLookalikes(remote.files, owned, options, result);
  planLocalDeletes(local, ledger, ledgerByPath, listed ? remoteById : null, remote.complete || !listed, options, result);
  return result;
}

function planLocal(
  local: LocalView,
  ledgerByPath: ReadonlyMap<string, FileRow>,
  remoteById: ReadonlyMap<string, FileMetadata>,
  remoteComplete: boolean,
  failures: ReadonlyMap<string, Failure>,
  adoptedPaths: ReadonlySet<string>,
  options: PlanOptions,
  result: Plan,
): void {
  for (const problem of local.problems) {
    result.skips.push({
      path: problem.path,
      reason: problem.kind === 'changing' ? `changing while read: ${problem.reason}` : problem.reason,
      failed: problem.kind !== 'changing',
      record: problem.kind === 'unreadable' ? { retryable: true, stat: null } : null,
    });
  }
  for (const file of local.files) {
    if (adoptedPaths.has(file.path)) continue;
    const row = ledgerByPath.get(file.path);
    const stat = { size: file.size, mtimeMs: file.mtimeMs };
    if (file.size > options.maxFileBytes || !hasHash(file)) {
      const reason = `too large: ${file.size} bytes, the limit is ${options.maxFileBytes}`;
      const failure = failures.get(file.path);
      // Report it every time; record it again only when it is news.
      result.skips.push({ path: file.path, reason, failed: true, record: failureHolds(failure, file, options.now) ? null : { retryable: false, stat } });
      continue;
    }
    const remoteName = options.remoteName(file.path);
    let reason: UploadReason | null;
    if (!row) reason = 'new';
    else if (remoteComplete && !remoteById.has(row.fileId)) reason = 'missing-remote';
    else if (row.sha256 !== file.sha256) reason = 'changed';
    else if (row.remoteName !== remoteName) reason = 'renamed';
    else reason = null;
    if (reason === null) {
      if (row && (row.size !== file.size || row.mtimeMs !== file.mtimeMs || row.ino !== file.ino)) {
        result.statUpdates.push({ path: file.path, size: file.size, mtimeMs: file.mtimeMs, ino: file.ino });
      } else {
        result.unchanged++;
      }
      continue;
    }
    const failure = failures.get(file.path);
    if (failureHolds(failure, file, options.now)) {
      result.skips.push({ path: file.path, reason: `failed before (${failure!.error}); ${failure!.retryable ? 'backing off' : 'waiting for the file to change'}`, failed: true, record: null });
      continue;
    }
    result.uploads.push({ path: file.path, local: file, remoteName, reason, replaces: row?.fileId ?? null });
  }
}

/** Never a silent duplicate: a new path whose copy seems to be in the workspace already waits for `adopt`. */
function holdLookalikes(remote: readonly FileMetadata[], owned: ReadonlySet<string>, options: PlanOptions, result: Plan): void {
  const fresh = result.uploads.filter((u) => u.reason === 'new').map((u) => u.local);
  const held = new Set(findLookalikes(fresh, () => false, (id) => owned.has(id), remote, options.remoteName).map((l) => l.path));
  if (held.size === 0) return;
  result.alreadyRemote = [...held];
  result.uploads = result.uploads.filter((u) => !held.has(u.path));
}

function planLocalDeletes(
  local: LocalView | null,
  ledger: LedgerView,
  ledgerByPath: ReadonlyMap<string, FileRow>,
  remoteById: ReadonlyMap<string, FileMetadata> | null,
  remoteComplete: boolean,
  options: PlanOptions,
  result: Plan,
): void {
  if (!local) {
    result.deletesBlocked = 'the local walk failed';
    return;
  }
  const present = new Set<string>([...local.files.map((f) => f.path), ...local.problems.map((p) => p.path)]);
  const scope = options.scope;
  const gone = ledger.files.filter((row) => !present.has(row.path) && (!scope || scope(row.path)));
  if (gone.length === 0) return;
  // Rule 4: nothing is deleted on a view that may be partial or a root that may be the wrong one.
  let blocked: string | null = null;
  if (!local.complete) blocked = 'some folders could not be read';
  else if (!remoteComplete) blocked = 'the remote listing was incomplete';
  else if (options.rootDistrust) blocked = options.rootDistrust;
  else if (!scope && local.files.length === 0 && local.problems.length === 0) blocked = 'the root is empty while the ledger is not';
  if (blocked) {
    result.deletesBlocked = blocked;
    return;
  }
  const deletes: DeleteAction[] = [];
  for (const row of gone) {
    if (remoteById && !remoteById.has(row.fileId)) {
      result.forget.push(row.path); // someone else already deleted the remote copy
      continue;
    }
    if (options.deleteMode === 'keep') continue;
    deletes.push({ fileId: row.fileId, path: row.path, reason: 'deleted', fromLocalDelete: true });
  }
  // A move is not a deletion: content that reappears at a new path does not count, one to one.
  const added: MoveSide[] = result.uploads.filter((u) => u.replaces === null).map((u) => ({ path: u.path, sha256: u.local.sha256 }));
  const moved = pairMoves(
    deletes.map((d) => ({ path: d.path!, sha256: ledgerByPath.get(d.path!)!.sha256 })),
    [...added, ...(options.recentlyAdded ?? [])],
  );
  const counted = deletes.length - moved.size;
  const tracked = ledger.files.length;
  const overCount = counted > options.maxDeleteCount;
  const overShare = tracked >= 10 && counted / tracked > options.maxDeleteShare;
  if ((overCount || overShare) && !options.allowMassDelete) {
    const limit = overCount
      ? `more than deletes.maxCount (${options.maxDeleteCount})`
      : `more than deletes.maxShare (${Math.round(options.maxDeleteShare * 100)}%) of ${tracked} tracked files`;
    result.held = { deletes, reason: `${counted} files deleted locally, ${limit}: run with --allow-mass-delete to delete them remotely` };
    return;
  }
  result.deletes.push(...deletes);
}
