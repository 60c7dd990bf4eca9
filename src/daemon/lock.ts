// The state directory's writer lock: one process at a time owns a ledger (DESIGN.md rule 7).
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode, SyncError } from '../errors.js';

/** Another live process holds the lock. */
export class LockedError extends SyncError {
  override name = 'LockedError';
  readonly pid: number;
  readonly holder: string;
  constructor(pid: number, holder: string, file: string) {
    super(`another files-sync (${holder}, pid ${pid}) is using ${path.dirname(file)}`, ExitCode.usage);
    this.pid = pid;
    this.holder = holder;
  }
}

interface LockContent {
  pid: number;
  /** `daemon` or `sync`: who holds it, so a caller knows whether a control socket answers. */
  holder: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads the lock file; undefined when absent, unreadable, or left by a process that is gone. */
export function readLock(file: string): LockContent | undefined {
  let content: LockContent;
  try {
    content = JSON.parse(fs.readFileSync(file, 'utf8')) as LockContent;
  } catch {
    return undefined;
  }
  if (typeof content.pid !== 'number' || !alive(content.pid) || content.pid === process.pid) return undefined;
  return content;
}

/** A held lock; `release()` is safe to call twice. */
export interface Lock {
  readonly file: string;
  release(): void;
}

/**
 * Takes the lock in `stateDir`, or throws LockedError naming the live holder. A lock left by a
 * dead process (a crash, SIGKILL) is taken over.
 */
export function acquireLock(stateDir: string, holder: string): Lock {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = path.join(stateDir, 'lock');
  const content = JSON.stringify({ pid: process.pid, holder } satisfies LockContent);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, content, { flag: 'wx', mode: 0o600 });
      let released = false;
      return {
        file,
        release() {
          if (released) return;
          released = true;
          try {
            if (fs.readFileSync(file, 'utf8') === content) fs.unlinkSync(file);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const current = readLock(file);
      if (current) throw new LockedError(current.pid, current.holder, file);
      // Stale: its owner died. Remove it and race for it again (O_EXCL decides).
      try {
        fs.unlinkSync(file);
      } catch {
        // someone else removed it first
      }
    }
  }
  throw new SyncError(`could not take the lock ${file}`, ExitCode.usage);
}
