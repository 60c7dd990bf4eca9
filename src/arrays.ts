// Arrays as long as the tree (issue 13): `a.push(...b)` and `Math.min(...b)` put every element of
// `b` on the stack as an argument, and a few hundred thousand (a mass delete of a big folder) are
// more than V8 allows: "Maximum call stack size exceeded". These loop instead; the lint forbids
// the spread forms in src/.

/**
 * The most entries of a run's per-path lists (failed, skipped) its report keeps: whoever writes
 * into the folder decides how many paths fail or are skipped (200,000 links cost a few MB of disk,
 * and listed whole they made a 27 MB report, kept in the ledger at every run, and a 270 MB peak).
 * The counts stay whole; a failure is in the ledger's failures whatever the list keeps.
 */
export const LISTED_MAX = 1000;

/** Appends `item` to `list` while it holds fewer than LISTED_MAX; false when it was only counted. */
export function pushListed<T>(list: T[], item: T): boolean {
  if (list.length >= LISTED_MAX) return false;
  list.push(item);
  return true;
}

/** Appends `items` to `target` in order; returns `target`. */
export function append<T>(target: T[], items: Iterable<T>): T[] {
  for (const item of items) target.push(item);
  return target;
}

/** The least of `values`; Infinity when there is none (as `Math.min()`). */
export function minOf(values: Iterable<number>): number {
  let least = Infinity;
  for (const v of values) if (v < least) least = v;
  return least;
}
