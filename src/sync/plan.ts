// The planner: pure functions from (local walk, ledger, remote side) to the actions that bring the
// workspace in line with the folder. Every rule of DESIGN.md that decides what to do lives here and
// in decide.ts (one path of the merge, and the guard over the deletes collected).
import type { FileRow } from '../ledger/ledger.js';
import { comparePaths } from '../local/order.js';
import type { LocalFile, LocalProblem } from '../local/types.js';
import type { FileMetadata } from '../remote/types.js';
import { decidePath, holdScope, judgeDeletes, underAny, type Decision, type DeleteJudgement, type GoneRow } from './decide.js';
import { findLookalikes } from './lookalikes.js';
import { AddedContents, type MoveSide } from './moves.js';
import { DEFAULT_MAX_UPLOAD_ATTEMPTS, matchOrphans } from './orphans.js';
import type { LedgerView, LocalView, Plan, PlanOptions, RemoteView, Skip } from './types.js';
import { append, LISTED_MAX } from '../arrays.js';

export { ORPHAN_SKEW_MS, uploadSpanMs } from './orphans.js';
export { AddedContents, pairMoves, type MoveSide } from './moves.js';
export { decidePath, holdScope, judgeDeletes, type Decision, type GoneRow, type Pairing } from './decide.js';
export type * from './types.js';

/** What the remote side of a plan settles before the paths: adoptions, orphans, pending deletes, the foreign count. */
export interface RemoteInput {
  ledger: LedgerView;
  remote: RemoteView;
  /** False when the workspace was not read (the ledger is trusted for what exists remotely). */
  listed: boolean;
  /** The walk's files at the paths of open uploads (the orphan matching reads no other). */
  localByPath: ReadonlyMap<string, LocalFile>;
  /** The ledger's rows at the paths of open uploads. */
  ledgerByPath: ReadonlyMap<string, FileRow>;
  options: PlanOptions;
}

export function emptyPlan(): Plan {
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
    walkSkipped: [],
    skipsNotListed: { failed: 0, skipped: 0 },
    skipsListed: { failed: 0, skipped: 0 },
    unchanged: 0,
    foreign: 0,
    alreadyRemote: [],
    alreadyRemoteCount: 0,
    movesWaiting: 0,
    unseenKept: 0,
  };
}

/**
 * Keeps `skip` in the plan's list while it holds fewer than LISTED_MAX of its kind (failures, or
 * waits: a file still changing), else counts it: whoever writes into the folder can make a
 * thousand files change under the walk, and must not crowd a failure out of the report.
 */
export function listSkip(plan: Plan, skip: Skip): void {
  const kind = skip.failed ? 'failed' : 'skipped';
  if (plan.skipsListed[kind] >= LISTED_MAX) {
    plan.skipsNotListed[kind]++;
    return;
  }
  plan.skips.push(skip);
  plan.skipsListed[kind]++;
}

/**
 * Plans one reconciliation from whole views (the daemon's per-path jobs and delete batches,
 * the orphan sweep and the planner's table tests): the remote side, then each path of the
 * merge of the walk with the ledger (`decidePath`), then the guard (`judgeDeletes`), as the
 * streaming reconciliation does (sync/stream.ts). Pure: no I/O, no clock (`options.now`).
 * `local` is null when the walk failed; nothing is uploaded or deleted for paths then.
 * `remote` is null when the workspace was not listed (the daemon's per-path jobs): the ledger is
 * then trusted for what exists remotely, and what only a listing can settle waits for one
 * (in-flight uploads, pending deletes).
 */
export function plan(local: LocalView | null, ledger: LedgerView, remoteOrNull: RemoteView | null, options: PlanOptions): Plan {
  const remote: RemoteView = remoteOrNull ?? { files: [], complete: false };
  const listedIds = remoteOrNull && remote.complete ? new Set(remote.files.map((f) => f.id)) : null;
  const inFlightPaths = new Set(ledger.inFlight.map((r) => r.path));
  const localByPath = new Map((local?.files ?? []).filter((f) => inFlightPaths.has(f.path)).map((f) => [f.path, f]));
  const ledgerByPath = new Map(ledger.files.filter((r) => inFlightPaths.has(r.path)).map((r) => [r.path, r]));
  const result = emptyPlan();
  const remoteInput = { ledger, remote, listed: remoteOrNull !== null, localByPath, ledgerByPath, options };
  const { adoptedPaths, ours } = planRemote(remoteInput, result);
  const failures = new Map(ledger.failures.map((row) => [row.path, row]));
  const gone: GoneRow[] = [];
  const scope = options.scope;
  const rows = ledger.files.filter((row) => !scope || scope(row.path));
  for (const [path, found, row] of mergeSorted(local, rows)) {
    if (adoptedPaths.has(path)) continue;
    const listed = listedIds && row ? listedIds.has(row.fileId) : null;
    recordDecision(result, gone, decidePath({ path, local: found, row, listed, failure: failures.get(path) }, options));
  }
  if (remote.complete && options.holdLookalikes) holdLookalikes(remote.files, ours, options, result);
  if (!local) {
    result.deletesBlocked = 'the local walk failed';
    return result;
  }
  const added = new AddedContents([
    ...result.uploads.filter((u) => u.replaces === null).map((u) => u.local),
    ...(options.recentlyAdded ?? []),
  ]);
  // Rule 4 holds the rows under a folder the walk could not list (unseen): every other was seen whole.
  const unseen = holdScope(local.complete, local.unseen);
  const seen = unseen === null ? gone : gone.filter((row) => !underAny(row.path, unseen));
  result.unseenKept = gone.length - seen.length;
  const judged = judgeDeletes({
    gone: seen,
    localComplete: unseen !== null,
    remoteComplete: remote.complete || remoteOrNull === null,
    localEmpty: !scope && local.files.length === 0 && local.problems.length === 0,
    tracked: ledger.tracked ?? ledger.files.length,
    added,
    options,
  });
  addJudgement(result, judged);
  return result;
}

/** The walk's files and problems merged with the ledger's rows, by path in code point order. */
function* mergeSorted(
  local: LocalView | null,
  rows: readonly FileRow[],
): Generator<[string, LocalFile | LocalProblem | undefined, FileRow | undefined]> {
  const found: (LocalFile | LocalProblem)[] = local ? [...local.files, ...local.problems] : [];
  found.sort((a, b) => comparePaths(a.path, b.path));
  const sorted = [...rows].sort((a, b) => comparePaths(a.path, b.path));
  let i = 0;
  let j = 0;
  while (i < found.length || j < sorted.length) {
    const f = found[i];
    const r = sorted[j];
    const order = f === undefined ? 1 : r === undefined ? -1 : comparePaths(f.path, r.path);
    if (order <= 0) i++;
    if (order >= 0) j++;
    yield order < 0 ? [f!.path, f, undefined] : order > 0 ? [r!.path, undefined, r] : [f!.path, f, r];
  }
}

/** Adds the guard's verdict to a plan (its deletes after the remote side's). */
export function addJudgement(result: Plan, judged: DeleteJudgement): void {
  append(result.deletes, judged.deletes);
  append(result.forget, judged.forget);
  result.held = judged.held;
  result.deletesBlocked = judged.deletesBlocked;
}

/** Adds one path's decision to a plan; a gone row waits for the guard. */
export function recordDecision(result: Plan, gone: GoneRow[], decision: Decision): void {
  switch (decision.kind) {
    case 'upload':
      result.uploads.push(decision.upload);
      return;
    case 'stat':
      result.statUpdates.push(decision.update);
      return;
    case 'unchanged':
      result.unchanged++;
      return;
    case 'skip':
      listSkip(result, decision.skip);
      return;
    case 'gone':
      gone.push(decision.gone);
      return;
    case 'none':
      return;
  }
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
      return { ...sweep, uploads: [], statUpdates: [], skips: [], skipsListed: { failed: 0, skipped: 0 }, forget: [], held: null, deletes };
    }
  }
}

/**
 * Rule 3 and the remote side: lost uploads matched in a complete listing, foreign files, pending
 * deletes. Returns the paths adopted (not uploaded again) and `ours`: whether an id is owned (as
 * the matching grew them) or unclaimed (a copy of our uploads the matching could not tell from
 * another application's: never a look-alike that holds a path's upload, or its file would never
 * be synced; it stays listed for `forget-copies`).
 */
export function planRemote(input: RemoteInput, result: Plan): { adoptedPaths: Set<string>; ours: (id: string) => boolean } {
  const { ledger, remote, options } = input;
  const owned = new Set<string>([...ledger.files.map((row) => row.fileId), ...ledger.pendingDeletes.map((row) => row.fileId)]);
  for (const row of ledger.inFlight) if (row.resolvedFileId) owned.add(row.resolvedFileId);
  const adoptedPaths = new Set<string>();
  const remoteById = new Map(remote.files.map((file) => [file.id, file]));
  // Rule 3: uploads whose outcome was not known. Only a complete listing can settle them.
  const unclaimedIds = new Set(ledger.unclaimed ?? []);
  if (remote.complete) {
    const verdict = matchOrphans(ledger.inFlight, remote.files, {
      owned,
      unclaimed: unclaimedIds,
      localByPath: input.localByPath,
      ledgerByPath: input.ledgerByPath,
      now: options.now,
      skewMs: options.orphanSkewMs,
      serverOffsetMs: options.serverOffsetMs ?? null,
      maxUploadAttempts: options.maxUploadAttempts ?? DEFAULT_MAX_UPLOAD_ATTEMPTS,
    });
    append(result.adoptions, verdict.adoptions);
    for (const a of verdict.adoptions) adoptedPaths.add(a.local.path);
    for (const o of verdict.orphans) result.deletes.push({ fileId: o.fileId, path: o.path, reason: 'orphan', fromLocalDelete: false });
    append(result.settledInFlight, verdict.settled);
    append(result.unclaimed, verdict.unclaimed);
    for (const id of verdict.claimed) owned.add(id);
    for (const c of verdict.unclaimed) unclaimedIds.add(c.fileId);
    for (const id of ledger.unclaimed ?? []) if (!remoteById.has(id)) result.unclaimedGone.push(id);
  }
  for (const file of remote.files) if (!owned.has(file.id) && !unclaimedIds.has(file.id)) result.foreign++;

  // Old versions and other owned ids already decided for deletion.
  for (const row of input.listed ? ledger.pendingDeletes : []) {
    if (remote.complete && !remoteById.has(row.fileId)) result.alreadyGone.push(row.fileId);
    else result.deletes.push({ fileId: row.fileId, path: row.path, reason: row.reason, fromLocalDelete: false });
  }
  return { adoptedPaths, ours: (id) => owned.has(id) || unclaimedIds.has(id) };
}

/** Never a silent duplicate: a new path whose copy seems to be in the workspace already waits for `adopt`. */
function holdLookalikes(remote: readonly FileMetadata[], ours: (id: string) => boolean, options: PlanOptions, result: Plan): void {
  const fresh = result.uploads.filter((u) => u.reason === 'new').map((u) => u.local);
  const held = new Set(findLookalikes(fresh, () => false, ours, remote, options.remoteName).map((l) => l.path));
  if (held.size === 0) return;
  result.alreadyRemoteCount = held.size;
  result.alreadyRemote = [...held].slice(0, LISTED_MAX);
  result.uploads = result.uploads.filter((u) => !held.has(u.path));
}
