// The remote filename of a local path: a readable, valid, stable name derived from the relative
// path (DESIGN.md, "Names on the remote side"). The ledger, not the name, maps paths to file ids.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Config } from '../config.js';

/** Upper bound of a remote filename (files-api.md: 1 to 255 characters). */
export const MAX_REMOTE_NAME = 255;

/**
 * What a `/` of the relative path becomes: U+2215 DIVISION SLASH. It reads as a slash, so
 * `docs∕guide∕intro.md` still shows the folder structure in any listing, it is not forbidden,
 * almost never occurs in real file names, is one character (long paths keep more of their
 * text), and, unlike U+FF0F FULLWIDTH SOLIDUS, NFKC normalisation leaves it alone, so no
 * normalising layer can turn it back into a forbidden `/`. Part of the name rule: never change.
 */
export const SEPARATOR = '\u2215';

/** What a forbidden or control character becomes. */
export const REPLACEMENT = '_';

/**
 * Marks the cut of a shortened name, around the hash: U+22EF MIDLINE HORIZONTAL ELLIPSIS (reads
 * as "…" but, unlike U+2026, NFKC does not expand it into three characters).
 */
const CUT = '\u22ef';

/** Hex digits of the path's sha256 in a shortened name. */
const HASH_DIGITS = 8;

/** Longest extension (after the dot) a shortened name keeps whole; longer ones are cut. */
const MAX_EXTENSION = 16;

/** Characters the API forbids (files-api.md), C0 controls included. */
// eslint-disable-next-line no-control-regex -- the control characters are what this matches
const FORBIDDEN = /[<>:"|?*\\/\u0000-\u001f]/u;

/**
 * Replaced as well, beyond the API's list: DEL and the C1 controls (invisible, and refused by
 * some HTTP stacks in a Content-Disposition) and lone surrogates (not encodable as UTF-8).
 */
// eslint-disable-next-line no-control-regex -- the control characters are what this matches
const REPLACED = /[<>:"|?*\\\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/gu;

/**
 * True when `name` is a filename the Files API accepts: 1 to 255 characters (code points), none
 * of `< > : " | ? * \ /`, no U+0000–U+001F (files-api.md, "Upload").
 */
export function isValidRemoteName(name: string): boolean {
  if (name.length === 0) return false;
  let codePoints = 0;
  for (const _ of name) if (++codePoints > MAX_REMOTE_NAME) return false;
  return !FORBIDDEN.test(name);
}

/**
 * The remote filename of the file at `relPath` (relative, `/`-separated). The rule, stable
 * forever since names already uploaded must keep matching:
 * 1. Empty segments are dropped and the segments joined with `∕` (U+2215): `a/b/c.md` →
 *    `a∕b∕c.md`.
 * 2. `< > : " | ? * \`, U+0000–U+001F, U+007F–U+009F and lone surrogates become `_`.
 *    Nothing else changes: no Unicode normalisation, case and spaces kept.
 * 3. A name made of dots only (or nothing) has each dot replaced (`..` → `__`; `` → `_`).
 * 4. A name longer than 255 UTF-16 code units (so at most 255 code points, with room to spare
 *    for a server counting either) is cut in the middle: head, `⋯`, the first 8 hex digits of
 *    the sha256 of `relPath` (UTF-8), `⋯`, tail, extension. The extension (last `.xyz` of the last
 *    segment, up to 16 characters) is kept whole; the head gets two thirds of the rest, the
 *    tail one third. Cuts fall between code points. Two long paths sharing a prefix differ by
 *    the hash.
 * Distinct paths may share a name (`a:b` and `a_b`): names are labels, the ledger is the map.
 */
export function remoteName(relPath: string): string {
  // Most paths are plain: rules 2-4 leave them as they are, and rule 1 only swaps the slashes.
  if (relPath.length <= MAX_REMOTE_NAME && PLAIN.test(relPath) && !DOTS_ONLY.test(relPath)) return relPath.replaceAll('/', SEPARATOR);
  return remoteNameInFull(relPath);
}

/** One segment of printable ASCII without `< > : " | ? * \ /`: no rule but the join changes it. */
const PLAIN_SEGMENT = '[\\x20\\x21\\x23-\\x29\\x2b-\\x2e\\x30-\\x39\\x3b\\x3d\\x40-\\x5b\\x5d-\\x7b\\x7d\\x7e]+';

/** A path of plain segments, none empty: its name is the path with SEPARATOR for `/` (if not dots only). */
const PLAIN = new RegExp(`^${PLAIN_SEGMENT}(?:/${PLAIN_SEGMENT})*$`);
const DOTS_ONLY = /^\.+$/;

/**
 * `remoteName` by the full rule, for any path (exported for the test that holds the fast path
 * to it).
 */
export function remoteNameInFull(relPath: string): string {
  const joined = relPath
    .split('/')
    .filter((segment) => segment !== '')
    .join(SEPARATOR)
    .replace(REPLACED, REPLACEMENT);
  const name = /^\.*$/.test(joined) ? REPLACEMENT.repeat(Math.max(1, joined.length)) : joined;
  if (name.length <= MAX_REMOTE_NAME) return name;

  const hash = createHash('sha256').update(relPath, 'utf8').digest('hex').slice(0, HASH_DIGITS);
  const marker = `${CUT}${hash}${CUT}`;
  const extension = extensionOf(name);
  const stem = Array.from(name.slice(0, name.length - extension.length));
  const budget = MAX_REMOTE_NAME - marker.length - extension.length;
  const tailBudget = Math.floor(budget / 3);
  const head = takeCodePoints(stem, budget - tailBudget, false);
  const tail = takeCodePoints(stem, tailBudget, true);
  return `${head}${marker}${tail}${extension}`;
}

/** The extension of the last segment with its dot, or '' (none, a dotfile, or too long). */
function extensionOf(name: string): string {
  const lastSegment = name.slice(name.lastIndexOf(SEPARATOR) + 1);
  const dot = lastSegment.lastIndexOf('.');
  if (dot <= 0) return '';
  const extension = lastSegment.slice(dot);
  const length = Array.from(extension).length - 1;
  return length >= 1 && length <= MAX_EXTENSION ? extension : '';
}

/** The longest prefix (or suffix, `fromEnd`) of `codePoints` within `units` UTF-16 code units. */
function takeCodePoints(codePoints: readonly string[], units: number, fromEnd: boolean): string {
  const taken: string[] = [];
  let used = 0;
  for (let i = 0; i < codePoints.length; i++) {
    const codePoint = codePoints[fromEnd ? codePoints.length - 1 - i : i]!;
    if (used + codePoint.length > units) break;
    used += codePoint.length;
    taken.push(codePoint);
  }
  if (fromEnd) taken.reverse();
  return taken.join('');
}

/** Remote name for a path under the configured naming (`remoteNames`: the whole path or its base name). */
export function nameFor(config: Pick<Config, 'remoteNames'>): (relPath: string) => string {
  return config.remoteNames === 'basename' ? (p) => remoteName(path.posix.basename(p)) : remoteName;
}
