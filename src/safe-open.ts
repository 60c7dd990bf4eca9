// Safe opens under the sync root (DESIGN.md rule 8): every file read to hash or upload, and every
// directory the walk lists, is opened here without following a final symlink, asked for its
// identity through the descriptor, and refused unless its real path lies where the root says.
import { close, closeSync, constants, fstat, fstatSync, open, openSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { readlink, realpath, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { changing } from './file-errors.js';

/** Where a descriptor must lead and what it must still be. */
export interface Place {
  /**
   * Real path of the sync root (symlinks resolved): the file's real path must lie under it.
   * Absent only for files outside any sync root (a tool uploading one file): then only the link,
   * type and identity checks apply.
   */
  realRoot?: string;
  /** When known (the walk knows it), the exact real path the descriptor must have. */
  realPath?: string;
  /** Identity the file must still have (what the walk saw): any field given must match fstat. */
  expect?: {
    dev?: number | undefined;
    ino?: number | undefined;
    size?: number | undefined;
    mtimeMs?: number | undefined;
  };
}

/** An open, checked regular file. The caller closes `fd` (or uses `withFileInRoot`). */
export interface SafeFile {
  fd: number;
  /** fstat of the descriptor, taken before any byte was read. */
  stats: Stats;
}

const openFd = promisify(open);
const fstatFd = promisify(fstat) as (fd: number) => Promise<Stats>;
const closeFd = promisify(close);

/** O_NONBLOCK: a FIFO swapped in after a caller's lstat cannot hang the open. */
const FILE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const DIR_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_DIRECTORY;

/** Whether `/proc/self/fd` names descriptors (Linux with procfs); learnt on first use. */
let procFd: boolean | undefined = process.platform === 'linux' ? undefined : false;

/** True when `real` lies strictly under `realRoot`. */
export function isUnder(real: string, realRoot: string): boolean {
  return real.startsWith(realRoot.endsWith('/') ? realRoot : `${realRoot}/`);
}

/**
 * `path.join(dir, rel)` for an absolute, normalized `dir` (a real path) and a walk's relative path
 * (names joined by `/`, none empty, `.` or `..`): the same string without `join`'s normalizing pass,
 * which a sync ran three times a file.
 */
export function pathUnder(dir: string, rel: string): string {
  return dir.endsWith('/') ? `${dir}${rel}` : `${dir}/${rel}`;
}

/**
 * The real path of the open descriptor `fd` (opened at `absPath`): from `/proc/self/fd` on Linux,
 * so no later rename can fool it. Elsewhere the path is resolved again, and it counts only when
 * what it resolves to is the descriptor's own file (same device and inode); `undefined` if not.
 */
async function descriptorPath(fd: number, absPath: string, stats: Stats): Promise<string | undefined> {
  if (procFd !== false) {
    try {
      const real = await readlink(`/proc/self/fd/${fd}`);
      procFd = true;
      return real;
    } catch (err) {
      // Once /proc answered, a failure is a real error; before, it means there is no procfs.
      if (procFd === true) throw err;
      procFd = false;
    }
  }
  const real = await realpath(absPath);
  const there = await stat(real);
  return there.dev === stats.dev && there.ino === stats.ino ? real : undefined;
}

/** `descriptorPath` with synchronous calls (for `openFileInRootSync`). */
function descriptorPathSync(fd: number, absPath: string, stats: Stats): string | undefined {
  if (procFd !== false) {
    try {
      const real = readlinkSync(`/proc/self/fd/${fd}`);
      procFd = true;
      return real;
    } catch (err) {
      if (procFd === true) throw err;
      procFd = false;
    }
  }
  const real = realpathSync.native(absPath);
  const there = statSync(real);
  return there.dev === stats.dev && there.ino === stats.ino ? real : undefined;
}

/** Throws `changing` (check `place`) unless the descriptor's real path is where `place` says. */
async function checkPlace(fd: number, absPath: string, stats: Stats, place: Place): Promise<void> {
  if (place.realRoot === undefined && place.realPath === undefined) return;
  placeVerdict(absPath, await descriptorPath(fd, absPath, stats), place);
}

/** `checkPlace` with synchronous calls. */
function checkPlaceSync(fd: number, absPath: string, stats: Stats, place: Place): void {
  if (place.realRoot === undefined && place.realPath === undefined) return;
  placeVerdict(absPath, descriptorPathSync(fd, absPath, stats), place);
}

/** Throws `changing` (check `place`) unless `real`, the descriptor's real path, is where `place` says. */
function placeVerdict(absPath: string, real: string | undefined, place: Place): void {
  if (real === undefined) throw changing(absPath, 'was moved while it was opened', 'place');
  const ok = place.realPath !== undefined ? real === place.realPath : isUnder(real, place.realRoot!);
  // The message names the path inside the root only: the outside target is not the user's business here.
  if (!ok) throw changing(absPath, 'does not lead where the scan saw it (a folder on its path was replaced)', 'place');
}

/** Throws `changing` (check `identity`) when `stats` differs from any field of `expect`. */
function checkIdentity(absPath: string, stats: Stats, expect: Place['expect']): void {
  if (expect === undefined) return;
  const differs =
    (expect.dev !== undefined && expect.dev !== stats.dev) ||
    (expect.ino !== undefined && expect.ino !== stats.ino) ||
    (expect.size !== undefined && expect.size !== stats.size) ||
    (expect.mtimeMs !== undefined && expect.mtimeMs !== stats.mtimeMs);
  if (differs) throw changing(absPath, 'changed since it was scanned', 'identity');
}

/**
 * Opens the regular file at `absPath` for reading, safely (DESIGN.md rule 8): O_NOFOLLOW and
 * O_NONBLOCK; the descriptor's fstat must be a regular file matching `place.expect`; its real path
 * must be `place.realPath` or lie under `place.realRoot`. Every refusal is a FileConditionError
 * `changing`, raised before a byte is read. Other failures of the open are the file system's
 * errors (ENOENT, EACCES, EIO...).
 */
export async function openFileInRoot(absPath: string, place: Place): Promise<SafeFile> {
  let fd: number;
  try {
    fd = await openFd(absPath, FILE_FLAGS);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw changing(absPath, 'was replaced by a symbolic link', 'link', err);
    throw err;
  }
  try {
    const stats = await fstatFd(fd);
    if (!stats.isFile()) throw changing(absPath, 'is no longer a regular file', 'type');
    checkIdentity(absPath, stats, place.expect);
    await checkPlace(fd, absPath, stats, place);
    return { fd, stats };
  } catch (err) {
    await closeFd(fd);
    throw err;
  }
}

/**
 * `openFileInRoot` with synchronous calls: the same flags and the same checks, in the same order,
 * with the same errors. For files the caller knows to be small, whose open, fstat and
 * /proc/self/fd readlink are page-cache hits of microseconds: cheaper on the event loop than a
 * thread-pool round trip each (issue 13). O_NONBLOCK keeps a FIFO swapped in from blocking it.
 */
export function openFileInRootSync(absPath: string, place: Place): SafeFile {
  let fd: number;
  try {
    fd = openSync(absPath, FILE_FLAGS);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw changing(absPath, 'was replaced by a symbolic link', 'link', err);
    throw err;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw changing(absPath, 'is no longer a regular file', 'type');
    checkIdentity(absPath, stats, place.expect);
    checkPlaceSync(fd, absPath, stats, place);
    return { fd, stats };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/**
 * `openFileInRootSync`, then `use(fd, stats)`; the descriptor is closed (synchronously) when
 * `use` settles. `use` may itself read synchronously or not.
 */
export async function withFileInRootSync<T>(absPath: string, place: Place, use: (fd: number, stats: Stats) => T | Promise<T>): Promise<T> {
  const { fd, stats } = openFileInRootSync(absPath, place);
  try {
    return await use(fd, stats);
  } finally {
    closeSync(fd);
  }
}

/** `openFileInRoot`, then `use(fd, stats)`; the descriptor is closed when `use` settles. */
export async function withFileInRoot<T>(absPath: string, place: Place, use: (fd: number, stats: Stats) => Promise<T>): Promise<T> {
  const { fd, stats } = await openFileInRoot(absPath, place);
  try {
    return await use(fd, stats);
  } finally {
    await closeFd(fd);
  }
}

/** An open, checked directory: list it through `listPath`, then `close()` (which re-checks). */
export interface SafeDir {
  stats: Stats;
  /**
   * The path to list it by: `/proc/self/fd/N` on Linux (the directory opened, whatever is renamed
   * meanwhile), else its own path, which `close` then checks was not swapped while listed.
   */
  listPath: string;
  /** Closes the descriptor; without procfs, throws `changing` when the path was swapped meanwhile. */
  close(): Promise<void>;
}

/**
 * Opens the directory at `absPath` (whose real path must be exactly `realPath`) for listing:
 * O_NOFOLLOW|O_DIRECTORY, so a directory swapped for a symlink is ELOOP and reported `changing`
 * (check `link`), one swapped for a file `changing` (check `type`), and one reached through a
 * swapped parent `changing` (check `place`). Errors of the open itself (ENOENT, EACCES) pass through.
 */
export async function openDirInRoot(absPath: string, realPath: string): Promise<SafeDir> {
  let fd: number;
  try {
    fd = await openFd(absPath, DIR_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw changing(absPath, 'was replaced by a symbolic link while the folder was scanned', 'link', err);
    if (code === 'ENOTDIR') throw changing(absPath, 'is no longer a folder', 'type', err);
    throw err;
  }
  let stats: Stats;
  try {
    stats = await fstatFd(fd);
    const real = await descriptorPath(fd, absPath, stats);
    if (real !== realPath) throw changing(absPath, 'does not lead where the scan expected (a folder on its path was replaced)', 'place');
  } catch (err) {
    await closeFd(fd);
    throw err;
  }
  const viaProc = procFd === true;
  return {
    stats,
    listPath: viaProc ? `/proc/self/fd/${fd}` : absPath,
    close: async () => {
      await closeFd(fd);
      if (viaProc) return;
      // Listed by path: it must still be the same directory at the same real place.
      const [again, real] = await Promise.all([stat(absPath), realpath(absPath)]);
      if (again.dev !== stats.dev || again.ino !== stats.ino || real !== realPath) {
        throw changing(absPath, 'was replaced while the folder was scanned', 'identity');
      }
    },
  };
}
