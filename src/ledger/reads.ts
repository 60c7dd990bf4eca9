// The ledger's read verbs, the base of the Ledger class (ledger.ts), which runs each of them
// through its fault guard like every other verb.
import type Database from 'better-sqlite3';
import { RowSet } from './row-set.js';
import type { Statements } from './statements.js';
import type { Failure, FileRow, InFlightUpload, ListedRow, PendingDelete, RowKey, UnclaimedCopy } from './types.js';

/** A `filesAfter` row as SQLite returns it: FILE_COLUMNS (statements.ts) in order, then the rowid. */
type RawListedRow = [string, string, number, number, number, string, string, string, string, RowKey];

/** The reads of one open ledger; only `Ledger` makes one. */
export class LedgerReads {
  /** The rows whose copy the last listing found (`markListed`): what `filesAfter` reports as listed. */
  protected readonly listed = new RowSet();

  protected constructor(
    readonly file: string,
    protected readonly db: Database.Database,
    protected readonly stmt: Statements,
  ) {}

  /**
   * The connection, for a command's own temp tables (adopt-tables.ts), which runs its calls through
   * a fault guard of its own. A getter: the Ledger's guard wraps only methods.
   */
  get connection(): Database.Database {
    return this.db;
  }

  files(): FileRow[] {
    return this.stmt.allFiles.all() as FileRow[];
  }

  /**
   * Up to `limit` rows after `after` (null: from the first) in path order, each with whether the
   * listing marked by `markListed` found its copy: the ledger's side of the reconciliation's merge.
   */
  filesAfter(after: string | null, limit: number): ListedRow[] {
    const rows = this.stmt.filesAfter.all(after ?? '', limit) as RawListedRow[];
    return rows.map((r) => ({
      path: r[0],
      fileId: r[1],
      size: r[2],
      mtimeMs: r[3],
      ino: r[4],
      sha256: r[5],
      mimeType: r[6],
      remoteName: r[7],
      uploadedAt: r[8],
      listed: this.listed.has(r[9]),
    }));
  }

  /** Up to `limit` owned ids after `after` in id order: the GA look-ups page through these. */
  ownedIdsAfter(after: string | null, limit: number): string[] {
    return (this.stmt.ownedIdsAfter.all(after ?? '', limit) as { id: string }[]).map((r) => r.id);
  }

  /**
   * Which of `fileIds` are current copies (rows of `files`), each with its row's key for
   * `markListed`: one query for a page of a listing.
   */
  currentRows(fileIds: readonly string[]): Map<string, RowKey> {
    if (fileIds.length === 0) return new Map();
    return new Map(this.stmt.currentOf.all(JSON.stringify(fileIds)) as [string, RowKey][]);
  }

  /**
   * Marks rows whose copy a listing found (`reset`: first forgets an earlier listing's); returns
   * how many were not marked yet. Kept in memory, one bit a row (row-set.ts). A row keeps its key
   * when an upload replaces its id; only rows this run wrote change so, and the merge has passed
   * their paths before they are written.
   */
  markListed(rows: Iterable<RowKey>, reset = false): number {
    if (reset) this.listed.clear();
    let added = 0;
    for (const row of rows) if (this.listed.add(row)) added++;
    return added;
  }

  /** Whether a row is marked as found by the listing. */
  isListed(row: RowKey): boolean {
    return this.listed.has(row);
  }

  /** The size of the current copy `fileId` when the listing found it; undefined otherwise. */
  listedSize(fileId: string): number | undefined {
    const found = this.stmt.sizeOfId.get(fileId) as { row: RowKey; size: number } | undefined;
    return found && this.listed.has(found.row) ? found.size : undefined;
  }

  fileByPath(relPath: string): FileRow | undefined {
    return this.stmt.fileByPath.get(relPath) as FileRow | undefined;
  }

  /** Whether the ledger holds `fileId` anywhere (a path's copy, a pending delete, an upload's resolved copy, an unclaimed copy). */
  knowsId(fileId: string): boolean {
    return this.stmt.idKnown.get(fileId, fileId, fileId, fileId) !== undefined;
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

  /**
   * Rows uploaded at `sinceMs` or later (the API's `created_at`), without loading the others. The
   * stamps are compared as text in SQL with a day's margin (RFC 3339 stamps of any precision or
   * UTC offset sort within 14 h of their time), then exactly here.
   */
  filesUploadedSince(sinceMs: number): FileRow[] {
    const margin = new Date(sinceMs - 24 * 3600_000).toISOString();
    const rows = this.stmt.filesUploadedFrom.all(margin) as FileRow[];
    return rows.filter((row) => Date.parse(row.uploadedAt) >= sinceMs);
  }

  counts(): { files: number; bytes: number } {
    const row = this.stmt.countAndSizeFiles.get() as { n: number; bytes: number };
    return { files: row.n, bytes: row.bytes };
  }

  /** How many files the ledger tracks (`counts().files` without summing their sizes). */
  fileCount(): number {
    return this.stmt.countFiles.get() as number;
  }

  /**
   * What the files table holds, in a few bytes: its rows and its newest copy's `uploaded_at`. An
   * upload, a delete or a move changes it, a stat update does not (backup.ts: a backup is due).
   */
  contentMark(): string {
    return this.stmt.contentMark.get() as string;
  }

  /** Whether any synced file has exactly `size` bytes (one indexed probe): a new file of another size cannot be a move. */
  hasSize(size: number): boolean {
    return this.stmt.hasSize.get(size) !== undefined;
  }

  /** How many failures are recorded, without reading them. */
  failureCount(): number {
    return this.stmt.countFailures.get() as number;
  }

  /** How many deletes are pending, without reading them. */
  pendingDeleteCount(): number {
    return this.stmt.countPending.get() as number;
  }

  /** How many pending deletes have failed (the API refused them); retried at the next reconciliation. */
  failedDeleteCount(): number {
    return this.stmt.countFailedPending.get() as number;
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

  /** The recorded failures by path, all of them or the first `limit`. */
  failures(limit?: number): Failure[] {
    const rows = limit === undefined ? this.stmt.allFailures.all() : this.stmt.someFailures.all(limit);
    return (rows as (Omit<Failure, 'retryable'> & { retryable: number })[]).map((row) => ({
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

  /**
   * Paths without a ledger row whose upload of one of `contents` failed (a move's new side whose
   * copy is not stored), with the file as it was then, by content then path, at most `limit`.
   */
  failedNewPathsOf(contents: readonly string[], limit: number): { path: string; sha256: string; size: number; mtimeMs: number }[] {
    const stmt = this.stmt.failedNewPathsOf;
    if (stmt === null) return []; // a read-only ledger of an older schema: no content recorded
    return stmt.all(JSON.stringify(contents), limit) as { path: string; sha256: string; size: number; mtimeMs: number }[];
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
}
