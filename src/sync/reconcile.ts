// A full reconciliation: check the root, read the remote side, then one pass that merges the sorted
// walk with the ledger and uploads as it goes (stream.ts), the guard over the deletes it collected,
// the deletes, a sweep for the orphans lost answers may have left, and the record of the result.
// Used by `sync` and by the daemon; its memory does not grow with the tree.
import { lookalikeHold, lookalikesOf } from './lookalikes.js';
import { GuardError, isLedgerFault } from '../errors.js';
import { isInterruption } from '../failure.js';
import type { Logger } from '../log.js';
import type { Ledger } from '../ledger/ledger.js';
import { buildFilter } from '../local/filter.js';
import { checkRoot } from '../local/root.js';
import { RootError, SortedWalk } from '../local/walk.js';
import { Execution } from './execute.js';
import { reportOf, type SyncReport } from './outcome.js';
import { applyPassJudgement, judgePass } from './collected.js';
import { emptyPlan, planRemote } from './plan.js';
import {
  finish,
  inFlightSides,
  ledgerView,
  logPlan,
  planOptions,
  readRemote,
  recordReport,
  recordUnclaimed,
  requestCount,
  restoreFindings,
  sweepOrphans,
  type ReconcileOptions,
  type Run,
} from './reconcile-steps.js';
import { parseRestoreWindow, RESTORE_WINDOW_META_KEY } from './restore-window.js';
import { executeDepsFor, passScanOptions } from './session.js';
import type { RemoteSide } from './remote-view.js';
import { runPass, type PassInput, type PassResult } from './stream.js';
import type { ExecuteReport, LedgerView, Plan, PlanOptions, Progress } from './types.js';

export { ALREADY_REMOTE, type Counts, type SyncReport } from './outcome.js';
export type { ReconcileOptions } from './reconcile-steps.js';
export { ORPHAN_SKEW_MS } from './orphans.js';

/**
 * Small files' bytes kept from their hash to their upload: each such file is read once, not twice
 * (four file operations fewer per upload). The upload queue's bound (1,000) caps what is held at
 * 64 MiB whatever the tree's size.
 */
const KEEP_FILE_BYTES = 64 * 1024;

/**
 * How far back before the plan a look-alike can still fall in an intent's window: the skew
 * allowance and the offset's error are seconds; the rest covers a listing that took minutes.
 */
const LOOKALIKE_REACH_MS = 15 * 60_000;

/** Runs one full reconciliation. Throws only fatal errors (config, 401, unreachable, root missing). */
export async function reconcile(options: ReconcileOptions): Promise<SyncReport> {
  const { config, ledger, remote, logger } = options;
  const now = options.now ?? Date.now;
  const startedAt = now();
  const root = checkRoot(config, ledger, options.allowMassDelete ?? false);
  const { filter, options: filterOptions } = options.filter ?? (await buildFilter(config));
  const scanSignal = options.stop ? (options.signal ? AbortSignal.any([options.signal, options.stop]) : options.stop) : options.signal;
  const run: Run = {
    options,
    now,
    startedAt,
    requestsBefore: requestCount(remote),
    root,
    filter,
    filterOptions,
    scanSignal,
    restoreWindow: parseRestoreWindow(ledger.getMetaJson(RESTORE_WINDOW_META_KEY)),
    tracked: ledger.fileCount(),
  };
  const walk = await SortedWalk.open(config.root, { filter, followSymlinks: config.followSymlinks, signal: scanSignal, logger }).catch(
    rootGuard,
  );
  const remoteSide = await readRemote(run);
  logger.debug('remote side read', { mode: remoteSide.choice.mode, why: remoteSide.choice.reason, ...remoteSide.requests });

  const thePlan = emptyPlan();
  const view = ledgerView(run);
  const sides = await inFlightSides(run, view.inFlight);
  const planOpts = planOptions(run);
  const { adoptedPaths, ours } = planRemote({ ledger: view, remote: remoteSide.view, listed: true, ...sides, options: planOpts }, thePlan);
  thePlan.foreign = remoteSide.foreign ?? thePlan.foreign;
  recordUnclaimed(thePlan, ledger, logger, now(), !options.dryRun);

  const exec = options.dryRun ? null : new Execution(thePlan, executeDeps(run));
  exec?.begin();
  // The hold needs every look-alike; the intents only those an intent's window can reach.
  const since = planOpts.holdLookalikes ? undefined : (remote.serverNow?.() ?? Date.now()) - LOOKALIKE_REACH_MS;
  const lookalikes = lookalikesOf(remoteSide.view.files, ours, since);
  const holds = planOpts.holdLookalikes ? lookalikeHold(lookalikes, planOpts.remoteName) : undefined;
  const pass = await runPass(
    passInput(run, {
      walk,
      exec,
      thePlan,
      planOpts,
      adoptedPaths,
      holds,
      lookalikes,
      remoteSide,
      view,
      bytesHashedBefore: sides.bytesHashed,
    }),
  ).catch((err: unknown) => settleThenThrow(run, exec, err));
  if (pass !== null) logWalkDone(logger, pass, thePlan, walk.complete);
  await exec?.finishUploads();
  if (pass === null) return recordReport(run, interruptedReport(run, thePlan, exec!, remoteSide.view.files));

  for (const skip of thePlan.walkSkipped) logger.debug('skipped', { path: skip.path, reason: skip.reason });
  const judged = judgePass(pass, walk.complete, { tracked: run.tracked, options: planOpts, ledger }, walk.unseenFolders());
  applyPassJudgement(judged, thePlan, { ledger, exec, pass });
  if (run.restoreWindow) restoreFindings(run, thePlan, remoteSide.view.files, pass.restorePaths);
  logPlan(thePlan, logger, exec && judged.verdict.kind === 'allow' ? judged.verdict.deletes - thePlan.movesWaiting : 0);
  const report = (result: ExecuteReport | null) =>
    reportOf({
      plan: thePlan,
      result,
      dryRun: options.dryRun ?? false,
      startedAt,
      finishedAt: now(),
      apiRequests: requestCount(remote) - run.requestsBefore,
      sizes: sizesOf(ledger, remoteSide.view.files),
    });
  if (!exec) return report(null);
  await exec.finishDeletes();
  const result = exec.end();
  if (result.unknownOutcomes > 0 && !options.signal?.aborted && !result.interrupted) await sweepOrphans(run, executeDeps(run), result);
  finish(run, thePlan, result, walk, remoteSide);
  return recordReport(run, report(result));
}

/** The pass's input: the walk, where its uploads go, and what the remote side settled before it. */
function passInput(
  run: Run,
  parts: {
    walk: SortedWalk;
    exec: Execution | null;
    thePlan: Plan;
    planOpts: PlanOptions;
    adoptedPaths: ReadonlySet<string>;
    holds: PassInput['holds'];
    lookalikes: PassInput['lookalikes'];
    remoteSide: RemoteSide;
    view: LedgerView;
    bytesHashedBefore: number;
  },
): PassInput {
  const { config, ledger, logger, dryRun, onProgress } = run.options;
  return {
    ledger,
    tracked: run.tracked,
    walk: parts.walk,
    scan: passScanOptions(config, ledger, {
      filter: run.filter,
      signal: run.scanSignal,
      logger,
      ...(dryRun ? {} : { keepContent: { maxFileBytes: KEEP_FILE_BYTES, remainingBytes: Infinity } }),
    }),
    options: parts.planOpts,
    adoptedPaths: parts.adoptedPaths,
    failures: new Map(parts.view.failures.map((f) => [f.path, f])),
    failurePaths: dryRun ? undefined : new Set(ledger.failures().map((f) => f.path)),
    holds: parts.holds,
    lookalikes: parts.lookalikes,
    exec: parts.exec,
    plan: parts.thePlan,
    restoreNames: run.restoreWindow ? new Set(parts.remoteSide.view.files.map((f) => f.filename)) : undefined,
    logger,
    bytesHashedBefore: parts.bytesHashedBefore,
    onProgress: (walked, bytes) => onProgress?.('scan', { filesDone: walked, filesTotal: 0, bytesDone: bytes, bytesTotal: 0 }),
  };
}

/** A root that went away or was replaced under the walk is a guard error (exit 3): nothing is deleted. */
function rootGuard(err: unknown): never {
  if (err instanceof RootError) throw new GuardError(`${err.message}: nothing was deleted`, { cause: err });
  throw err;
}

/**
 * The pass failed: the uploads it queued settle first (nothing outlives the run). Ended by the stop
 * (Ctrl-C; a second one, or the grace's end, may have cut the transfers too): null, and the run
 * reports what was done, interrupted (or the fatal error its uploads met: `Execution.end`). Any
 * other error is the run's outcome, stop or not; a ledger fault the uploads met wins over it.
 */
async function settleThenThrow(run: Run, exec: Execution | null, err: unknown): Promise<PassResult | null> {
  await exec?.finishUploads();
  if (isLedgerFault(exec?.fatal)) throw exec.fatal;
  // A dry run has no execution to report: its interruption is thrown, as one before the pass is.
  if (exec !== null && run.options.stop?.aborted && isInterruption(err)) return null;
  return rootGuard(err);
}

/** The report of a run a stop ended during its pass: what was done, no delete. */
function interruptedReport(run: Run, thePlan: Plan, exec: Execution, files: Parameters<typeof sizesOf>[1]): SyncReport {
  const result = exec.end();
  result.interrupted = true;
  const report = reportOf({
    plan: thePlan,
    result,
    dryRun: false,
    startedAt: run.startedAt,
    finishedAt: run.now(),
    apiRequests: requestCount(run.options.remote) - run.requestsBefore,
    sizes: sizesOf(run.options.ledger, files),
  });
  // The total is what the scan had found when it stopped, not the whole tree.
  if (report.interrupted) report.interrupted.scanDone = false;
  return report;
}

function executeDeps(run: Run) {
  const { options } = run;
  return executeDepsFor(
    options.config,
    { remote: options.remote, ledger: options.ledger, logger: options.logger, filter: run.filter },
    {
      now: run.now,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.stop ? { stop: options.stop } : {}),
      onProgress: (p: Progress) => options.onProgress?.('sync', p),
    },
  );
}

/** Remote sizes for a dry run's planned deletes: the files read, else the size of a row whose copy the listing found. */
function sizesOf(ledger: Ledger, files: readonly { id: string; size_bytes: number }[]): (fileId: string) => number | undefined {
  const bySize = new Map(files.map((f) => [f.id, f.size_bytes]));
  return (fileId) => bySize.get(fileId) ?? ledger.listedSize(fileId);
}

/** The walk and the pairing are done (uploads they queued may still run): what they found and hashed. */
function logWalkDone(logger: Logger, pass: PassResult, thePlan: Plan, complete: boolean): void {
  const { found, filesHashed, bytesHashed } = pass;
  // Past the list, the walk's skips are counted with the decisions' (Plan.skipsNotListed): rarely any.
  const skipped = thePlan.walkSkipped.length + thePlan.skipsNotListed.skipped;
  logger.debug('walk done', { found, skipped, complete, filesHashed, bytesHashed });
}
