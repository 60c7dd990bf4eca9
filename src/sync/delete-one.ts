// One delete of an execution (execute.ts): a removed path's copy, a collected one, or an old copy
// an upload replaced, its outcome recorded in the ledger as it happens.
import { pushListed } from '../arrays.js';
import { errorMessage } from '../errors.js';
import { isUnavailable, requestIdOf } from '../failure.js';
import type { DeleteAction, ExecuteDeps, ExecuteReport, FailedDelete, Progress } from './types.js';
import { copyState } from './remote-view.js';

/** What one delete needs of its execution. */
export interface DeleteRun {
  readonly deps: ExecuteDeps;
  readonly report: ExecuteReport;
  readonly progress: Progress;
  readonly signal: AbortSignal;
  readonly now: () => number;
  readonly stillPresent: (relPath: string) => Promise<boolean>;
  unavailableInARow: number;
  /** Whether the run handles the error itself (a fatal error, the caller's abort). */
  endedByRun(err: unknown): boolean;
  /** True when an "unavailable" failure ends the run (it has been recorded either way). */
  unavailableEnds(err: unknown): boolean;
  tick(filePath?: string): void;
}

/** Deletes `action`'s copy; a failure stays pending in the ledger, and only a fatal one ends the run. */
export async function deleteOne(run: DeleteRun, action: DeleteAction): Promise<void> {
  if (action.listedOut === 'row') return forgetIfGone(run, action);
  const { ledger, logger } = run.deps;
  try {
    if (action.fromLocalDelete && action.path !== null) {
      // The walk is a moment old: a file that came back since is not deleted.
      if (await run.stillPresent(action.path)) return;
      ledger.markDeleted(action.path, run.now());
    }
    const result = await run.deps.remote.delete(action.fileId, { signal: run.signal });
    run.unavailableInARow = 0;
    ledger.deleteDone(action.fileId);
    if (action.listedOut === 'pending' && result.alreadyDeleted) return; // gone, as the listing said
    run.report.deleted++;
    run.report.deletesBy[action.reason] = (run.report.deletesBy[action.reason] ?? 0) + 1;
    const { fileId, path: deletedPath, reason } = action;
    logger.debug(result.alreadyDeleted ? 'already deleted' : 'deleted', { fileId, path: deletedPath, reason });
  } catch (err) {
    if (run.endedByRun(err)) return;
    const reason = errorMessage(err);
    ledger.deleteFailed(action.fileId, reason);
    if (isUnavailable(err) && run.unavailableEnds(err)) return;
    listFailedDelete(run.report, { fileId: action.fileId, path: action.path, reason });
    logger.warn('delete failed; it stays pending', {
      fileId: action.fileId,
      path: action.path,
      error: reason,
      requestId: requestIdOf(err),
    });
  } finally {
    if (action.fromLocalDelete) {
      run.progress.filesDone++;
      run.tick(action.path ?? undefined);
    }
  }
}

/**
 * The row of a path gone locally whose copy the listing left out: forgotten once a look-up of the
 * id answers 404, so a listing that ended short or lags never costs a copy its delete. An expired
 * copy (its content gone, the id still ours) is deleted, then forgotten. A copy still there keeps
 * its row: a later listing that shows it has it deleted, and until then each run says so.
 */
async function forgetIfGone(run: DeleteRun, action: DeleteAction): Promise<void> {
  const { ledger, logger, remote } = run.deps;
  const { fileId, path } = action;
  try {
    const state = await copyState(remote, fileId, run.signal);
    if (state === 'expired' && !(await deleteLapsed(run, action))) return;
    run.unavailableInARow = 0;
    if (state === 'there') {
      logger.warn('the listing left out a copy that is still there: its row stays until a listing shows it (then it is deleted)', {
        path,
        fileId,
      });
      return;
    }
    if (path !== null) ledger.forgetFile(path, fileId);
  } catch (err) {
    if (run.endedByRun(err)) return;
    logger.warn('could not look up a copy the listing left out: its row stays', { path, fileId, error: errorMessage(err) });
    if (isUnavailable(err)) run.unavailableEnds(err);
  }
}

/** Deletes an expired copy the listing left out; false when the delete failed (counted and said: the row stays). */
async function deleteLapsed(run: DeleteRun, { fileId, path }: DeleteAction): Promise<boolean> {
  try {
    await run.deps.remote.delete(fileId, { signal: run.signal });
  } catch (err) {
    if (run.endedByRun(err)) return false;
    const reason = errorMessage(err);
    // As for any delete: one that ends the run (the API unavailable) is the run's outcome, not listed.
    if (isUnavailable(err) && run.unavailableEnds(err)) return false;
    listFailedDelete(run.report, { fileId, path, reason });
    run.deps.logger.warn('delete of an expired copy failed; its row stays', { path, fileId, error: reason, requestId: requestIdOf(err) });
    return false;
  }
  run.report.deleted++;
  run.report.deletesBy.deleted = (run.report.deletesBy.deleted ?? 0) + 1;
  return true;
}

/** Counts a failed delete in `report`, listed while the list holds fewer than LISTED_MAX. */
export function listFailedDelete(report: ExecuteReport, failed: FailedDelete): void {
  if (!pushListed(report.failedDeletes, failed)) report.failedDeletesNotListed++;
}
