// What a glob costs to match on a deep tree: the `ignore` package (gitignore rules) and picomatch
// (include globs) match each `**` segment with a backtracking regular expression, so a rule's time
// per path grows as the path's depth to the power of its `**` segments before the last one, and
// whoever writes into the folder decides the depth (a chain of 2,000 folders). At 2, a 1,000-deep
// chain costs ~2 s a walk; at 3 (the rule "**" + "/src/**/test/**/*.snap"), 20 s did not see it
// through, and 12 never ended on a folder 31 deep (measured by hand, 2026-12-02).

/** The most `**` segments a glob may hold before its last segment (a last one, everything inside, is cheap). */
export const MAX_STAR_WEIGHT = 2;

/** A segment of stars only: gitignore (and `ignore`) read `***` and longer as `**`. */
const GLOBSTAR = /^\*{2,}$/;

/**
 * The segments of a glob: split at each `/` that no backslash escapes (`a\/b` is one segment);
 * escapes are kept as they are. A byte order mark before the first rule of a file is dropped, as
 * `ignore` drops it.
 */
function segmentsOf(glob: string): string[] {
  const text = glob.replace(/^\ufeff/, '');
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '\\' && i + 1 < text.length) {
      current += char + text[i + 1]!;
      i++;
    } else if (char === '/') {
      segments.push(current);
      current = '';
    } else current += char;
  }
  segments.push(current);
  return segments;
}

/**
 * The gitignore rule with each run of star-only segments made one `**` (each matches any number of
 * folders, so a run matches what one does, and costs what one does). Escapes stay as they are.
 */
export function collapseStars(rule: string): string {
  const out: string[] = [];
  for (const segment of segmentsOf(rule)) {
    const globstar = GLOBSTAR.test(segment);
    if (globstar && out.at(-1) === '**') continue;
    out.push(globstar ? '**' : segment);
  }
  return out.join('/');
}

/**
 * Why `glob` (a gitignore rule or an include glob) is refused, too costly to match on a deep tree
 * (MAX_STAR_WEIGHT), or undefined.
 */
export function globTooCostly(glob: string): string | undefined {
  const segments = segmentsOf(collapseStars(glob.replace(/^\ufeff/, '').replace(/^!/, '')));
  const weight = segments.slice(0, -1).filter((segment) => segment === '**').length;
  if (weight <= MAX_STAR_WEIGHT) return undefined;
  return (
    `it has more \`**\` before its last segment than files-sync takes (${MAX_STAR_WEIGHT}): matching it takes time that grows ` +
    "as a power of the folders' depth, which whoever writes into the folder decides; split it into simpler rules"
  );
}
