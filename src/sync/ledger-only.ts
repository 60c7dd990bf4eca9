// A plan's changes that need the ledger only, no request: adoptions, settled and gone rows,
// forgotten paths, stat updates and recorded skips, applied before any upload starts.
import type { Ledger } from '../ledger/ledger.js';
import type { Logger } from '../log.js';
import type { DeleteAction, Plan } from './types.js';
import { adopt } from './upload.js';

/**
 * Applies `plan`'s ledger-only changes at time `t` (one transaction each); returns the old copies
 * the adoptions replaced, to delete after the uploads.
 */
export function applyLedgerOnly(plan: Plan, ledger: Ledger, t: number, logger: Logger): DeleteAction[] {
  const replacedIds: DeleteAction[] = [];
  ledger.addPendingDeletes(
    plan.deletes.filter((d) => d.reason === 'orphan').map((d) => ({ fileId: d.fileId, path: d.path, reason: d.reason })),
    t,
  );
  for (const adoption of plan.adoptions) {
    const replaced = adopt(adoption, ledger, t, logger);
    if (replaced) replacedIds.push({ fileId: replaced, path: adoption.local.path, reason: 'replaced', fromLocalDelete: false });
  }
  const adoptedRows = new Set(plan.adoptions.map((a) => a.inFlight.id));
  for (const id of plan.settledInFlight) if (!adoptedRows.has(id)) ledger.settleInFlight(id);
  for (const id of plan.alreadyGone) ledger.deleteDone(id);
  for (const p of plan.forget) ledger.forgetFile(p);
  ledger.updateStats(plan.statUpdates);
  for (const skip of plan.skips) if (skip.record) ledger.recordFailure(skip.path, skip.reason, skip.record.retry, skip.record.stat, t);
  return replacedIds;
}
