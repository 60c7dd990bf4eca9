// Opening the ledger's SQLite file: private by rule 9, writable or refused, WAL, and the schema
// migrated (or, read-only, checked) before any verb runs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { preparePrivateLedger } from '../private.js';
import { errorMessage } from '../errors.js';
import { isAbsent } from '../file-errors.js';
import { LedgerError, assertWritable, openFailure } from './faults.js';
import { MIGRATIONS } from './schema.js';

/**
 * Opens (or creates) the ledger's database at `file` and brings its schema up to date in one
 * transaction. With `readOnly` (status, ls, resolve beside a running daemon) it must exist and is
 * not migrated; on a read-only disk it is read from a private copy, and `onCopy` told why.
 */
export function openDatabase(file: string, readOnly: boolean, onCopy?: (note: string) => void): Database.Database {
  if (readOnly && isAbsent(file)) {
    throw new LedgerError(`no ledger at ${file}: nothing has been synced with this state directory yet (run files-sync sync)`);
  }
  // The state directory and ledger are ours alone (rule 9): created private, refused when not.
  if (file !== ':memory:') preparePrivateLedger(file, path.dirname(file), readOnly);
  if (!readOnly) {
    // SQLite would open an unwritable file read-only without a word and fail at the first write.
    if (file !== ':memory:' && fs.existsSync(file)) assertWritable(file);
  }
  try {
    return openChecked(file, readOnly);
  } catch (err) {
    // A WAL ledger on a read-only disk opens only with its -shm beside it, which SQLite cannot make
    // there (and better-sqlite3 takes no `immutable` URI): its readers read a copy instead. Any
    // other failure (a damaged file, a newer schema) is said of the ledger itself.
    if (!readOnly || !cannotOpenThere(err) || !onReadOnlyDisk(path.dirname(file))) throw err;
    const db = openCopy(file, err);
    onCopy?.(`the disk of ${path.dirname(file)} is read-only: reading a copy of the ledger, as of its last write`);
    return db;
  }
}

/**
 * Opens `file` and migrates its schema (or, read-only, checks its version); `name` is the ledger
 * the errors name (a copy's are the ledger's own).
 */
function openChecked(file: string, readOnly: boolean, name = file): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: readOnly, fileMustExist: readOnly });
  } catch (err) {
    throw openFailure(name, err);
  }
  try {
    if (!readOnly) {
      db.pragma('journal_mode = WAL');
      // Commits survive a killed process; a power cut may take back the last ones (SQLite's WAL
      // with NORMAL), except those made durable (durable.ts: the intents).
      db.pragma('synchronous = NORMAL');
      // A checkpoint (which fsyncs) every ~40 MB of WAL instead of every 4 MB: a first sync of
      // 100,000 files commits twice a file, and the default spent 3 s of its 8 s of ledger
      // time blocked in checkpoints (1.8 s of 6.1 s with this).
      db.pragma('wal_autocheckpoint = 10000');
      // ...and the WAL cut back to 4 MB once checkpointed: it would keep its largest size for good.
      db.pragma('journal_size_limit = 4194304');
    }
    db.pragma('busy_timeout = 5000');
    // 8 MB of page cache, not better-sqlite3's 16: a reconciliation reads the files table once, in
    // order, and the per-path look-ups need only the B-tree's inner pages (~1% of the file). The
    // default filled all 16 MB on any ledger past 100,000 files.
    db.pragma('cache_size = -8000');
    if (readOnly) checkVersion(db, name);
    else migrate(db, name);
    return db;
  } catch (err) {
    db.close();
    throw openFailure(name, err);
  }
}

/** True when `dir` lies on a file system mounted read-only. */
function onReadOnlyDisk(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EROFS';
  }
}

/** Whether SQLite could not open the ledger where it is (rather than finding it damaged or newer). */
function cannotOpenThere(err: unknown): boolean {
  const code = ((err instanceof LedgerError ? err.cause : err) as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY'));
}

/**
 * The ledger read from a copy: the file and its WAL copied into a new private temp directory
 * (0700), the WAL folded into the copy (journal mode DELETE: nothing beside it is needed any more),
 * the copy opened read-only, then removed at once. The open descriptor keeps it readable until it
 * closes, so nothing is left behind, even when the command is killed. When no copy can be made
 * (the temp directory's disk read-only too), the error is the one the ledger's own open gave.
 */
function openCopy(file: string, openError: unknown): Database.Database {
  let dir: string | undefined;
  try {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'files-sync-ledger-'));
    const copy = path.join(dir, 'ledger.db');
    for (const suffix of ['', '-wal']) if (fs.existsSync(file + suffix)) fs.copyFileSync(file + suffix, copy + suffix);
    const merge = new Database(copy, { fileMustExist: true });
    try {
      merge.pragma('journal_mode = DELETE');
    } finally {
      merge.close();
    }
    return openChecked(copy, true, file);
  } catch (err) {
    // What SQLite found in the copy (damage, a newer schema) is the ledger's own, said of it.
    const sqlite = err instanceof LedgerError || String((err as { code?: unknown }).code).startsWith('SQLITE_');
    if (sqlite && !cannotOpenThere(err)) throw openFailure(file, err);
    const reason = `no copy to read either (${errorMessage(err)})`;
    throw openError instanceof LedgerError
      ? new LedgerError(`${openError.message}; ${reason}`, openError.kind, { cause: openError })
      : openError;
  } finally {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The schema version of the file, refused when newer than this program knows. */
function checkVersion(db: Database.Database, file: string): number {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new LedgerError(
      `the ledger ${file} has schema version ${version}, newer than this files-sync knows (${MIGRATIONS.length}): upgrade files-sync`,
    );
  }
  return version;
}

/** Brings the schema up to date in one immediate transaction. */
function migrate(db: Database.Database, file: string): void {
  const version = checkVersion(db, file);
  if (version === MIGRATIONS.length) return;
  db.transaction(() => {
    for (let i = version; i < MIGRATIONS.length; i++) db.exec(MIGRATIONS[i]!);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}
