// `files-sync sync`: one reconciliation, or a request to the running daemon to do one.
import fs from 'node:fs';
import path from 'node:path';
import { loadApiKey, loadConfig } from '../config.js';
import { readLock } from '../daemon/lock.js';
import { ExitCode, SyncError } from '../errors.js';
import { Ledger } from '../ledger/ledger.js';
import { ProgressView, summaryLines } from '../report.js';
import { reconcile, type SyncReport } from '../sync/reconcile.js';
import { clientFor, lockStateDir, ledgerPath, loggerFor, openLedger, write, type Command } from './shared.js';

/** Prints a sync report: JSON for scripts, or the summary lines. */
export function printReport(report: SyncReport, json: boolean): void {
  if (json) write(JSON.stringify(report, null, 2));
  else for (const line of summaryLines(report)) write(line);
}

/** `files-sync sync`. */
export const sync: Command = async (context) => {
  const config = loadConfig(context.overrides, context.env);
  const logger = loggerFor(context, config);
  const holder = readLock(path.join(config.stateDir, 'lock'));
  if (holder?.holder === 'daemon' && !context.dryRun) {
    const { syncThroughDaemon } = await import('../daemon/control.js');
    return syncThroughDaemon(config, context, logger);
  }
  const apiKey = loadApiKey(config, context.env);
  // A dry run writes nothing, so it needs no lock and may run beside a daemon or another sync.
  const lock = context.dryRun ? null : lockStateDir(config, 'sync');
  const exists = fs.existsSync(ledgerPath(config));
  const ledger = context.dryRun ? (exists ? openLedger(config, { readOnly: true }) : Ledger.open(':memory:')) : openLedger(config);
  const client = clientFor(config, apiKey, logger);
  const controller = new AbortController();
  const stop = () => controller.abort(new SyncError('interrupted', ExitCode.fileFailures));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const tty = Boolean(process.stderr.isTTY) && !context.json;
  const view = new ProgressView(process.stderr, tty);
  try {
    const report = await reconcile({
      config,
      ledger,
      remote: client,
      logger: logger.child({ module: 'sync' }),
      allowMassDelete: context.allowMassDelete,
      dryRun: context.dryRun,
      signal: controller.signal,
      onProgress: (phase, p) => view.update(phase, p),
    });
    view.finish();
    printReport(report, context.json);
    if (controller.signal.aborted) return ExitCode.fileFailures;
    return report.exitCode;
  } finally {
    view.finish();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await client.close();
    ledger.close();
    lock?.release();
  }
};
