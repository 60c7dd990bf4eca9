// Arrays as long as the tree (issue 13): `a.push(...b)` and `Math.min(...b)` put every element of
// `b` on the stack as an argument, and a few hundred thousand (a mass delete of a big folder) are
// more than V8 allows: "Maximum call stack size exceeded". These loop instead; the lint forbids
// the spread forms in src/.

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
