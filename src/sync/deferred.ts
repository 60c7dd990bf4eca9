// Ledger writes that may wait a moment: the records of finished uploads, committed in groups.

import { LedgerError, type Ledger } from '../ledger/ledger.js';

export interface DeferredWritesOptions {
  /**
   * Commit once this many writes wait (default 64). A group holds the event loop while it commits
   * (~10 µs a record: 256 held it ~2.2 ms, 64 ~0.65 ms, on the bench machine), and no answer is
   * read nor request sent meanwhile: a hold longer than the API takes to answer the requests in
   * flight (8 small uploads: ~1.8 ms on loopback) leaves it idle. Larger groups cost fewer WAL
   * frames a file (under strace, per file: ~1.9 pwrite for groups of 8, ~0.8 of 32, ~0.45 of 128).
   */
  maxPending?: number;
  /**
   * ... or this long after the first of them (default 100 ms). A crash meanwhile loses nothing
   * rule 3 cannot recover (the intents are committed).
   */
  maxDelayMs?: number;
}

/**
 * Writes that may be committed a little later than asked, in one transaction per group: the result
 * of an upload, recorded after the request (DESIGN.md rule 3 only needs the intent, written before,
 * to be durable: a crash before the group commits leaves that intent, and the next reconciliation
 * adopts the upload it finds). A group runs bare (`allOrNothing`: no savepoint per write nor per
 * verb); when a write throws, the group is rolled back and run again with each write in a
 * savepoint of its own, so the one that throws is rolled back alone (a write must therefore be
 * a ledger call that can run twice: nothing but the ledger changes in it). Its error, or a
 * failed commit, is thrown by the next `flush()` the caller makes (the executor flushes before
 * its deletes and at its end). A ledger fault is not run again: the group waits for rule 3.
 *
 * Two commits per uploaded file cost ~60 µs of the ~300 µs a small upload takes; one of them now
 * goes into a group (BENCHMARKS.md).
 */
export class DeferredWrites {
  readonly #ledger: Ledger;
  readonly #maxPending: number;
  readonly #maxDelayMs: number;
  #pending: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #error: unknown;

  constructor(ledger: Ledger, options: DeferredWritesOptions = {}) {
    this.#ledger = ledger;
    this.#maxPending = options.maxPending ?? 64;
    this.#maxDelayMs = options.maxDelayMs ?? 100;
  }

  /** Queues `write` (a ledger verb call) for the next group commit. */
  add(write: () => void): void {
    this.#pending.push(write);
    if (this.#pending.length >= this.#maxPending) this.#commit();
    else this.#timer ??= setTimeout(() => this.#commit(), this.#maxDelayMs);
  }

  /** Commits what waits now; throws the first error met since the last flush. */
  flush(): void {
    this.#commit();
    const error = this.#error;
    this.#error = undefined;
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what a write threw, unchanged
    if (error !== undefined) throw error;
  }

  #commit(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const group = this.#pending;
    if (group.length === 0) return;
    this.#pending = [];
    try {
      // The usual case, every write succeeds: one transaction and no savepoint at all.
      this.#ledger.allOrNothing(() => {
        for (const write of group) write();
      });
      return;
    } catch (err) {
      // A fault of the ledger's file (or its commit) would only be met again, and reported twice.
      if (err instanceof LedgerError) {
        this.#error ??= err;
        return;
      }
    }
    // A write threw and the whole group rolled back: again, each write in a savepoint of its own,
    // so the one that throws is rolled back alone.
    this.#commitEach(group);
  }

  #commitEach(group: readonly (() => void)[]): void {
    try {
      this.#ledger.transaction(() => {
        for (const write of group) {
          try {
            this.#ledger.transaction(write);
          } catch (err) {
            this.#error ??= err;
          }
        }
      });
    } catch (err) {
      this.#error ??= err;
    }
  }
}
