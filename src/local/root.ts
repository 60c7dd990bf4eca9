// The sync root itself: opening it (exists, is a directory, its real path and identity) and the
// error raised when it cannot be walked at all, which no caller may take for an empty folder.
import fs from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path, { resolve } from 'node:path';
import type { Config } from '../config.js';
import { GuardError, errorMessage } from '../errors.js';

/**
 * Why the root cannot be walked. `changed`: its identity (dev/ino) differed at the end of a walk
 * from the start, so the disk was unmounted or the folder replaced while it was read.
 */
export type RootErrorReason = 'missing' | 'not-a-directory' | 'unreadable' | 'changed';

/**
 * The sync root is missing, not a directory, unreadable or was replaced during the walk. Fatal
 * for the run (exit 3, like a tripped guard): nothing may be planned from such a walk, above all
 * no deletes (DESIGN.md rule 4). Check the path, the mount and the permissions of the service.
 */
export class RootError extends GuardError {
  override name = 'RootError';
  readonly reason: RootErrorReason;
  /** The root as given, made absolute. */
  readonly root: string;
  constructor(reason: RootErrorReason, root: string, options?: { cause?: unknown }) {
    super(RootError.describe(reason, root, options?.cause), options);
    this.reason = reason;
    this.root = root;
  }

  private static describe(reason: RootErrorReason, root: string, cause: unknown): string {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const suffix = code ? ` (${code})` : '';
    switch (reason) {
      case 'missing':
        return `sync root ${root} does not exist${suffix}: is the disk mounted and the path right?`;
      case 'not-a-directory':
        return `sync root ${root} is not a directory`;
      case 'unreadable':
        return `sync root ${root} cannot be read${suffix}: check the permissions of the user files-sync runs as`;
      case 'changed':
        return `sync root ${root} was replaced or unmounted during the scan; the scan is discarded`;
    }
  }
}

/** The opened root: its absolute path, real path (symlinks resolved) and identity. */
export interface OpenedRoot {
  absRoot: string;
  realRoot: string;
  dev: number;
  ino: number;
}

function rootErrorOf(err: unknown, absRoot: string): RootError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason: RootErrorReason = code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'unreadable';
  return new RootError(reason, absRoot, { cause: err });
}

/** Stats and resolves the root (a symlink to a directory is a valid root). Throws RootError. */
export async function openRoot(root: string): Promise<OpenedRoot> {
  const absRoot = resolve(root);
  let realRoot: string;
  try {
    realRoot = await realpath(absRoot);
  } catch (err) {
    throw rootErrorOf(err, absRoot);
  }
  let info;
  try {
    info = await stat(realRoot);
  } catch (err) {
    throw rootErrorOf(err, absRoot);
  }
  if (!info.isDirectory()) throw new RootError('not-a-directory', absRoot);
  return { absRoot, realRoot, dev: info.dev, ino: info.ino };
}

/** What identifies the sync root between runs: its device and inode (DESIGN.md rule 4). */
export interface RootIdentity {
  dev: number;
  ino: number;
}

/**
 * Why the folder now at `root` (identity `current`) is not the root last synced (`recorded`), or
 * null when it is. Another device is an unmounted or swapped disk; another inode on the same
 * device is a folder that was replaced or moved (`mv root root.old && mkdir root`, a restore from
 * a backup). Either way its files are not the ledger's, so nothing may be deleted on their word
 * until the user accepts the new folder. A recorded identity without an inode (written by an
 * older version) is compared by device only.
 */
export function identityChange(root: string, recorded: Partial<RootIdentity> | null | undefined, current: RootIdentity): string | null {
  const accept = 'if the folder really is the new root, run files-sync sync --allow-mass-delete once';
  if (typeof recorded?.dev === 'number' && recorded.dev !== current.dev) {
    return `${root} is on another device than when it was last synced (is the disk mounted?); ${accept}`;
  }
  if (typeof recorded?.ino === 'number' && recorded.ino !== current.ino) {
    return `${root} is another folder than the one last synced (same disk, another inode: it was replaced or moved); ${accept}`;
  }
  return null;
}

/** Throws RootError when the root is gone or no longer the directory `opened` describes. */
export async function checkRootUnchanged(opened: OpenedRoot): Promise<void> {
  let info;
  try {
    info = await stat(opened.realRoot);
  } catch (err) {
    throw rootErrorOf(err, opened.absRoot);
  }
  if (!info.isDirectory() || info.dev !== opened.dev || info.ino !== opened.ino) {
    throw new RootError('changed', opened.absRoot);
  }
}

/** What `checkRoot` reads of the ledger: whether it tracks files, and the identity it recorded. */
export interface RootRecord {
  fileCount(): number;
  getMetaJson<T>(key: string): T | undefined;
}

/**
 * Checks the root before anything is planned (rule 4). A missing root is an error (exit 3);
 * a missing marker or another device or inode (a replaced folder) does not stop uploads but forbids deletes.
 */
export function checkRoot(
  config: Pick<Config, 'root' | 'rootMarker'>,
  ledger: RootRecord,
  acceptNewDevice = false,
): { distrust: string | null; dev: number } {
  let st: fs.Stats;
  try {
    st = fs.statSync(config.root);
  } catch (err) {
    throw new GuardError(`the sync root ${config.root} is missing or unreadable (${errorMessage(err)}): nothing was deleted`, {
      cause: err,
    });
  }
  if (!st.isDirectory()) throw new GuardError(`the sync root ${config.root} is not a directory: nothing was deleted`);
  let distrust: string | null = null;
  if (config.rootMarker && !fs.existsSync(path.join(config.root, config.rootMarker))) {
    distrust = `the root marker ${config.rootMarker} is missing from ${config.root} (is the right disk mounted?)`;
  }
  // Device and inode: a replaced folder is as foreign as another disk.
  if (!distrust && !acceptNewDevice && ledger.fileCount() > 0) {
    distrust = identityChange(config.root, ledger.getMetaJson<Partial<RootIdentity>>('root_identity'), st);
  }
  return { distrust, dev: st.dev };
}
