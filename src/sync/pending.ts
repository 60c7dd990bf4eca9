// What a sync would do now as far as the ledger tells (`status`): the reconciliation's streaming
// pass (stream.ts) over the sorted walk and the ledger's paged rows, with no request, no ledger
// write, and only counts kept: memory holds a page of rows and the folders being walked.
import type { Config } from '../config.js';
import type { Ledger } from '../ledger/ledger.js';
import { buildFilter } from '../local/filter.js';
import { checkRoot } from '../local/root.js';
import { SortedWalk } from '../local/walk.js';
import type { Logger } from '../log.js';
import { emptyPlan } from './plan.js';
import { passScanOptions, planOptionsFor } from './session.js';
import { judgePass, waitingMoves } from './collected.js';
import { runPass } from './stream.js';

/** Uploads and deletes a sync would do now. */
export interface PendingCounts {
  toUpload: number;
  /** The deletes the guard would allow now, and the pending deletes recorded (old copies, removed files). */
  toDelete: number;
  /** Old copies of moved files that a sync would keep: their new path waits on a failure. */
  movesWaiting: number;
  /**
   * Deletes a sync would not make (rule 4): held for the user's word (the remote copies it would
   * delete once allowed, moved files' old copies included), or blocked (count null).
   */
  deletesHeld: { count: number | null; reason: string } | null;
}

/**
 * Counts what a sync would do now, trusting the ledger for what the workspace holds (every recorded
 * id is present; pending deletes are all still to do), as `sync --dry-run` would plan it against a
 * workspace that matches the ledger. Reads the ledger only: it may be opened read-only beside a
 * running daemon. A file the ledger vouches for (same size, mtime, inode) is not read.
 */
export async function pendingCounts(config: Config, ledger: Ledger, logger: Logger): Promise<PendingCounts> {
  const { filter } = await buildFilter(config);
  const walk = await SortedWalk.open(config.root, { filter, followSymlinks: config.followSymlinks, logger });
  const tracked = ledger.fileCount();
  // A root that is not the folder the ledger knows blocks every delete (rule 4), as in a sync.
  const { distrust } = checkRoot(config, ledger);
  const options = planOptionsFor(config, { now: Date.now(), rootDistrust: distrust });
  const pass = await runPass({
    ledger,
    tracked,
    walk,
    scan: passScanOptions(config, ledger, { filter, logger }),
    options,
    adoptedPaths: new Set(),
    // A one-shot sync retries every retryable failure now: only the others hold a file back.
    failures: new Map(
      ledger
        .failures()
        .filter((f) => !f.retryable)
        .map((f) => [f.path, f]),
    ),
    exec: null,
    countOnly: true,
    ledgerTrusted: true,
    plan: emptyPlan(),
    logger,
  });
  const { verdict } = judgePass(pass, walk.complete, { tracked, options, ledger }, walk.unseenFolders());
  // Moved files whose new path waits on a failure keep their old copy, as a sync would.
  const movesWaiting = waitingMoves(ledger, verdict, pass, null);
  const allowed = verdict.kind === 'allow' ? verdict.deletes - movesWaiting : 0;
  const deletesHeld =
    verdict.kind === 'held'
      ? { count: verdict.count, reason: verdict.reason }
      : verdict.kind === 'blocked'
        ? { count: null, reason: verdict.reason }
        : null;
  return { toUpload: pass.uploads, toDelete: allowed + ledger.pendingDeleteCount(), movesWaiting, deletesHeld };
}
