// What the local side of a sync produces: the walk's view of the root, shared by the walker, the
// planner and the daemon's per-path jobs.

/** One regular file under the root, as the walk saw it. */
export interface LocalFile {
  /** Relative to the root, POSIX separators, NFC as the file system gave it (never normalised). */
  path: string;
  size: number;
  /** Modification time in milliseconds (fractional part kept as stat gives it). */
  mtimeMs: number;
  ino: number;
  /** Device of the file as the walk saw it; with `ino`, what an upload must still find (rule 8). */
  dev?: number;
  /**
   * The file's real path when it is not `<real root>/<path>` (reached through a followed symlink):
   * where an upload opens it. Absent for the usual case, to keep large walks small.
   */
  realPath?: string;
  /**
   * Hex sha256 of the content. Reused from the ledger when size and mtime match it (a touched
   * file costs a hash, an unchanged one nothing); null when the file was not hashed because it
   * is over `maxFileBytes`, or when its upload hashes it (`hashLater`).
   */
  sha256: string | null;
  mimeType: string;
  /**
   * Not hashed by the walk on purpose (`ScanOptions.deferHash`): a large new file that cannot be a
   * move. Its upload hashes the bytes it sends and the ledger records that hash (`sha256` is null).
   */
  hashLater?: true;
}

/** A path that exists but could not be taken: it is never treated as deleted. */
export interface LocalProblem {
  path: string;
  /** `unreadable`: a permission or I/O error; `changing`: it changed while it was read. */
  kind: 'unreadable' | 'changing';
  reason: string;
  /**
   * The name did not decode (invalid UTF-8 bytes read as U+FFFD, which no open can name): another
   * file than any ledger row of the same text, since a row's file was read and uploaded by it.
   */
  undecodable?: true;
}

/** What the walk knew of a path before (from the ledger), to skip hashing unchanged files. */
export interface KnownFile {
  size: number;
  mtimeMs: number;
  /** When given, a different inode also means "hash again" (a file replaced by `cp -p`). */
  ino?: number;
  sha256: string;
  mimeType: string;
}

export interface WalkResult {
  files: LocalFile[];
  problems: LocalProblem[];
  /**
   * False when any directory could not be read, vanished before it was listed, or was not the
   * directory the scan expected (swapped for a link, reached through a swapped parent): the plan
   * must then not delete anything, since a missing path may only be unseen (DESIGN.md rule 4).
   */
  complete: boolean;
  /** Paths skipped on purpose and why (FIFOs, sockets, devices, symlinks): logged once each. */
  skipped: { path: string; reason: string }[];
  /** Identity of the root directory, to notice an unmounted or replaced disk. */
  root: { dev: number; ino: number };
  filesHashed: number;
  bytesHashed: number;
  /**
   * With `keepContent`: the bytes hashed of small files that were new or changed (path → content),
   * so that their upload sends exactly what was hashed without reading the file again.
   */
  contents?: Map<string, Buffer>;
}

/**
 * How much the walk may keep of the files it hashes (WalkResult.contents): files up to
 * `maxFileBytes`, while `remainingBytes` lasts (the walk counts it down).
 */
export interface ContentBudget {
  maxFileBytes: number;
  remainingBytes: number;
}

/** Which paths under the root take part in the sync. */
export interface FilterOptions {
  /** Globs (relative to the root); when non-empty, only files matching one are synced. */
  include: readonly string[];
  /** Globs (gitignore syntax) excluded in addition to the defaults. */
  exclude: readonly string[];
  /** Contents of the root's `.filesyncignore` (gitignore syntax), if any. */
  ignoreFile?: string;
  /** Relative path of the state directory when it lies inside the root: always excluded. */
  stateDirInRoot?: string;
}

/** True when a relative path takes part in the sync. `isDir` tells directories from files. */
export type PathFilter = (relPath: string, isDir: boolean) => boolean;
