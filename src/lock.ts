// The state directory's writer lock: one process at a time owns a ledger (DESIGN.md rule 7).
//
// The lock itself is an exclusive SQLite lock on `lock.db`, held by an open connection for the life
// of the process: the kernel drops it when the process dies however it dies, so there is no stale
// lock to judge and no window in which two processes both take one. Beside it, `lock` (JSON,
// written atomically by the holder) says who holds it, for messages and for `files-sync sync` to
// find a running daemon; it is a hint, never the lock.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ExitCode, SyncError } from './errors.js';
import { preparePrivateLedger } from './private.js';

/** Another live process holds the lock. */
export class LockedError extends SyncError {
  override name = 'LockedError';
  readonly pid: number | null;
  readonly holder: string;
  constructor(pid: number | null, holder: string, stateDir: string) {
    super(`another files-sync (${holder}${pid === null ? '' : `, pid ${pid}`}) is using ${stateDir}`, ExitCode.usage);
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

/**
 * Reads the holder file; undefined when absent, unreadable, ours, or left by a process that no
 * longer holds the lock: gone, or its pid reused by another process after a kill -9 (the real lock
 * in `lock.db` answers that, as the kernel dropped it with the process).
 */
export function readLock(file: string): LockContent | undefined {
  let content: LockContent;
  try {
    content = JSON.parse(fs.readFileSync(file, 'utf8')) as LockContent;
  } catch {
    return undefined;
  }
  if (typeof content.pid !== 'number' || !alive(content.pid) || content.pid === process.pid) return undefined;
  return heldNow(path.join(path.dirname(file), 'lock.db')) ? content : undefined;
}

/**
 * Whether a process holds the lock in `lockDb` now: its exclusive lock keeps any other connection
 * from reading. Read-only, and no file is made (a missing `lock.db` is held by no one); one this
 * user cannot read leaves the hint as it is (true).
 */
function heldNow(lockDb: string): boolean {
  let db: Database.Database | undefined;
  try {
    db = new Database(lockDb, { readonly: true, fileMustExist: true, timeout: 0 });
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return false;
  } catch {
    return fs.existsSync(lockDb); // busy (held), or not ours to read: the hint stands
  } finally {
    db?.close();
  }
}

/** A held lock; `release()` is safe to call twice. */
export interface Lock {
  readonly file: string;
  release(): void;
}

/**
 * The connections whose locks this process holds, until released: the kernel lock lives as long
 * as its connection, and better-sqlite3 closes a connection nobody references when V8 collects it.
 * Held here, a lock lasts until `release()` (or the process's end) whatever its caller keeps.
 */
const held = new Set<Database.Database>();

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

/** Takes the lock in `stateDir`, or throws LockedError naming the live holder. */
export function acquireLock(stateDir: string, holder: string): Lock {
  const file = path.join(stateDir, 'lock');
  const lockDb = path.join(stateDir, 'lock.db');
  // Private as the ledger is (0600 whatever the umask, never through a link; its journal too).
  preparePrivateLedger(lockDb, stateDir, false, 'the lock file');
  // A short wait: a `status` asking the lock (readLock) holds a shared lock on it for a moment.
  const db = new Database(lockDb, { timeout: 250 });
  try {
    // In exclusive locking mode the lock taken by the first write is kept until the connection closes.
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL)');
    db.prepare('DELETE FROM holder').run();
    db.prepare('INSERT INTO holder (pid) VALUES (?)').run(process.pid);
    db.exec('COMMIT');
    held.add(db);
  } catch (err) {
    db.close();
    if (!isBusy(err)) throw err;
    const current = readLock(file);
    throw new LockedError(current?.pid ?? null, current?.holder ?? 'another process', stateDir);
  }
  const content = JSON.stringify({ pid: process.pid, holder } satisfies LockContent);
  const temp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temp, content, { mode: 0o600 });
    fs.renameSync(temp, file);
  } catch (err) {
    // No holder file (a full disk...): the lock is not taken either, rather than held unnamed.
    held.delete(db);
    db.close();
    fs.rmSync(temp, { force: true });
    throw err;
  }
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
      held.delete(db);
      db.close();
    },
  };
}
