// The reconciliation's side of the delete guard: the verdict over the rows its pass collected in
// the ledger's temp tables (ledger/collected.ts), applied to the plan. A held or blocked verdict
// needs only counts; allowed deletes are read back a page at a time as the executor has room.
import type { Ledger } from '../ledger/ledger.js';
import { append } from '../arrays.js';
import { deleteVerdict, HELD_SAMPLE, heldOf, holdScope, type DeleteVerdict } from './decide.js';
import type { Execution } from './execute.js';
import type { PassInput, PassResult } from './stream.js';
import type { DeleteAction, DeleteSource, Plan } from './types.js';

/** Collected rows read at a time: the executor's queue holds at most 256 more. */
const PAGE = 1000;

/** The guard's verdict over a pass's collected rows, and (when held) the first paths to show. */
export interface PassJudgement {
  verdict: DeleteVerdict;
  sample: string[];
  /** Collected rows under folders the walk could not list: taken out, neither deleted nor forgotten. */
  unseenKept: number;
}

/** The allowed deletes of the collected rows, read from the ledger in path order, a page at a time. */
export function collectedDeletes(ledger: Ledger, count: number): DeleteSource {
  return pagedSource(
    count,
    (after) => ledger.collectedDeletesAfter(after, PAGE),
    (r) => ({ ...r, reason: 'deleted', fromLocalDelete: true }),
  );
}

/**
 * The collected rows whose copy the listing left out, a page at a time: each asked about before
 * its row is forgotten (DeleteAction.listedOut). Counted as no delete (`count` 0): none is one.
 */
export function collectedForgets(ledger: Ledger): DeleteSource {
  return pagedSource(
    0,
    (after) => ledger.collectedForgetsAfter(after, PAGE),
    (r) => ({ ...r, reason: 'deleted', fromLocalDelete: false, listedOut: 'row' }),
  );
}

type Row = { path: string; fileId: string };

function pagedSource(count: number, page: (after: string | null) => Row[], action: (row: Row) => DeleteAction): DeleteSource {
  return {
    count,
    *pages() {
      let after: string | null = null;
      for (;;) {
        const rows = page(after);
        if (rows.length === 0) return;
        yield rows.map(action);
        if (rows.length < PAGE) return;
        after = rows.at(-1)!.path;
      }
    },
  };
}

/**
 * Applies a pass's verdict: a block or a hold goes in the plan (a count, a reason, a sample); with
 * an execution the forgets (asked about first) and the allowed deletes are handed to it as paged
 * sources; a dry run (no execution) lists each allowed delete in the plan, as it shows them.
 */
export function applyPassJudgement(
  judged: PassJudgement,
  plan: Plan,
  parts: { ledger: Ledger; exec: Execution | null; pass: Pick<PassResult, 'added' | 'addedToUpload'> },
): void {
  const { verdict } = judged;
  plan.unseenKept = judged.unseenKept;
  if (verdict.kind === 'blocked') {
    plan.deletesBlocked = verdict.reason;
    return;
  }
  if (verdict.kind === 'held') plan.held = heldOf(verdict, judged.sample);
  const { ledger, exec, pass } = parts;
  plan.movesWaiting = waitingMoves(ledger, verdict, pass, exec);
  const deletes = (verdict.kind === 'allow' ? verdict.deletes : 0) - plan.movesWaiting;
  if (!exec) {
    if (deletes > 0) for (const page of collectedDeletes(ledger, deletes).pages()) append(plan.deletes, page);
    return;
  }
  // Paths whose copy the listing left out (deleted by someone else?) while the file went too:
  // asked about with the deletes, each row forgotten once the API says its copy is gone.
  if (verdict.forgets > 0) exec.addCollectedDeletes(collectedForgets(ledger));
  if (deletes > 0) exec.addCollectedDeletes(collectedDeletes(ledger, deletes));
}

/**
 * How many of the allowed deletes wait, set aside in the ledger: the old copies of moved files
 * whose new copy was not stored (its upload failed, a full storage refused it, or it waits on an
 * earlier failure) stay until it is (rule 2). Without an execution (a dry run, `status`) the
 * uploads the pass planned count as stored.
 */
export function waitingMoves(
  ledger: Ledger,
  verdict: DeleteVerdict,
  pass: Pick<PassResult, 'added' | 'addedToUpload'>,
  exec: Execution | null,
): number {
  const stored = exec ? exec.movesStored : pass.addedToUpload;
  return verdict.kind === 'allow' && verdict.deletes > 0 && stored < pass.added ? ledger.holdWaitingMoves() : 0;
}

/**
 * Rule 4 over the deletes a finished pass collected (decide.ts `deleteVerdict`), judged on the
 * ledger's counts: nothing if the walk missed a folder (unless `unseen` names every folder it
 * missed: then the rows under them are taken out, unseen, and the rest judged as after a complete
 * walk) or found nothing. The remote side counts as complete: a reconciliation read it whole, and
 * `status` trusts the ledger for it. Only a held verdict reads paths: the first few, to show.
 */
export function judgePass(
  pass: PassResult,
  walkComplete: boolean,
  input: Pick<PassInput, 'tracked' | 'options' | 'ledger'>,
  unseen?: readonly string[] | null,
): PassJudgement {
  const scope = holdScope(walkComplete, unseen);
  const unseenKept = pass.gone > 0 && scope !== null && scope.length > 0 ? input.ledger.keepUnseen(scope) : 0;
  const summary = pass.gone === 0 ? { deletable: 0, forgets: 0, moved: 0 } : input.ledger.collectedSummary();
  const verdict = deleteVerdict(summary, {
    localComplete: scope !== null,
    remoteComplete: true,
    localEmpty: pass.found === 0,
    tracked: input.tracked,
    options: input.options,
  });
  return { verdict, sample: verdict.kind === 'held' ? input.ledger.collectedSample(HELD_SAMPLE) : [], unseenKept };
}
