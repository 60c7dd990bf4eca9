// Printing a sync report on stdout, the same for a one-shot sync and one run by the daemon.
import type { SyncReport } from '../sync/reconcile.js';
import { summaryLines } from '../sync/report.js';
import { write, writeJson } from './shared.js';

/** Prints a sync report: JSON for scripts, or the summary lines. */
export function printReport(report: SyncReport, json: boolean): void {
  if (json) writeJson(toJson(report));
  else for (const line of summaryLines(report)) write(line);
}

/** The report for scripts: times in ISO 8601. */
function toJson(report: SyncReport): unknown {
  return {
    ...report,
    startedAt: new Date(report.startedAt).toISOString(),
    finishedAt: new Date(report.finishedAt).toISOString(),
  };
}
