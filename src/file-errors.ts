// Typed errors for conditions of a local file (changing, too large, vanished), each deciding where
// it is raised whether retrying can help, so the planner, the walk and the upload agree.
import fs from 'node:fs';
import { ExitCode, SyncError } from './errors.js';

/**
 * What is wrong with the file. `changing`: it changed, was replaced (by a link, another type or
 * another inode), or its real path is not where the walk saw it: the next pass looks again.
 * `too-large`: over `maxFileBytes`; only a change of the file can help. `vanished`: it is gone.
 */
export type FileConditionKind = 'changing' | 'too-large' | 'vanished';

/**
 * Which check of a safe open failed (DESIGN.md rule 8), when one did: a symlink at the final
 * component (`link`), not a regular file (`type`), another device/inode/size/mtime than
 * expected (`identity`), or a real path outside the root or elsewhere than expected (`place`).
 */
export type FileConditionCheck = 'link' | 'type' | 'identity' | 'place';

/**
 * A per-file condition, not a fault of the program: recorded in `failures` for the path, with
 * `retryable` saying whether a retry with back-off can succeed without the file changing. `code`
 * is `changed` for a changing file, so the client's LocalFileError names it as such.
 */
export class FileConditionError extends SyncError {
  override name = 'FileConditionError';
  readonly kind: FileConditionKind;
  readonly retryable: boolean;
  readonly check: FileConditionCheck | undefined;
  /**
   * What a caller that looks at `code` sees (the client's LocalFileError takes it): `changed`,
   * `ENOTFILE` for a path that is not a regular file (check `type`), `too-large` or `ENOENT`.
   */
  readonly code: string;
  /** The absolute path the condition was found at. */
  readonly path: string;

  constructor(kind: FileConditionKind, path: string, message: string, options: { check?: FileConditionCheck; cause?: unknown } = {}) {
    super(message, ExitCode.fileFailures, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.path = path;
    this.check = options.check;
    // A too-large file stays too large until it changes: retrying it is wasted work.
    this.retryable = kind !== 'too-large';
    if (kind === 'changing') this.code = options.check === 'type' ? 'ENOTFILE' : 'changed';
    else this.code = kind === 'vanished' ? 'ENOENT' : 'too-large';
  }
}

/** The file changed or was replaced: no upload now; the next pass looks at it again. */
export function changing(path: string, why: string, check?: FileConditionCheck, cause?: unknown): FileConditionError {
  return new FileConditionError('changing', path, `${path} ${why}; it will be synced when it settles`, {
    ...(check ? { check } : {}),
    ...(cause !== undefined ? { cause } : {}),
  });
}

/** The file is over the size limit: not uploaded until it changes (raise the limit to sync it). */
export function tooLarge(path: string, size: number, limit: number): FileConditionError {
  return new FileConditionError('too-large', path, `too large: ${size} bytes, the limit is ${limit} (raise maxFileBytes to sync it)`);
}

/**
 * Whether `file` is known not to exist (ENOENT, ENOTDIR). A path that cannot be looked at (EACCES:
 * a state directory of another user) is not absent: `fs.existsSync` would say false, and a command
 * would take a ledger it cannot read for none at all ("never synced").
 */
export function isAbsent(file: string): boolean {
  try {
    fs.statSync(file);
    return false;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR';
  }
}
