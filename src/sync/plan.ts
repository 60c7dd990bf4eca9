// The planner: a pure function from (local walk, ledger, remote listing) to the actions that bring
// the workspace in line with the folder. Every rule of DESIGN.md that decides what to do lives here.
import type { Failure, FileRow } from '../ledger/ledger.js';
import type { LocalFile } from '../local/types.js';
import type { FileMetadata } from '../remote/types.js';
import { findLookalikes } from './lookalikes.js';
import { pairMoves, type MoveSide } from './moves.js';
import { DEFAULT_MAX_UPLOAD_ATTEMPTS, matchOrphans } from './orphans.js';
import type { DeleteAction, LedgerView, LocalView, Plan, PlanOptions, RemoteView, UploadableFile, UploadReason } from './types.js';

export { ORPHAN_SKEW_MS, uploadSpanMs } from './orphans.js';
export { pairMoves, type MoveSide } from './moves.js';
export type * from './types.js';

/** Hashed by the walk, or marked for its upload to hash (a large new file: planned as 'new'). */
function hasHash(local: LocalFile): local is UploadableFile {
  return local.sha256 !== null || local.hashLater === true;
}

/** Is a recorded failure still in force for the file as it is now? */
function failureHolds(failure: Failure | undefined, local: LocalFile, now: number): boolean {
  if (!failure) return false;
  const sameFile = failure.size === local.size && failure.mtimeMs === local.mtimeMs;
  if (!sameFile) return false;
  if (!failure.retryable) return true;
  return failure.nextRetryAt !== null && now < failure.nextRetryAt;
}

/** What the steps of one plan share: the views indexed once, the options, and the plan being built. */
interface PlanContext {
  ledger: LedgerView;
  ledgerByPath: ReadonlyMap<string, FileRow>;
  remote: RemoteView;
  remoteById: ReadonlyMap<string, FileMetadata>;
  /** False when the workspace was not listed (the ledger is trusted for what exists remotely). */
  listed: boolean;
  failures: ReadonlyMap<string, Failure>;
  /** Ids this program owns; grows with the copies the orphan matching claims. */
  owned: Set<string>;
  /** Paths whose lost upload was adopted: not uploaded again. */
  adoptedPaths: Set<string>;
  options: PlanOptions;
  result: Plan;
}

function emptyPlan(): Plan {
  return {
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
}

/**
 * Plans one reconciliation. Pure: no I/O, no clock (the time comes in `options.now`).
 * `local` is null when the walk failed; nothing is uploaded or deleted for paths then.
 * `remote` is null when the workspace was not listed (the daemon's per-path jobs): the ledger is
 * then trusted for what exists remotely, and what only a listing can settle waits for one
 * (in-flight uploads, pending deletes).
 */
export function plan(local: LocalView | null, ledger: LedgerView, remoteOrNull: RemoteView | null, options: PlanOptions): Plan {
  const remote: RemoteView = remoteOrNull ?? { files: [], complete: false };
  const owned = new Set<string>([...ledger.files.map((row) => row.fileId), ...ledger.pendingDeletes.map((row) => row.fileId)]);
  for (const row of ledger.inFlight) if (row.resolvedFileId) owned.add(row.resolvedFileId);
  const ctx: PlanContext = {
    ledger,
    ledgerByPath: new Map(ledger.files.map((row) => [row.path, row])),
    remote,
    remoteById: new Map(remote.files.map((file) => [file.id, file])),
    listed: remoteOrNull !== null,
    failures: new Map(ledger.failures.map((row) => [row.path, row])),
    owned,
    adoptedPaths: new Set<string>(),
    options,
    result: emptyPlan(),
  };
  planRemote(ctx, local);
  if (local) planLocal(ctx, local);
  if (remote.complete && options.holdLookalikes) holdLookalikes(remote.files, owned, options, ctx.result);
  planLocalDeletes(ctx, local);
  return ctx.result;
}

/**
 * The plan of one mode of the program, so that no caller edits a plan by hand:
 * - `full`: a reconciliation (the walk, the ledger, the listing);
 * - `path`: one path of the daemon, no listing (the ledger is trusted);
 * - `delete-batch`: the daemon's due deletes of `paths`, no walk nor listing; `recentlyAdded` are
 *   the path jobs' uploads a gone path may pair with as a move;
 * - `orphan-sweep`: after lost answers, only what a new listing settles: adoptions, orphans and torn
 *   copies to delete, in-flight rows and unclaimed copies; no upload, no other delete.
 */
export type PlanMode =
  | { kind: 'full'; local: LocalView | null; remote: RemoteView }
  | { kind: 'path'; path: string; local: LocalView }
  | { kind: 'delete-batch'; paths: ReadonlySet<string>; recentlyAdded: readonly MoveSide[] }
  | { kind: 'orphan-sweep'; local: LocalView | null; remote: RemoteView };

/** Plans one mode (see PlanMode). */
export function planFor(mode: PlanMode, ledger: LedgerView, options: PlanOptions): Plan {
  switch (mode.kind) {
    case 'full':
      return plan(mode.local, ledger, mode.remote, options);
    case 'path':
      return plan(mode.local, ledger, null, { ...options, scope: (p) => p === mode.path });
    case 'delete-batch': {
      const { paths, recentlyAdded } = mode;
      return plan({ files: [], problems: [], complete: true }, ledger, null, {
        ...options,
        recentlyAdded,
        scope: (p) => paths.has(p),
      });
    }
    case 'orphan-sweep': {
      const sweep = plan(mode.local, ledger, mode.remote, options);
      const deletes = sweep.deletes.filter((d) => d.reason === 'orphan' || d.reason === 'torn');
      return { ...sweep, uploads: [], statUpdates: [], skips: [], forget: [], held: null, deletes };
    }
  }
}

/** Rule 3 and the remote side: lost uploads matched in a complete listing, foreign files, pending deletes. */
function planRemote(ctx: PlanContext, local: LocalView | null): void {
  const { ledger, remote, remoteById, owned, options, result } = ctx;
  // Rule 3: uploads whose outcome was not known. Only a complete listing can settle them.
  const unclaimedIds = new Set(ledger.unclaimed ?? []);
  if (remote.complete) {
    const verdict = matchOrphans(ledger.inFlight, remote.files, {
      owned,
      unclaimed: unclaimedIds,
      localByPath: new Map((local?.files ?? []).map((file) => [file.path, file])),
      ledgerByPath: ctx.ledgerByPath,
      now: options.now,
      skewMs: options.orphanSkewMs,
      serverOffsetMs: options.serverOffsetMs ?? null,
      maxUploadAttempts: options.maxUploadAttempts ?? DEFAULT_MAX_UPLOAD_ATTEMPTS,
    });
    result.adoptions.push(...verdict.adoptions);
    for (const a of verdict.adoptions) ctx.adoptedPaths.add(a.local.path);
    for (const o of verdict.orphans) result.deletes.push({ fileId: o.fileId, path: o.path, reason: 'orphan', fromLocalDelete: false });
    result.settledInFlight.push(...verdict.settled);
    result.unclaimed.push(...verdict.unclaimed);
    for (const id of verdict.claimed) owned.add(id);
    for (const c of verdict.unclaimed) unclaimedIds.add(c.fileId);
    result.unclaimedGone.push(...[...(ledger.unclaimed ?? [])].filter((id) => !remoteById.has(id)));
  }
  for (const file of remote.files) if (!owned.has(file.id) && !unclaimedIds.has(file.id)) result.foreign++;

  // Old versions and other owned ids already decided for deletion.
  for (const row of ctx.listed ? ledger.pendingDeletes : []) {
    if (remote.complete && !remoteById.has(row.fileId)) result.alreadyGone.push(row.fileId);
    else result.deletes.push({ fileId: row.fileId, path: row.path, reason: row.reason, fromLocalDelete: false });
  }
}

function planLocal(ctx: PlanContext, local: LocalView): void {
  const { ledgerByPath, remoteById, failures, adoptedPaths, options, result } = ctx;
  const remoteComplete = ctx.remote.complete;
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
      result.skips.push({
        path: file.path,
        reason,
        failed: true,
        record: failureHolds(failure, file, options.now) ? null : { retryable: false, stat },
      });
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
      result.skips.push({
        path: file.path,
        reason: `failed before (${failure!.error}); ${failure!.retryable ? 'backing off' : 'waiting for the file to change'}`,
        failed: true,
        record: null,
      });
      continue;
    }
    result.uploads.push({ path: file.path, local: file, remoteName, reason, replaces: row?.fileId ?? null });
  }
}

/** Never a silent duplicate: a new path whose copy seems to be in the workspace already waits for `adopt`. */
function holdLookalikes(remote: readonly FileMetadata[], owned: ReadonlySet<string>, options: PlanOptions, result: Plan): void {
  const fresh = result.uploads.filter((u) => u.reason === 'new').map((u) => u.local);
  const held = new Set(
    findLookalikes(
      fresh,
      () => false,
      (id) => owned.has(id),
      remote,
      options.remoteName,
    ).map((l) => l.path),
  );
  if (held.size === 0) return;
  result.alreadyRemote = [...held];
  result.uploads = result.uploads.filter((u) => !held.has(u.path));
}

function planLocalDeletes(ctx: PlanContext, local: LocalView | null): void {
  const { ledger, ledgerByPath, options, result } = ctx;
  // Unlisted, the ledger is trusted: its ids are taken as there, and the view as complete.
  const remoteById = ctx.listed ? ctx.remoteById : null;
  const remoteComplete = ctx.remote.complete || !ctx.listed;
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
    result.held = {
      deletes,
      reason: `${counted} files deleted locally, ${limit}: run with --allow-mass-delete to delete them remotely`,
    };
    return;
  }
  result.deletes.push(...deletes);
}
