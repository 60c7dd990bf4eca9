// The ledger: a SQLite file that records which remote ids this program owns and for which paths,
// with a small verb-named API. Every write is one immediate transaction.
import type Database from 'better-sqlite3';
import { FaultGuard, LedgerError, classifySqliteError, guardVerbs, integrityProblemsOf, openFailure } from './faults.js';
import { WalSyncs, commitDurably, openWal, type Synced } from './durable.js';
import { openDatabase } from './open.js';
import { LedgerCollected } from './collected.js';
import { LedgerReads } from './reads.js';
import { prepareStatements } from './statements.js';
import { failureBackoffMs, type Failure, type FailureRetry, type StoredFile, type PendingDelete } from './types.js';
import type { UnclaimedCopy, UploadIntent, UploadedContent } from './types.js';

export type * from './types.js';
export { failureBackoffMs } from './types.js';
export { LedgerError } from './faults.js';

/** Methods that do not go through the guard: `close` must work on a broken file; `backupTo` sorts its own errors. */
const UNGUARDED = new Set(['constructor', 'close', 'onFault', 'backupTo']);

/** The SQLite ledger. Open with `Ledger.open`; `close()` is safe to call twice. */
export class Ledger extends LedgerCollected {
  /** One immediate-transaction wrapper, made once: better-sqlite3 builds four per `transaction()` call. */
  readonly #immediate: (fn: () => unknown) => unknown;
  /** The fault guard every verb runs through (faults.ts). */
  readonly #faults: FaultGuard;
  /** Inside `allOrNothing`: a verb's writes run bare, since any throw rolls back the whole of it. */
  #bare = false;
  /** The WAL's fsyncs (durable.ts): a commit can be made durable after the fact; null: as it commits. */
  #wal: WalSyncs | null;

  private constructor(file: string, db: Database.Database) {
    super(file, db, prepareStatements(db));
    this.#faults = new FaultGuard(file);
    // better-sqlite3's variants do not use `this`: the wrapper is made once and called as it is.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    this.#immediate = db.transaction((fn: () => unknown) => fn()).immediate;
    const walFd = file !== ':memory:' && !db.readonly && db.pragma('journal_mode', { simple: true }) === 'wal' ? openWal(file) : null;
    this.#wal = walFd === null ? null : new WalSyncs(file, walFd);
  }

  /**
   * Opens (or creates) the ledger at `file`, its schema brought up to date; `readOnly` and
   * `onCopy` as `openDatabase` takes them (a read-only disk: a private copy is read).
   */
  static open(file: string, options: { readOnly?: boolean; onCopy?: (note: string) => void } = {}): Ledger {
    const db = openDatabase(file, options.readOnly ?? false, options.onCopy);
    try {
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
    this.#faults.listener = listener;
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
      if (fault?.kind === 'corrupt') this.#faults.raise(err);
      throw err;
    }
  }

  /** SQLite's own check of the file: [] when it is sound, else what it found (faults.ts). */
  integrityProblems(): string[] {
    return integrityProblemsOf(this.db, this.file);
  }

  static {
    // Every verb goes through the fault guard, verbs added later too (faults.ts `guardVerbs`); the
    // reads (reads.ts) and the collected deletes (collected.ts) are verbs too.
    guardVerbs([LedgerReads.prototype, LedgerCollected.prototype, Ledger.prototype], UNGUARDED, (ledger: Ledger) => ledger.#faults);
  }

  /** A verb's writes: one immediate transaction (a savepoint when nested), or bare inside `allOrNothing`. */
  #write<T>(fn: () => T): T {
    return this.#bare ? fn() : (this.#immediate(fn) as T);
  }

  /** `fn` in one immediate transaction: its verbs commit together (each a savepoint); `durable`: fsynced as it commits. */
  transaction<T>(fn: () => T, durable = false): T {
    return durable ? commitDurably(this.db, () => this.#immediate(fn) as T) : (this.#immediate(fn) as T);
  }

  /** `fn` in one transaction, no fsync on the event loop; `synced`: it survives a power cut too (rule 3's intents wait for it). */
  transactionSynced<T>(fn: () => T): Synced<T> {
    if (this.db.inTransaction) throw new Error('transactionSynced inside a transaction: its commit would be the outer one');
    if (this.#wal === null) return { value: this.transaction(fn, true), synced: Promise.resolve() }; // durable as it returns
    return { value: this.#immediate(fn) as T, synced: this.syncCommits() };
  }

  /** Makes every commit so far durable against a power cut (durable.ts `syncWal`, on the thread pool). */
  syncCommits(): Promise<void> {
    return this.#wal === null ? Promise.resolve() : this.#wal.sync();
  }

  /**
   * Runs `fn` in one immediate transaction (a savepoint when nested) whose verbs open no savepoint
   * of their own (two statements saved a verb): a throw must leave `fn` and rolls back all of it; a
   * verb's error caught inside may leave half its writes. For groups expected to succeed (deferred.ts).
   */
  allOrNothing<T>(fn: () => T): T {
    const outer = this.#bare;
    this.#bare = true;
    try {
      return this.#immediate(fn) as T;
    } finally {
      this.#bare = outer;
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
    this.#wal?.close();
    this.#wal = null;
  }

  // ---- writes ----

  setMeta(key: string, value: string): void {
    this.stmt.setMeta.run(key, value);
  }

  setMetaJson(key: string, value: unknown): void {
    this.setMeta(key, JSON.stringify(value));
  }

  /**
   * Records an upload about to start; returns the row id its outcome is recorded against. A NULL
   * `sha256` says the upload hashes what it sends (a large new file, read once).
   */
  beginUpload(intent: UploadIntent): number {
    const { path, remoteName, size, sha256, mimeType, startedAt, clockOffsetMs = null, mtimeMs = null, ino = null } = intent;
    const insert = this.#written(this.stmt.addInFlight);
    const known = intent.knownLookalikes ?? null;
    return Number(insert.run(path, remoteName, size, sha256, mimeType, startedAt, clockOffsetMs, mtimeMs, ino, known).lastInsertRowid);
  }

  /**
   * Records a finished upload in one transaction: the path now points at the new id, its previous
   * id (if any) waits in `pending_deletes`, the failure is cleared, and the in-flight row is removed,
   * or kept as a sweep marker when earlier attempts' answers were lost (they may have stored orphans).
   */
  finishUpload(
    inFlightId: number | null,
    content: UploadedContent,
    file: StoredFile,
    unknownOutcomes: number,
    now: number,
  ): { replaced: string | null } {
    return this.#write(() => {
      const previous = this.fileByPath(content.path);
      const replaced = previous && previous.fileId !== file.id ? previous.fileId : null;
      if (replaced) this.stmt.addPending.run(replaced, content.path, 'replaced', now);
      // An id adopted from a sweep may still sit in pending_deletes: it is wanted now.
      this.stmt.removePending.run(file.id);
      const { path, size, mtimeMs, ino, sha256, mimeType, remoteName } = content;
      this.stmt.upsertFile.run(path, file.id, size, mtimeMs, ino, sha256, mimeType, remoteName, file.created_at);
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

  /** The remote no longer has `fileId`, the copy of a path gone locally too: forget the row (if it still names that id). */
  forgetFile(relPath: string, fileId: string): void {
    this.#write(() => this.stmt.forgetFile.run(relPath, fileId));
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

  /** Records a per-path failure, retried as `retry` says (see FailureRetry). */
  recordFailure(
    relPath: string,
    error: string,
    retry: FailureRetry,
    stat: { size: number; mtimeMs: number; sha256?: string | null } | null,
    now: number,
  ): Failure {
    const attempts = ((this.stmt.failureByPath.get(relPath) as { attempts: number } | undefined)?.attempts ?? 0) + 1;
    const backoffs = retry === 'outage' ? attempts - 1 : retry === 'backoff' ? attempts : 0;
    const failure: Failure = {
      path: relPath,
      error,
      retryable: retry !== 'on-change',
      attempts,
      nextRetryAt: backoffs > 0 ? now + failureBackoffMs(backoffs) : null,
      size: stat?.size ?? null,
      mtimeMs: stat?.mtimeMs ?? null,
      lastFailedAt: now,
      sha256: stat?.sha256 ?? null,
    };
    this.#written(this.stmt.upsertFailure).run({ ...failure, retryable: failure.retryable ? 1 : 0 });
    return failure;
  }

  /** The content a failure row from before schema 5 holds for: the caller hashed the file, whose failure still holds. */
  noteFailureContent(relPath: string, sha256: string): void {
    this.#written(this.stmt.noteFailureContent).run(sha256, relPath);
  }

  clearFailure(relPath: string): void {
    this.stmt.clearFailure.run(relPath);
  }
}
