// The move rule of DESIGN.md rule 4, defined once for the planner (one-shot runs and the daemon's
// delete batches alike): which deleted paths are moves, and so do not count toward the guard.

/** A path and its content, one side of a move. */
export interface MoveSide {
  path: string;
  /** Null for a new file its upload hashes: no ledger row has its size, so it moved from nowhere. */
  sha256: string | null;
}

/**
 * The move rule (DESIGN.md rule 4), defined once: each added path excuses at most one deleted path
 * of the same content (sha256), so one new empty file excuses one deleted empty file, not a
 * thousand. Returns the deleted paths that are moves. Pairs in path order, so the answer is stable.
 */
export function pairMoves(deleted: readonly MoveSide[], added: readonly MoveSide[]): Set<string> {
  const available = new Map<string | null, number>(); // null (not hashed) is never added: it pairs with nothing
  const deletedPaths = new Set(deleted.map((d) => d.path));
  // A path that is both (listed as added and deleted) is no move of itself.
  for (const a of added) if (a.sha256 !== null && !deletedPaths.has(a.path)) available.set(a.sha256, (available.get(a.sha256) ?? 0) + 1);
  const moves = new Set<string>();
  for (const d of [...deleted].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0))) {
    const left = available.get(d.sha256) ?? 0;
    if (left === 0) continue;
    available.set(d.sha256, left - 1);
    moves.add(d.path);
  }
  return moves;
}
