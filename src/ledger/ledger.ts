// The ledger: a SQLite file that records which remote ids this program owns and for which paths,
// with a small verb-named API. Every write is one immediate transaction.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SyncError, ExitCode, errorMessage } from '../errors.js';
import { preparePrivateLedger } from '../local/private.js';
import type { FileMetadata } from '../remote/types.js';
import { MIGRATIONS } from './schema.js';
import type { Failure, FileRow, InFlightUpload, PendingDelete, UploadIntent, UploadedContent } from './types.js';

export type { Failure, FileRow, InFlightUpload, PendingDelete, UploadIntent, UploadedContent } from './types.js';

/** The ledger is unusable (corrupt, locked, a newer schema): fatal, exit 2. */
export class LedgerError extends SyncError {
  override name = 'LedgerError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.usage, options);
  }
}

const FILE_COLUMNS = `path, file_id AS fileId, size, mtime_ms AS mtimeMs, ino, sha256, mime_type AS mimeType,
  remote_name AS remoteName, uploaded_at AS uploadedAt`;

/** Back-off for a retryable per-file failure: 30 s doubling up to 6 h. */
export function failureBackoffMs(attempts: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 6 * 3600_000);
}

/** The SQLite ledger. Open with `Ledger.open`; `close()` is safe to call twice. */
export class Ledger {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly stmt;
  /** One immediate-transaction wrapper, made once: better-sqlite3 builds four per `transaction()` call. */
  readonly #immediate: (fn: () => unknown) => unknown;

  private constructor(file: string, db: Database.Database) {
    this.file = file;
    this.db = db;
    this.#immediate = db.transaction((fn: () => unknown) => fn()).immediate;
    this.stmt = {
      allFiles: db.prepare(`SELECT ${FILE_COLUMNS} FROM files ORDER BY path`),
      fileByPath: db.prepare(`SELECT ${FILE_COLUMNS} FROM files WHERE path = ?`),
      fileById: db.prepare(`SELECT ${FILE_COLUMNS} FROM files WHERE file_id = ?`),
      filesUnder: db.prepare(`SELECT ${FILE_COLUMNS} FROM files WHERE path >= ? AND path < ? ORDER BY path`),
      countFiles: db.prepare('SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM files'),
      upsertFile: db.prepare(`INSERT INTO files (path, file_id, size, mtime_ms, ino, sha256, mime_type, remote_name, uploaded_at)
        VALUES (@path, @fileId, @size, @mtimeMs, @ino, @sha256, @mimeType, @remoteName, @uploadedAt)
        ON CONFLICT (path) DO UPDATE SET file_id = excluded.file_id, size = excluded.size, mtime_ms = excluded.mtime_ms,
          ino = excluded.ino, sha256 = excluded.sha256, mime_type = excluded.mime_type,
          remote_name = excluded.remote_name, uploaded_at = excluded.uploaded_at`),
      updateStat: db.prepare('UPDATE files SET size = ?, mtime_ms = ?, ino = ? WHERE path = ?'),
      deleteFile: db.prepare('DELETE FROM files WHERE path = ?'),
      allPending: db.prepare(`SELECT file_id AS fileId, path, reason, attempts, last_error AS lastError, created_at AS createdAt
        FROM pending_deletes ORDER BY created_at, file_id`),
      addPending: db.prepare(`INSERT INTO pending_deletes (file_id, path, reason, created_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (file_id) DO NOTHING`),
      removePending: db.prepare('DELETE FROM pending_deletes WHERE file_id = ?'),
      failPending: db.prepare('UPDATE pending_deletes SET attempts = attempts + 1, last_error = ? WHERE file_id = ?'),
      allInFlight: db.prepare(`SELECT id, path, remote_name AS remoteName, size, sha256, mime_type AS mimeType,
        started_at AS startedAt, unknown_outcomes AS unknownOutcomes, resolved_file_id AS resolvedFileId
        FROM uploads_in_flight ORDER BY id`),
      addInFlight: db.prepare(`INSERT INTO uploads_in_flight (path, remote_name, size, sha256, mime_type, started_at)
        VALUES (@path, @remoteName, @size, @sha256, @mimeType, @startedAt)`),
      removeInFlight: db.prepare('DELETE FROM uploads_in_flight WHERE id = ?'),
      keepInFlight: db.prepare('UPDATE uploads_in_flight SET unknown_outcomes = ?, resolved_file_id = ? WHERE id = ?'),
      allFailures: db.prepare(`SELECT path, error, retryable, attempts, next_retry_at AS nextRetryAt, size, mtime_ms AS mtimeMs,
        last_failed_at AS lastFailedAt FROM failures ORDER BY path`),
      failureByPath: db.prepare('SELECT attempts FROM failures WHERE path = ?'),
      upsertFailure: db.prepare(`INSERT INTO failures (path, error, retryable, attempts, next_retry_at, size, mtime_ms, last_failed_at)
        VALUES (@path, @error, @retryable, @attempts, @nextRetryAt, @size, @mtimeMs, @lastFailedAt)
        ON CONFLICT (path) DO UPDATE SET error = excluded.error, retryable = excluded.retryable, attempts = excluded.attempts,
          next_retry_at = excluded.next_retry_at, size = excluded.size, mtime_ms = excluded.mtime_ms,
          last_failed_at = excluded.last_failed_at`),
      clearFailure: db.prepare('DELETE FROM failures WHERE path = ?'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
  }

  /**
   * Opens (or creates) the ledger at `file` and brings its schema up to date in one transaction.
   * With `readOnly` (status, ls, resolve beside a running daemon) it must exist and is not migrated.
   */
  static open(file: string, options: { readOnly?: boolean } = {}): Ledger {
    const readOnly = options.readOnly ?? false;
    if (readOnly && !fs.existsSync(file)) {
      throw new LedgerError(`no ledger at ${file}: nothing has been synced with this state directory yet (run files-sync sync)`);
    }
    // The state directory and ledger are ours alone (rule 9): created private, refused when not.
    if (file !== ':memory:') preparePrivateLedger(file, path.dirname(file), readOnly);
    let db: Database.Database;
    try {
      db = new Database(file, { readonly: readOnly, fileMustExist: readOnly });
      if (!readOnly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        // A checkpoint (which fsyncs) every ~40 MB of WAL instead of every 4 MB: a first sync of
        // 100,000 files commits twice a file, and the default spent 3 s of its 8 s of ledger
        // time blocked in checkpoints (1.8 s of 6.1 s with this).
        db.pragma('wal_autocheckpoint = 10000');
      }
      db.pragma('busy_timeout = 5000');
    } catch (err) {
      throw new LedgerError(`cannot open the ledger ${file}: ${errorMessage(err)}`, { cause: err });
    }
    try {
      if (readOnly) checkVersion(db, file);
      else migrate(db, file);
    } catch (err) {
      db.close();
      if (err instanceof LedgerError) throw err;
      throw new LedgerError(`cannot open the ledger ${file}: ${errorMessage(err)}`, { cause: err });
    }
    return new Ledger(file, db);
  }

  /** Runs `fn` in one immediate transaction. */
  #write<T>(fn: () => T): T {
    return this.#immediate(fn) as T;
  }

  /**
   * Runs `fn` in one immediate transaction: the verbs it calls commit together (a verb that makes
   * its own transaction runs as a savepoint inside it). For writers that group several writes.
   */
  transaction<T>(fn: () => T): T {
    return this.#write(fn);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---- reads ----

  files(): FileRow[] {
    return this.stmt.allFiles.all() as FileRow[];
  }

  fileByPath(relPath: string): FileRow | undefined {
    return this.stmt.fileByPath.get(relPath) as FileRow | undefined;
  }

  fileById(fileId: string): FileRow | undefined {
    return this.stmt.fileById.get(fileId) as FileRow | undefined;
  }

  /** Rows at `dir` or beneath it (a directory removed or renamed in the daemon). */
  filesUnder(dir: string): FileRow[] {
    if (dir === '') return this.files();
    // '/' + 1 is '0': the range [dir/, dir0) holds exactly the paths under dir/.
    return this.stmt.filesUnder.all(`${dir}/`, `${dir}0`) as FileRow[];
  }

  counts(): { files: number; bytes: number } {
    const row = this.stmt.countFiles.get() as { n: number; bytes: number };
    return { files: row.n, bytes: row.bytes };
  }

  pendingDeletes(): PendingDelete[] {
    return this.stmt.allPending.all() as PendingDelete[];
  }

  inFlight(): InFlightUpload[] {
    return this.stmt.allInFlight.all() as InFlightUpload[];
  }

  failures(): Failure[] {
    return (this.stmt.allFailures.all() as (Omit<Failure, 'retryable'> & { retryable: number })[]).map((row) => ({
      ...row,
      retryable: row.retryable === 1,
    }));
  }

  getMeta(key: string): string | undefined {
    return (this.stmt.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  getMetaJson<T>(key: string): T | undefined {
    const value = this.getMeta(key);
    return value === undefined ? undefined : (JSON.parse(value) as T);
  }

  // ---- writes ----

  setMeta(key: string, value: string): void {
    this.stmt.setMeta.run(key, value);
  }

  setMetaJson(key: string, value: unknown): void {
    this.setMeta(key, JSON.stringify(value));
  }

  /** Records an upload about to start; returns the row id its outcome is recorded against. */
  beginUpload(intent: UploadIntent): number {
    return Number(this.stmt.addInFlight.run(intent).lastInsertRowid);
  }

  /**
   * Records a finished upload in one transaction: the path now points at the new id, its previous
   * id (if any) waits in `pending_deletes`, the failure is cleared, and the in-flight row is removed,
   * or kept as a sweep marker when earlier attempts' answers were lost (they may have stored orphans).
   */
  finishUpload(inFlightId: number | null, content: UploadedContent, file: FileMetadata, unknownOutcomes: number, now: number): {
    replaced: string | null;
  } {
    return this.#write(() => {
      const previous = this.fileByPath(content.path);
      const replaced = previous && previous.fileId !== file.id ? previous.fileId : null;
      if (replaced) this.stmt.addPending.run(replaced, content.path, 'replaced', now);
      // An id adopted from a sweep may still sit in pending_deletes: it is wanted now.
      this.stmt.removePending.run(file.id);
      this.stmt.upsertFile.run({ ...content, fileId: file.id, uploadedAt: file.created_at });
      this.stmt.clearFailure.run(content.path);
      if (inFlightId !== null) {
        if (unknownOutcomes > 0) this.stmt.keepInFlight.run(unknownOutcomes, file.id, inFlightId);
        else this.stmt.removeInFlight.run(inFlightId);
      }
      return { replaced };
    });
  }

  /**
   * Records an upload that did not produce a usable file. With lost answers the row stays, so the
   * next reconciliation looks for the orphans they may have left; otherwise it goes.
   */
  abandonUpload(inFlightId: number, unknownOutcomes: number): void {
    if (unknownOutcomes > 0) this.stmt.keepInFlight.run(unknownOutcomes, null, inFlightId);
    else this.stmt.removeInFlight.run(inFlightId);
  }

  /** Forgets an in-flight row once a complete listing has settled what it may have left. */
  settleInFlight(inFlightId: number): void {
    this.stmt.removeInFlight.run(inFlightId);
  }

  /** Queues owned ids for deletion (orphans, a torn upload). */
  addPendingDeletes(items: readonly { fileId: string; path: string | null; reason: PendingDelete['reason'] }[], now: number): void {
    this.#write(() => {
      for (const item of items) this.stmt.addPending.run(item.fileId, item.path, item.reason, now);
    });
  }

  /** The path is gone locally: its id moves to `pending_deletes` and the path is forgotten. */
  markDeleted(relPath: string, now: number): string | null {
    return this.#write(() => {
      const row = this.fileByPath(relPath);
      if (!row) return null;
      this.stmt.addPending.run(row.fileId, relPath, 'deleted', now);
      this.stmt.deleteFile.run(relPath);
      this.stmt.clearFailure.run(relPath);
      return row.fileId;
    });
  }

  /** The remote no longer has the id of a path (deleted by someone else): forget the row. */
  forgetFile(relPath: string): void {
    this.stmt.deleteFile.run(relPath);
  }

  /** The file was touched but its content is the same: remember the new stat, no upload. */
  updateStat(relPath: string, size: number, mtimeMs: number, ino: number): void {
    this.stmt.updateStat.run(size, mtimeMs, ino, relPath);
  }

  /** Many stat updates in one transaction (a large touch costs one commit). */
  updateStats(items: readonly { path: string; size: number; mtimeMs: number; ino: number }[]): void {
    if (items.length === 0) return;
    this.#write(() => {
      for (const item of items) this.stmt.updateStat.run(item.size, item.mtimeMs, item.ino, item.path);
    });
  }

  /** A pending delete is done (deleted, or already gone). */
  deleteDone(fileId: string): void {
    this.stmt.removePending.run(fileId);
  }

  deleteFailed(fileId: string, error: string): void {
    this.stmt.failPending.run(error, fileId);
  }

  /** Records a per-path failure; retryable ones back off, others wait for the file to change. */
  recordFailure(
    relPath: string,
    error: string,
    retryable: boolean,
    stat: { size: number; mtimeMs: number } | null,
    now: number,
  ): Failure {
    const attempts = ((this.stmt.failureByPath.get(relPath) as { attempts: number } | undefined)?.attempts ?? 0) + 1;
    const failure: Failure = {
      path: relPath,
      error,
      retryable,
      attempts,
      nextRetryAt: retryable ? now + failureBackoffMs(attempts) : null,
      size: stat?.size ?? null,
      mtimeMs: stat?.mtimeMs ?? null,
      lastFailedAt: now,
    };
    this.stmt.upsertFailure.run({ ...failure, retryable: retryable ? 1 : 0 });
    return failure;
  }

  clearFailure(relPath: string): void {
    this.stmt.clearFailure.run(relPath);
  }
}

function checkVersion(db: Database.Database, file: string): number {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new LedgerError(
      `the ledger ${file} has schema version ${version}, newer than this files-sync knows (${MIGRATIONS.length}): upgrade files-sync`,
    );
  }
  return version;
}

function migrate(db: Database.Database, file: string): void {
  const version = checkVersion(db, file);
  if (version === MIGRATIONS.length) return;
  db.transaction(() => {
    for (let i = version; i < MIGRATIONS.length; i++) db.exec(MIGRATIONS[i]!);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}
