// A move whose new copy is not stored keeps its old copy (DESIGN.md rules 2 and 4), in the daemon's
// delete batches as in a reconciliation: a gone path pairs, one to one, with a new path of the
// same content whose upload failed and waits on that failure.
import type { FileRow } from '../ledger/ledger.js';
import { comparePaths } from '../local/order.js';
import { statOne } from '../local/walk.js';
import type { PathSyncDeps } from './pathsync.js';

/** New paths a batch hashes at most: a folder of refused files of one size costs no more than this. */
export const MAX_HASHED = 256;

/**
 * The gone rows a batch keeps: per content, as many as new paths of that content wait on a failed
 * upload (their failure rows hold no content, so the files are hashed now: those of a gone row's
 * size only, at most `maxHashed`). The kept rows are the last ones in path order, as a
 * reconciliation keeps them. When more new paths could pair than are hashed, every gone row of a
 * size not yet looked at is kept too: the next reconciliation, which sees the whole view, decides
 * them (rule 4: when in doubt, nothing is deleted).
 */
export async function movesWaitingOnFailures(deps: PathSyncDeps, gone: readonly FileRow[], maxHashed = MAX_HASHED): Promise<Set<string>> {
  const kept = new Set<string>();
  const sizes = [...new Set(gone.map((row) => row.size))];
  if (sizes.length === 0) return kept;
  const failed = deps.ledger.failedNewPathsOfSizes(sizes, maxHashed + 1);
  if (failed.length === 0) return kept;
  const config = deps.config();
  const waiting = new Map<string, number>(); // sha256 → new paths of it that wait
  for (const { path } of failed.slice(0, maxHashed)) {
    const found = await statOne(config.root, path, {
      filter: deps.filter(),
      followSymlinks: config.followSymlinks,
      maxFileBytes: config.maxFileBytes,
      known: () => undefined,
      signal: deps.signal,
    });
    // Gone, unreadable or changing: no content is known to wait there (the path's own job says why).
    if (typeof found === 'string' || 'kind' in found || found.sha256 === null) continue;
    waiting.set(found.sha256, (waiting.get(found.sha256) ?? 0) + 1);
  }
  // Past the cap, the sizes from the first one not hashed on could all pair: their rows wait.
  const unlookedFrom = failed.length > maxHashed ? failed[maxHashed]!.size : Infinity;
  for (const row of [...gone].sort((a, b) => comparePaths(b.path, a.path))) {
    const left = waiting.get(row.sha256) ?? 0;
    if (left > 0) {
      waiting.set(row.sha256, left - 1);
      kept.add(row.path);
    } else if (row.size >= unlookedFrom) {
      kept.add(row.path);
    }
  }
  return kept;
}
