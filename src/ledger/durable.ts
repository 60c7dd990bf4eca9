// Commits that must survive a power cut (DESIGN.md rule 3: an upload's intent, before its request
// leaves). Either fsynced as they commit (`commitDurably`: SQLite's synchronous FULL, on the event
// loop), or committed as any other and their WAL fsynced after, on the thread pool (`syncWal`): an
// fsync takes ~0.6 ms on the bench machine's disk and tens of milliseconds on a busy one, and
// meanwhile the event loop goes on reading answers and sending the requests whose intents are
// durable already. The WAL is fsynced through a descriptor the ledger opens with the database, so
// a state directory renamed or removed meanwhile changes nothing (SQLite too writes through its
// own descriptors); the ledger's fault guard notices a vanished ledger, as before.
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { errorMessage } from '../errors.js';
import { LedgerError, faultMessage } from './faults.js';

/**
 * Runs `commit` (a transaction) with its commit fsynced before it returns (synchronous FULL, then
 * NORMAL again), so that a power cut or an OS crash cannot take it back. A nested call commits with
 * its outer transaction.
 */
export function commitDurably<T>(db: Database.Database, commit: () => T): T {
  if (db.inTransaction) return commit();
  db.pragma('synchronous = FULL');
  try {
    return commit();
  } finally {
    db.pragma('synchronous = NORMAL');
  }
}

/** A transaction's value, and the promise that its commit is durable (a rejection: a ledger fault). */
export interface Synced<T> {
  value: T;
  synced: Promise<void>;
}

/**
 * A descriptor of the WAL beside the WAL-mode database `file`, for `syncWal`, opened as the ledger
 * opens (SQLite keeps that file while any connection is open: the descriptor stays its own), after
 * its directory was fsynced once, so that a WAL made moments ago is found after a power cut (as
 * SQLite's synchronous FULL does for a new WAL). Null when there is no WAL or it cannot be opened
 * and synced: the ledger's durable commits then fsync as they commit (`commitDurably`).
 */
export function openWal(file: string): number | null {
  let fd: number;
  try {
    // Never through a link planted in its place: the state directory is private, but a link there is not SQLite's WAL.
    fd = fs.openSync(`${file}-wal`, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return null;
  }
  try {
    const dir = fs.openSync(path.dirname(file), 'r');
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
    return fd;
  } catch {
    fs.closeSync(fd);
    return null;
  }
}

/**
 * Makes every commit so far of `file` durable against a power cut: fsyncs its WAL (`walFd`, from
 * `openWal`) on the thread pool. A failure is an `io` fault: after a failed fsync the kernel may
 * have dropped the pages, so nothing written since the last good one is known to be on disk.
 */
export function syncWal(file: string, walFd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.fsync(walFd, (err) => {
      if (err === null) return resolve();
      reject(
        new LedgerError(faultMessage('io', file, `its last commits could not be made durable: ${errorMessage(err)}`), 'io', { cause: err }),
      );
    });
  });
}

/** Closes the descriptor `openWal` gave (none: nothing to do); a failure to close changes nothing written. */
export function closeWal(walFd: number | null): void {
  if (walFd === null) return;
  try {
    fs.closeSync(walFd);
  } catch {
    // EBADF or EIO at close: the descriptor is gone either way, and every commit was synced or refused.
  }
}

/** The fsync `WalSyncs` calls: replaced only by tests that need a disk whose fsync fails. */
export const walIo = { syncWal };

/**
 * The fsyncs of one ledger's WAL (`syncWal` through the descriptor `openWal` gave), one after
 * another, the first failure holding for good: after a failed fsync the kernel may report the
 * next ones successful on pages it dropped, so no commit after it is known durable.
 */
export class WalSyncs {
  #chain: Promise<void> = Promise.resolve();
  #fault: Error | null = null;

  constructor(
    private readonly file: string,
    private readonly fd: number,
  ) {}

  /** Every commit made before this call, durable; rejects with the first failure met, now or earlier. */
  sync(): Promise<void> {
    const next = this.#chain.then(() => {
      if (this.#fault !== null) throw this.#fault;
      return walIo.syncWal(this.file, this.fd);
    });
    this.#chain = next.catch((err: unknown) => {
      this.#fault ??= err instanceof Error ? err : new Error(String(err));
    });
    // The first failure, whichever fsync met it (set by the handler above, which runs first).
    return next.catch((err: unknown) => {
      throw this.#fault ?? (err instanceof Error ? err : new Error(String(err)));
    });
  }

  /** Closes the descriptor once the fsyncs asked for have ended (never under one, nor its number reused meanwhile). */
  close(): void {
    void this.#chain.then(() => closeWal(this.fd));
  }
}
