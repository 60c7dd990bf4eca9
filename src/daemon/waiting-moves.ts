// A move whose new copy is not stored keeps its old copy (DESIGN.md rules 2 and 4), in the daemon's
// delete batches as in a reconciliation: a gone path pairs with a new path of the same content
// whose upload failed, and waits with it.
import type { Config } from '../config.js';
import type { FileRow, Ledger } from '../ledger/ledger.js';
import { comparePaths } from '../local/order.js';
import type { PathFilter } from '../local/types.js';
import { statOne } from '../local/walk.js';
import type { MoveSide } from '../sync/moves.js';

/** What the pairing reads: the delete batch's deps (pathsync.ts `PathSyncDeps`). */
export interface WaitingDeps {
  config: () => Config;
  filter: () => PathFilter;
  ledger: Ledger;
  signal: AbortSignal;
}

/** Failed new paths a batch looks at at most (an lstat each, no read): past that, it decides nothing. */
export const MAX_LOOKED_AT = 10_000;

/** Which gone rows of a batch wait for a move's new copy. */
export interface WaitingMoves {
  /** Gone paths whose old copy stays: each pairs with a failed new path of its content. */
  kept: Set<string>;
  /** More failed new paths could pair than the batch looks at: it deletes nothing, the rows wait. */
  undecided: boolean;
}

/**
 * The gone rows a batch keeps, per content as a reconciliation counts them:
 * min(gone, failed + stored) − min(gone, stored), where `stored` are the content's uploads of the
 * window (the batch's moves) and `failed` the new paths (no ledger row) whose upload of that content
 * failed and whose file is still the one that failed (same size and mtime: its job has not run
 * again), whether the failure still holds or its retry is due: either way the content is not
 * stored. The failure row says which content failed, so no file is read. The last rows in path
 * order are kept, as a reconciliation keeps them. A failure recorded without its content (a file
 * that could not be read, or a row from before schema 5) keeps nothing.
 */
export async function movesWaitingOnFailures(
  deps: WaitingDeps,
  gone: readonly FileRow[],
  stored: readonly MoveSide[],
  maxLookedAt = MAX_LOOKED_AT,
): Promise<WaitingMoves> {
  const kept = new Set<string>();
  const contents = [...new Set(gone.map((row) => row.sha256))];
  const failed = contents.length === 0 ? [] : deps.ledger.failedNewPathsOf(contents, maxLookedAt + 1);
  if (failed.length > maxLookedAt) return { kept, undecided: true };
  if (failed.length === 0) return { kept, undecided: false };
  const config = deps.config();
  const waiting = new Map<string, number>(); // sha256 → failed new paths holding it
  for (const f of failed) {
    // Presence only: with a 0-byte limit no file is read.
    const found = await statOne(config.root, f.path, {
      filter: deps.filter(),
      followSymlinks: config.followSymlinks,
      maxFileBytes: 0,
      known: () => undefined,
      signal: deps.signal,
      stateMarkers: true,
    });
    // Gone, excluded, not a file, or changed since it failed: its own job decides what it holds now.
    if (typeof found === 'string' || 'kind' in found || found.size !== f.size || found.mtimeMs !== f.mtimeMs) continue;
    waiting.set(f.sha256, (waiting.get(f.sha256) ?? 0) + 1);
  }
  const storedOf = new Map<string, number>();
  for (const { sha256 } of stored) if (sha256 !== null) storedOf.set(sha256, (storedOf.get(sha256) ?? 0) + 1);
  const goneOf = new Map<string, number>();
  for (const row of gone) goneOf.set(row.sha256, (goneOf.get(row.sha256) ?? 0) + 1);
  const keep = new Map<string, number>();
  for (const [sha256, f] of waiting) {
    const g = goneOf.get(sha256) ?? 0;
    const s = storedOf.get(sha256) ?? 0;
    keep.set(sha256, Math.min(g, f + s) - Math.min(g, s));
  }
  for (const row of [...gone].sort((a, b) => comparePaths(b.path, a.path))) {
    const left = keep.get(row.sha256) ?? 0;
    if (left === 0) continue;
    keep.set(row.sha256, left - 1);
    kept.add(row.path);
  }
  return { kept, undecided: false };
}
