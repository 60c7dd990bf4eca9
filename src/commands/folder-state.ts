// The state of a synced folder as `status` says it: up to date, syncing, not up to date, root
// missing, interrupted, or failing with a reason. Looks at the root (a walk that hashes only what
// changed since the ledger saw it), the ledger, the last run and who holds the state directory.
import fs from 'node:fs';
import type { Config } from '../config.js';
import { ExitCode } from '../errors.js';
import type { Ledger } from '../ledger/ledger.js';
import { RootFileError } from '../local/rootfile.js';
import { silentLogger } from '../log.js';
import { pendingCounts, type PendingCounts } from '../sync/pending.js';
import { plural } from '../sync/report.js';
import { ALREADY_REMOTE, type SyncReport } from '../sync/reconcile.js';
import { heldAsLookalikes } from '../sync/outcome.js';
import type { RunRecord } from './runs.js';

/** The folder's state: a word for scripts and the line people read. */
export interface FolderState {
  state: 'up to date' | 'syncing' | 'not up to date' | 'root missing' | 'interrupted' | 'failing' | 'never synced';
  line: string;
  /** Null when they cannot be counted: the root's ignore file is refused. */
  toUpload: number | null;
  toDelete: number | null;
  /** Old copies of moved files a sync would keep (`pendingCounts`). */
  movesWaiting: number;
  /** Deletes a sync would hold or block now (`pendingCounts`). */
  deletesHeld: PendingCounts['deletesHeld'];
}

/**
 * The last one-shot run's record, unless a reconciliation finished after it (the daemon's, or a
 * restored backup's, which is taken before its own run's record is written): that one tells.
 */
function currentRun(run: RunRecord | null, last: SyncReport | undefined): RunRecord | null {
  return run !== null && last !== undefined && last.finishedAt > Date.parse(run.at) ? null : run;
}

/** "N files failed", "M deletes failed", or both; null when nothing failed. */
function failedLine(files: number, deletes: number): string | null {
  const said = [files > 0 ? `${plural(files, 'file')} failed` : '', deletes > 0 ? `${plural(deletes, 'delete')} failed` : ''];
  return said.some(Boolean) ? said.filter(Boolean).join(', ') : null;
}

/** Why the last run did not end cleanly, in a few words. */
function failingReason(run: RunRecord | null, last: SyncReport | undefined, failures: number): string | null {
  if (run?.outcome && run.outcome !== 'interrupted') return run.outcome;
  const code = run?.exitCode ?? last?.exitCode ?? 0;
  if (code === ExitCode.ok || code === ExitCode.interrupted) return failures > 0 ? `${plural(failures, 'file')} failed` : null;
  if (code === ExitCode.fileFailures) {
    // Exit 1 is failed files, failed deletes or both.
    const files = Math.max(failures, last?.counts?.failed ?? last?.failed.length ?? 0);
    return failedLine(files, last?.counts?.deletesFailed ?? 0) ?? `${plural(files, 'file')} failed`;
  }
  if (last?.held) return `deletes held: ${last.held.reason}`;
  if (last && heldAsLookalikes(last) > 0) return ALREADY_REMOTE(heldAsLookalikes(last));
  if (last?.deletesBlocked) return `no deletes: ${last.deletesBlocked}`;
  return `the last sync exited ${code}`;
}

/**
 * Works out the folder's state; `running` is the holder of the state directory (a daemon or a
 * sync), if any, and `daemonIdle`, for a daemon with nothing to do (its live status), how it keeps
 * the folder: then the folder is judged as if nothing ran, and "up to date" names the daemon.
 */
export async function folderState(
  config: Config,
  ledger: Ledger,
  run: RunRecord | null,
  last: SyncReport | undefined,
  running: string | null,
  daemonIdle: string | null = null,
): Promise<FolderState> {
  const none = { toUpload: 0, toDelete: 0, movesWaiting: 0, deletesHeld: null };
  if (!fs.existsSync(config.root))
    return { state: 'root missing', line: `root missing: ${config.root} is not there (unmounted?)`, ...none };
  let work: PendingCounts;
  try {
    work = await pendingCounts(config, ledger, silentLogger());
  } catch (err) {
    // The root's ignore file cannot be taken: nothing counted. A running daemon keeps the filter it
    // had; otherwise nothing is synced (a one-shot run fails on it, a daemon starting waits for it).
    if (!(err instanceof RootFileError)) throw err;
    const line = running?.startsWith('daemon')
      ? `failing: ${err.message}; the running daemon keeps the filter it had`
      : `failing: ${err.message}; nothing is synced until it is fixed`;
    return { state: 'failing', line, toUpload: null, toDelete: null, movesWaiting: 0, deletesHeld: null };
  }
  const { deletesHeld } = work;
  const held = deletesHeld ? `; deletes ${deletesHeld.count === null ? 'blocked' : 'held'}: ${deletesHeld.reason}` : '';
  const todo = `${work.toUpload} to upload, ${work.toDelete} to delete`;
  // An idle daemon holding deletes waits on the operator: not "syncing", but the hold is said below.
  // Nor are the deletes the API refused, or the uploads held as look-alikes, its work: they wait
  // for its next reconciliation, or for the user's word (failing).
  const deletesFailed = ledger.failedDeleteCount();
  const heldUploads = last ? heldAsLookalikes(last) : 0;
  const idle = running !== null && daemonIdle !== null && work.toUpload <= heldUploads && work.toDelete <= deletesFailed;
  if (running && !idle) return { state: 'syncing', line: `syncing: ${todo} (${running})${held}`, ...work };
  run = currentRun(run, last);
  if (run?.outcome === 'interrupted' || (run === null && last?.interrupted)) {
    return { state: 'interrupted', line: `interrupted: ${todo}; run files-sync sync`, ...work };
  }
  // Beside an idle daemon the last reconciliation's troubles may be gone since (its path jobs went
  // on): what holds now tells, the failures recorded and the walk just made.
  const failures = ledger.failureCount();
  const reason = idle
    ? (failedLine(failures, deletesFailed) ?? (heldUploads > 0 ? ALREADY_REMOTE(heldUploads) : null))
    : failingReason(run, last, failures);
  if (reason) return { state: 'failing', line: `failing: ${reason}`, ...work };
  if (!last && ledger.fileCount() === 0) return { state: 'never synced', line: `never synced: ${todo}; run files-sync sync`, ...work };
  if (deletesHeld) return { state: 'not up to date', line: `not up to date: ${todo}${held}`, ...work };
  if (work.toUpload + work.toDelete > 0) return { state: 'not up to date', line: `not up to date: ${todo}; run files-sync sync`, ...work };
  return { state: 'up to date', line: idle ? `up to date (${running}${daemonIdle})` : 'up to date', ...work };
}
