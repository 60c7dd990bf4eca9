// The intents of uploads (DESIGN.md rule 3), written in batches: the upload that needs its intent
// also writes those of the next queued uploads, all in one transaction, before any of them sends;
// once half of those are taken, the next ones are written in the background.
import type { FileRow, Ledger } from '../ledger/ledger.js';
import type { UploadAction } from './types.js';
import { settleWaitMs } from './waits.js';

/** What an intent write found and did: the path's ledger row, and the intent's id (null: nothing to send). */
export interface Intent {
  row: FileRow | undefined;
  /** The `uploads_in_flight` row; null when the ledger already holds this content (only its stat moved). */
  inFlightId: number | null;
}

/** The intent of one upload: which path, what content, and when it is written. */
export interface IntentRequest {
  action: UploadAction;
  local: UploadAction['local'];
  startedAt: number;
  /** The API's clock minus this host's, if known (the orphan window on the server's clock). */
  clockOffsetMs: number | null;
}

/**
 * Reads the path's ledger row and, unless it already holds this content (then only its stat
 * moves, and the intent is null), records the upload's intent. The caller runs it in a transaction.
 */
export function writeIntent(ledger: Ledger, { action, local, startedAt, clockOffsetMs }: IntentRequest): Intent {
  const row = ledger.fileByPath(action.path);
  if (row && row.sha256 === local.sha256 && row.remoteName === action.remoteName && action.reason !== 'missing-remote') {
    ledger.updateStat(action.path, local.size, local.mtimeMs, local.ino);
    return { row, inFlightId: null };
  }
  const inFlightId = ledger.beginUpload({
    path: action.path,
    remoteName: action.remoteName,
    size: local.size,
    // NULL for a large new file its upload hashes; its mtime and inode tell a crash's orphan (rule 3).
    sha256: local.sha256,
    mimeType: local.mimeType,
    startedAt,
    clockOffsetMs,
    mtimeMs: local.mtimeMs,
    ino: local.ino,
    knownLookalikes: action.knownLookalikes ?? null,
  });
  return { row, inFlightId };
}

/** Intents per transaction at most: a crash leaves at most this many without a request. */
export const INTENT_BATCH_MAX = 128;
/** ...and no more than the uploads the request rate lets start within this long. */
export const INTENT_AHEAD_SECONDS = 5;

/**
 * How many intents one transaction writes at most, at `requestsPerMinute` (absent: no limit). An
 * intent written ahead opens its orphan window (rule 3) before its request leaves: under a slow
 * rate, a batch of the largest size would open windows a minute or more early, and a look-alike
 * another application uploads meanwhile would make a crash's orphan ambiguous (kept, not deleted).
 */
export function intentBatchSize(requestsPerMinute: number | undefined): number {
  if (requestsPerMinute === undefined) return INTENT_BATCH_MAX;
  return Math.max(1, Math.min(INTENT_BATCH_MAX, Math.ceil((requestsPerMinute / 60) * INTENT_AHEAD_SECONDS)));
}

/** What the batch needs from its executor. */
export interface IntentBatchOptions {
  /** Intents written per transaction at most (the one asked for and the queued ones after it). */
  maxBatch: number;
  /** Settle time: a queued upload whose file is younger waits before its intent, so none is written ahead. */
  settleMs: number;
  now: () => number;
  clockOffsetMs: () => number | null;
  /** False once nothing new may start (the run stopped): no intent is written ahead then. */
  mayStart: () => boolean;
}

/**
 * The intents of one execution's uploads. The executor tells it which uploads are queued and
 * which have started; an upload asks for its intent just before its request (`take`) and gets the
 * one written ahead for it, or writes its own in a transaction that also writes those of the next
 * queued uploads (up to `maxBatch` written ahead in all). Once half of those are taken, the next
 * queued uploads' are written in the background (#refillSoon), so that a long run's uploads find
 * theirs durable and none waits for a commit's fsync. So a run of N uploads commits about
 * 2N / maxBatch intent transactions instead of N, and rule 3 holds exactly: every intent is durable before its upload
 * sends, since an intent is only handed out once its transaction has committed and that commit
 * was fsynced (`Ledger.transactionSynced`: the WAL is fsynced on the thread pool, not on the event
 * loop, which goes on with the answers and requests of the uploads in flight); the batch's size
 * comes from `intentBatchSize`.
 *
 * An intent written ahead is handed out only within INTENT_AHEAD_SECONDS of its writing: one that
 * waited longer (the uploads before it were slow) is written again with a new batch, since a crash
 * row's window runs from its intent for one upload call's span (orphans.ts), and a copy made later
 * would be nobody's (found as a stranger's file of that name and size).
 *
 * An intent written ahead whose upload never asks (the run stopped, the upload failed before its
 * request) is removed by `release()` at the end of the run; a crash before then leaves it as an
 * intent without a request, which the next reconciliation settles (rule 3: more intents than
 * requests are harmless, a request without an intent is not).
 */
export class IntentBatch {
  readonly #ledger: Ledger;
  readonly #options: IntentBatchOptions;
  /** Queued uploads not yet started, in queue order (p-queue starts them first in, first out). */
  readonly #queued = new Set<UploadAction>();
  /** Intents written ahead, committed, not yet taken, with when they were written and when their commit is durable. */
  readonly #ahead = new Map<UploadAction, { intent: Intent; writtenAt: number; synced: Promise<void> }>();
  /** Transactions written (for tests and the bench). */
  transactions = 0;
  /** The write ahead waiting for its turn (#refillSoon). */
  #refill: NodeJS.Immediate | undefined;
  /** The failure of a write ahead that no upload waited on, until raised. */
  #backgroundFailure: { error: unknown } | undefined;
  /** The latest such write's fsync, settled (the WAL's fsyncs run one after another). */
  #backgroundSynced: Promise<void> = Promise.resolve();

  constructor(ledger: Ledger, options: IntentBatchOptions) {
    this.#ledger = ledger;
    this.#options = options;
  }

  /** An upload was queued (after the walk's stat of its file; stamped `queuedAt`): its intent may be written ahead. */
  queued(action: UploadAction): void {
    action.queuedAt = this.#options.now();
    this.#queued.add(action);
  }

  /** An upload's job started: it is no longer a candidate for a batch (its intent may already be written). */
  started(action: UploadAction): void {
    this.#queued.delete(action);
  }

  /**
   * The durable intent for `local` (the version of the file this upload sends): the one written
   * ahead when it was written for this very version, else one written now with a batch of the
   * queued uploads' intents; either once its commit is fsynced (a failed fsync rejects: a fatal
   * ledger fault, and no request leaves).
   */
  async take(action: UploadAction, local: UploadAction['local']): Promise<Intent> {
    this.#raiseBackgroundFailure();
    const ahead = this.#ahead.get(action);
    if (ahead !== undefined) {
      this.#ahead.delete(action);
      const fresh = () => this.#options.now() - ahead.writtenAt <= INTENT_AHEAD_SECONDS * 1000;
      if (local === action.local && fresh()) {
        await ahead.synced;
        // Fresh still once durable: a disk that took seconds to fsync would open its window too early.
        if (fresh()) {
          this.#refillSoon();
          return ahead.intent;
        }
      }
    }
    // Hashed again since the intent was written ahead: that one names another version and goes.
    // Or it waited longer than a batch should (the uploads before it were slow): its window began
    // too early to reach this upload's attempts after a crash, and a new one is written.
    return this.#writeBatch(action, local, ahead?.intent.inFlightId ?? null);
  }

  /**
   * Once half the intents written ahead are taken, those of the next queued uploads are written
   * too, in an immediate (after the request of the upload that took its intent has left): their
   * commit is durable long before their uploads ask, so no upload waits for a batch's fsync in the
   * middle of a run, and at most `maxBatch` intents are ahead at any time, as with whole batches.
   * No upload waits on such a write: its failure (the transaction, or its commit's fsync) is kept
   * and raised by the next `take` or by `release` (#raiseBackgroundFailure), as a failed intent
   * write of an upload's own would be.
   */
  #refillSoon(): void {
    if (this.#refill !== undefined || this.#ahead.size > this.#options.maxBatch / 2) return;
    this.#refill = setImmediate(() => {
      this.#refill = undefined;
      const { now, maxBatch } = this.#options;
      const batch = this.#aheadCandidates(now(), maxBatch - this.#ahead.size);
      if (batch.length === 0) return;
      try {
        const { synced } = this.#writeAhead(batch, now());
        this.#backgroundSynced = synced.catch((err: unknown) => {
          this.#backgroundFailure ??= { error: err };
        });
      } catch (err) {
        this.#backgroundFailure ??= { error: err }; // rolled back whole: none of these intents was written
      }
    });
  }

  /**
   * Resolves once the writes ahead made in the background are durable or have failed: the run
   * waits for it before `release`, so that a failure that comes late is raised there too.
   */
  settled(): Promise<void> {
    return this.#backgroundSynced;
  }

  /** Throws the failure of a write ahead no upload asked for (#refillSoon), once. */
  #raiseBackgroundFailure(): void {
    const failure = this.#backgroundFailure;
    if (failure === undefined) return;
    this.#backgroundFailure = undefined;
    throw failure.error;
  }

  /**
   * Removes the intents written ahead that no upload took (their requests never left); then
   * throws the failure of a write ahead that no upload met.
   */
  release(): void {
    if (this.#refill !== undefined) clearImmediate(this.#refill);
    this.#refill = undefined;
    try {
      if (this.#ahead.size === 0 && this.#queued.size === 0) return;
      const unused = [...this.#ahead.values()].map((a) => a.intent);
      this.#ahead.clear();
      this.#queued.clear();
      const now = this.#options.now();
      this.#ledger.transaction(() => {
        for (const intent of unused) if (intent.inFlightId !== null) this.#ledger.abandonUpload(intent.inFlightId, 0, now);
      });
    } finally {
      this.#raiseBackgroundFailure();
    }
  }

  /** Writes `action`'s intent and those of the next queued uploads that may be written ahead, in one transaction; resolves once it is durable. */
  async #writeBatch(action: UploadAction, local: UploadAction['local'], stale: number | null): Promise<Intent> {
    const { now, maxBatch } = this.#options;
    const startedAt = now();
    const batch = this.#aheadCandidates(startedAt, maxBatch - 1 - this.#ahead.size);
    const { own, synced } = this.#writeAhead(batch, startedAt, (clockOffsetMs) => {
      if (stale !== null) this.#ledger.abandonUpload(stale, 0, startedAt);
      return writeIntent(this.#ledger, { action, local, startedAt, clockOffsetMs });
    });
    await synced;
    return own!;
  }

  /**
   * Writes the intents of `batch` (queued uploads, to be handed out when they start), after what
   * `first` writes (the asking upload's own), in one transaction; returns `first`'s result and the
   * commit's durability.
   */
  #writeAhead(
    batch: UploadAction[],
    startedAt: number,
    first?: (clockOffsetMs: number | null) => Intent,
  ): { own: Intent | undefined; synced: Promise<void> } {
    const offset = this.#options.clockOffsetMs();
    this.transactions++;
    const { value: written, synced } = this.#ledger.transactionSynced(() => {
      const own = first?.(offset);
      const ahead = batch.map((next) => writeIntent(this.#ledger, { action: next, local: next.local, startedAt, clockOffsetMs: offset }));
      return { own, ahead };
    });
    // Committed (a transaction that threw rolled all of them back), they are handed out once durable.
    // A failed fsync reaches the upload that asked, each upload that takes one of the batch (its
    // await rejects) and the ledger's fault listener: an intent no upload takes (released at the
    // end) has nobody else to tell, hence the handler that keeps it from being an unhandled rejection.
    synced.catch(() => undefined);
    batch.forEach((next, i) => this.#ahead.set(next, { intent: written.ahead[i]!, writtenAt: startedAt, synced }));
    return { own: written.own, synced };
  }

  /**
   * Up to `max` queued uploads whose intent can be written now, exactly as their own job would
   * write it: settled files (no wait before the request), and not a copy the listing missed whose
   * old id is checked first (that check may find the upload unneeded).
   */
  #aheadCandidates(now: number, max: number): UploadAction[] {
    const out: UploadAction[] = [];
    if (max <= 0 || !this.#options.mayStart()) return out;
    for (const next of this.#queued) {
      if (out.length >= max) break;
      if (this.#ahead.has(next)) continue;
      if (settleWaitMs(next.local.mtimeMs, next.queuedAt, now, this.#options.settleMs) > 0) continue;
      if (next.reason === 'missing-remote' && next.replaces !== null) continue;
      out.push(next);
    }
    return out;
  }
}
