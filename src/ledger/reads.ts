// The ledger's read verbs, the base of the Ledger class (ledger.ts), which runs each of them
// through its fault guard like every other verb.
import type Database from 'better-sqlite3';
import type { Statements } from './statements.js';
import type { Failure, FileRow, InFlightUpload, PendingDelete, UnclaimedCopy } from './types.js';

/** The reads of one open ledger; only `Ledger` makes one. */
export class LedgerReads {
  protected constructor(
    readonly file: string,
    protected readonly db: Database.Database,
    protected readonly stmt: Statements,
  ) {}

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

  /** Whether any synced file has exactly `size` bytes (one indexed probe): a new file of another size cannot be a move. */
  hasSize(size: number): boolean {
    return this.stmt.hasSize.get(size) !== undefined;
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
