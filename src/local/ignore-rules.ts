// The filter's gitignore rules (the `ignore` package) with a bound on the answers they remember:
// `ignore` keeps the answer for every path it is asked about, and for each of its parents, for as
// long as the instance lives, so one reconciliation of a million files held a million paths (and
// the daemon's filter, every path it was ever asked about).
import ignore from 'ignore';
import { collapseStars } from '../glob-cost.js';

type Ignore = ignore.Ignore;

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
