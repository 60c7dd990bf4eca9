// `adopt`'s working tables: temp tables on the ledger's connection that hold the remote listing
// (by name and size), the local paths that match it, and the one-to-one verdict, so that `adopt`
// keeps nothing per file in memory (issue 13). They live as long as the connection, never in the file.
import type Database from 'better-sqlite3';
import { FaultGuard } from './faults.js';
import type { Ledger } from './ledger.js';

/** A remote file as the listing gives it (a Files API FileMetadata fits). */
export interface ListedFile {
  id: string;
  filename: string;
  size_bytes: number;
  created_at: string;
}

/** What the walk saw of a local file: the hash must find it still so (rule 5). */
export interface SeenFile {
  size: number;
  mtimeMs: number;
  /** When its inode last changed: a restore or a chmod sets it, and no one can set it back. */
  ctimeMs: number;
  ino: number;
  dev: number;
  /** Where the file is opened: its real path (the walk's), or null for `<real root>/<path>`. */
  realPath: string | null;
}

/** A path that takes exactly one remote file, with what the walk saw of it. */
export interface AdoptTake extends SeenFile {
  path: string;
  id: string;
  /** The remote file's name (the one files-sync gives the path) and its `created_at`. */
  filename: string;
  createdAt: string;
}

const SCHEMA = `
  CREATE TEMP TABLE IF NOT EXISTS adopt_listed (
    name TEXT NOT NULL, size INTEGER NOT NULL, id TEXT NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (name, size, id)) WITHOUT ROWID;
  CREATE TEMP TABLE IF NOT EXISTS adopt_pairs (
    path TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ms REAL NOT NULL, ctime_ms REAL NOT NULL, ino INTEGER NOT NULL, dev INTEGER NOT NULL, real_path TEXT,
    PRIMARY KEY (path, id)) WITHOUT ROWID;
  -- The claims index is built once the pairs are in (decide): cheaper than kept up insert by insert.
  DROP INDEX IF EXISTS temp.adopt_pairs_id;
  -- One row per path with candidates: the id it takes, or NULL when it is ambiguous.
  CREATE TEMP TABLE IF NOT EXISTS adopt_verdict (path TEXT PRIMARY KEY, id TEXT) WITHOUT ROWID;
  DELETE FROM temp.adopt_listed;
  DELETE FROM temp.adopt_pairs;
  DELETE FROM temp.adopt_verdict;
`;

/** `adopt`'s temp tables on one ledger connection; every call runs through the ledger's fault guard. */
export class AdoptTables {
  readonly #guard: FaultGuard;
  readonly #db: Database.Database;
  readonly #stmt;
  readonly #deferred: (fn: () => void) => void;

  /** Makes (or empties) the tables on `ledger`'s connection. */
  constructor(ledger: Ledger) {
    this.#guard = new FaultGuard(ledger.file);
    this.#db = ledger.connection;
    const db = this.#db;
    // The connection's temp cache is already small (statements.ts): the rest spills to the temp file.
    this.#guard.run(() => db.exec(SCHEMA));
    this.#stmt = this.#guard.run(() => ({
      // The anti-join: an id the ledger owns (a current copy, or one waiting to be deleted) is never a candidate.
      addListed: db.prepare(`INSERT INTO temp.adopt_listed (name, size, id, created_at) SELECT @name, @size, @id, @createdAt
        WHERE NOT EXISTS (SELECT 1 FROM main.files WHERE file_id = @id)
          AND NOT EXISTS (SELECT 1 FROM main.pending_deletes WHERE file_id = @id)
        ON CONFLICT DO NOTHING`),
      countListed: db.prepare('SELECT count(*) FROM temp.adopt_listed').pluck(),
      worthLooking: db
        .prepare(
          `SELECT EXISTS (SELECT 1 FROM temp.adopt_listed WHERE name = @name)
          AND NOT EXISTS (SELECT 1 FROM main.files WHERE path = @path)`,
        )
        .pluck(),
      addPairs: db.prepare(`INSERT INTO temp.adopt_pairs (path, id, name, created_at, size, mtime_ms, ctime_ms, ino, dev, real_path)
        SELECT @path, id, name, created_at, size, @mtimeMs, @ctimeMs, @ino, @dev, @realPath FROM temp.adopt_listed
        WHERE name = @name AND size = @size ON CONFLICT DO NOTHING`),
      // adoptable() in SQL: a path with one candidate that no other path claims takes it; else NULL.
      decide: db.prepare(`INSERT INTO temp.adopt_verdict (path, id)
        SELECT path, CASE WHEN n = 1 AND (SELECT count(*) FROM temp.adopt_pairs q WHERE q.id = pp.id) = 1 THEN id END
        FROM (SELECT path, count(*) AS n, min(id) AS id FROM temp.adopt_pairs GROUP BY path) AS pp`),
      counts: db.prepare(`SELECT count(v.id) AS take, count(*) - count(v.id) AS ambiguous, coalesce(sum(p.size), 0) AS takeBytes
        FROM temp.adopt_verdict v LEFT JOIN temp.adopt_pairs p ON p.path = v.path AND p.id = v.id`),
      takesAfter:
        db.prepare(`SELECT p.path, p.id, p.name AS filename, p.created_at AS createdAt, p.size, p.mtime_ms AS mtimeMs, p.ctime_ms AS ctimeMs,
          p.ino, p.dev, p.real_path AS realPath
        FROM temp.adopt_verdict v JOIN temp.adopt_pairs p ON p.path = v.path AND p.id = v.id
        WHERE v.path > ? ORDER BY v.path LIMIT ?`),
      ambiguousAfter: db.prepare('SELECT path FROM temp.adopt_verdict WHERE id IS NULL AND path > ? ORDER BY path LIMIT ?').pluck(),
    }));
    this.#deferred = db.transaction((fn: () => void) => fn());
  }

  /** Adds a page of the listing, leaving out the ids the ledger owns; one transaction (temp only). */
  addListed(files: readonly ListedFile[]): void {
    this.#guard.run(() =>
      this.#deferred(() => {
        for (const f of files) this.#stmt.addListed.run({ name: f.filename, size: f.size_bytes, id: f.id, createdAt: f.created_at });
      }),
    );
  }

  /** How many listed files may be adopted (not owned). */
  listedCount(): number {
    return this.#guard.run(() => this.#stmt.countListed.get() as number);
  }

  /**
   * Whether `path` is worth a stat: the ledger has no row for it and some listed file carries its
   * remote name `name` (two indexed probes).
   */
  worthLooking(path: string, name: string): boolean {
    return this.#guard.run(() => this.#stmt.worthLooking.get({ path, name }) === 1);
  }

  /** Pairs each path with every listed file of its name and size, in one transaction (temp only). */
  addPairs(paths: readonly { path: string; name: string; seen: SeenFile }[]): void {
    this.#guard.run(() =>
      this.#deferred(() => {
        for (const { path, name, seen } of paths) this.#stmt.addPairs.run({ path, name, ...seen });
      }),
    );
  }

  /** Decides, once every path is paired, what each path takes: the one-to-one rule of `adoptable`. */
  decide(): { take: number; ambiguous: number; takeBytes: number } {
    return this.#guard.run(() => {
      this.#db.exec('CREATE INDEX IF NOT EXISTS temp.adopt_pairs_id ON adopt_pairs (id)');
      this.#stmt.decide.run();
      return this.#stmt.counts.get() as { take: number; ambiguous: number; takeBytes: number };
    });
  }

  /** Up to `limit` takes after `after` ('' from the first), in path order (`comparePaths`: SQLite's BINARY). */
  takesAfter(after: string, limit: number): AdoptTake[] {
    return this.#guard.run(() =>
      (this.#stmt.takesAfter.all(after, limit) as AdoptTake[]).map((t) => ({ ...t, realPath: t.realPath ?? null })),
    );
  }

  /** Up to `limit` ambiguous paths after `after`, in path order. */
  ambiguousAfter(after: string, limit: number): string[] {
    return this.#guard.run(() => this.#stmt.ambiguousAfter.all(after, limit) as string[]);
  }

  /** Empties the tables (the connection keeps them, empty, until it closes). */
  clear(): void {
    this.#guard.run(() => this.#db.exec('DELETE FROM temp.adopt_listed; DELETE FROM temp.adopt_pairs; DELETE FROM temp.adopt_verdict;'));
  }
}
