// The last run of each kind (sync, adopt, the daemon's reconciliations), kept in the ledger's meta
// table with its exit code, so that `status` reports failed and interrupted runs too.
import type { Ledger } from '../ledger/ledger.js';

/** One recorded run. */
export interface RunRecord {
  /** ISO 8601. */
  at: string;
  exitCode: number;
  /** Null when the run ended normally; else "interrupted" or the error that stopped it. */
  outcome: string | null;
}

/** The kinds of runs status reports. */
export type RunKind = 'sync' | 'adopt';

/** Records a finished run; a ledger that cannot take the write is left as it is (the run's own error says why). */
export function recordRun(ledger: Ledger, kind: RunKind, exitCode: number, outcome: string | null): void {
  ledger.setMetaJson(`run:${kind}`, { at: new Date().toISOString(), exitCode, outcome } satisfies RunRecord);
}

/** The last recorded run of a kind, if any. */
export function lastRun(ledger: Ledger, kind: RunKind): RunRecord | null {
  return ledger.getMetaJson<RunRecord>(`run:${kind}`) ?? null;
}
