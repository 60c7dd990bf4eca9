// The ledger's schema as numbered migrations: the data model of what files-sync owns remotely.
//
// Invariants (DESIGN.md, "The ledger" and rules 1-3):
// - `files` maps each synced local path to the one remote id that holds its current content.
//   Every id in `files`, `pending_deletes` and `uploads_in_flight.resolved_file_id` is owned by this
//   program; nothing else in the workspace ever is.
// - An id moves from `files` to `pending_deletes` in the same transaction that replaces it, so an
//   old version is never forgotten before it is deleted.
// - An `uploads_in_flight` row exists from before an upload starts until its outcome is known.
//   A row left behind (a crash, or attempts whose answer was lost) marks possible orphans: remote
//   files with its remote name and size, created inside its window (from the intent to the end of
//   its last attempt) on the server's clock, and no more of them than its attempts could make.
// - `unclaimed_copies` holds remote ids that matched an intent ambiguously (rule 3): not owned,
//   never deleted by a sync, listed by `status`, deleted only by `forget-copies` on the user's word.

/** Migrations in order; `PRAGMA user_version` is the number applied. Never edit a shipped one. */
export const MIGRATIONS: readonly string[] = [
  // 1: the first schema.
  `
  CREATE TABLE files (
    path        TEXT PRIMARY KEY,          -- relative to the root, POSIX separators
    file_id     TEXT NOT NULL UNIQUE,      -- the remote copy of the current content
    size        INTEGER NOT NULL,
    mtime_ms    REAL NOT NULL,
    ino         INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    mime_type   TEXT NOT NULL,
    remote_name TEXT NOT NULL,
    uploaded_at TEXT NOT NULL              -- the API's created_at
  ) STRICT;

  CREATE TABLE pending_deletes (
    file_id     TEXT PRIMARY KEY,
    path        TEXT,                      -- the path the id served, for status
    reason      TEXT NOT NULL,             -- replaced | deleted | orphan | torn
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  INTEGER NOT NULL           -- ms since the epoch
  ) STRICT;

  CREATE TABLE uploads_in_flight (
    id               INTEGER PRIMARY KEY,
    path             TEXT NOT NULL,
    remote_name      TEXT NOT NULL,
    size             INTEGER NOT NULL,
    sha256           TEXT NOT NULL,
    mime_type        TEXT NOT NULL,
    started_at       INTEGER NOT NULL,     -- ms since the epoch, local clock
    unknown_outcomes INTEGER NOT NULL DEFAULT 0,
    resolved_file_id TEXT                  -- set when the upload succeeded after lost answers
  ) STRICT;

  CREATE TABLE failures (
    path          TEXT PRIMARY KEY,
    error         TEXT NOT NULL,
    retryable     INTEGER NOT NULL,        -- 0: retried only when the file changes
    attempts      INTEGER NOT NULL,
    next_retry_at INTEGER,                 -- ms since the epoch
    size          INTEGER,                 -- the file as it was when it failed
    mtime_ms      REAL,
    last_failed_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;
  `,
  // 2: orphan windows on the server's clock, and the copies no intent can claim for sure (rule 3).
  `
  -- The end of the upload's last attempt (ms, local clock); NULL while it runs, or after a crash.
  ALTER TABLE uploads_in_flight ADD COLUMN attempts_ended_at INTEGER;
  -- The server's clock minus the local one when the intent was written (from the API's Date
  -- header); NULL when no answer had been seen yet.
  ALTER TABLE uploads_in_flight ADD COLUMN clock_offset_ms INTEGER;

  CREATE TABLE unclaimed_copies (
    file_id     TEXT PRIMARY KEY,          -- a remote file that may or may not be ours
    path        TEXT NOT NULL,             -- the intent it matched: path, remote name, size, content
    remote_name TEXT NOT NULL,
    size        INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    created_at  TEXT NOT NULL,             -- the copy's created_at (server clock)
    reason      TEXT NOT NULL,             -- why it could not be claimed
    recorded_at INTEGER NOT NULL           -- ms since the epoch
  ) STRICT;
  `,
  // 3: hash while uploading (a large new file is read once: the upload hashes what it sends).
  // SQLite cannot drop a NOT NULL: the table is rebuilt with its rows and their ids.
  `
  CREATE TABLE uploads_in_flight_3 (
    id                INTEGER PRIMARY KEY,
    path              TEXT NOT NULL,
    remote_name       TEXT NOT NULL,
    size              INTEGER NOT NULL,
    sha256            TEXT,                -- NULL: the upload hashes the bytes it sends
    mime_type         TEXT NOT NULL,
    started_at        INTEGER NOT NULL,
    unknown_outcomes  INTEGER NOT NULL DEFAULT 0,
    resolved_file_id  TEXT,
    attempts_ended_at INTEGER,
    clock_offset_ms   INTEGER,
    -- The file as it was when the intent was written (NULL on rows from before): a NULL-hash
    -- intent's orphan is adopted only while the file is still this one (rule 3).
    mtime_ms          REAL,
    ino               INTEGER
  ) STRICT;
  INSERT INTO uploads_in_flight_3 (id, path, remote_name, size, sha256, mime_type, started_at, unknown_outcomes,
      resolved_file_id, attempts_ended_at, clock_offset_ms)
    SELECT id, path, remote_name, size, sha256, mime_type, started_at, unknown_outcomes,
      resolved_file_id, attempts_ended_at, clock_offset_ms FROM uploads_in_flight;
  DROP TABLE uploads_in_flight;
  ALTER TABLE uploads_in_flight_3 RENAME TO uploads_in_flight;

  -- "Could a new file be a move?" asks whether any row has its size (hasSize).
  CREATE INDEX files_size ON files(size);
  `,
  // 4: the look-alikes an intent's run had listed (rule 3): files of another application with the
  // same remote name and size, which existed before the intent and so are never its orphans.
  `
  -- Their ids, separated by spaces; NULL when the run listed none (or did not list the workspace).
  ALTER TABLE uploads_in_flight ADD COLUMN known_lookalikes TEXT;
  `,
  // 5: the content whose upload failed, so that a move's old copy waits for its new path without
  // reading the file again (the daemon's delete batches, rule 2).
  `
  -- NULL: not known (a file that could not be read, a large one its upload hashes, a row from before).
  ALTER TABLE failures ADD COLUMN sha256 TEXT;
  `,
  // 6: an upload's answer must name an id the ledger does not hold yet (reads.ts knowsId), asked of
  // every table once per upload; without this index the in-flight table was scanned each time.
  `
  CREATE INDEX uploads_in_flight_resolved ON uploads_in_flight(resolved_file_id) WHERE resolved_file_id IS NOT NULL;
  `,
];
