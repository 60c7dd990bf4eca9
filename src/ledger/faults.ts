// Ledger faults, classified once: which SQLite failures mean the ledger file is unusable (fatal for
// the program, exit 6), which pass (a full disk, a busy database: retried), and what each tells the user.
import type Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { ExitCode, SyncError, errorMessage } from '../errors.js';

/**
 * What went wrong with the ledger. `corrupt`, `readonly`, `vanished` and `io` need an admin and
 * stop the program; `full` and `busy` may pass and are retried; `setup` is a ledger that cannot be
 * used as configured (none yet for a read-only command, a newer schema): a usage error, exit 2.
 */
export type LedgerFaultKind = 'corrupt' | 'readonly' | 'vanished' | 'io' | 'full' | 'busy' | 'setup';

const TRANSIENT: ReadonlySet<LedgerFaultKind> = new Set(['full', 'busy']);

/** The ledger cannot be used: `kind` says why, `fatal` whether the program must stop. */
export class LedgerError extends SyncError {
  override name = 'LedgerError';
  readonly kind: LedgerFaultKind;
  /** True when retrying cannot help: the program stops (the daemon too) with `exitCode`. */
  readonly fatal: boolean;
  constructor(message: string, kind: LedgerFaultKind = 'setup', options?: { cause?: unknown }) {
    super(message, kind === 'setup' ? ExitCode.usage : ExitCode.ledger, options);
    this.kind = kind;
    this.fatal = !TRANSIENT.has(kind);
  }
}

/** True for a ledger error that must stop the program (not one to retry). */
export function isFatalLedgerError(err: unknown): err is LedgerError {
  return err instanceof LedgerError && err.fatal;
}

/** The directory that holds a ledger's backups: `backups/` beside it in the state directory. */
export function backupDir(ledgerFile: string): string {
  return path.join(path.dirname(ledgerFile), 'backups');
}

/** Backup files of a ledger, oldest first (their names sort by time). */
export function listBackups(ledgerFile: string): string[] {
  const dir = backupDir(ledgerFile);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return []; // no backup made yet
  }
  return names
    .filter((n) => /^ledger-.*\.db$/.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

/** Kind of a SQLite result code (primary or extended); null for codes that are no fault of the file. */
export function ledgerFaultKind(code: string): LedgerFaultKind | null {
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return 'corrupt';
  if (code === 'SQLITE_READONLY_DBMOVED') return 'vanished';
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_PERM')) return 'readonly';
  // The shared-memory file (-shm) could not grow: what a full disk does at the ledger's open (a
  // file-size limit would read the same; it is retried, and said, as a full disk).
  if (code === 'SQLITE_IOERR_SHMSIZE') return 'full';
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN')) return 'io';
  if (code.startsWith('SQLITE_FULL')) return 'full';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy';
  return null;
}

/** The one line for a fault: what happened to which file, and what to do. */
export function faultMessage(kind: LedgerFaultKind, file: string, detail: string): string {
  const newest = listBackups(file).at(-1);
  // With no backup left (none made yet, or gone with the state directory) there is nothing to restore.
  const adopt = `run \`files-sync adopt\` (it takes over this folder's copies; no backup is left in ${backupDir(file)})`;
  const restore = `run \`files-sync ledger restore\` to put back the newest backup (${newest})`;
  switch (kind) {
    case 'corrupt':
      return newest === undefined
        ? `the ledger ${file} is damaged (${detail}); move it aside, then ${adopt} and sync`
        : `the ledger ${file} is damaged (${detail}); ${restore}, or move it aside to start over (every file is then uploaded again)`;
    case 'vanished':
      return `the ledger ${file} was deleted or replaced while files-sync was using it; put it back, or ${newest === undefined ? adopt : restore}, then start files-sync again`;
    case 'readonly':
      return `the ledger ${file} cannot be written (${detail}): give the service user write access to it and its directory (check owner, mode, immutable attribute and read-only mounts)`;
    case 'io':
      return `the ledger ${file} cannot be read or written (${detail}): check the disk (dmesg), then run \`files-sync ledger check\``;
    case 'full':
      return `the ledger ${file} cannot be written: the disk is full (${detail}); free some space, then run files-sync again (a running daemon tries again by itself)`;
    case 'busy':
      return `the ledger ${file} is locked by another program (${detail}); files-sync retries`;
    case 'setup':
      return `the ledger ${file} cannot be used: ${detail}`;
  }
}

/**
 * Maps a better-sqlite3 `SqliteError` (by its `code`) to a LedgerError; null for anything else (a
 * mistake in a statement, a TypeError), which stays as it is. A LedgerError passes unchanged.
 */
export function classifySqliteError(err: unknown, file: string): LedgerError | null {
  if (err instanceof LedgerError) return err;
  if (!(err instanceof Error) || err.name !== 'SqliteError') return null;
  const code = (err as { code?: unknown }).code;
  const kind = typeof code === 'string' ? ledgerFaultKind(code) : null;
  if (kind === null) return null;
  return new LedgerError(faultMessage(kind, file, errorMessage(err)), kind, { cause: err });
}

/**
 * SQLite's own check of the file: [] when it is sound, else what it found. quick_check first (it
 * finds most damage at a fraction of the cost), then the full integrity_check.
 */
export function integrityProblemsOf(db: Database.Database, file: string): string[] {
  try {
    for (const pragma of ['quick_check', 'integrity_check']) {
      const rows = (db.pragma(pragma) as Record<string, string>[]).map((row) => Object.values(row)[0] ?? '');
      if (rows.length !== 1 || rows[0] !== 'ok') return rows;
    }
    return [];
  } catch (err) {
    // Damage bad enough to stop the check itself is its finding.
    if (classifySqliteError(err, file)?.kind === 'corrupt') return [errorMessage(err)];
    throw err;
  }
}

/** Device and inode of a path; null when nothing is there. */
export function identityOf(file: string): { dev: number; ino: number } | null {
  try {
    const s = fs.statSync(file);
    return { dev: s.dev, ino: s.ino };
  } catch {
    return null;
  }
}

/** A `vanished` error when `file` no longer is the file opened as `opened`, else null. */
export function checkIdentity(file: string, opened: { dev: number; ino: number } | null): LedgerError | null {
  if (opened === null) return null; // :memory:
  const now = identityOf(file);
  if (now && now.dev === opened.dev && now.ino === opened.ino) return null;
  return new LedgerError(faultMessage('vanished', file, now ? 'replaced' : 'deleted'), 'vanished');
}

/** The error for a failed open: a fault of the file (exit 6) or a ledger that cannot be used as configured (exit 2). */
export function openFailure(file: string, err: unknown): LedgerError {
  if (err instanceof LedgerError) return err;
  return classifySqliteError(err, file) ?? new LedgerError(`cannot open the ledger ${file}: ${errorMessage(err)}`, 'setup', { cause: err });
}

/** Throws a `readonly` LedgerError when this process may not write `file`. */
export function assertWritable(file: string): void {
  try {
    fs.accessSync(file, fs.constants.W_OK);
  } catch (err) {
    throw new LedgerError(faultMessage('readonly', file, errorMessage(err)), 'readonly', { cause: err });
  }
}

/** How often (at most) a call checks that the ledger's path still names the file it opened. */
const IDENTITY_CHECK_MS = 1000;

/**
 * The ledger's fault guard: a SQLite failure becomes a LedgerError (a deleted or replaced file is
 * reported as such whatever SQLite said), each reported once to the listener before it is thrown.
 */
export class FaultGuard {
  /** Called once for each fault, before the error is thrown. */
  listener: ((err: LedgerError) => void) | null = null;
  /** Device and inode of the file opened (null for `:memory:`): a deleted or replaced ledger is noticed. */
  readonly #opened: { dev: number; ino: number } | null;
  #identityCheckedAt = -Infinity;
  readonly #reported = new WeakSet<LedgerError>();

  constructor(private readonly file: string) {
    this.#opened = file === ':memory:' ? null : identityOf(file);
  }

  /**
   * Runs one verb; the path's identity is checked at most once a second, since SQLite goes on
   * writing to a deleted file without a word.
   */
  run<T>(verb: () => T): T {
    try {
      // A monotonic clock: a wall clock set back would skip the checks for as long as it was off.
      const now = performance.now();
      if (now - this.#identityCheckedAt >= IDENTITY_CHECK_MS) {
        const gone = checkIdentity(this.file, this.#opened);
        if (gone) throw gone;
        this.#identityCheckedAt = now;
      }
      const result = verb();
      // An async verb's failure is classified and reported as a synchronous one's.
      return result instanceof Promise ? (result.catch((err: unknown) => this.raise(err)) as T) : result;
    } catch (err) {
      this.raise(err);
    }
  }

  /** Throws `err`, as a LedgerError when it is a fault of the file (reported once to the listener). */
  raise(err: unknown): never {
    const fault = classifySqliteError(err, this.file);
    if (fault === null) throw err;
    const error = fault.kind === 'vanished' ? fault : (checkIdentity(this.file, this.#opened) ?? fault);
    if (!this.#reported.has(error)) {
      this.#reported.add(error);
      this.listener?.(error);
    }
    throw error;
  }
}

/**
 * Wraps every method of `prototypes` but the `unguarded` ones in `guardOf(this).run`, so that a
 * fault is classified there once (DESIGN.md rule 6), never at the callers, for verbs added later too.
 */
export function guardVerbs<T>(prototypes: readonly object[], unguarded: ReadonlySet<string>, guardOf: (self: T) => FaultGuard): void {
  for (const proto of prototypes) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const desc = Object.getOwnPropertyDescriptor(proto, name);
      if (unguarded.has(name) || typeof desc?.value !== 'function') continue;
      const verb = desc.value as (...args: unknown[]) => unknown;
      Object.defineProperty(proto, name, {
        ...desc,
        value: function guarded(this: T, ...args: unknown[]) {
          return guardOf(this).run(() => verb.apply(this, args));
        },
      });
    }
  }
}
