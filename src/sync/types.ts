// The planner's vocabulary: the views it reads (local walk, ledger, remote listing), its options, and
// the plan it returns. Types only, shared by the planner, the executor, the outcome and the session.
import type { Failure, FailureRetry, FileRow, InFlightUpload, PendingDelete } from '../ledger/ledger.js';
import type { LocalFile, LocalProblem } from '../local/types.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Logger } from '../log.js';
import type { FileMetadata, RemoteFiles } from '../remote/types.js';
import type { MoveSide } from './moves.js';
import type { OrphanVerdict } from './orphans.js';

/** The local side as the planner sees it; `null` when the walk could not run at all. */
export interface LocalView {
  files: readonly LocalFile[];
  problems: readonly LocalProblem[];
  /** False when some directory could not be read. */
  complete: boolean;
  /**
   * With `complete` false: the folders the walk could not list, when they are all that made it
   * incomplete (`SortedWalk.unseenFolders`): rule 4 then holds only the rows under them. Absent or
   * null: every delete waits.
   */
  unseen?: readonly string[] | null;
}

/** The remote listing; `complete` is false when paging stopped early. */
export interface RemoteView {
  files: readonly FileMetadata[];
  complete: boolean;
}

export interface LedgerView {
  files: readonly FileRow[];
  /**
   * The rows in the ledger when `files` holds only some (the daemon's delete batch: only the gone
   * rows): the mass-delete guard's share is of every tracked row. Absent: `files.length`.
   */
  tracked?: number;
  pendingDeletes: readonly PendingDelete[];
  inFlight: readonly InFlightUpload[];
  failures: readonly Failure[];
  /** Ids recorded as unclaimed copies (rule 3): never matched again, never deleted by a sync. */
  unclaimed?: readonly string[];
}

export interface PlanOptions {
  deleteMode: 'mirror' | 'keep';
  maxDeleteCount: number;
  maxDeleteShare: number;
  allowMassDelete: boolean;
  /**
   * Hold new uploads whose remote name and size the workspace already holds, unknown to the ledger
   * (a lost state directory would otherwise upload a duplicate set); off once a reconciliation finished.
   */
  holdLookalikes?: boolean;
  maxFileBytes: number;
  /** Remote filename for a relative path. */
  remoteName: (relPath: string) => string;
  /** Why the root cannot be trusted for deletes (missing marker, another device), if it cannot. */
  rootDistrust: string | null;
  /** The time of the plan (ms since the epoch): failure back-off and the orphan window. */
  now: number;
  /**
   * Plan only these paths (the daemon's jobs). Ledger rows outside the scope are neither uploaded
   * nor deleted; the "empty root" check is left to the caller, who alone sees the whole root.
   */
  scope?: (relPath: string) => boolean;
  /**
   * The skew allowance around an upload's window on the server's clock (ORPHAN_SKEW_MS: seconds,
   * for the `Date` header's resolution, not for clock drift, which the offset measures).
   */
  orphanSkewMs: number;
  /** The API's clock minus this host's, from its `Date` header; null or absent when unknown. */
  serverOffsetMs?: number | null;
  /** Attempts one upload call makes at most (default 5): the copies a crashed upload may have left. */
  maxUploadAttempts?: number;
  /**
   * Paths added since the deletes became due, outside this plan (the daemon's delete batch: its
   * uploads ran as path jobs). Each may pair with one deleted path as a move (rule 4).
   */
  recentlyAdded?: readonly MoveSide[];
}

export type UploadReason = 'new' | 'changed' | 'renamed' | 'missing-remote';

/**
 * A file the planner can upload: hashed by the walk, or a large new file left for its upload to
 * hash (`hashLater`, read once).
 */
export type UploadableFile = LocalFile & ({ sha256: string } | { sha256: null; hashLater: true });

/** Upload the content of `local`; `replaces` is the id the path pointed at before. */
export interface UploadAction {
  path: string;
  local: UploadableFile;
  remoteName: string;
  reason: UploadReason;
  replaces: string | null;
  /** The bytes the walk read and hashed (a small file): sent as they are, the file not read again. */
  content?: Buffer;
  /** Files not ours of this remote name and size that the run had listed (ids, space-separated): its intent records them. */
  knownLookalikes?: string;
  /** A new path whose content may be a move's (the reconciliation counted it): once stored, the execution counts it too. */
  addsContent?: true;
  /**
   * When the execution queued it (after the walk's stat of the file): how long it has been still
   * when its mtime lies in the future (waits.ts `settleWaitMs`).
   */
  queuedAt?: number;
}

export type DeleteReason = PendingDelete['reason'];

/** Delete an owned id. `path` is the path it served, if any. */
export interface DeleteAction {
  fileId: string;
  path: string | null;
  reason: DeleteReason;
  /** True for a locally deleted path (these are what the guard counts); false for old versions. */
  fromLocalDelete: boolean;
  /**
   * The listing left the id out, so it looked deleted by someone else; a listing may end short or
   * lag, so the API is asked (delete-one.ts). `pending`: an id already due for deletion, deleted
   * (a 404 is what the listing said). `row`: the copy of a path gone locally too, whose row is
   * forgotten once a look-up answers 404; a copy still there keeps its row for the next run.
   */
  listedOut?: 'pending' | 'row';
}

/**
 * Deletes read a page at a time (the rows a reconciliation's pass collected in the ledger), so
 * that a million of them are never one array; all are of locally deleted paths.
 */
export interface DeleteSource {
  /** The deletes among them (the rows the listing left out, only asked about, are none). */
  count: number;
  pages(): Iterable<readonly DeleteAction[]>;
}

/** A remote file found to be the result of an upload whose answer was lost: take it as the path's copy. */
export type Adoption = OrphanVerdict['adoptions'][number];

/** A remote copy no in-flight row can claim for sure (rule 3): recorded and shown, never touched. */
export type UnclaimedFinding = OrphanVerdict['unclaimed'][number];

/** A path not synced this time, with the reason (for the summary and `status`). */
export interface Skip {
  path: string;
  reason: string;
  /** A failure (counts toward exit code 1), or only a wait (a file still changing). */
  failed: boolean;
  /** Record it in the ledger's failures (news), or not (already recorded, or a wait). */
  record: { retry: Exclude<FailureRetry, 'outage'>; stat: { size: number; mtimeMs: number } | null } | null;
  /** A new path's content (sha256) whose upload waits on an earlier failure: a move's new side, not stored. */
  newContent?: string;
}

export interface Plan {
  uploads: UploadAction[];
  adoptions: Adoption[];
  /** Touched files whose content did not change: only the ledger's stat moves. */
  statUpdates: { path: string; size: number; mtimeMs: number; ino: number }[];
  deletes: DeleteAction[];
  /**
   * Deletes the guard held back (rule 4): how many, why, and the first few paths (HELD_SAMPLE) to
   * show; no action is kept per row, so a held million costs a count.
   */
  held: { count: number; reason: string; paths: string[] } | null;
  /** Why no delete of a locally missing path was planned at all, when that is so. */
  deletesBlocked: string | null;
  /** Rows under folders the walk could not list (rule 4: unseen, not gone): neither deleted nor forgotten. */
  unseenKept: number;
  /** Pending deletes the complete listing no longer shows: done without a request. */
  alreadyGone: string[];
  /** Ledger paths whose id the remote lost while the local file is gone too: forget them. */
  forget: string[];
  /** In-flight rows this (complete) listing settles. */
  settledInFlight: number[];
  /** Copies matched ambiguously (rule 3): to record as unclaimed, never to delete. */
  unclaimed: UnclaimedFinding[];
  /** Recorded unclaimed copies the complete listing no longer shows: forget them. */
  unclaimedGone: string[];
  skips: Skip[];
  /** Paths the walk skipped on purpose (links, FIFOs...) and why: the first LISTED_MAX (arrays.ts), the rest counted below. */
  walkSkipped: { path: string; reason: string }[];
  /** Skips past LISTED_MAX (arrays.ts) a reconciliation's pass did not keep, in `skips` or its walk's skipped paths: counted. */
  skipsNotListed: { failed: number; skipped: number };
  /** How many of each kind `skips` holds: each kind is listed up to LISTED_MAX (`listSkip`, plan.ts). */
  skipsListed: { failed: number; skipped: number };
  unchanged: number;
  /** Remote files this program does not own (other applications'): never touched. */
  foreign: number;
  /**
   * New paths whose upload is held: the workspace holds a file this ledger does not own with the
   * name and size the upload would have (a lost state directory?). `files-sync adopt` settles them.
   */
  alreadyRemote: string[];
  /** How many new paths are held so: `alreadyRemote` lists the first LISTED_MAX (arrays.ts). */
  alreadyRemoteCount: number;
  /** Old copies of moved files kept because the new path was not stored (rule 2): the run that stores it deletes them. */
  movesWaiting: number;
}

/** Progress of a running plan, for the progress bar and the daemon's status. */
export interface Progress {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** The path a job just finished, if any. */
  path?: string;
}

export interface ExecuteDeps {
  root: string;
  /**
   * The root's real path, resolved once by the caller (executeDepsFor), so an upload does not
   * resolve it again. Absent: each ExecuteDeps object resolves it once, at its first upload.
   */
  realRoot?: string;
  remote: RemoteFiles;
  ledger: Ledger;
  logger: Logger;
  /** Uploads and deletes at once. */
  concurrency: number;
  /** Files larger than this are not uploaded. */
  maxFileBytes: number;
  /** A file must be this old (mtime) before it is read for upload. */
  settleMs: number;
  signal?: AbortSignal;
  /**
   * Stops new work when it fires (Ctrl-C): queued jobs are dropped, transfers in flight go on
   * (until `signal` ends them), and no delete starts. The report says `interrupted`.
   */
  stop?: AbortSignal;
  /**
   * Bytes the walk kept of files it hashed (WalkResult.contents): an upload sends them instead of
   * reading the file again, and drops them once sent.
   */
  contents?: Map<string, Buffer>;
  /** Clock and sleep, passed in so tests control time. */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  onProgress?: (progress: Progress) => void;
  /**
   * Whether a path the plan deletes is back (a file the sync would take: the filter applies).
   * Default: a regular file is there.
   */
  stillPresent?: (relPath: string) => Promise<boolean>;
  /**
   * Upload or delete failures in a row, each "API unavailable after retries", that end the run
   * (exit 5). One such failure may be the file's own (a timeout on a huge upload): it is recorded
   * with back-off and the others go on. Default 3; the daemon's one-path jobs use 1.
   */
  unavailableStreak?: number;
  /**
   * The client's request rate (requests a minute): the intents written ahead cover about
   * INTENT_AHEAD_SECONDS of uploads at it (execute.ts). Absent: the largest batch.
   */
  requestsPerMinute?: number;
}

/** A delete that failed: the copy, the path it was the copy of (null: none known), and why. */
export interface FailedDelete {
  fileId: string;
  path: string | null;
  reason: string;
}

/** What one plan's execution did. */
export interface ExecuteReport {
  uploaded: number;
  replaced: number;
  adopted: number;
  deleted: number;
  unchangedAfterCheck: number;
  failed: { path: string; reason: string }[];
  /** Failed uploads past LISTED_MAX, not kept in `failed` (arrays.ts), counted. */
  failedNotListed: number;
  /** Deletes that failed (their copies stay pending), the first LISTED_MAX of them (arrays.ts). */
  failedDeletes: FailedDelete[];
  /** Failed deletes past LISTED_MAX, not kept in `failedDeletes`, counted. */
  failedDeletesNotListed: number;
  bytesUploaded: number;
  /** Attempts whose answer was lost: a sweep of the listing should follow. */
  unknownOutcomes: number;
  /** `stop` fired: some planned work was not started. */
  interrupted: boolean;
  /** Uploads queued (a reconciliation decides them as it goes, so its plan does not hold them). */
  queued?: number;
  /** Deletes handed over as a paged source (collected rows), beside the plan's own `deletes`. */
  collectedDeletes?: number;
  /** Uploads done by the plan's reason, deletes done by theirs: the summary's vocabulary. */
  uploadsBy: Partial<Record<UploadAction['reason'], number>>;
  deletesBy: Partial<Record<DeleteAction['reason'], number>>;
}
