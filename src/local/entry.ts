// What one directory entry is for the sync, shared by the walk and the per-path `statOne`: the
// rules for regular files (hash or reuse) and special files (symlinks followed: link-target.ts).
import type { Stats } from 'node:fs';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { FileConditionError } from '../file-errors.js';
import { type HashResult, SYNC_READ_MAX_BYTES, hashDescriptor, hashFile, withOpenFile } from './hash.js';
import { hashLater, readHead } from './defer-hash.js';
import { mimeTypeFor } from './mime.js';
import type { ContentBudget, KnownFile, LocalFile, LocalProblem, PathFilter } from './types.js';
import { pathUnder } from '../safe-open.js';

export { DEFER_HASH_MIN_BYTES, deferHashFor, type DeferHashLedger } from './defer-hash.js';

/** Options shared by `walk` and `statOne`. */
export interface ScanOptions {
  /** Which paths take part (`createFilter`). */
  filter: PathFilter;
  /** Follow symlinks that stay inside the root; otherwise every symlink is skipped. */
  followSymlinks: boolean;
  /** Files larger than this are returned with `sha256: null`, never read. */
  maxFileBytes: number;
  /** The ledger's view of a path: a file with the same size and mtime is not read again. */
  known: (relPath: string) => KnownFile | undefined;
  signal?: AbortSignal;
  /** Receives debug lines for skipped paths and warnings for problems. */
  logger?: Logger;
  /** Keep the bytes of small files that get hashed, within this budget (counted down). */
  keepContent?: ContentBudget;
  /**
   * For a file `known` does not have: true when its hash is left to its upload (`hashLater`, see
   * `deferHashFor`), so that a large new file is read once, not twice.
   */
  deferHash?: (size: number, relPath: string) => boolean;
  /**
   * `statOne` only: look for files-sync's state marker in each folder above the path (an lstat
   * each) and call a path under a folder holding ours `excluded`. The daemon's jobs set it; a
   * walk sees the marker in its listings.
   */
  stateMarkers?: boolean;
}

/** What became of one path. */
export type Taken =
  | { kind: 'file'; file: LocalFile; hashedBytes: number | undefined; content?: Buffer }
  | { kind: 'problem'; problem: LocalProblem }
  | { kind: 'skipped'; reason: string }
  | { kind: 'missing' };

/** The real directories along the logical path being walked, innermost first (loop checks). */
export interface DirChain {
  real: string;
  parent: DirChain | undefined;
}

/** An error from the file system (with an errno code), as opposed to a bug or an abort. */
export function fsCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && !(err instanceof DOMException) ? code : undefined;
}

/** A file-system error as a reason: `code: message`, the code once (node's own messages begin with it). */
export function fsReason(code: string, err: unknown): string {
  const message = errorMessage(err);
  return message.startsWith(`${code}:`) ? message : `${code}: ${message}`;
}

/** A name Node could not decode (invalid UTF-8 bytes come back as U+FFFD and cannot be opened). */
export function undecodable(relPath: string): boolean {
  return relPath.includes('\ufffd');
}

export function problem(path: string, kind: LocalProblem['kind'], reason: string): Taken {
  return { kind: 'problem', problem: { path, kind, reason } };
}

/** The problem of an entry whose name does not decode (see `undecodable`). */
export function undecodableProblem(path: string): Taken {
  return { kind: 'problem', problem: { path, kind: 'unreadable', reason: 'the name is not valid UTF-8', undecodable: true } };
}

/** Why a non-regular, non-directory, non-symlink entry is skipped. */
export function specialReason(entry: Pick<Stats, 'isFIFO' | 'isSocket' | 'isBlockDevice' | 'isCharacterDevice'>): string {
  if (entry.isFIFO()) return 'FIFO';
  if (entry.isSocket()) return 'socket';
  if (entry.isBlockDevice()) return 'block device';
  if (entry.isCharacterDevice()) return 'character device';
  return 'not a regular file';
}

/**
 * A file system error on a path that exists, as a problem (`changing` for type races and for a
 * safe open's refusal: a link, another file or a place outside the root, DESIGN.md rule 8).
 */
export function problemOf(relPath: string, err: unknown): Taken {
  if (err instanceof FileConditionError) {
    if (err.kind === 'vanished') return { kind: 'missing' };
    return problem(relPath, err.kind === 'changing' ? 'changing' : 'unreadable', err.message);
  }
  const code = fsCode(err);
  if (code === undefined) throw err;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return undecodable(relPath) ? undecodableProblem(relPath) : { kind: 'missing' };
  }
  // ELOOP under O_NOFOLLOW: it became a symlink between lstat and open.
  if (code === 'ELOOP') return problem(relPath, 'changing', 'it was replaced while it was read');
  return problem(relPath, 'unreadable', fsReason(code, err));
}

/**
 * A regular file whose stat (lstat, or stat of a followed symlink's target) is `info`: reused
 * from `known` when size and mtime match, returned unhashed when over the limit, else hashed.
 * `absPath` is its real path (the walk builds it from real directories) and the hash opens it
 * only there, under `realRoot`, and only as the device and inode `info` gave (rule 8).
 */
export async function takeFile(relPath: string, absPath: string, info: Stats, options: ScanOptions, realRoot: string): Promise<Taken> {
  const taken = await takeRegular(relPath, absPath, info, options, realRoot);
  // Reached through a followed link: the upload must open the file the walk saw, where it is.
  if (taken.kind === 'file' && absPath !== pathUnder(realRoot, relPath)) taken.file.realPath = absPath;
  return taken;
}

async function takeRegular(relPath: string, absPath: string, info: Stats, options: ScanOptions, realRoot: string): Promise<Taken> {
  if (info.size > options.maxFileBytes) return unhashed(relPath, info);
  const known = options.known(relPath);
  if (
    known !== undefined &&
    known.size === info.size &&
    known.mtimeMs === info.mtimeMs &&
    (known.ino === undefined || known.ino === info.ino)
  ) {
    const file = {
      path: relPath,
      size: info.size,
      mtimeMs: info.mtimeMs,
      ino: info.ino,
      dev: info.dev,
      sha256: known.sha256,
      mimeType: known.mimeType,
    };
    return { kind: 'file', file, hashedBytes: undefined };
  }
  // Unknown and large: its upload hashes it. The MIME type from the name (no open here to sniff).
  if (known === undefined && options.deferHash?.(info.size, relPath) === true)
    return { kind: 'file', file: hashLater(relPath, info, undefined), hashedBytes: undefined };
  let hashed;
  try {
    const place = { realRoot, realPath: absPath, expect: { dev: info.dev, ino: info.ino } };
    const small = info.size <= SYNC_READ_MAX_BYTES;
    hashed = await hashFile(absPath, { place, signal: options.signal, keep: keepable(options, info.size), small });
  } catch (err) {
    return problemOf(relPath, err);
  }
  return fromHash(relPath, hashed, options);
}

/**
 * The fast path for a file the ledger does not know (the first sync of a tree): open, fstat and
 * hash the descriptor, with no lstat before (5 system calls instead of 6). Undefined when the
 * entry turns out not to be a regular file or cannot be opened for a reason the lstat path
 * words better (a symlink swapped in; no permission, yet over the limit and never to be read):
 * the caller then takes the lstat path. The open, fstat, descriptor check and close are
 * synchronous (metadata of an entry just listed: page-cache hits), and so is the read of a file
 * of at most SYNC_READ_MAX_BYTES (hash.ts); a larger file is read asynchronously.
 */
export async function takeUnknownFile(
  relPath: string,
  absPath: string,
  options: ScanOptions,
  realRoot: string,
): Promise<Taken | undefined> {
  try {
    return await withOpenFile(
      absPath,
      { realRoot, realPath: absPath },
      async (fd, before) => {
        if (!before.isFile()) return undefined;
        if (before.size > options.maxFileBytes) return unhashed(relPath, before);
        if (options.deferHash?.(before.size, relPath) === true) {
          return { kind: 'file', file: hashLater(relPath, before, await readHead(fd, before.size)), hashedBytes: undefined };
        }
        return fromHash(
          relPath,
          await hashDescriptor(fd, before, { signal: options.signal, keep: keepable(options, before.size) }),
          options,
        );
      },
      true,
    );
  } catch (err) {
    // A link or a FIFO swapped in since readdir: the lstat path says which (skipped, followed).
    if (err instanceof FileConditionError) return err.check === 'link' || err.check === 'type' ? undefined : problemOf(relPath, err);
    const code = fsCode(err);
    if (code === undefined) throw err;
    if (code === 'ELOOP' || code === 'EACCES' || code === 'EPERM') return undefined;
    return problemOf(relPath, err);
  }
}

/** Whether the content of a file of `size` bytes is kept; if so, the budget is charged now. */
function keepable(options: ScanOptions, size: number): boolean {
  const budget = options.keepContent;
  if (budget === undefined || size > budget.maxFileBytes || size > budget.remainingBytes) return false;
  budget.remainingBytes -= size;
  return true;
}

/** A file over the limit: listed with its stat, never read. */
function unhashed(relPath: string, info: Stats): Taken {
  const file = {
    path: relPath,
    size: info.size,
    mtimeMs: info.mtimeMs,
    ino: info.ino,
    dev: info.dev,
    sha256: null,
    mimeType: mimeTypeFor(relPath),
  };
  return { kind: 'file', file, hashedBytes: undefined };
}

function fromHash(relPath: string, hashed: HashResult, options: ScanOptions): Taken {
  // A FIFO or other type swapped in after lstat: O_NONBLOCK kept the open from hanging.
  if (!hashed.regular) return { kind: 'skipped', reason: 'it is no longer a regular file' };
  if (!hashed.stableAcrossRead) return problem(relPath, 'changing', 'its size or mtime changed while it was read');
  const file: LocalFile = {
    path: relPath,
    size: hashed.size,
    mtimeMs: hashed.mtimeMs,
    ino: hashed.ino,
    dev: hashed.dev,
    // It may have grown past the limit between lstat and open.
    sha256: hashed.size > options.maxFileBytes ? null : hashed.sha256,
    mimeType: mimeTypeFor(relPath, hashed.head),
  };
  return {
    kind: 'file',
    file,
    hashedBytes: hashed.size,
    ...(hashed.content && file.sha256 !== null ? { content: hashed.content } : {}),
  };
}

/**
 * Logs a skipped path or a problem where the walk or statOne found it, at debug level: both
 * recur on every scan, and the caller records problems as failures and reports them once.
 */
export function logTaken(logger: Logger | undefined, taken: Taken, relPath: string): void {
  if (logger === undefined) return;
  if (taken.kind === 'skipped') logger.debug('skipped', { path: relPath, reason: taken.reason });
  else if (taken.kind === 'problem') logger.debug(`${taken.problem.kind} file`, { path: relPath, reason: taken.problem.reason });
}
