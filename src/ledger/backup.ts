// Ledger backups: an online copy into STATE/backups after each successful reconciliation, the last
// few kept, and the restore that puts one back (`files-sync ledger restore`).
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { LedgerError, backupDir, listBackups } from './faults.js';
import { Ledger } from './ledger.js';

/** How many backups are kept: the newest few reconciliations' worth. */
export const BACKUPS_KEPT = 3;

/**
 * The meta key a backup carries (JSON `BackupTaken`), written into the copy only: when it was
 * taken, so that a restore knows which uploads the copy cannot know.
 */
export const BACKUP_TAKEN_META_KEY = 'backup_taken';
/** The live ledger's meta: its `contentMark` when the newest backup was taken (a changed one makes a backup due). */
export const BACKUP_MARK_META_KEY = 'backup_mark';

/** The meta key of an open restore window (JSON `RestoreWindow`; JSON null once closed). */
export const RESTORE_WINDOW_META_KEY = 'restore_window';

/** What a backup records of its own making. */
export interface BackupTaken {
  /** When the copy was complete (ms since the epoch, local clock). */
  at: number;
  /** The server's clock minus the local one as last measured, if known. */
  clockOffsetMs: number | null;
}

/** From when a restored backup was taken to when it was put back (DESIGN.md rule 3). */
export interface RestoreWindow {
  /** The backup put back. */
  backup: string;
  /** When the backup was taken (ms since the epoch, local clock). */
  takenAt: number;
  /** When it was restored (ms since the epoch, local clock). */
  restoredAt: number;
  /** The server's clock minus the local one when the backup was taken, if it was known. */
  clockOffsetMs: number | null;
}

/** A file-name-safe, sortable UTC time: 2026-05-01T12-00-00-123Z. */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

/** The time `timestamp` wrote into a backup's name (`ledger-<time>.db`), or null. */
export function timeFromName(file: string): number | null {
  const m = /^ledger-(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d)-(\d{3})Z\.db$/.exec(path.basename(file));
  if (!m) return null;
  const ms = Date.parse(`${m[1]}T${m[2]}:${m[3]}:${m[4]}.${m[5]}Z`);
  return Number.isNaN(ms) ? null : ms;
}

/** How a backup is made. */
export interface BackupOptions {
  /** Backups kept (default BACKUPS_KEPT). */
  keep?: number;
  /** The time in the backup's name. */
  now?: Date;
  /** The server's clock minus the local one as the client last measured it (null: unknown). */
  clockOffsetMs?: number | null;
}

/**
 * Copies the ledger into `backups/ledger-<time>.db` (mode 0600), stamps the copy with when it was
 * taken (BACKUP_TAKEN_META_KEY), and removes all but the newest `keep`. Resolves to the new
 * backup's path. A damaged ledger throws its LedgerError; a failure to write the copy is logged
 * and resolves to null: it must not fail the reconciliation it follows.
 */
export async function backupLedger(ledger: Ledger, logger: Logger, options: BackupOptions = {}): Promise<string | null> {
  const keep = options.keep ?? BACKUPS_KEPT;
  const now = options.now ?? new Date();
  if (ledger.file === ':memory:') return null;
  const dir = backupDir(ledger.file);
  // Named after the newest one when the clock reads earlier (it was set back): names give the
  // order that pruning and `ledger restore` go by, and the new copy must come last.
  const newest = timeFromName(listBackups(ledger.file).at(-1) ?? '');
  const named = newest !== null && newest >= now.getTime() ? new Date(newest + 1) : now;
  const dest = path.join(dir, `ledger-${timestamp(named)}.db`);
  // Written under another name and renamed when complete: a half-made copy never counts as a backup.
  const partial = `${dest}.partial`;
  // Taken first: writes made while the copy is made (the daemon's) make the next backup due.
  const mark = ledger.contentMark();
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    removeStale(dir);
    // Created empty with its final mode first: SQLite would create it world-readable (umask).
    fs.writeFileSync(partial, '', { mode: 0o600 });
    await ledger.backupTo(partial);
    stamp(partial, { at: Date.now(), clockOffsetMs: options.clockOffsetMs ?? null });
    fs.renameSync(partial, dest);
    ledger.setMeta(BACKUP_MARK_META_KEY, mark);
  } catch (err) {
    removeOrWarn(partial, 'the partial backup', logger);
    if (err instanceof LedgerError) throw err;
    logger.warn(`could not back up the ledger to ${dir}: ${errorMessage(err)}`);
    return null;
  }
  for (const old of listBackups(ledger.file).slice(0, -keep)) removeOrWarn(old, 'the old backup', logger);
  return dest;
}

/** Removes `file`; one that cannot be removed is logged (a backup never fails the run that made it). */
function removeOrWarn(file: string, what: string, logger: Logger): void {
  try {
    fs.rmSync(file, { force: true });
  } catch (err) {
    logger.warn(`could not remove ${what} ${file}: ${errorMessage(err)}; remove it by hand`);
  }
}

/** A backup SQLite finds damaged: nothing is changed, and an older one may do. */
function damagedBackup(from: string, problems: readonly string[]): LedgerError {
  return new LedgerError(
    `the backup ${from} is damaged too (${problems.slice(0, 3).join('; ')}): nothing was changed; name an older one: files-sync ledger restore FILE`,
    'corrupt',
  );
}

function sameFile(a: fs.Stats, b: fs.Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * Refuses (exit 2) a file that is not a files-sync ledger: not an SQLite database, or one without
 * a schema (an empty file would otherwise open as a new, empty ledger and replace the live one).
 * `copy` is the staged copy of `from`, checked in place of the original.
 */
function checkIsLedger(copy: string, from: string, file: string): void {
  let version: number;
  let tables: number;
  try {
    const db = new Database(copy, { fileMustExist: true });
    try {
      version = db.pragma('user_version', { simple: true }) as number;
      tables = (db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name = 'files'").get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch (err) {
    const code = String((err as { code?: unknown }).code);
    if (code === 'SQLITE_NOTADB') {
      throw new ConfigError(`${from} is not a files-sync ledger (${errorMessage(err)}): name one of the backups in ${backupDir(file)}`);
    }
    if (code.startsWith('SQLITE_CORRUPT')) throw damagedBackup(from, [errorMessage(err)]);
    throw err;
  }
  if (version < 1 || tables !== 1) {
    throw new ConfigError(`${from} is not a files-sync ledger (no ledger schema in it): name one of the backups in ${backupDir(file)}`);
  }
}

/** Writes when the copy was taken into the copy itself (its own connection, closed at once). */
function stamp(copy: string, taken: BackupTaken): void {
  const db = new Database(copy);
  try {
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(
      BACKUP_TAKEN_META_KEY,
      JSON.stringify(taken),
    );
  } finally {
    db.close(); // checkpoints and removes a WAL the write made
  }
}

/** Leftovers of a backup that a crash interrupted. */
function removeStale(dir: string): void {
  for (const name of fs.readdirSync(dir))
    if (/\.partial(-journal|-wal|-shm)?$/.test(name)) fs.rmSync(path.join(dir, name), { force: true });
}

/** What a restore did. */
export interface RestoreResult {
  /** The backup put back. */
  from: string;
  /** Where the ledger it replaced was kept (null when there was none). */
  keptAs: string | null;
  files: number;
  /** The window recorded in the restored ledger: uploads in it may be copies it cannot know. */
  window: RestoreWindow;
}

/** The backup a restore uses: `requested` (a path, or a name in the backups directory), or the newest. */
export function pickBackup(ledgerFile: string, requested?: string): string {
  if (requested === undefined) {
    const newest = listBackups(ledgerFile).at(-1);
    if (!newest)
      throw new ConfigError(`no backup of the ledger ${ledgerFile} in ${backupDir(ledgerFile)}: one is made after each successful sync`);
    return newest;
  }
  for (const candidate of [path.resolve(requested), path.join(backupDir(ledgerFile), requested)]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  throw new ConfigError(`no backup at ${requested} (the backups are in ${backupDir(ledgerFile)})`);
}

/**
 * Puts the backup `from` in place of the ledger `file`. The caller holds the state directory's
 * writer lock. The backup is copied and checked first (a damaged backup changes nothing); the
 * ledger it replaces is kept as `ledger.db.damaged-<time>` with its WAL, and its -shm removed.
 */
export function restoreLedger(file: string, from: string, now = new Date()): RestoreResult {
  if (fs.existsSync(file) && sameFile(fs.statSync(from), fs.statSync(file))) {
    throw new ConfigError(`${from} is the ledger in use, not a backup: name one in ${backupDir(file)}`);
  }
  const staged = `${file}.restoring`;
  for (const f of [staged, `${staged}-wal`, `${staged}-shm`]) fs.rmSync(f, { force: true });
  fs.copyFileSync(from, staged);
  fs.chmodSync(staged, 0o600);
  let files: number;
  let window: RestoreWindow;
  try {
    checkIsLedger(staged, from, file);
    const ledger = Ledger.open(staged); // brings an older schema up to date; refuses a newer one
    try {
      const problems = ledger.integrityProblems();
      if (problems.length > 0) throw damagedBackup(from, problems);
      files = ledger.fileCount();
      window = restoreWindow(ledger, from, now.getTime());
      ledger.transaction(() => {
        ledger.setMetaJson(RESTORE_WINDOW_META_KEY, window);
        // The stamp describes the backup file, not the live ledger it now becomes.
        ledger.setMetaJson(BACKUP_TAKEN_META_KEY, null);
      });
    } finally {
      ledger.close(); // checkpoints and removes the staged WAL
    }
  } catch (err) {
    for (const f of [staged, `${staged}-wal`, `${staged}-shm`]) fs.rmSync(f, { force: true });
    throw err;
  }
  let keptAs: string | null = null;
  if (fs.existsSync(file)) {
    keptAs = `${file}.damaged-${timestamp(now)}`;
    // Kept under a second name first, with its WAL (the pair opens as it was), while `file` stays:
    // a crash before the switch below leaves the old ledger in place (as of its last checkpoint
    // once its WAL is gone), never no ledger at all.
    keepAs(file, keptAs);
    if (fs.existsSync(`${file}-wal`)) keepAs(`${file}-wal`, `${keptAs}-wal`);
  }
  try {
    // A WAL left beside the restored file would be read into it.
    fs.rmSync(`${file}-wal`, { force: true });
    fs.rmSync(`${file}-shm`, { force: true });
    fs.renameSync(staged, file); // atomic: the old ledger or the restored one at `file`
  } catch (err) {
    // Not switched: `file` is still the old ledger, and the kept name would share its file under a
    // stale WAL. The WAL goes back beside `file` (the pair as it was), and the kept names go.
    if (keptAs !== null) {
      if (fs.existsSync(`${keptAs}-wal`) && !fs.existsSync(`${file}-wal`)) fs.renameSync(`${keptAs}-wal`, `${file}-wal`);
      for (const f of [keptAs, `${keptAs}-wal`]) fs.rmSync(f, { force: true });
    }
    throw err;
  }
  syncDir(path.dirname(file));
  return { from, keptAs, files, window };
}

/** `from` under the name `to` too: a hard link, or a copy where the file system has none. */
function keepAs(from: string, to: string): void {
  try {
    fs.linkSync(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw err;
    fs.copyFileSync(from, to);
  }
}

/**
 * The restore window of the backup `from` (opened as `ledger`): from when it was taken (its stamp,
 * else the time in its name, else its mtime) to `restoredAt`; the offset it recorded, else the
 * newest one its open uploads recorded.
 */
function restoreWindow(ledger: Ledger, from: string, restoredAt: number): RestoreWindow {
  const taken = ledger.getMetaJson<Partial<BackupTaken>>(BACKUP_TAKEN_META_KEY);
  const takenAt = typeof taken?.at === 'number' ? taken.at : (timeFromName(from) ?? fs.statSync(from).mtimeMs);
  const offsets = ledger.inFlight().flatMap((row) => (row.clockOffsetMs === null ? [] : [row.clockOffsetMs]));
  const clockOffsetMs = typeof taken?.clockOffsetMs === 'number' ? taken.clockOffsetMs : (offsets.at(-1) ?? null);
  return { backup: from, takenAt: Math.min(takenAt, restoredAt), restoredAt, clockOffsetMs };
}

/** Makes the renames durable. */
function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
