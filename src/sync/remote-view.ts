// The remote side of a reconciliation: the whole listing, or (GA) look-ups of the ids files-sync
// owns plus the newest files back to the oldest open upload, whichever costs fewer requests.
import type { InFlightUpload, PendingDelete, RowKey } from '../ledger/types.js';
import type { FileMetadata, RemoteFiles } from '../remote/types.js';
import type { RemoteView } from './plan.js';
import { minOf } from '../arrays.js';
import { statusOf } from '../failure.js';
import { chooseRemoteMode, LIST_PAGE, LOOKUP_BATCH, type RemoteChoice, type WorkspaceSeen } from './remote-choice.js';

/** Look-ups run at once: few enough to leave the rate limit to transfers, enough to overlap round trips. */
const LOOKUP_CONCURRENCY = 4;

/** What reading the remote side reads of the ledger, and where it marks the current copies it finds. */
export interface RemoteLedger {
  /** Current copies (rows of `files`), and their ids a page at a time in id order. */
  fileCount(): number;
  ownedIdsAfter(after: string | null, limit: number): string[];
  /** Which of `fileIds` are current copies, each with its row's key (one query a page). */
  currentRows(fileIds: readonly string[]): Map<string, RowKey>;
  /** Marks rows whose copy was found, for the merge (`reset` first forgets an earlier listing's); how many were new. */
  markListed(rows: Iterable<RowKey>, reset?: boolean): number;
  /** Whether a row is marked already. */
  isListed(row: RowKey): boolean;
}

/** What reading the remote side needs from the ledger and the run. */
export interface RemoteViewInput {
  remote: RemoteFiles;
  ledger: RemoteLedger;
  pendingDeletes: readonly PendingDelete[];
  inFlight: readonly InFlightUpload[];
  seen: WorkspaceSeen | undefined;
  now: number;
  fullListHours: number;
  /** Remote files created this much before an upload's start still count as its orphans. */
  orphanSkewMs: number;
  /** Why this run must read the whole listing (a restore window is open: ChoiceInput.forceFull). */
  forceFull?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** The remote view the planner consumes, how it was read, and the foreign count to report. */
export interface RemoteSide {
  /**
   * Every file read except the ledger's current copies, whose rows the ledger marked (a bit each:
   * `filesAfter` reports them): foreign files, unclaimed copies, pending deletes, orphans. Memory
   * holds what is not this folder's, and a bit per ledger row.
   */
  view: RemoteView;
  /** Current copies found (and marked), less those past their `expires_at`. */
  current: number;
  choice: RemoteChoice;
  /** Look-ups only: foreign files as the last full listing saw them (null: never listed). A full listing leaves the count to the planner. */
  foreign: number | null;
  /** Set after a full listing: what to keep in the ledger's meta. */
  seen: WorkspaceSeen | null;
  /** What was read (look-up requests, files listed), for logs. */
  requests: { lookups: number; listedFiles: number };
}

/**
 * Reads the remote side. Either way it finds every owned id that still resolves and every file
 * created since the oldest open upload began (less the skew), so it is complete for everything
 * the planner asks of it: missing copies, pending deletes already gone, and orphans. A current
 * copy whose `expires_at` has passed (on the API's clock) is left out: its content is gone, so the
 * path is uploaded again. Any failed request rejects, so no partial view ever reaches the planner
 * (rule 4).
 */
export async function readRemoteSide(input: RemoteViewInput): Promise<RemoteSide> {
  const extra = extraOwnedIds(input);
  const choice = chooseRemoteMode({
    canLookup: input.remote.contract === 'ga' && typeof input.remote.lookup === 'function',
    owned: input.ledger.fileCount() + extra.length,
    seen: input.seen,
    now: input.now,
    fullListHours: input.fullListHours,
    forceFull: input.forceFull,
  });
  const requests = { lookups: 0, listedFiles: 0 };
  const sorter = new Sorter(input);
  if (choice.mode === 'owned') {
    await Promise.all([
      lookupAll(input, extra, requests, (page) => sorter.take(page)),
      listSince(input, orphanBound(input), requests, (page) => sorter.take(page)),
    ]);
    return {
      view: { files: sorter.others(), complete: true },
      current: sorter.current,
      choice,
      foreign: input.seen?.foreign ?? null,
      seen: null,
      requests,
    };
  }
  await listSince(input, -Infinity, requests, (page) => sorter.take(page));
  const others = sorter.others();
  const ownedExtra = new Set(extra);
  const foreign = others.filter((f) => !ownedExtra.has(f.id)).length;
  return {
    view: { files: others, complete: true },
    current: sorter.current,
    choice,
    foreign: null,
    seen: { total: sorter.total, foreign, listedAt: input.now },
    requests,
  };
}

/** Sorts what the remote side reads a page at a time: current copies marked in the ledger, the rest kept. */
class Sorter {
  readonly #others = new Map<string, FileMetadata>();
  current = 0;
  /** Files read, each once (a look-up and the recent listing may both return one). */
  total = 0;
  #started = false;

  constructor(readonly input: RemoteViewInput) {}

  take(page: readonly FileMetadata[]): void {
    const { ledger, remote } = this.input;
    this.#start();
    const serverNow = remote.serverNow?.() ?? this.input.now;
    const found: RowKey[] = [];
    const current = ledger.currentRows(page.map((f) => f.id));
    for (const file of page) {
      const row = current.get(file.id);
      if (row === undefined) {
        if (!this.#others.has(file.id)) this.total++;
        this.#others.set(file.id, file);
        continue;
      }
      // A look-up and the recent listing may both return a copy: counted once.
      if (ledger.isListed(row)) continue;
      this.total++;
      if (expired(file, serverNow)) continue;
      found.push(row);
    }
    this.current += ledger.markListed(found);
  }

  others(): FileMetadata[] {
    this.#start();
    return [...this.#others.values()];
  }

  /** Forgets what an earlier run's listing marked, once, before this one marks anything. */
  #start(): void {
    if (this.#started) return;
    this.input.ledger.markListed([], true);
    this.#started = true;
  }
}

/** Whether a file's `expires_at` has passed at `now` (ms). */
export function expired(file: FileMetadata, now: number): boolean {
  if (file.expires_at == null) return false;
  const at = Date.parse(file.expires_at);
  return !Number.isNaN(at) && at <= now;
}

/**
 * What the API holds of `fileId` now, asked by id: the copy (`there`), its metadata with its
 * content expired (`expired`: the id still ours to delete), or nothing (`gone`: a 404).
 */
export async function copyState(remote: RemoteFiles, fileId: string, signal: AbortSignal): Promise<'there' | 'expired' | 'gone'> {
  try {
    return expired(await remote.get(fileId, { signal }), remote.serverNow?.() ?? Date.now()) ? 'expired' : 'there';
  } catch (err) {
    if (statusOf(err) === 404) return 'gone';
    throw err;
  }
}

/** Owned ids that are not current copies: pending deletes, and uploads known to have landed. */
function extraOwnedIds(input: RemoteViewInput): string[] {
  const ids = new Set<string>();
  for (const row of input.pendingDeletes) ids.add(row.fileId);
  for (const row of input.inFlight) if (row.resolvedFileId) ids.add(row.resolvedFileId);
  return [...ids];
}

/**
 * Oldest creation time (ms, on the server's clock: `created_at` is the server's) an orphan of an
 * open upload can have; Infinity when none is open. A row is converted with the offset it recorded,
 * else the one the client measured; with neither, the bound is unknown and the whole listing is read.
 */
function orphanBound(input: RemoteViewInput): number {
  if (input.inFlight.length === 0) return Infinity;
  const measured = input.remote.clockOffsetMs?.();
  const starts = input.inFlight.map((row) => {
    const offset = row.clockOffsetMs ?? measured;
    return offset === undefined || offset === null ? -Infinity : row.startedAt + offset;
  });
  return minOf(starts) - input.orphanSkewMs;
}

/** The owned ids that still resolve, 100 a request, a few requests at once, read from the ledger a page at a time. */
async function lookupAll(
  input: RemoteViewInput,
  extra: readonly string[],
  requests: RemoteSide['requests'],
  take: (found: FileMetadata[]) => void,
): Promise<void> {
  const { remote, ledger, signal } = input;
  const pending = [...extra];
  let after: string | null = null;
  let done = false;
  const nextBatch = (): string[] | undefined => {
    if (pending.length > 0) return pending.splice(0, LOOKUP_BATCH);
    if (done) return undefined;
    const ids = ledger.ownedIdsAfter(after, LOOKUP_BATCH);
    if (ids.length < LOOKUP_BATCH) done = true;
    after = ids.at(-1) ?? after;
    return ids.length > 0 ? ids : undefined;
  };
  const worker = async (): Promise<void> => {
    for (let batch = nextBatch(); batch !== undefined; batch = nextBatch()) {
      requests.lookups++;
      take(await remote.lookup!(batch, signal ? { signal } : {}));
    }
  };
  await Promise.all(Array.from({ length: LOOKUP_CONCURRENCY }, worker));
}

/** The listing, newest first, down to files created at `boundMs` (nothing when Infinity), a page at a time to `take`. */
async function listSince(
  input: RemoteViewInput,
  boundMs: number,
  requests: RemoteSide['requests'],
  take: (page: FileMetadata[]) => void,
): Promise<void> {
  if (boundMs === Infinity) return;
  const { remote, signal } = input;
  let page: FileMetadata[] = [];
  // The whole listing is read unless a bound may stop it early: then no page is asked for ahead.
  const readAhead = boundMs === -Infinity;
  for await (const file of remote.list(signal ? { signal, readAhead } : { readAhead })) {
    const created = Date.parse(file.created_at);
    // Newest first: the first file older than the bound ends the walk (an unreadable date does not).
    if (!Number.isNaN(created) && created < boundMs) break;
    page.push(file);
    requests.listedFiles++;
    if (page.length >= LIST_PAGE) {
      take(page);
      page = [];
    }
  }
  take(page);
}
