// Which paths under the sync root take part in the sync: default excludes, the configured
// include/exclude globs, the root's `.filesyncignore`, and the state directory.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import type { Config } from '../config.js';
import { realPathOf } from '../config-paths.js';
import { ConfigError } from '../errors.js';
import { escapeText } from '../escape.js';
import { globTooCostly } from '../glob-cost.js';
import { IgnoreRules } from './ignore-rules.js';
import { RootError } from './root.js';
import { readRootFile, RootFileError } from './rootfile.js';
import type { FilterOptions, PathFilter } from './types.js';

/** Name of the per-root ignore file (gitignore syntax), read by the caller from the root. */
export const IGNORE_FILE_NAME = '.filesyncignore';

/**
 * Reads the root's ignore file like any other file of the folder (rule 9: no link, no FIFO, at
 * most 1 MiB, without blocking the event loop); undefined when there is none. A bad one is a
 * RootFileError (exit 3) naming it.
 */
export async function readIgnoreFile(root: string): Promise<string | undefined> {
  try {
    return await readRootFile(path.join(root, IGNORE_FILE_NAME), `${IGNORE_FILE_NAME} in ${root}`);
  } catch (err) {
    // Refused because the root itself cannot be entered (mode 000 against the service's user): say so, not the file.
    const code = ((err as { cause?: NodeJS.ErrnoException }).cause ?? {}).code;
    if (code === 'EACCES' || code === 'EPERM') {
      const entered = await access(root, constants.R_OK | constants.X_OK).then(
        () => true,
        () => false,
      );
      if (!entered) throw new RootError('unreadable', path.resolve(root), { cause: (err as { cause: unknown }).cause });
    }
    throw err;
  }
}

/**
 * Excluded everywhere, before the configured excludes and the ignore file (gitignore syntax, so
 * a later `!pattern` in `exclude` or `.filesyncignore` can take one back). Editor swap and backup
 * files, partial downloads, office lock files and desktop litter: files that exist only while an
 * application works on the real one, and would otherwise be uploaded and deleted again minutes
 * later. `.filesyncignore` itself is configuration, not content, so it is excluded too.
 */
export const DEFAULT_EXCLUDES: readonly string[] = Object.freeze([
  // Backups and swap files of editors: `notes.md~`, vim `.notes.md.swp`/`.swo`, emacs
  // `#notes.md#` and lock links `.#notes.md`, kate `notes.md.kate-swp`.
  '*~',
  '.*.sw?',
  '\\#*#',
  '.#*',
  '*.kate-swp',
  // Partial downloads (Firefox and others `*.part`, Chromium `*.crdownload`).
  '*.part',
  '*.crdownload',
  // Office lock files: LibreOffice `.~lock.report.odt#`, Microsoft Office `~$report.docx`.
  '.~lock.*',
  '~$*',
  // Temporary files of atomic saves (GNOME gio) and NFS silly renames of open deleted files.
  '.goutputstream-*',
  '.nfs*',
  // Desktop litter.
  '.DS_Store',
  'Thumbs.db',
  // files-sync's own configuration.
  IGNORE_FILE_NAME,
]);

/**
 * Version of the filter semantics, part of `filterHash`: bump it when the meaning of the same
 * options changes (matching rules, case sensitivity), so ledgers notice.
 */
const FILTER_SEMANTICS = 1;

/** `stateDirInRoot` as a clean relative POSIX path, or undefined when absent. */
function normaliseStateDir(stateDir: string | undefined): string | undefined {
  if (stateDir === undefined) return undefined;
  let dir = stateDir.replace(/\\/g, '/');
  while (dir.startsWith('./')) dir = dir.slice(2);
  dir = dir.replace(/\/+$/, '').replace(/\/{2,}/g, '/');
  if (dir === '' || dir === '.' || dir.startsWith('/') || dir === '..' || dir.startsWith('../')) {
    throw new ConfigError(`the state directory must lie strictly inside the sync root to be excluded, got "${stateDir}"`);
  }
  return dir;
}

/** The rules of an ignore file without blank lines and comments (they change nothing). */
function ignoreFileRules(text: string | undefined): string[] {
  if (text === undefined) return [];
  return text.split(/\r?\n/).filter((line) => line.trim() !== '' && !line.startsWith('#'));
}

/**
 * Builds the filter of a sync root. Semantics:
 * - Excludes (`DEFAULT_EXCLUDES`, then `exclude`, then the ignore file, in that order so later
 *   rules win, `!` negation included) use gitignore syntax through `ignore`, case-sensitively as
 *   git does on Linux. A pattern without a slash matches at any depth; `dir/` matches directories
 *   only. A file inside an excluded directory is excluded (git cannot re-include it either).
 * - `include` globs (picomatch) apply to files only: when non-empty, a file must match one.
 *   Like the excludes, a glob without a slash matches the file's basename at any depth
 *   (`*.md` takes every Markdown file); one with a slash matches the whole relative path
 *   (`docs/**`). Dotfiles match. Directories are always entered unless excluded.
 * - The state directory inside the root, and everything under it, is always excluded, whatever
 *   the other rules say.
 * Paths are relative, POSIX separators, no leading `./`; the root itself is never asked about.
 */
export function createFilter(options: FilterOptions): PathFilter {
  // Bounded: `ignore` alone would remember an answer for every path ever asked (ignore-rules.ts).
  const rules = new IgnoreRules([DEFAULT_EXCLUDES, options.exclude, ignoreFileRules(options.ignoreFile)]);
  const included = options.include.length > 0 ? includeMatcher(options.include) : undefined;
  const stateDir = normaliseStateDir(options.stateDirInRoot);
  const stateDirPrefix = stateDir === undefined ? undefined : `${stateDir}/`;

  return (relPath: string, isDir: boolean): boolean => {
    if (stateDir !== undefined && (relPath === stateDir || relPath.startsWith(stateDirPrefix!))) {
      return false;
    }
    // `ignore` tells directories by a trailing slash (for `dir/` patterns).
    if (rules.ignores(isDir ? `${relPath}/` : relPath)) return false;
    if (isDir || included === undefined) return true;
    return included(relPath);
  };
}

/**
 * Matches `include` globs: those with a slash (a leading `/` included) against the whole
 * relative path, those without against the basename (picomatch's own `basename` option applies to every pattern, even
 * `docs/**`, so the two kinds are compiled apart).
 */
function includeMatcher(globs: readonly string[]): (relPath: string) => boolean {
  // Extglobs off: their repeated groups backtrack exponentially on a name the folder's writer
  // picks, and no count of the glob's text bounds them (glob-cost.ts bounds what is left).
  const options = { dot: true, windows: false, noextglob: true };
  // A leading `/` or `./` anchors a glob to the root, as in gitignore.
  const withSlash = globs.filter((glob) => glob.includes('/')).map((glob) => glob.replace(/^\.?\//, ''));
  const withoutSlash = globs.filter((glob) => !glob.includes('/'));
  const byPath = withSlash.length > 0 ? picomatch(withSlash, options) : undefined;
  const byName = withoutSlash.length > 0 ? picomatch(withoutSlash, options) : undefined;
  return (relPath) =>
    (byName !== undefined && byName(relPath.slice(relPath.lastIndexOf('/') + 1))) || (byPath !== undefined && byPath(relPath));
}

/**
 * A stable hash (hex sha256) of the effective filter: the semantics version, the defaults, the
 * include globs (as a set), the excludes and ignore-file rules (in order, since order decides
 * negation) and the state directory. Blank lines and comments of the ignore file do not count.
 * The ledger stores it to notice that the set of synced paths may have changed.
 */
export function filterHash(options: FilterOptions): string {
  const effective = {
    semantics: FILTER_SEMANTICS,
    defaults: DEFAULT_EXCLUDES,
    include: [...new Set(options.include)].sort(),
    exclude: [...options.exclude],
    ignoreFile: ignoreFileRules(options.ignoreFile),
    stateDir: normaliseStateDir(options.stateDirInRoot) ?? null,
  };
  return createHash('sha256').update(JSON.stringify(effective)).digest('hex');
}

/**
 * Refuses an ignore file holding a rule too costly to match on a deep tree (glob-cost.ts): a
 * RootFileError (exit 3) naming its line (its first 100 characters), as for any ignore file it cannot take.
 */
function checkIgnoreFile(text: string): void {
  text
    .replace(/^\ufeff/, '')
    .split(/\r?\n/)
    .forEach((line, i) => {
      const why = line.trim() === '' || line.startsWith('#') ? undefined : globTooCostly(line);
      const shown = line.length > 100 ? `${line.slice(0, 100)}…` : line;
      if (why !== undefined) throw new RootFileError(`${IGNORE_FILE_NAME} line ${i + 1} (${escapeText(shown)}): ${why}`);
    });
}

/** Builds the filter the walk and the watcher share from the configuration, reading the root's `.filesyncignore`. */
export async function buildFilter(
  config: Pick<Config, 'root' | 'stateDir' | 'include' | 'exclude'>,
): Promise<{ filter: PathFilter; options: FilterOptions }> {
  const ignoreFile = await readIgnoreFile(config.root);
  if (ignoreFile !== undefined) checkIgnoreFile(ignoreFile);
  // By its real path: a state directory reached through a link into the root is still excluded.
  const rel = path.relative(config.root, realPathOf(config.stateDir));
  const stateDirInRoot = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : undefined;
  const options: FilterOptions = {
    include: config.include,
    exclude: config.exclude,
    ...(ignoreFile !== undefined ? { ignoreFile } : {}),
    ...(stateDirInRoot !== undefined ? { stateDirInRoot } : {}),
  };
  return { filter: createFilter(options), options };
}
