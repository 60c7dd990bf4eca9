// The executor: runs a plan against the Files API on a p-queue, uploads before deletes, and records
// every outcome in the ledger as it happens, so that a crash at any point loses nothing.
import { setMaxListeners } from 'node:events';
import fs from 'node:fs/promises';
import path from 'node:path';
import PQueue from 'p-queue';
import { errorMessage } from '../errors.js';
import { endsRun, isUnavailable, requestIdOf, retryableOf, statusOf } from '../failure.js';
import { LocalFileError, unknownOutcomeAttemptsOf } from '../remote/errors.js';
import { DeferredWrites } from './deferred.js';
import type { DeleteAction, ExecuteDeps, ExecuteReport, Plan, Progress, UploadAction } from './types.js';

export type { ExecuteDeps, ExecuteReport, Progress } from './types.js';
import { adopt, uploadOne } from './upload.js';

/** A torn upload is retried this many times before the path is left for the next run. */
const MAX_TORN_RETRIES = 3;

/**
 * Errors that end the whole run at once instead of one file: a refused key, an unusable ledger (even
 * a full disk leaves nothing to record this run's outcomes in), a full quota (src/failure.ts).
 */
export const isFatal = endsRun;

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Runs `plan`: adoptions and ledger-only changes first, then uploads, then deletes. A fatal error
 * (401, API unreachable) stops the queue and is rethrown after in-flight jobs have recorded theirs.
 */
export async function execute(plan: Plan, deps: ExecuteDeps): Promise<ExecuteReport> {
  const now = deps.now ?? Date.now;
  const stillPresent = deps.stillPresent ?? ((relPath: string) => regularFileAt(path.join(deps.root, relPath)));
  const sleep = deps.sleep ?? defaultSleep;
  const { ledger, logger } = deps;
  const report: ExecuteReport = {
    uploaded: 0,
    replaced: 0,
    adopted: 0,
    deleted: 0,
    unchangedAfterCheck: 0,
    failed: [],
    failedDeletes: [],
    bytesUploaded: 0,
    unknownOutcomes: 0,
    interrupted: false,
    uploadsBy: {},
    deletesBy: {},
  };
  const progress: Progress = {
    filesDone: 0,
    // Files, not requests: an upload or a removed path is one; old copies and orphans are not.
    filesTotal: plan.uploads.length + plan.deletes.filter((d) => d.fromLocalDelete).length,
    bytesDone: 0,
    bytesTotal: plan.uploads.reduce((sum, u) => sum + u.local.size, 0),
  };
  const tick = (filePath?: string) => deps.onProgress?.({ ...progress, ...(filePath !== undefined ? { path: filePath } : {}) });

  // Ledger-only changes: one transaction each, no request.
  const t = now();
  ledger.addPendingDeletes(
    plan.deletes.filter((d) => d.reason === 'orphan').map((d) => ({ fileId: d.fileId, path: d.path, reason: d.reason })),
    t,
  );
  const replacedIds: DeleteAction[] = [];
  for (const adoption of plan.adoptions) {
    const replaced = adopt(adoption, ledger, t, logger);
    if (replaced) replacedIds.push({ fileId: replaced, path: adoption.local.path, reason: 'replaced', fromLocalDelete: false });
  }
  report.adopted = plan.adoptions.length;
  const adoptedRows = new Set(plan.adoptions.map((a) => a.inFlight.id));
  for (const id of plan.settledInFlight) if (!adoptedRows.has(id)) ledger.settleInFlight(id);
  for (const id of plan.alreadyGone) ledger.deleteDone(id);
  for (const p of plan.forget) ledger.forgetFile(p);
  ledger.updateStats(plan.statUpdates);
  for (const skip of plan.skips) if (skip.record) ledger.recordFailure(skip.path, skip.reason, skip.record.retryable, skip.record.stat, t);

  const controller = new AbortController();
  const signal = deps.signal ? AbortSignal.any([deps.signal, controller.signal]) : controller.signal;
  // Each request in flight listens on it (undici), and a few more may still be letting go.
  setMaxListeners(deps.concurrency * 2 + 10, signal);
  let fatal: unknown = null;
  const queue = new PQueue({ concurrency: deps.concurrency });
  // The records of finished uploads, committed in groups; flushed before the deletes and at the end.
  const later = new DeferredWrites(ledger);
  const onStop = () => {
    report.interrupted = true;
    queue.clear();
  };
  if (deps.stop?.aborted) onStop();
  else deps.stop?.addEventListener('abort', onStop, { once: true });
  const streak = deps.unavailableStreak ?? 3;
  let unavailableInARow = 0;
  /** True when an "unavailable" failure ends the run (it has been recorded either way). */
  const unavailableEnds = (err: unknown): boolean => {
    if (++unavailableInARow < streak) return false;
    stopOn(err);
    return true;
  };
  const stopOn = (err: unknown) => {
    if (fatal === null) fatal = err;
    queue.clear();
    controller.abort(err);
  };

  const runUpload = async (action: UploadAction, tries: number): Promise<void> => {
    try {
      const outcome = await uploadOne(action, tries > 0, deps, signal, sleep, now, later);
      if (outcome.kind === 'torn') {
        report.unknownOutcomes += outcome.unknownOutcomes;
        replacedIds.push({ fileId: outcome.tornId, path: action.path, reason: 'torn', fromLocalDelete: false });
        logger.info('file changed during its upload; uploading it again', { path: action.path });
        if (tries < MAX_TORN_RETRIES) return runUpload(action, tries + 1);
        report.failed.push({ path: action.path, reason: 'kept changing during upload; will try again next sync' });
        return;
      }
      if (outcome.kind === 'unchanged') {
        report.unchangedAfterCheck++;
        return;
      }
      unavailableInARow = 0;
      report.uploaded++;
      report.uploadsBy[action.reason] = (report.uploadsBy[action.reason] ?? 0) + 1;
      report.bytesUploaded += outcome.bytes;
      report.unknownOutcomes += outcome.unknownOutcomes;
      if (outcome.replaced) {
        report.replaced++;
        replacedIds.push({ fileId: outcome.replaced, path: action.path, reason: 'replaced', fromLocalDelete: false });
      }
    } catch (err) {
      if (signal.aborted && fatal !== null) return; // a sibling's fatal error stopped this one
      if (isFatal(err)) return stopOn(err);
      if (deps.signal?.aborted) return;
      if (err instanceof LocalFileError && err.code === 'changed' && tries < MAX_TORN_RETRIES) {
        // The client saw the file change under the upload and stopped it: the same as a torn one.
        logger.info('file changed during its upload; uploading it again', { path: action.path });
        return runUpload(action, tries + 1);
      }
      report.unknownOutcomes += unknownOutcomeAttemptsOf(err);
      const reason = errorMessage(err);
      const status = statusOf(err);
      const retryable = retryableOf(err) && status !== 413;
      // Recorded first, so that the file backs off even when its failure ends the run.
      ledger.recordFailure(action.path, reason, retryable, { size: action.local.size, mtimeMs: action.local.mtimeMs }, now());
      if (isUnavailable(err) && unavailableEnds(err)) return;
      report.failed.push({ path: action.path, reason });
      logger.warn('upload failed', { path: action.path, error: reason, requestId: requestIdOf(err) });
    }
  };
  // A job rejects only when the ledger itself failed (a disk error): that ends the run.
  for (const action of plan.uploads) {
    queue
      .add(async () => {
        await runUpload(action, 0);
        progress.filesDone++;
        progress.bytesDone += action.local.size;
        tick(action.path);
      })
      .catch(stopOn);
  }
  await queue.onIdle();
  // A record that cannot be committed leaves the ledger unusable: the run stops (before deletes).
  try {
    later.flush();
  } catch (err) {
    stopOn(err);
  }
  if (fatal === null && !deps.signal?.aborted && !report.interrupted) {
    for (const action of [...plan.deletes, ...replacedIds]) queue.add(() => runDelete(action)).catch(stopOn);
    await queue.onIdle();
  }
  deps.stop?.removeEventListener('abort', onStop);
  if (fatal !== null) throw fatal;
  return report;

  async function runDelete(action: DeleteAction): Promise<void> {
    try {
      if (action.fromLocalDelete && action.path !== null) {
        // The walk is a moment old: a file that came back since is not deleted.
        if (await stillPresent(action.path)) return;
        ledger.markDeleted(action.path, now());
      }
      const result = await deps.remote.delete(action.fileId, { signal });
      unavailableInARow = 0;
      ledger.deleteDone(action.fileId);
      report.deleted++;
      report.deletesBy[action.reason] = (report.deletesBy[action.reason] ?? 0) + 1;
      logger.debug(result.alreadyDeleted ? 'already deleted' : 'deleted', { fileId: action.fileId, path: action.path, reason: action.reason });
    } catch (err) {
      if (signal.aborted && fatal !== null) return;
      if (isFatal(err)) return stopOn(err);
      if (deps.signal?.aborted) return;
      const reason = errorMessage(err);
      ledger.deleteFailed(action.fileId, reason);
      if (isUnavailable(err) && unavailableEnds(err)) return;
      report.failedDeletes.push({ fileId: action.fileId, reason });
      logger.warn('delete failed; it stays pending', { fileId: action.fileId, error: reason, requestId: requestIdOf(err) });
    } finally {
      if (action.fromLocalDelete) {
        progress.filesDone++;
        tick(action.path ?? undefined);
      }
    }
  }
}

/** Default of `stillPresent`: a regular file (not a link, FIFO or folder) is at the path. */
async function regularFileAt(file: string): Promise<boolean> {
  try {
    return (await fs.lstat(file)).isFile();
  } catch {
    return false;
  }
}
