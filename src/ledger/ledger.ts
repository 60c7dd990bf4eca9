// The ledger: a SQLite file that records which remote ids this program owns and for which paths,
// with a small verb-named API. Every write is one immediate transaction.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { errorMessage } from '../errors.js';
import { preparePrivateLedger } from '../private.js';
import { LedgerError, assertWritable, checkIdentity, classifySqliteError, identityOf, openFailure } from './faults.js';
import { MIGRATIONS } from './schema.js';
import type { Failure, FileRow, StoredFile, InFlightUpload, PendingDelete, UnclaimedCopy, UploadIntent, UploadedContent } from './types.js';

export type { Failure, FileRow, InFlightUpload, PendingDelete, UnclaimedCopy, UploadIntent, UploadedContent } from './types.js';
export { LedgerError } from './faults.js';

/** Methods that do not go through the guard: `close` must work on a broken file; `backupTo` sorts its own errors. */
const UNGUARDED = new Set(['constructor', 'close', 'onFault', 'backupTo']);

/** How often (at most) a call checks that the ledger's path still names the file it opened. */
const IDENTITY_CHECK_MS = 1000;

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

  /** Device and inode of the file opened (null for `:memory:`): a deleted or replaced ledger is noticed. */
  readonly #opened: { dev: number; ino: number } | null;
  #identityCheckedAt = 0;
  #onFault: ((err: LedgerError) => void) | null = null;
  readonly #reported = new WeakSet<LedgerError>();

  private constructor(file: string, db: Database.Database) {
    this.file = file;
    this.db = db;
    this.#opened = file === ':memory:' ? null : identityOf(file);
    this.#immediate = db.transaction((fn: () => unknown) => fn()).immediate;
    // A read-only open (status, ls beside an older daemon) may find schema 1: read what it has.
    const v1 = (db.pragma('user_version', { simple: true }) as number) < 2;
    const unclaimedTable = v1 ? '(SELECT NULL AS file_id, NULL AS path, NULL AS remote_name, NULL AS size, NULL AS sha256, NULL AS created_at, NULL AS reason, NULL AS recorded_at WHERE 0)' : 'unclaimed_copies';
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
        started_at AS startedAt, unknown_outcomes AS unknownOutcomes, resolved_file_id AS resolvedFileId,
        ${v1 ? 'NULL AS attemptsEndedAt, NULL AS clockOffsetMs' : 'attempts_ended_at AS attemptsEndedAt, clock_offset_ms AS clockOffsetMs'}
        FROM uploads_in_flight ORDER BY id`),
      addInFlight: db.prepare(`INSERT INTO uploads_in_flight (path, remote_name, size, sha256, mime_type, started_at, clock_offset_ms)
        VALUES (@path, @remoteName, @size, @sha256, @mimeType, @startedAt, @clockOffsetMs)`),
      removeInFlight: db.prepare('DELETE FROM uploads_in_flight WHERE id = ?'),
      keepInFlight: db.prepare('UPDATE uploads_in_flight SET unknown_outcomes = ?, resolved_file_id = ?, attempts_ended_at = ? WHERE id = ?'),
      allUnclaimed: db.prepare(`SELECT file_id AS fileId, path, remote_name AS remoteName, size, sha256, created_at AS createdAt,
        reason, recorded_at AS recordedAt FROM ${unclaimedTable} ORDER BY path, created_at, file_id`),
      unclaimedById: db.prepare(`SELECT file_id AS fileId, path, remote_name AS remoteName, size, sha256, created_at AS createdAt,
        reason, recorded_at AS recordedAt FROM ${unclaimedTable} WHERE file_id = ?`),
      // Writes happen only on a migrated ledger (a read-only one of schema 1 is never written).
      addUnclaimed: v1 ? null : db.prepare(`INSERT INTO unclaimed_copies (file_id, path, remote_name, size, sha256, created_at, reason, recorded_at)
        VALUES (@fileId, @path, @remoteName, @size, @sha256, @createdAt, @reason, @recordedAt) ON CONFLICT (file_id) DO NOTHING`),
      removeUnclaimed: v1 ? null : db.prepare('DELETE FROM unclaimed_copies WHERE file_id = ?'),
      allFailures: db.prepare(`SELECT path, error, retryable, attempts, next_retry_at AS nextRetryAt, size, mtime_ms AS mtimeMs,
        last_failed_at AS lastFailedAt FROM failures ORDER BY path`),
      failureByPath: db.prepare('SELECT attempts FROM failures WHERE path = ?'),
      oneFailure: db.prepare(`SELECT path, error, retryable, attempts, next_retry_at AS nextRetryAt, size, mtime_ms AS mtimeMs,
        last_failed_at AS lastFailedAt FROM failures WHERE path = ?`),
      nextRetryAfter: db.prepare('SELECT min(next_retry_at) AS at FROM failures WHERE retryable = 1 AND next_retry_at > ?'),
      retriesDueBy: db.prepare('SELECT path FROM failures WHERE retryable = 1 AND next_retry_at <= ? ORDER BY path'),
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
      if (readOnly) checkVersion(db, file);
      else migrate(db, file);
      return new Ledger(file, db);
    } catch (err) {
      db.close();
      throw openFailure(file, err);
    }
  }

  /**
   * Calls `listener` once for each ledger fault a verb raises, before the error is thrown: the
   * daemon stops on a fatal one even when the caller that saw it only logs or retries.
   */
  onFault(listener: ((err: LedgerError) => void) | null): void {
    this.#onFault = listener;
  }

  /**
   * Runs one verb: a SQLite failure becomes a LedgerError (a deleted or replaced file is reported
   * as such whatever SQLite said), and the path's identity is checked at most once a second,
   * since SQLite goes on writing to a deleted file without a word.
   */
  #guard<T>(verb: () => T): T {
    try {
      const now = Date.now();
      if (now - this.#identityCheckedAt >= IDENTITY_CHECK_MS) {
        const gone = checkIdentity(this.file, this.#opened);
        if (gone) throw gone;
        this.#identityCheckedAt = now;
      }
      return verb();
    } catch (err) {
      this.#raise(err);
    }
  }

  /** Throws `err`, as a LedgerError when it is a fault of the file (reported once to the listener). */
  #raise(err: unknown): never {
    const fault = classifySqliteError(err, this.file);
    if (fault === null) throw err;
    const error = fault.kind === 'vanished' ? fault : (checkIdentity(this.file, this.#opened) ?? fault);
    if (!this.#reported.has(error)) {
      this.#reported.add(error);
      this.#onFault?.(error);
    }
    throw error;
  }

  /**
   * Copies the ledger to `dest` with SQLite's online backup, a hundred pages per event-loop turn,
   * so the daemon keeps serving meanwhile; writes through this connection show in the copy. A
   * damaged page met on the way is a ledger fault; any other failure is the destination's, and is
   * thrown as it is (a failed backup must not stop the program).
   */
  async backupTo(dest: string): Promise<void> {
    try {
      await this.db.backup(dest);
    } catch (err) {
      const fault = classifySqliteError(err, this.file);
      if (fault?.kind === 'corrupt') this.#raise(err);
      throw err;
    }
  }

  /**
   * SQLite's own check of the file: [] when it is sound, else what it found. quick_check first (it
   * finds most damage at a fraction of the cost), then the full integrity_check.
   */
  integrityProblems(): string[] {
    try {
      for (const pragma of ['quick_check', 'integrity_check']) {
        const rows = (this.db.pragma(pragma) as Record<string, string>[]).map((row) => Object.values(row)[0] ?? '');
        if (rows.length !== 1 || rows[0] !== 'ok') return rows;
      }
      return [];
    } catch (err) {
      // Damage bad enough to stop the check itself is its finding.
      if (classifySqliteError(err, this.file)?.kind === 'corrupt') return [errorMessage(err)];
      throw err;
    }
  }

  static {
    // Every verb goes through #guard, including verbs added later: classification happens here
    // once (DESIGN.md rule 6), never at the callers.
    for (const name of Object.getOwnPropertyNames(Ledger.prototype)) {
      const desc = Object.getOwnPropertyDescriptor(Ledger.prototype, name);
      if (UNGUARDED.has(name) || typeof desc?.value !== 'function') continue;
      const verb = desc.value as (...args: unknown[]) => unknown;
      Object.defineProperty(Ledger.prototype, name, {
        ...desc,
        value: function guarded(this: Ledger, ...args: unknown[]) {
          return this.#guard(() => verb.apply(this, args));
        },
      });
    }
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

  /** Remote copies no intent could claim for sure (rule 3), for `status` and `forget-copies`. */
  unclaimedCopies(): UnclaimedCopy[] {
    return this.stmt.allUnclaimed.all() as UnclaimedCopy[];
  }

  unclaimedCopy(fileId: string): UnclaimedCopy | undefined {
    return this.stmt.unclaimedById.get(fileId) as UnclaimedCopy | undefined;
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
    return Number(this.stmt.addInFlight.run({ ...intent, clockOffsetMs: intent.clockOffsetMs ?? null }).lastInsertRowid);
  }

  /**
   * Records a finished upload in one transaction: the path now points at the new id, its previous
   * id (if any) waits in `pending_deletes`, the failure is cleared, and the in-flight row is removed,
   * or kept as a sweep marker when earlier attempts' answers were lost (they may have stored orphans).
   */
  finishUpload(inFlightId: number | null, content: UploadedContent, file: StoredFile, unknownOutcomes: number, now: number): {
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
        if (unknownOutcomes > 0) this.stmt.keepInFlight.run(unknownOutcomes, file.id, now, inFlightId);
        else this.stmt.removeInFlight.run(inFlightId);
      }
      return { replaced };
    });
  }

  /**
   * Records an upload that did not produce a usable file. With lost answers the row stays, so the
   * next reconciliation looks for the orphans they may have left, in the window that ends at
   * `endedAt` (when the last attempt ended, local clock); otherwise it goes.
   */
  abandonUpload(inFlightId: number, unknownOutcomes: number, endedAt: number = Date.now()): void {
    if (unknownOutcomes > 0) this.stmt.keepInFlight.run(unknownOutcomes, null, endedAt, inFlightId);
    else this.stmt.removeInFlight.run(inFlightId);
  }

  /** Forgets an in-flight row once a complete listing has settled what it may have left. */
  settleInFlight(inFlightId: number): void {
    this.stmt.removeInFlight.run(inFlightId);
  }

  /**
   * Records copies no intent could claim for sure, and forgets recorded ones that are gone (a
   * complete listing no longer shows them), in one transaction.
   */
  recordUnclaimed(copies: readonly Omit<UnclaimedCopy, 'recordedAt'>[], gone: readonly string[], now: number): void {
    if (copies.length === 0 && gone.length === 0) return;
    this.#write(() => {
      for (const copy of copies) this.#written(this.stmt.addUnclaimed).run({ ...copy, recordedAt: now });
      for (const id of gone) this.#written(this.stmt.removeUnclaimed).run(id);
    });
  }

  /** An unclaimed copy was deleted on the user's word (or is gone): forget it. */
  forgetUnclaimed(fileId: string): void {
    this.#written(this.stmt.removeUnclaimed).run(fileId);
  }

  /** A statement that exists only on a migrated (writable) ledger. */
  #written(statement: Database.Statement | null): Database.Statement {
    if (!statement) throw new LedgerError(`the ledger ${this.file} is opened read-only at an older schema: it cannot record this`);
    return statement;
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

  /** One path's failure row, if any: per-path work reads this, not the whole table. */
  failure(relPath: string): Failure | undefined {
    const row = this.stmt.oneFailure.get(relPath) as (Omit<Failure, 'retryable'> & { retryable: number }) | undefined;
    return row ? { ...row, retryable: row.retryable !== 0 } : undefined;
  }

  /** The earliest back-off end of a retryable failure later than `time`, or null. */
  nextRetryAfter(time: number): number | null {
    return (this.stmt.nextRetryAfter.get(time) as { at: number | null }).at;
  }

  /** The paths of retryable failures whose back-off ends by `time`. */
  retriesDueBy(time: number): string[] {
    return (this.stmt.retriesDueBy.all(time) as { path: string }[]).map((r) => r.path);
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
