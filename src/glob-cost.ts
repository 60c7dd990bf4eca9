// What a glob costs to match on a deep tree: the `ignore` package (gitignore rules) and picomatch
// (include globs) match each `**` with a backtracking regular expression, so a rule's time per path
// grows as the path's depth to the power of its weight (below), and whoever writes into the folder
// decides the depth (a chain of 2,000 folders). At 2, a 1,000-deep chain costs ~2 s a walk and a
// 2,000-deep one ~16 s; at 3 (the rule "**" + "/src/**/test/**/*.snap"), 20 s did not see a
// 1,000-deep chain through, and a weight of 12 never ended on a folder 31 deep (measured by hand,
// 2026-12-02).

/** The heaviest glob taken (see `globWeight`). */
export const MAX_STAR_WEIGHT = 2;

/** A segment of stars only: gitignore (and `ignore`) read `***` and longer as `**`. */
const GLOBSTAR = /^\*{2,}$/;
/** A segment of `*` and `?` only: it matches any one folder, so beside a `**` it multiplies the ways to split a path. */
const WILDCARD = /^[*?]+$/;

/** The segments of a gitignore rule: split at each `/` that no backslash escapes (`a\/b` is one segment); escapes kept. */
function segmentsOf(rule: string): string[] {
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < rule.length; i++) {
    const char = rule[i]!;
    if (char === '\\' && i + 1 < rule.length) {
      current += char + rule[i + 1]!;
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
 * A gitignore rule's weight: its `**` segments before the last one (a last one, everything inside,
 * is cheap; so is a final `/`), and when it has any, its segments of `*` and `?` only too.
 */
function ruleWeight(rule: string): number {
  const segments = segmentsOf(collapseStars(rule.replace(/^\ufeff/, '').replace(/^!/, '')));
  if (segments.length > 1 && segments.at(-1) === '') segments.pop();
  const before = segments.slice(0, -1);
  const globstars = before.filter((segment) => segment === '**').length;
  return globstars === 0 ? 0 : globstars + before.filter((segment) => segment !== '**' && WILDCARD.test(segment)).length;
}

/**
 * An include glob's weight, as picomatch reads it: every `**` wherever it stands (a braced
 * alternative, a group, beside an escaped slash, which picomatch takes for a separator), but
 * one that ends the glob.
 */
function includeWeight(glob: string): number {
  const stars = (glob.match(/\*\*/g) ?? []).length;
  return stars - (/(^|\/)\*\*$/.test(glob) ? 1 : 0);
}

/** The most runs of `*` picomatch takes in one name of an include glob. */
export const MAX_NAME_STARS = 2;
/** The most groups (`{…}`, `(…)`) picomatch takes in one name of an include glob. */
export const MAX_NAME_GROUPS = 2;

/**
 * Why an include glob's names cost too much, or undefined. Include globs are compiled with
 * extglobs off (local/filter.ts; one is refused, `includeExtglob`), so picomatch's only loop is
 * a `*` (a run of them, or a `**` inside a name, is one lazy `[^/]*?`): k of them in one name backtrack ~n^(k-1) steps on a
 * name of n characters that does not match (five took 24 s on one 250-character name), and k
 * groups of alternatives ~a^k (sixteen `{a,aa,aaa}` took 1.4 s on 60); whoever writes into the
 * folder picks the names. Escapes and character classes count as one character. (gitignore rules go through
 * `ignore`, whose `*` runs match in linear time.)
 */
function includeNameCost(glob: string): string | undefined {
  const lengthOf = "matching it takes time that grows as a power of a name's length, which whoever writes into the folder decides";
  for (const name of withoutLiterals(glob).split('/')) {
    if (name === '**') continue; // the depth's cost: includeWeight
    const stars = name.match(/\*+/g)?.length ?? 0;
    if (stars > MAX_NAME_STARS)
      return `it has more than ${MAX_NAME_STARS} \`*\` in one name (${stars}): ${lengthOf}; use fewer (\`*.pdf\`, not \`*-*-*.pdf\`)`;
    const groups = name.match(/[{(]/g)?.length ?? 0;
    if (groups > MAX_NAME_GROUPS)
      return `it has more than ${MAX_NAME_GROUPS} groups (\`{…}\`, \`(…)\`) in one name (${groups}): ${lengthOf}; use fewer`;
  }
  return undefined;
}

/**
 * Why `glob` is refused, too costly to match on a deep tree (MAX_STAR_WEIGHT) or, for an include
 * glob, on a long name, or undefined: a gitignore rule (`.filesyncignore`, `exclude`) or, with
 * `include`, an include glob.
 */
export function globTooCostly(glob: string, kind: 'rule' | 'include' = 'rule'): string | undefined {
  const weight = kind === 'include' ? includeWeight(glob) : ruleWeight(glob);
  if (weight > MAX_STAR_WEIGHT) {
    return (
      `it has more \`**\` than files-sync takes (${MAX_STAR_WEIGHT}, a segment of \`*\` or \`?\` only beside them counting as one more): ` +
      "matching it takes time that grows as a power of the folders' depth, which whoever writes into the folder decides; split it into simpler rules"
    );
  }
  return kind === 'include' ? (includeExtglob(glob) ?? includeNameCost(glob)) : undefined;
}

/**
 * An include glob with an extglob (`!(…)`, `@(…)`, `+(…)`, `?(…)`, `*(…)`), refused: picomatch
 * compiles include globs with extglobs off (their repeated groups backtrack exponentially on a
 * name the folder's writer picks), which would read one otherwise, and silently (`!(draft).md`
 * would become every path but `draft.md`, uploading what the glob was written to keep out).
 */
function includeExtglob(glob: string): string | undefined {
  if (!/[!@+?*]\(/.test(withoutLiterals(glob))) return undefined;
  return 'it has an extglob (`!(…)`, `@(…)`, `+(…)`, `?(…)`, `*(…)`), which files-sync does not take: list the names in braces (`*.{md,txt}`) or write several globs';
}

/** `glob` with each escape (`\*`) and character class (`[!(]`) made one plain character: neither is a `*`, a group or an extglob. */
function withoutLiterals(glob: string): string {
  return glob.replace(/\\./g, 'x').replace(/\[[^\]]*\]/g, 'x');
}
