// The executor: runs a plan against the Files API on a p-queue, uploads before deletes, and records
// every outcome in the ledger as it happens, so that a crash at any point loses nothing.
import { setMaxListeners } from 'node:events';
import path from 'node:path';
import PQueue from 'p-queue';
import { errorMessage, isLedgerFault } from '../errors.js';
import { endsRun, isStorageFull, isUnavailable, requestIdOf, retryableOf, statusOf } from '../failure.js';
import { LocalFileError, unknownOutcomeAttemptsOf } from '../remote/errors.js';
import { DeferredWrites } from './deferred.js';
import { IntentBatch, intentBatchSize } from './intents.js';
import { emptyExecuteReport } from './outcome.js';
import type { DeleteAction, DeleteSource, ExecuteDeps, ExecuteReport, Plan, Progress, UploadAction } from './types.js';
import { applyLedgerOnly } from './ledger-only.js';
import { deleteOne } from './delete-one.js';
import { uploadOne } from './upload.js';
import { QueueRoom } from './room.js';
import { defaultSleep, regularFileAt } from './waits.js';
import { append, pushListed } from '../arrays.js';

/** A torn upload is retried this many times before the path is left for the next run. */
const MAX_TORN_RETRIES = 3;
/**
 * Runs `plan`: adoptions and ledger-only changes first, then uploads, then deletes. A fatal error
 * (401, API unreachable) stops the queue and is rethrown after in-flight jobs have recorded theirs.
 */
export async function execute(plan: Plan, deps: ExecuteDeps): Promise<ExecuteReport> {
  return new Execution(plan, deps).run();
}

/**
 * One plan's execution: its counters, queue and stop, shared by the named steps. A reconciliation streams into it: `begin`,
 * `addUpload` as the merge decides (after `room`), `finishUploads`, the allowed deletes (`addCollectedDeletes`), `finishDeletes`.
 */
export class Execution {
  readonly now: () => number;
  readonly stillPresent: (relPath: string) => Promise<boolean>;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly report: ExecuteReport = emptyExecuteReport();
  readonly progress: Progress;
  readonly replacedIds: DeleteAction[] = []; // old copies (replaced, torn) to delete after the uploads
  readonly collected: DeleteSource[] = []; // deletes read a page at a time (addCollectedDeletes)
  readonly controller = new AbortController();
  readonly signal: AbortSignal;
  readonly queue: PQueue;
  private readonly roomIn: QueueRoom;
  /** The records of finished uploads, committed in groups; flushed before the deletes and at the end. */
  readonly later: DeferredWrites;
  /** The uploads' intents (rule 3), written a batch per transaction. */
  readonly intents: IntentBatch;
  readonly answered = new Set<string>(); // ids answered, not yet in the ledger (upload.ts)
  fatal: unknown = null;
  /** The storage is full (400 `storage_quota_exceeded`): no upload starts any more, but the deletes run; `end` throws it. */
  storageFull: unknown = null;
  /** Uploads of a move's new side (`addsContent`) stored: their contents are counted in the ledger for the guard. */
  movesStored = 0;
  unavailableInARow = 0;
  readonly streak: number;
  readonly onStop = () => {
    this.report.interrupted = true;
    this.queue.clear();
  };

  constructor(
    readonly plan: Plan,
    readonly deps: ExecuteDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.stillPresent = deps.stillPresent ?? ((relPath: string) => regularFileAt(path.join(deps.root, relPath)));
    this.sleep = deps.sleep ?? defaultSleep;
    // Files, not requests: an upload or a removed path is one (removed paths join as the deletes start); old copies are not.
    const bytesTotal = plan.uploads.reduce((sum, u) => sum + u.local.size, 0);
    this.progress = { filesDone: 0, filesTotal: plan.uploads.length, bytesDone: 0, bytesTotal };
    this.signal = deps.signal ? AbortSignal.any([deps.signal, this.controller.signal]) : this.controller.signal;
    this.queue = new PQueue({ concurrency: deps.concurrency });
    this.roomIn = new QueueRoom(this.queue);
    this.later = new DeferredWrites(deps.ledger);
    this.intents = new IntentBatch(deps.ledger, {
      maxBatch: intentBatchSize(deps.requestsPerMinute),
      settleMs: deps.settleMs,
      now: this.now,
      clockOffsetMs: () => deps.remote.clockOffsetMs?.() ?? null,
      mayStart: () => !this.ended && this.storageFull === null,
    });
    this.streak = deps.unavailableStreak ?? 3;
  }

  async run(): Promise<ExecuteReport> {
    this.begin();
    for (const action of this.plan.uploads) this.addUpload(action);
    await this.finishUploads();
    await this.finishDeletes();
    return this.end();
  }

  /** Applies the plan's ledger-only changes and starts listening for `stop`. */
  begin(): void {
    append(this.replacedIds, applyLedgerOnly(this.plan, this.deps.ledger, this.now(), this.deps.logger));
    this.report.adopted = this.plan.adoptions.length;
    // Waits (limiter, back-off) and streamed downloads listen on it; whole answers share one listener.
    setMaxListeners(this.deps.concurrency * 2 + 10, this.signal);
    const stop = this.deps.stop;
    if (stop?.aborted) this.onStop();
    else stop?.addEventListener('abort', this.onStop, { once: true });
  }

  /** True once nothing new may start: a fatal error, the caller's abort, or `stop`. */
  get ended(): boolean {
    return this.fatal !== null || this.deps.signal?.aborted === true || this.report.interrupted;
  }

  /** Resolves when the queue has room (the merge and the deletes wait here, so memory stays flat): room.ts. */
  room(): Promise<void> {
    return this.roomIn.wait();
  }
  /** Jobs waiting in the queue (not yet started). */
  get queued(): number {
    return this.queue.size;
  }

  /** Queues one upload (counted in the progress totals); ignored once the run has ended or the storage is full. */
  addUpload(action: UploadAction): void {
    if (this.ended || this.storageFull !== null) return;
    this.progress.filesTotal++;
    this.progress.bytesTotal += action.local.size;
    this.report.queued = (this.report.queued ?? 0) + 1;
    this.intents.queued(action);
    this.queue
      .add(async () => {
        this.intents.started(action);
        await this.runUpload(action, 0);
        this.progress.filesDone++;
        this.progress.bytesDone += action.local.size;
        this.tick(action.path);
      })
      .catch(this.stopOn);
  }

  /** Waits for the queued uploads, commits their records and removes the intents no upload took. */
  async finishUploads(): Promise<void> {
    await this.queue.onIdle();
    await this.intents.settled(); // a write ahead's fsync still running: its failure is raised by release()
    // A write that cannot be committed leaves the ledger unusable: the run stops (before deletes).
    for (const commit of [() => this.later.flush(), () => this.intents.release()]) {
      try {
        commit();
      } catch (err) {
        this.stopOn(err);
      }
    }
  }

  /** Adds deletes read a page at a time when their turn comes (a reconciliation's allowed ones), before the old copies. */
  addCollectedDeletes(source: DeleteSource): void {
    this.collected.push(source);
    this.report.collectedDeletes = (this.report.collectedDeletes ?? 0) + source.count;
  }

  /** The plan's deletes (as they stand now: the guard's are added after the merge), unless the run ended. */
  async finishDeletes(): Promise<void> {
    if (!this.ended) await this.runDeletes();
  }

  /** Stops listening; rethrows a fatal error a job met, or the full storage, else returns the report. */
  end(): ExecuteReport {
    this.deps.stop?.removeEventListener('abort', this.onStop);
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what a job threw, unchanged
    if (this.fatal !== null) throw this.fatal;
    if (this.storageFull !== null) {
      const { deleted } = this.report;
      if (deleted > 0) {
        this.deps.logger.warn(
          `the Files API storage is full: uploads stopped; deleted ${deleted} ${deleted === 1 ? 'copy' : 'copies'} no path needs any more, to make room`,
        );
      }
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what an upload threw, unchanged
      throw this.storageFull;
    }
    return this.report;
  }

  /** The deletes of the plan, the collected ones, then the old copies the uploads replaced, fed as the queue has room. */
  private async runDeletes(): Promise<void> {
    for (const d of this.plan.deletes) if (d.fromLocalDelete) this.progress.filesTotal++;
    for (const source of this.collected) this.progress.filesTotal += source.count;
    try {
      for (const action of this.deleteActions()) {
        await this.room();
        if (this.ended) break;
        this.queue.add(() => deleteOne(this, action)).catch(this.stopOn);
      }
    } catch (err) {
      // A page that cannot be read (ledger replaced, temp file full) is fatal, as a job's error is.
      this.stopOn(err);
    }
    await this.queue.onIdle();
  }

  /** Every delete in order; a collected source's next page is read only when its last is queued. */
  private *deleteActions(): Generator<DeleteAction> {
    yield* this.plan.deletes;
    for (const source of this.collected) for (const page of source.pages()) yield* page;
    yield* this.replacedIds;
  }

  tick(filePath?: string): void {
    const onProgress = this.deps.onProgress;
    if (onProgress === undefined) return;
    // A copy the listener may keep; one object a file, not three.
    const { filesDone, filesTotal, bytesDone, bytesTotal } = this.progress;
    onProgress(
      filePath === undefined
        ? { filesDone, filesTotal, bytesDone, bytesTotal }
        : { filesDone, filesTotal, bytesDone, bytesTotal, path: filePath },
    );
  }

  /** Ends the run with `err`: the first fatal error stands, unless a ledger fault comes later (it says more: exit 6). */
  private readonly stopOn = (err: unknown): true => {
    if (this.fatal === null || (isLedgerFault(err) && !isLedgerFault(this.fatal))) this.fatal = err;
    this.queue.clear();
    this.controller.abort(err);
    return true;
  };

  /** True when an "unavailable" failure ends the run (it has been recorded either way). */
  unavailableEnds(err: unknown): boolean {
    if (++this.unavailableInARow < this.streak) return false;
    this.stopOn(err);
    return true;
  }

  /** Whether a failed job's error is handled by the run itself: a sibling's fatal error, its own, or the caller's abort. */
  endedByRun(err: unknown): boolean {
    if (this.signal.aborted && this.fatal !== null) return this.stopOn(err); // a sibling's fatal error stopped this one
    if (isStorageFull(err)) {
      // No abort: the uploads in flight finish (stored or refused), none is cut into a possible orphan.
      this.storageFull ??= err;
      this.queue.clear();
      return true;
    }
    if (endsRun(err)) return this.stopOn(err);
    return this.deps.signal?.aborted === true;
  }

  private async runUpload(action: UploadAction, tries: number): Promise<void> {
    const { report, deps, signal, sleep, now, later, intents, answered } = this;
    try {
      const outcome = await uploadOne(action, { rehash: tries > 0, deps, signal, sleep, now, later, intents, answered });
      if (outcome.kind === 'torn') {
        report.unknownOutcomes += outcome.unknownOutcomes;
        this.replacedIds.push({ fileId: outcome.tornId, path: action.path, reason: 'torn', fromLocalDelete: false });
        if (outcome.gone) return this.uploadFailed(action, outcome.gone);
        if (this.storageFull !== null) return; // no upload starts any more: the path goes again next run
        this.deps.logger.info('file changed during its upload; uploading it again', { path: action.path });
        if (tries < MAX_TORN_RETRIES) return this.runUpload(action, tries + 1);
        if (!pushListed(report.failed, { path: action.path, reason: 'kept changing during upload; will try again next sync' }))
          report.failedNotListed++;
        return;
      }
      if (outcome.kind === 'unchanged') {
        report.unchangedAfterCheck++;
        return;
      }
      this.unavailableInARow = 0;
      report.uploaded++;
      report.uploadsBy[action.reason] = (report.uploadsBy[action.reason] ?? 0) + 1;
      report.bytesUploaded += outcome.bytes;
      report.unknownOutcomes += outcome.unknownOutcomes;
      if (action.addsContent && outcome.sha256 === action.local.sha256) {
        this.movesStored++;
        later.add(() => deps.ledger.collectStored([outcome.sha256]));
      }
      if (outcome.replaced) {
        report.replaced++;
        this.replacedIds.push({ fileId: outcome.replaced, path: action.path, reason: 'replaced', fromLocalDelete: false });
      }
    } catch (err) {
      if (this.endedByRun(err)) return;
      if (err instanceof LocalFileError && err.code === 'changed' && tries < MAX_TORN_RETRIES && this.storageFull === null) {
        // The client saw the file change under the upload and stopped it: the same as a torn one.
        this.deps.logger.info('file changed during its upload; uploading it again', { path: action.path });
        return this.runUpload(action, tries + 1);
      }
      this.uploadFailed(action, err);
    }
  }

  private uploadFailed(action: UploadAction, err: unknown): void {
    this.report.unknownOutcomes += unknownOutcomeAttemptsOf(err);
    const reason = errorMessage(err);
    const unavailable = isUnavailable(err);
    const retry = unavailable ? 'outage' : retryableOf(err) && statusOf(err) !== 413 ? 'backoff' : 'on-change';
    // Recorded first, so that the failure counts even when it ends the run.
    const { size, mtimeMs, sha256 } = action.local;
    this.deps.ledger.recordFailure(action.path, reason, retry, { size, mtimeMs, sha256 }, this.now());
    if (unavailable && this.unavailableEnds(err)) return;
    if (!pushListed(this.report.failed, { path: action.path, reason })) this.report.failedNotListed++;
    this.deps.logger.warn('upload failed', { path: action.path, error: reason, requestId: requestIdOf(err) });
  }
}
