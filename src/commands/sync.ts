// `files-sync sync`: one reconciliation, or a request to the running daemon to do one. Ctrl-C or
// SIGTERM stops new work, lets transfers in flight end (bounded) and reports an interruption.
import path from 'node:path';
import { loadApiKey, loadConfig, type Config } from '../config.js';
import { readLock } from '../lock.js';
import { isInterruption } from '../failure.js';
import { ExitCode, SyncError, errorMessage, exitCodeFor, isLedgerFault } from '../errors.js';
import { redact, type Logger } from '../log.js';
import { ProgressView } from '../sync/report.js';
import { reconcile } from '../sync/reconcile.js';
import { checkedLedger } from '../sync/api-target.js';
import { holdHeapFlat, LONG_PASS_FILES } from '../v8-flags.js';
import { printReport } from './print-report.js';
import { recordRun } from './runs.js';
import { clientFor, lockAndOpen, lockStateDir, openLedgerFor, loggerFor, writeJson, type Command, type CommandContext } from './shared.js';

/** How long transfers in flight may take to end after Ctrl-C before they are cut. */
const GRACE_MS = 10_000;
/** How often, during the grace, the stop looks whether any request is still on the wire. */
const IDLE_POLL_MS = 50;

/**
 * `files-sync sync`. With `--json`, one document on stdout whatever the end: the report, or (a run
 * that ends without one: an error, a stop during the scan) its exit code and why, as stderr says it.
 */
export const sync: Command = async (context) => {
  const out = { printed: false };
  try {
    return await syncOnce(context, out);
  } catch (err) {
    // Once the report is out (a ledger fault recording the run may follow it), it is the document.
    if (context.json && !out.printed) writeJson({ exitCode: exitCodeFor(err), error: redact(errorMessage(err)) });
    throw err;
  }
};

async function syncOnce(context: CommandContext, out: { printed: boolean }): Promise<number> {
  const config = loadConfig(context.overrides, context.env);
  const logger = loggerFor(context, config);
  const holder = readLock(path.join(config.stateDir, 'lock'));
  if (holder?.holder === 'daemon' && !context.dryRun) return throughDaemon(config, context, logger);
  const apiKey = loadApiKey(config, context.env);
  const client = clientFor(config, apiKey, logger);
  // A dry run writes nothing, so it needs no lock and may run beside a daemon or another sync.
  const { lock, ledger } = await lockAndOpen(
    client,
    () => (context.dryRun ? null : lockStateDir(config, 'sync')),
    () => checkedLedger(openLedgerFor(config, context.dryRun), config, !context.dryRun),
  );
  if (ledger.fileCount() >= LONG_PASS_FILES) holdHeapFlat();
  const tty = Boolean(process.stderr.isTTY) && !context.json;
  const view = new ProgressView(process.stderr, tty);
  const stop = interruption(view, () => client.stats.inFlight === 0);
  try {
    const report = await reconcile({
      config,
      ledger,
      remote: client,
      logger: logger.child({ module: 'sync' }),
      allowMassDelete: context.allowMassDelete,
      allowDuplicates: context.allowDuplicates === true,
      dryRun: context.dryRun,
      signal: stop.hard,
      stop: stop.soft,
      onProgress: (phase, p) => view.update(phase, p),
    });
    view.finish();
    printReport(report, context.json);
    out.printed = true;
    if (!context.dryRun) recordRun(ledger, 'sync', report.exitCode, report.interrupted ? 'interrupted' : null);
    if (report.interrupted) {
      const { done, total, scanDone } = report.interrupted;
      const of = scanDone === false ? `${total} found before the scan stopped` : `${total}`;
      process.stderr.write(`files-sync: interrupted: ${done} of ${of} done; run sync again\n`);
    }
    return report.exitCode;
  } catch (err) {
    view.finish();
    // Ended by the stop itself (before the pass: a pass the stop ends reports what it did). Any other
    // error (a full storage, a refused key, a ledger fault...) is the run's outcome, stop or not.
    const interrupted = stop.soft.aborted && isInterruption(err) && !isLedgerFault(err);
    const code = interrupted ? ExitCode.interrupted : exitCodeFor(err);
    if (!context.dryRun) recordRun(ledger, 'sync', code, interrupted ? 'interrupted' : errorMessage(err));
    if (!interrupted) throw err;
    const { upload, delete: deletes } = client.stats.byKind;
    const what = upload + deletes === 0 ? 'nothing was uploaded or deleted' : 'the ledger holds every transfer that finished';
    process.stderr.write(`files-sync: interrupted while scanning: ${what}; run sync again\n`);
    if (context.json) writeJson({ exitCode: ExitCode.interrupted, error: `interrupted while scanning: ${what}` });
    return ExitCode.interrupted;
  } finally {
    view.finish();
    stop.dispose();
    await client.close();
    ledger.close();
    lock?.release();
  }
}

/**
 * SIGINT / SIGTERM: the first stops new work (`soft`) and gives transfers in flight GRACE_MS
 * before `hard` cuts them; a second one cuts them at once. Once no request is on the wire (`idle`),
 * what still waits (a rate-limit slot, a back-off, a file to settle) sends nothing more: `hard`
 * ends it then, rather than at the end of the grace.
 */
function interruption(view: ProgressView, idle: () => boolean): { soft: AbortSignal; hard: AbortSignal; dispose: () => void } {
  const soft = new AbortController();
  const hard = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;
  const onSignal = () => {
    const reason = new SyncError('interrupted', ExitCode.interrupted);
    if (soft.signal.aborted) return hard.abort(reason);
    soft.abort(reason);
    view.finish();
    process.stderr.write(
      `files-sync: stopping: no new transfers; those in flight get up to ${GRACE_MS / 1000} s (Ctrl-C again to stop now)\n`,
    );
    timer = setTimeout(() => hard.abort(reason), GRACE_MS);
    poll = setInterval(() => idle() && hard.abort(reason), IDLE_POLL_MS);
    hard.signal.addEventListener('abort', () => clearInterval(poll), { once: true });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    soft: soft.signal,
    hard: hard.signal,
    dispose: () => {
      clearTimeout(timer);
      clearInterval(poll);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Hands the sync to the daemon; Ctrl-C leaves the client, and the daemon's reconciliation goes on. */
async function throughDaemon(config: Config, context: CommandContext, logger: Logger): Promise<number> {
  const { syncThroughDaemon } = await import('./daemon-client.js');
  const leave = new AbortController();
  // The hung-up connection may never end its read loop: the signal alone settles the wait.
  const left = new Promise<never>((_, reject) =>
    leave.signal.addEventListener('abort', () => reject(new SyncError('interrupted', ExitCode.interrupted))),
  );
  const onSignal = () => leave.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await Promise.race([syncThroughDaemon(config, context, logger, leave.signal), left]);
  } catch (err) {
    if (!leave.signal.aborted) throw err;
    process.stderr.write("files-sync: interrupted: the daemon's reconciliation goes on (files-sync status shows it)\n");
    if (context.json) writeJson({ exitCode: ExitCode.interrupted, error: "interrupted: the daemon's reconciliation goes on" });
    return ExitCode.interrupted;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
