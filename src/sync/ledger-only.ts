// A plan's changes that need the ledger only, no request: adoptions, settled rows, stat updates
// and recorded skips, applied before any upload starts; the ids the listing left out are handed
// back to be asked about (DeleteAction.listedOut).
import type { Ledger } from '../ledger/ledger.js';
import type { Logger } from '../log.js';
import type { DeleteAction, Plan } from './types.js';
import { adopt } from './upload.js';

/**
 * Applies `plan`'s ledger-only changes at time `t` (one transaction each); returns the old copies
 * the adoptions replaced and the ids the listing left out, to handle after the uploads.
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
  // What the listing left out is asked about after the uploads, not taken on its word (DeleteAction.listedOut).
  const pending = plan.alreadyGone.length > 0 ? new Map(ledger.pendingDeletes().map((d) => [d.fileId, d])) : undefined;
  for (const fileId of plan.alreadyGone) {
    const { path = null, reason = 'replaced' } = pending?.get(fileId) ?? {};
    replacedIds.push({ fileId, path, reason, fromLocalDelete: false, listedOut: 'pending' });
  }
  for (const p of plan.forget) {
    const row = ledger.fileByPath(p);
    if (row) replacedIds.push({ fileId: row.fileId, path: p, reason: 'deleted', fromLocalDelete: false, listedOut: 'row' });
  }
  ledger.updateStats(plan.statUpdates);
  for (const skip of plan.skips) if (skip.record) ledger.recordFailure(skip.path, skip.reason, skip.record.retry, skip.record.stat, t);
  return replacedIds;
}
