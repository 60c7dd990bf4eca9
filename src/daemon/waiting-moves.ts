// A move whose new copy is not stored keeps its old copy (DESIGN.md rules 2 and 4), in the daemon's
// delete batches as in a reconciliation: a gone path pairs with a new path of the same content
// whose upload failed, and waits with it.
import type { FileRow } from '../ledger/ledger.js';
import { comparePaths } from '../local/order.js';
import { statOne } from '../local/walk.js';
import type { MoveSide } from '../sync/moves.js';
import type { PathSyncDeps } from './pathsync.js';

/** Failed new paths a batch hashes at most: a folder of refused files of one size costs no more. */
export const MAX_HASHED = 256;
/** Failure rows a batch looks at at most (some are paths gone since, which are not read). */
const MAX_LOOKED_AT = 4 * MAX_HASHED;

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
 * window (the batch's moves) and `failed` the new paths (no ledger row) holding it whose upload
 * failed, whether their failure still holds or their retry is due: either way the content is not
 * stored. Their failure rows hold no content, so those of a gone row's size are hashed now, at
 * most `maxHashed`. The last rows in path order are kept, as a reconciliation keeps them.
 */
export async function movesWaitingOnFailures(
  deps: PathSyncDeps,
  gone: readonly FileRow[],
  stored: readonly MoveSide[],
  maxHashed = MAX_HASHED,
): Promise<WaitingMoves> {
  const kept = new Set<string>();
  const sizes = [...new Set(gone.map((row) => row.size))];
  const maxRows = Math.max(maxHashed, MAX_LOOKED_AT);
  const failed = sizes.length === 0 ? [] : deps.ledger.failedNewPathsOfSizes(sizes, maxRows + 1);
  if (failed.length === 0) return { kept, undecided: false };
  const config = deps.config();
  const waiting = new Map<string, number>(); // sha256 → failed new paths holding it
  let hashed = 0;
  let looked = 0;
  for (const { path } of failed) {
    if (hashed === maxHashed || looked === maxRows) return { kept, undecided: true };
    looked++;
    const found = await statOne(config.root, path, {
      filter: deps.filter(),
      followSymlinks: config.followSymlinks,
      maxFileBytes: config.maxFileBytes,
      known: () => undefined,
      signal: deps.signal,
    });
    // Gone, excluded, unreadable, changing or too large: no content of it is known to wait there.
    if (typeof found === 'string' || 'kind' in found || found.sha256 === null) continue;
    hashed++;
    waiting.set(found.sha256, (waiting.get(found.sha256) ?? 0) + 1);
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
