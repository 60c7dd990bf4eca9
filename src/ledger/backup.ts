// Ledger backups: an online copy into STATE/backups after each successful reconciliation, the last
// few kept, and the restore that puts one back (`files-sync ledger restore`).
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { LedgerError, backupDir, listBackups } from './faults.js';
import { Ledger } from './ledger.js';

/** How many backups are kept: the newest few reconciliations' worth. */
export const BACKUPS_KEPT = 3;

/** A file-name-safe, sortable UTC time: 2026-05-01T12-00-00-123Z. */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

/**
 * Copies the ledger into `backups/ledger-<time>.db` (mode 0600) and removes all but the newest
 * `keep`. Resolves to the new backup's path. A damaged ledger throws its LedgerError; a failure
 * to write the copy is logged and resolves to null: it must not fail the reconciliation it follows.
 */
export async function backupLedger(ledger: Ledger, logger: Logger, keep = BACKUPS_KEPT, now = new Date()): Promise<string | null> {
  if (ledger.file === ':memory:') return null;
  const dir = backupDir(ledger.file);
  const dest = path.join(dir, `ledger-${timestamp(now)}.db`);
  // Written under another name and renamed when complete: a half-made copy never counts as a backup.
  const partial = `${dest}.partial`;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    removeStale(dir);
    // Created empty with its final mode first: SQLite would create it world-readable (umask).
    fs.writeFileSync(partial, '', { mode: 0o600 });
    await ledger.backupTo(partial);
    fs.renameSync(partial, dest);
  } catch (err) {
    fs.rmSync(partial, { force: true });
    if (err instanceof LedgerError) throw err;
    logger.warn(`could not back up the ledger to ${dir}: ${errorMessage(err)}`);
    return null;
  }
  for (const old of listBackups(ledger.file).slice(0, -keep)) fs.rmSync(old, { force: true });
  return dest;
}

/** Leftovers of a backup that a crash interrupted. */
function removeStale(dir: string): void {
  for (const name of fs.readdirSync(dir)) if (name.endsWith('.partial') || name.endsWith('.partial-journal')) fs.rmSync(path.join(dir, name), { force: true });
}

/** What a restore did. */
export interface RestoreResult {
  /** The backup put back. */
  from: string;
  /** Where the ledger it replaced was kept (null when there was none). */
  keptAs: string | null;
  files: number;
}

/** The backup a restore uses: `requested` (a path, or a name in the backups directory), or the newest. */
export function pickBackup(ledgerFile: string, requested?: string): string {
  if (requested === undefined) {
    const newest = listBackups(ledgerFile).at(-1);
    if (!newest) throw new ConfigError(`no backup of the ledger ${ledgerFile} in ${backupDir(ledgerFile)}: one is made after each successful sync`);
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
  const staged = `${file}.restoring`;
  for (const f of [staged, `${staged}-wal`, `${staged}-shm`]) fs.rmSync(f, { force: true });
  fs.copyFileSync(from, staged);
  fs.chmodSync(staged, 0o600);
  let files: number;
  try {
    const ledger = Ledger.open(staged); // brings an older schema up to date; refuses a newer one
    try {
      const problems = ledger.integrityProblems();
      if (problems.length > 0) {
        throw new LedgerError(`the backup ${from} is damaged too (${problems.slice(0, 3).join('; ')}): nothing was changed; name an older one: files-sync ledger restore FILE`, 'corrupt');
      }
      files = ledger.counts().files;
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
    fs.renameSync(file, keptAs);
    // The WAL belongs to the file it was written for: it goes along, so the pair still opens.
    if (fs.existsSync(`${file}-wal`)) fs.renameSync(`${file}-wal`, `${keptAs}-wal`);
  }
  fs.rmSync(`${file}-wal`, { force: true });
  fs.rmSync(`${file}-shm`, { force: true });
  fs.renameSync(staged, file);
  syncDir(path.dirname(file));
  return { from, keptAs, files };
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
