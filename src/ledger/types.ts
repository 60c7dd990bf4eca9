// The ledger's rows as the rest of files-sync sees them (camelCase; the SQL is in schema.ts).

/** A synced path and the remote copy of its content. */
export interface FileRow {
  path: string;
  fileId: string;
  size: number;
  mtimeMs: number;
  ino: number;
  sha256: string;
  mimeType: string;
  remoteName: string;
  uploadedAt: string;
}

/** An owned remote id waiting to be deleted. */
export interface PendingDelete {
  fileId: string;
  path: string | null;
  reason: 'replaced' | 'deleted' | 'orphan' | 'torn';
  attempts: number;
  lastError: string | null;
  createdAt: number;
}

/** An upload whose outcome is not (fully) known yet. */
export interface InFlightUpload {
  id: number;
  path: string;
  remoteName: string;
  size: number;
  /** Null when the upload hashes the bytes it sends (a large new file that cannot be a move). */
  sha256: string | null;
  mimeType: string;
  startedAt: number;
  unknownOutcomes: number;
  resolvedFileId: string | null;
  /** The end of the last attempt (ms, local clock); null while it runs or after a crash. */
  attemptsEndedAt: number | null;
  /** Server clock minus local clock when the intent was written; null when not known then. */
  clockOffsetMs: number | null;
  /** The file's mtime and inode when the intent was written; null on rows older than schema 3. */
  mtimeMs?: number | null;
  ino?: number | null;
  /**
   * Ids of files of the same remote name and size, not ours, that the intent's run had listed: they
   * existed before the intent, so none is its orphan (rule 3). Space-separated; null when none.
   */
  knownLookalikes?: string | null;
}

/** A remote file that matched an intent ambiguously (rule 3): shown by `status`, never deleted by a sync. */
export interface UnclaimedCopy {
  fileId: string;
  /** The intent it matched. */
  path: string;
  remoteName: string;
  size: number;
  sha256: string;
  /** The copy's `created_at`. */
  createdAt: string;
  /** Why no intent could claim it. */
  reason: string;
  recordedAt: number;
}

/**
 * When a path that failed is tried again (the file changing always ends a failure):
 * - `on-change`: only then (too large, a file the API refuses);
 * - `backoff`: also after a wait that grows with each failure in a row (`failureBackoffMs`);
 * - `outage`: the API, not the file, failed (unreachable or failing through every retry). The
 *   daemon parks the job and runs it as soon as the API answers, so the first failure in a row
 *   holds nothing; a second one backs off as above, so that a file which alone makes the API fail
 *   does not take it down again at every recovery.
 */
export type FailureRetry = 'on-change' | 'backoff' | 'outage';

/** A path whose last attempt failed. */
export interface Failure {
  path: string;
  error: string;
  retryable: boolean;
  attempts: number;
  nextRetryAt: number | null;
  size: number | null;
  mtimeMs: number | null;
  lastFailedAt: number;
  /** The content whose upload failed; null when not known (not read, or recorded before schema 5). */
  sha256?: string | null;
}

/** What an upload is about, as recorded before it starts. */
export type UploadIntent = Pick<InFlightUpload, 'path' | 'remoteName' | 'size' | 'sha256' | 'mimeType' | 'startedAt'> &
  Partial<Pick<InFlightUpload, 'clockOffsetMs' | 'mtimeMs' | 'ino' | 'knownLookalikes'>>;

/** The local file as it was uploaded, recorded with the remote id. */
export type UploadedContent = Omit<FileRow, 'fileId' | 'uploadedAt'>;

/** What the ledger keeps of a stored remote file: its id and when the workspace created it (a Files API FileMetadata fits). */
export interface StoredFile {
  id: string;
  /** RFC 3339, as the Files API gives it. */
  created_at: string;
}

/** A row of `files` as a listing's marks know it (its SQLite rowid). */
export type RowKey = number;

/** A ledger row as the reconciliation's merge reads it: with whether the listing found its copy. */
export interface ListedRow extends FileRow {
  listed: boolean;
}

/** A row a reconciliation's pass did not find locally, collected for the delete guard (collected.ts). */
export interface CollectedRow {
  path: string;
  fileId: string;
  sha256: string;
  /** Whether the remote side holds its id; null when the ledger is trusted for that. */
  listed: boolean | null;
}

/** What the delete guard reads of the collected rows: counts only. */
export interface CollectedSummary {
  /** Rows whose remote copy is (or is trusted to be) there: deletes, if the guard allows. */
  deletable: number;
  /** Rows whose remote copy the listing left out (deleted by someone else?): forgotten once a look-up answers 404. */
  forgets: number;
  /** Deletable rows paired one to one with content added at new paths: moves, which the guard does not count. */
  moved: number;
}

/** The longest wait before a failed path is tried again (`failureBackoffMs` at its cap). */
export const FAILURE_BACKOFF_MAX_MS = 6 * 3600_000;

/** Back-off for a retryable per-file failure: 30 s doubling up to FAILURE_BACKOFF_MAX_MS (6 h). */
export function failureBackoffMs(attempts: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, attempts - 1), FAILURE_BACKOFF_MAX_MS);
}
