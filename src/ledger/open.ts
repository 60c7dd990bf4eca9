// Opening the ledger's SQLite file: private by rule 9, writable or refused, WAL, and the schema
// migrated (or, read-only, checked) before any verb runs.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { preparePrivateLedger } from '../private.js';
import { LedgerError, assertWritable, openFailure } from './faults.js';
import { MIGRATIONS } from './schema.js';

/**
 * Opens (or creates) the ledger's database at `file` and brings its schema up to date in one
 * transaction. With `readOnly` (status, ls, resolve beside a running daemon) it must exist and is
 * not migrated.
 */
export function openDatabase(file: string, readOnly: boolean): Database.Database {
  if (readOnly && !fs.existsSync(file)) {
    throw new LedgerError(`no ledger at ${file}: nothing has been synced with this state directory yet (run files-sync sync)`);
  }
  // The state directory and ledger are ours alone (rule 9): created private, refused when not.
  if (file !== ':memory:') preparePrivateLedger(file, path.dirname(file), readOnly);
  if (!readOnly) {
    // SQLite would open an unwritable file read-only without a word and fail at the first write.
    if (file !== ':memory:' && fs.existsSync(file)) assertWritable(file);
  }
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: readOnly, fileMustExist: readOnly });
  } catch (err) {
    throw openFailure(file, err);
  }
  try {
    if (!readOnly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // A checkpoint (which fsyncs) every ~40 MB of WAL instead of every 4 MB: a first sync of
      // 100,000 files commits twice a file, and the default spent 3 s of its 8 s of ledger
      // time blocked in checkpoints (1.8 s of 6.1 s with this).
      db.pragma('wal_autocheckpoint = 10000');
    }
    db.pragma('busy_timeout = 5000');
    // 8 MB of page cache, not better-sqlite3's 16: a reconciliation reads the files table once, in
    // order, and the per-path look-ups need only the B-tree's inner pages (~1% of the file). The
    // default filled all 16 MB on any ledger past 100,000 files.
    db.pragma('cache_size = -8000');
    if (readOnly) checkVersion(db, file);
    else migrate(db, file);
    return db;
  } catch (err) {
    db.close();
    throw openFailure(file, err);
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
