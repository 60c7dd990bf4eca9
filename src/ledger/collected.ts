// The deletes a reconciliation's pass collects, held in temp tables of the ledger's connection
// (never in the file, never in the heap): the rows the walk did not find, the contents added at new
// paths (one sha256 per path), the contents stored there (the uploads that succeeded), and the
// gone rows set aside as moves whose new copy was not stored. A temp table spills to a temp file
// past its small page cache (statements.ts sets temp.cache_size), so a million gone rows cost the
// same memory as ten.
import type Database from 'better-sqlite3';
import { LedgerReads } from './reads.js';
import type { Statements } from './statements.js';
import type { CollectedRow, CollectedSummary } from './types.js';

/** Prepares the temp tables (per connection; allowed on a read-only one) and their statements. */
function prepareCollected(db: Database.Database) {
  // Keyed by path: the merge yields gone rows in path order, so each insert appends.
  db.exec(`CREATE TEMP TABLE IF NOT EXISTS gone_rows (path TEXT PRIMARY KEY, file_id TEXT NOT NULL,
    sha256 TEXT NOT NULL, listed INTEGER) WITHOUT ROWID`);
  // Appended, not keyed by sha256 with a count: an upsert at a random key cost 4x the time with the
  // small page cache (40 µs a path, measured at 200k); the summary sorts them once instead.
  db.exec('CREATE TEMP TABLE IF NOT EXISTS added_contents (sha256 TEXT NOT NULL)');
  db.exec('CREATE TEMP TABLE IF NOT EXISTS stored_contents (sha256 TEXT NOT NULL)');
  db.exec('CREATE TEMP TABLE IF NOT EXISTS waiting_counts (sha256 TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID');
  db.exec('CREATE TEMP TABLE IF NOT EXISTS waiting_rows (path TEXT PRIMARY KEY) WITHOUT ROWID');
  const tables = ['gone_rows', 'added_contents', 'stored_contents', 'waiting_counts', 'waiting_rows'];
  return {
    clear: tables.map((t) => db.prepare(`DELETE FROM temp.${t}`)),
    addGone: db.prepare('INSERT INTO temp.gone_rows (path, file_id, sha256, listed) VALUES (?, ?, ?, ?) ON CONFLICT (path) DO NOTHING'),
    addAdded: db.prepare('INSERT INTO temp.added_contents (sha256) VALUES (?)'),
    addStored: db.prepare('INSERT INTO temp.stored_contents (sha256) VALUES (?)'),
    // `listed IS NOT 0`: present (1) or trusted (NULL); 0 is a copy someone else deleted.
    counts: db.prepare(`SELECT coalesce(sum(listed IS NOT 0), 0) AS deletable, coalesce(sum(listed IS 0), 0) AS forgets
      FROM temp.gone_rows`),
    // The move rule, one to one: per content, min(deleted paths, added paths), in one sort of both
    // sides (SQLite's sorter spills to a temp file: bounded memory).
    moved: db
      .prepare(
        `SELECT coalesce(sum(m), 0) FROM (SELECT min(sum(side = 0), sum(side = 1)) AS m FROM (
          SELECT sha256, 0 AS side FROM temp.gone_rows WHERE listed IS NOT 0
          UNION ALL SELECT sha256, 1 FROM temp.added_contents) GROUP BY sha256)`,
      )
      .pluck(),
    // Rows that wait (none unless `holdWaitingMoves` found some) are left out.
    deletesAfter: db.prepare(`SELECT path, file_id AS fileId FROM temp.gone_rows WHERE path > ? AND listed IS NOT 0
      AND path NOT IN (SELECT path FROM temp.waiting_rows) ORDER BY path LIMIT ?`),
    // Per content, the moves whose new copy was not stored: min(gone, added) - min(gone, stored),
    // counted in one sort of the three sides (as `moved`)...
    countWaiting: db.prepare(
      `INSERT INTO temp.waiting_counts (sha256, n) SELECT sha256, min(gone, added) - min(gone, stored) FROM (
        SELECT sha256, sum(side = 0) AS gone, sum(side = 1) AS added, sum(side = 2) AS stored FROM (
          SELECT sha256, 0 AS side FROM temp.gone_rows WHERE listed IS NOT 0
          UNION ALL SELECT sha256, 1 FROM temp.added_contents
          UNION ALL SELECT sha256, 2 FROM temp.stored_contents) GROUP BY sha256)
      WHERE min(gone, added) - min(gone, stored) > 0`,
    ),
    // ... then that many gone rows of each such content, the last in path order (one to one, as
    // the guard pairs them): one scan of the gone rows with a key lookup each (CROSS JOIN keeps
    // that order; the other way round is a scan of the gone rows per content).
    holdWaiting: db.prepare(
      `INSERT INTO temp.waiting_rows (path) SELECT path FROM (
        SELECT g.path, c.n, row_number() OVER (PARTITION BY g.sha256 ORDER BY g.path DESC) AS k
        FROM temp.gone_rows g CROSS JOIN temp.waiting_counts c ON c.sha256 = g.sha256 WHERE g.listed IS NOT 0)
      WHERE k <= n`,
    ),
    // The rows under one folder: its path and `/` up to (not) its path and `0` (`/` is 0x2F, `0` 0x30).
    dropUnder: db.prepare('DELETE FROM temp.gone_rows WHERE path >= ? AND path < ?'),
    forgetsAfter: db.prepare(`SELECT path, file_id AS fileId FROM temp.gone_rows WHERE path > ? AND listed IS 0 ORDER BY path LIMIT ?`),
  };
}

/** The collected deletes' verbs, between the reads and the writes of the Ledger class (ledger.ts guards them). */
export class LedgerCollected extends LedgerReads {
  readonly #c: ReturnType<typeof prepareCollected>;
  /** One deferred transaction wrapper: the temp tables take no lock on the ledger's file. */
  readonly #batch: (fn: () => void) => void;

  protected constructor(file: string, db: Database.Database, stmt: Statements) {
    super(file, db, stmt);
    this.#c = prepareCollected(db);
    this.#batch = db.transaction((fn: () => void) => fn());
  }

  /** Empties what an earlier pass collected: each pass starts with none. */
  clearCollected(): void {
    this.#batch(() => {
      for (const clear of this.#c.clear) clear.run();
    });
  }

  /** Adds rows the walk did not find (in path order, as the merge yields them), in one transaction. */
  collectGone(rows: readonly CollectedRow[]): void {
    if (rows.length === 0) return;
    this.#batch(() => {
      for (const r of rows) this.#c.addGone.run(r.path, r.fileId, r.sha256, r.listed === null ? null : r.listed ? 1 : 0);
    });
  }

  /** Counts contents at new paths, to upload or waiting on a failure (one entry per path), in one transaction. */
  collectAdded(sha256s: readonly string[]): void {
    if (sha256s.length === 0) return;
    this.#batch(() => {
      for (const sha of sha256s) this.#c.addAdded.run(sha);
    });
  }

  /** Counts contents stored at new paths (uploads `collectAdded` counted that succeeded), in one transaction. */
  collectStored(sha256s: readonly string[]): void {
    if (sha256s.length === 0) return;
    this.#batch(() => {
      for (const sha of sha256s) this.#c.addStored.run(sha);
    });
  }

  /** The counts the delete guard judges (sync/decide.ts `deleteVerdict`). */
  collectedSummary(): CollectedSummary {
    const { deletable, forgets } = this.#c.counts.get() as { deletable: number; forgets: number };
    return { deletable, forgets, moved: this.#c.moved.get() as number };
  }

  /** Up to `limit` deletable rows after `after` (null: from the first) in path order: a page for the executor. */
  collectedDeletesAfter(after: string | null, limit: number): { path: string; fileId: string }[] {
    return this.#c.deletesAfter.all(after ?? '', limit) as { path: string; fileId: string }[];
  }

  /**
   * Sets aside the deletable rows whose content went to a new path that was not stored (its upload
   * failed, never started on a full storage, or waits on an earlier failure), one row per such
   * path: a moved file's old copy waits for its new one (rule 2). `collectedDeletesAfter` leaves
   * them out; returns how many.
   */
  holdWaitingMoves(): number {
    let held = 0;
    this.#batch(() => {
      this.#c.countWaiting.run();
      held = this.#c.holdWaiting.run().changes;
    });
    return held;
  }

  /** The first `limit` deletable paths: what a held report shows. */
  collectedSample(limit: number): string[] {
    return this.collectedDeletesAfter(null, limit).map((r) => r.path);
  }

  /**
   * Takes the collected rows under `folders` out (rule 4: under a folder the walk could not list, a
   * path is unseen, not gone): they are neither deleted nor forgotten. Returns how many.
   */
  keepUnseen(folders: readonly string[]): number {
    let kept = 0;
    this.#batch(() => {
      for (const folder of folders) kept += this.#c.dropUnder.run(`${folder}/`, `${folder}0`).changes;
    });
    return kept;
  }

  /** Up to `limit` rows after `after` whose copy the listing left out (deleted by someone else, or so it seems), in path order. */
  collectedForgetsAfter(after: string | null, limit: number): { path: string; fileId: string }[] {
    return this.#c.forgetsAfter.all(after ?? '', limit) as { path: string; fileId: string }[];
  }
}
