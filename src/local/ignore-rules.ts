// The filter's gitignore rules (the `ignore` package) with a bound on the answers they remember:
// `ignore` keeps the answer for every path it is asked about, and for each of its parents, for as
// long as the instance lives, so one reconciliation of a million files held a million paths (and
// the daemon's filter, every path it was ever asked about).
import ignore from 'ignore';

type Ignore = ignore.Ignore;

// The most `**` segments a rule may hold between two others, one more counted when the rule also
// starts with a `**` segment (it then matches at every depth). `ignore` matches a middle `**` with
// a backtracking regular expression: a rule's time per path grows as the path's depth to this
// power, and whoever writes into the folder decides the depth (a chain of 2,000 folders). At 2, a
// 1,000-deep chain costs ~2 s a walk; at 3 (the rule "**" + "/src/**/test/**/*.snap"), 20 s did
// not see it through (measured by hand, 2026-12-02).
export const MAX_STAR_WEIGHT = 2;

/**
 * The rule with each run of `**` segments made one (in gitignore each matches any number of
 * folders, so a run matches what one does), so that a run costs what one does.
 */
export function collapseStars(rule: string): string {
  return rule.replace(/(^|\/)\*\*(?:\/\*\*)+(?=\/|$)/g, '$1**');
}

/**
 * Why `rule` is refused (too costly to match on a deep tree: MAX_STAR_WEIGHT), or undefined. A
 * `**` segment at the end (everything inside) costs nothing, nor does one at the start alone.
 */
export function ruleTooCostly(rule: string): string | undefined {
  const segments = collapseStars(rule.replace(/^!/, '')).split('/');
  const middle = segments.slice(1, -1).filter((segment) => segment === '**').length;
  const weight = middle + (middle > 0 && segments[0] === '**' ? 1 : 0);
  if (weight <= MAX_STAR_WEIGHT) return undefined;
  return (
    'it has more `**` between its other segments than files-sync takes (two, or one when the rule starts with `**`): ' +
    "matching it takes time that grows as a power of the folders' depth, which whoever writes into the folder decides; split it into simpler rules"
  );
}

/** Paths answered by one instance before it is replaced by a fresh one (its remembered answers go with it). */
export const REMEMBERED_PATHS = 4096;

/**
 * gitignore rules answered by an `ignore` instance that is rebuilt from the same rules after
 * `limit` questions. The walk asks in sorted order, so a rebuild costs the re-parsing of the
 * rules and one answer per parent directory of the next path; answers are the same either way
 * (a path under an excluded directory is still excluded: `ignore` asks its parents first).
 */
export class IgnoreRules {
  readonly #rules: readonly (readonly string[])[];
  readonly #limit: number;
  #current: Ignore;
  #asked = 0;
  #rebuilds = 0;

  /** `rules` are added in order (later rules win, `!` negation included); matching is case-sensitive. */
  constructor(rules: readonly (readonly string[])[], limit = REMEMBERED_PATHS) {
    this.#rules = rules.map((r) => [...r]);
    this.#limit = Math.max(1, Math.floor(limit));
    this.#current = this.#build();
  }

  /** Whether the rules exclude `relPath` (a directory with a trailing `/`). */
  ignores(relPath: string): boolean {
    if (this.#asked >= this.#limit) {
      this.#current = this.#build();
      this.#asked = 0;
      this.#rebuilds++;
    }
    this.#asked++;
    return this.#current.ignores(relPath);
  }

  /**
   * Paths asked of the current instance: what it may remember is these and their parents, never
   * more than `limit` of them whatever the tree's size. For tests and diagnostics.
   */
  get remembered(): number {
    return this.#asked;
  }

  /** Times the instance was replaced (its memory let go). */
  get rebuilds(): number {
    return this.#rebuilds;
  }

  #build(): Ignore {
    const rules = ignore({ ignorecase: false });
    for (const list of this.#rules) rules.add(list.map(collapseStars));
    return rules;
  }
}
