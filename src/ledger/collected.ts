// The deletes a reconciliation's pass collects, held in two temp tables of the ledger's connection
// (never in the file, never in the heap): the rows the walk did not find, and the contents added at
// new paths (one sha256 per path). A temp table spills to a temp file past its small page cache
// (statements.ts sets temp.cache_size), so a million gone rows cost the same memory as ten.
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
  return {
    clearGone: db.prepare('DELETE FROM temp.gone_rows'),
    clearAdded: db.prepare('DELETE FROM temp.added_contents'),
    addGone: db.prepare('INSERT INTO temp.gone_rows (path, file_id, sha256, listed) VALUES (?, ?, ?, ?) ON CONFLICT (path) DO NOTHING'),
    addAdded: db.prepare('INSERT INTO temp.added_contents (sha256) VALUES (?)'),
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
    deletesAfter: db.prepare(`SELECT path, file_id AS fileId FROM temp.gone_rows WHERE path > ? AND listed IS NOT 0
      ORDER BY path LIMIT ?`),
    forget: db.prepare('DELETE FROM files WHERE path IN (SELECT path FROM temp.gone_rows WHERE listed IS 0)'),
    dropAddedIndex: db.prepare('DROP INDEX IF EXISTS temp.added_by_sha256'),
  };
}

/** The deletable rows whose content no new path took (no move's old copy), made once the index they need is. */
function prepareUnmoved(db: Database.Database) {
  // Made only when asked for: kept up at every insert, it would cost each added path a B-tree insert at a random key.
  db.exec('CREATE INDEX IF NOT EXISTS temp.added_by_sha256 ON added_contents (sha256)');
  const unmoved = `FROM temp.gone_rows g WHERE listed IS NOT 0
    AND NOT EXISTS (SELECT 1 FROM temp.added_contents a WHERE a.sha256 = g.sha256)`;
  return {
    count: db.prepare(`SELECT count(*) ${unmoved}`).pluck(),
    after: db.prepare(`SELECT path, file_id AS fileId ${unmoved} AND path > ? ORDER BY path LIMIT ?`),
  };
}

/** The collected deletes' verbs, between the reads and the writes of the Ledger class (ledger.ts guards them). */
export class LedgerCollected extends LedgerReads {
  readonly #c: ReturnType<typeof prepareCollected>;
  /** One deferred transaction wrapper: the temp tables take no lock on the ledger's file. */
  readonly #batch: (fn: () => void) => void;
  #unmoved: ReturnType<typeof prepareUnmoved> | undefined;

  protected constructor(file: string, db: Database.Database, stmt: Statements) {
    super(file, db, stmt);
    this.#c = prepareCollected(db);
    this.#batch = db.transaction((fn: () => void) => fn());
  }

  /** Empties what an earlier pass collected: each pass starts with none. */
  clearCollected(): void {
    this.#batch(() => {
      this.#c.clearGone.run();
      this.#c.clearAdded.run();
    });
    if (this.#unmoved !== undefined) {
      this.#c.dropAddedIndex.run();
      this.#unmoved = undefined;
    }
  }

  /** Adds rows the walk did not find (in path order, as the merge yields them), in one transaction. */
  collectGone(rows: readonly CollectedRow[]): void {
    if (rows.length === 0) return;
    this.#batch(() => {
      for (const r of rows) this.#c.addGone.run(r.path, r.fileId, r.sha256, r.listed === null ? null : r.listed ? 1 : 0);
    });
  }

  /** Counts contents uploaded at new paths (one entry per path), in one transaction. */
  collectAdded(sha256s: readonly string[]): void {
    if (sha256s.length === 0) return;
    this.#batch(() => {
      for (const sha of sha256s) this.#c.addAdded.run(sha);
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
   * How many deletable rows hold a content no new path took: no move's old copy. For a run whose
   * uploads stopped (a full storage), which deletes only these: a moved file's old copy waits
   * until its new one is stored.
   */
  collectedUnmovedCount(): number {
    return (this.#unmoved ??= prepareUnmoved(this.db)).count.get() as number;
  }

  /** Up to `limit` of the rows `collectedUnmovedCount` counts, after `after` (null: from the first), in path order. */
  collectedUnmovedAfter(after: string | null, limit: number): { path: string; fileId: string }[] {
    return (this.#unmoved ??= prepareUnmoved(this.db)).after.all(after ?? '', limit) as { path: string; fileId: string }[];
  }

  /** The first `limit` deletable paths: what a held report shows. */
  collectedSample(limit: number): string[] {
    return this.collectedDeletesAfter(null, limit).map((r) => r.path);
  }

  /** Forgets the rows whose remote copy someone else deleted, in one statement; returns how many. */
  forgetCollected(): number {
    return this.#c.forget.run().changes;
  }
}
