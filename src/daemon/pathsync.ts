// What the daemon does for one path hint and for a batch of due deletes: look at the paths, plan
// them with the shared planner (scoped, no listing: the ledger is trusted) and execute the plan.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { FileRow, Ledger } from '../ledger/ledger.js';
import type { LocalFile, PathFilter } from '../local/types.js';
import { isLocalProblem, statOne } from '../local/walk.js';
import type { Logger } from '../log.js';
import type { RemoteFiles } from '../remote/types.js';
import { execute } from '../sync/execute.js';
import type { ExecuteDeps, ExecuteReport } from '../sync/types.js';
import { checkRoot } from '../local/root.js';
import { foldersUnder } from '../local/walk-steps.js';
import { planFor, type LedgerView, type LocalView, type PlanOptions } from '../sync/plan.js';
import { executeDepsFor, planOptionsFor } from '../sync/session.js';
import { lookalikesSettled } from '../sync/reconcile-steps.js';
import { movesWaitingLine, plural } from '../sync/report.js';
import { MAX_LOOKED_AT, movesWaitingOnFailures } from './waiting-moves.js';

/** What a path job and a delete batch need; `config` and `filter` change on a reload. */
export interface PathSyncDeps {
  config: () => Config;
  filter: () => PathFilter;
  ledger: Ledger;
  remote: RemoteFiles;
  logger: Logger;
  signal: AbortSignal;
}

/** The result of one path job. */
export type PathOutcome =
  /** Synced (or nothing to do); the report when a plan was executed. */
  | { kind: 'done'; report: ExecuteReport | null }
  /** The file is younger than the settle time or changed while looked at: look again later. */
  | { kind: 'settle'; waitMs: number }
  /** The path is gone (or no longer synced) while the ledger has it: a delete candidate. */
  | { kind: 'gone' }
  /** A new path while look-alikes are held (a lost state directory): a reconciliation judges it, with the listing. */
  | { kind: 'held' };

/** The outcome of a delete batch. */
export interface DeleteBatchOutcome {
  deleted: number;
  /** Paths that exist again: they get a path job instead. */
  back: string[];
  held: { count: number; reason: string } | null;
  blocked: string | null;
  /** Gone paths kept for a later batch: moves whose new path waits on a failed upload (or, undecided, the whole batch). */
  waiting: string[];
}

function planOptions(config: Config, rootDistrust: string | null = null): PlanOptions {
  return planOptionsFor(config, { now: Date.now(), rootDistrust });
}

/** An upload this recent of the same content makes a deleted path a move (clock skew included). */
const MOVE_WINDOW_MS = 10 * 60_000;

function executeDeps(deps: PathSyncDeps, config: Config): ExecuteDeps {
  // One path at a time: its "unavailable" is the daemon's cue to park and probe the API.
  return executeDepsFor(
    config,
    { remote: deps.remote, ledger: deps.ledger, logger: deps.logger, filter: deps.filter() },
    { signal: deps.signal, unavailableStreak: 1 },
  );
}

function knownOf(row: FileRow | undefined) {
  return (p: string) =>
    row && p === row.path ? { size: row.size, mtimeMs: row.mtimeMs, ino: row.ino, sha256: row.sha256, mimeType: row.mimeType } : undefined;
}

/**
 * One path job (DESIGN.md rule 5 first): a file younger than the settle time waits; then the
 * walk's verdict on the path (`statOne`), checked against the stat taken before it; then a plan
 * scoped to the path and its execution. A path that is gone is not deleted here: it becomes a
 * delete candidate, deleted after `deleteDelaySeconds` in a batch (see `deleteBatch`).
 */
export async function syncPath(deps: PathSyncDeps, relPath: string): Promise<PathOutcome> {
  const config = deps.config();
  const settleMs = config.settleSeconds * 1000;
  const young = (mtimeMs: number) => {
    const age = Date.now() - mtimeMs;
    return age >= 0 && age < settleMs ? settleMs - age + 50 : 0;
  };
  const before = await stat(path.join(config.root, relPath)).catch(() => null);
  if (before?.isFile() && young(before.mtimeMs) > 0) return { kind: 'settle', waitMs: young(before.mtimeMs) };

  const row = deps.ledger.fileByPath(relPath);
  const found = await statOne(config.root, relPath, {
    filter: deps.filter(),
    followSymlinks: config.followSymlinks,
    maxFileBytes: config.maxFileBytes,
    known: knownOf(row),
    signal: deps.signal,
    logger: deps.logger,
    stateMarkers: true, // a renamed state directory's files (its ledger's WAL) are never synced
  });
  let local: LocalView;
  if (typeof found === 'string') {
    // missing, excluded or skipped: what a walk would not list, the reconciliation would delete.
    if (row) return { kind: 'gone' };
    deps.ledger.clearFailure(relPath);
    return { kind: 'done', report: null };
  } else if (isLocalProblem(found)) {
    if (found.kind === 'changing') return { kind: 'settle', waitMs: settleMs + 50 };
    local = { files: [], problems: [found], complete: true };
  } else {
    const file: LocalFile = found;
    const moved = before !== null && (before.size !== file.size || before.mtimeMs !== file.mtimeMs);
    if (moved || young(file.mtimeMs) > 0) return { kind: 'settle', waitMs: Math.max(young(file.mtimeMs), 50) };
    local = { files: [file], problems: [], complete: true };
  }
  const ledgerView: LedgerView = {
    files: row ? [row] : [],
    pendingDeletes: [],
    inFlight: [],
    failures: [deps.ledger.failure(relPath)].filter((f) => f !== undefined),
  };
  const thePlan = planFor({ kind: 'path', path: relPath, local }, ledgerView, planOptions(config));
  // Its copy may be in the workspace already, which only a listing tells: not uploaded here.
  if (thePlan.uploads[0]?.reason === 'new' && !lookalikesSettled(deps.ledger)) return { kind: 'held' };
  if (thePlan.uploads.length === 0 && thePlan.statUpdates.length === 0 && thePlan.skips.every((s) => !s.record)) {
    for (const skip of thePlan.skips) {
      deps.logger.debug('not synced now', { path: skip.path, reason: skip.reason });
      // Waiting on a failure recorded before schema 5: the content it holds for, as a reconciliation writes it in.
      if (skip.newContent !== undefined) deps.ledger.noteFailureContent(skip.path, skip.newContent);
    }
    return { kind: 'done', report: null };
  }
  const report = await execute(thePlan, executeDeps(deps, config));
  const upload = thePlan.uploads[0];
  if (upload && report.uploaded > 0) deps.logger.info(upload.reason === 'new' ? 'uploaded' : 'replaced', { path: relPath });
  return { kind: 'done', report };
}

/** True when the root holds no entry that takes part in the sync (an unmounted disk looks so). */
async function rootLooksEmpty(root: string, filter: PathFilter): Promise<boolean> {
  const entries = await readdir(root, { withFileTypes: true });
  return !entries.some((e) => filter(e.name, e.isDirectory()));
}

/**
 * Deletes the remote copies of `paths` that are still gone, in scoped plans so that rule 4 holds:
 * nothing is deleted when the root is missing, distrusted or empty, and the mass-delete guard
 * counts the batch (an `rm -rf` of a large folder is held). A gone path paired with a path added
 * just now of the same content (a move, one to one: the guard's `summarizeGone`) does not count
 * toward the guard, as in a full reconciliation.
 */
export async function deleteBatch(deps: PathSyncDeps, paths: readonly string[]): Promise<DeleteBatchOutcome> {
  const config = deps.config();
  const filter = deps.filter();
  const outcome: DeleteBatchOutcome = { deleted: 0, back: [], held: null, blocked: null, waiting: [] };
  const root = checkRoot(config, deps.ledger); // throws GuardError when the root is missing
  let gone: FileRow[] = [];
  for (const p of paths) {
    const row = deps.ledger.fileByPath(p);
    if (!row) continue;
    // Presence only: with a 0-byte limit no file is read (a non-empty one comes back unhashed).
    const found = await statOne(config.root, p, {
      filter,
      followSymlinks: config.followSymlinks,
      maxFileBytes: 0,
      known: knownOf(row),
      signal: deps.signal,
      stateMarkers: true,
    });
    if (typeof found === 'string') gone.push(row);
    else outcome.back.push(p);
  }
  if (gone.length === 0) return outcome;

  // A move is content that reappeared at a new path just now (DESIGN.md rule 4: "in the same
  // plan"): the path jobs uploaded those, so the rows uploaded in the window are this batch's
  // added side. The planner pairs them one to one with the gone paths (one new empty file
  // excuses one deleted empty file); an old copy elsewhere does not make `rm -rf` a move.
  const goneSet = new Set(gone.map((r) => r.path));
  // Only the rows this batch needs are read (a daemon over a million files holds no per-file
  // state): the window's uploads, the gone rows, and the count the guard's share is of.
  // `uploadedAt` is the API's `created_at`: the window is taken on the API's clock, not this host's.
  const since = (deps.remote.serverNow?.() ?? Date.now()) - Math.max(MOVE_WINDOW_MS, 2 * config.deleteDelaySeconds * 1000);
  const recentlyAdded = deps.ledger
    .filesUploadedSince(since)
    .filter((r) => !goneSet.has(r.path))
    .map((r) => ({ path: r.path, sha256: r.sha256 }));
  // A move whose new copy is not stored (its upload failed) keeps its old copy, as in a
  // reconciliation; the paths kept come back in the daemon's next batches (`waiting`).
  const waiting = await movesWaitingOnFailures(deps, gone, recentlyAdded);
  if (waiting.undecided) {
    outcome.waiting = [...goneSet];
    const what = plural(gone.length, 'removed file waits', 'removed files wait');
    deps.logger.info(`${what} for the next reconciliation: more uploads of their content failed than a batch looks at (${MAX_LOOKED_AT})`);
    return outcome;
  }
  if (waiting.kept.size > 0) {
    outcome.waiting = [...waiting.kept];
    deps.logger.info(movesWaitingLine(waiting.kept.size), { paths: outcome.waiting.slice(0, 5) });
    gone = gone.filter((row) => !waiting.kept.has(row.path));
    for (const p of waiting.kept) goneSet.delete(p);
    if (gone.length === 0) return outcome;
  }
  const distrust = root.distrust ?? ((await rootLooksEmpty(config.root, filter)) ? 'the root is empty while the ledger is not' : null);
  const tracked = deps.ledger.fileCount();
  const view: LedgerView = { files: gone, tracked, pendingDeletes: [], inFlight: [], failures: [] };
  const thePlan = planFor({ kind: 'delete-batch', paths: goneSet, recentlyAdded }, view, planOptions(config, distrust));
  if (thePlan.held) outcome.held = { count: thePlan.held.count, reason: thePlan.held.reason };
  if (thePlan.deletesBlocked) outcome.blocked = thePlan.deletesBlocked;
  if (thePlan.deletes.length === 0 && thePlan.forget.length === 0) return outcome;
  const report = await execute(thePlan, executeDeps(deps, config));
  outcome.deleted += report.deleted;
  return outcome;
}

/**
 * The files under `dir` (relative) that take part in the sync: the hints for a new directory. Each
 * folder is listed as the walk lists it (DESIGN.md rule 8: no link followed, the real path
 * checked), so a folder swapped for a link to one outside the root does not get that one listed;
 * a folder holding files-sync's state marker is not listed into.
 */
export async function listFiles(root: string, dir: string, filter: PathFilter): Promise<string[]> {
  const files: string[] = [];
  for await (const { rel, entries } of foldersUnder(root, dir, filter)) {
    for (const entry of entries ?? []) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (!entry.isDirectory() && filter(child, false)) files.push(child);
    }
  }
  return files;
}
