// The move rule of DESIGN.md rule 4, defined once for the planner (one-shot runs and the daemon's
// delete batches alike): which deleted paths are moves, and so do not count toward the guard.

/** A path and its content, one side of a move. */
export interface MoveSide {
  path: string;
  /** Null for a new file its upload hashes: no ledger row has its size, so it moved from nowhere. */
  sha256: string | null;
}

/**
 * The contents uploaded at new paths, counted by sha256: what a reconciliation collects as it
 * goes (no path kept) and what deleted paths may pair with.
 */
export class AddedContents {
  readonly #counts = new Map<string, number>();

  constructor(sides: Iterable<MoveSide> = []) {
    for (const side of sides) this.add(side.sha256);
  }

  /** Counts one path of this content; null (not hashed) pairs with nothing. */
  add(sha256: string | null): void {
    if (sha256 !== null) this.#counts.set(sha256, (this.#counts.get(sha256) ?? 0) + 1);
  }

  /** Uses one path of this content up; false when none is left. */
  take(sha256: string | null): boolean {
    if (sha256 === null) return false;
    const left = this.#counts.get(sha256) ?? 0;
    if (left === 0) return false;
    this.#counts.set(sha256, left - 1);
    return true;
  }
}

/**
 * The move rule (DESIGN.md rule 4), defined once: each added path excuses at most one deleted path
 * of the same content (sha256), so one new empty file excuses one deleted empty file, not a
 * thousand. Returns the deleted paths that are moves. Pairs in path order, so the answer is stable.
 * A path listed both as added and deleted is no move of itself. `added` is used up.
 */
export function pairMoves(deleted: readonly MoveSide[], added: readonly MoveSide[] | AddedContents): Set<string> {
  let available: AddedContents;
  if (added instanceof AddedContents) available = added;
  else {
    const deletedPaths = new Set(deleted.map((d) => d.path));
    available = new AddedContents(added.filter((a) => !deletedPaths.has(a.path)));
  }
  const moves = new Set<string>();
  for (const d of [...deleted].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0))) {
    if (available.take(d.sha256)) moves.add(d.path);
  }
  return moves;
}
