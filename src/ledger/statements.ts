// The ledger's prepared SQL statements, made once per connection (ledger.ts runs them inside its verbs).
import type Database from 'better-sqlite3';

// A row of `files` as FileRow (types.ts); `filesAfter` reads it as an array in this order (reads.ts).
const FILE_COLUMNS = `path, file_id AS fileId, size, mtime_ms AS mtimeMs, ino, sha256, mime_type AS mimeType,
  remote_name AS remoteName, uploaded_at AS uploadedAt`;

/** Prepares every statement the ledger's verbs run; a read-only ledger at an older schema gets stand-ins for the newer parts. */
export function prepareStatements(db: Database.Database) {
  // A read-only open (status, ls beside an older daemon) may find schema 1: read what it has.
  const version = db.pragma('user_version', { simple: true }) as number;
  const v1 = version < 2;
  // Before schema 3 an intent recorded no mtime nor inode, and every intent had a hash; before 4, no look-alikes.
  const v2 = version < 3;
  const v3 = version < 4;
  const v4 = version < 5;
  const unclaimedTable = v1
    ? '(SELECT NULL AS file_id, NULL AS path, NULL AS remote_name, NULL AS size, NULL AS sha256, NULL AS created_at, NULL AS reason, NULL AS recorded_at WHERE 0)'
    : 'unclaimed_copies';
  // Temp tables (collected deletes, adopt's listing) keep 2 MB of page cache, not the 16 MB default:
  // a million rows would fill that much memory, while their look-ups cost the same from the temp
  // file (BENCHMARKS.md).
  db.pragma('temp.cache_size = -2000');
  return {
    allFiles: db.prepare(`SELECT ${FILE_COLUMNS} FROM files ORDER BY path`),
    ...listingStatements(db),
    fileByPath: db.prepare(`SELECT ${FILE_COLUMNS} FROM files WHERE path = ?`),
    fileById: db.prepare(`SELECT ${FILE_COLUMNS} FROM files WHERE file_id = ?`),
    // Where the ledger may hold an id: a copy, a delete due, an upload's resolved copy, an unclaimed
    // copy. Asked per upload: the id given 4 times and a plucked column, ~1 µs less than named.
    idKnown: db.prepare(idKnownSql(unclaimedTable)).pluck(),
    filesUnder: db.prepare(`SELECT ${FILE_COLUMNS} FROM files WHERE path >= ? AND path < ? ORDER BY path`),
    // No index on uploaded_at (a migration would be needed): a scan, but only matching rows come back.
    filesUploadedFrom: db.prepare(`SELECT ${FILE_COLUMNS} FROM files WHERE uploaded_at >= ? ORDER BY path`),
    // The count alone is ~4 times cheaper than with the sum (1,000,000 rows: 8 ms against 34): SQLite
    // counts the index's entries without reading them.
    countFiles: db.prepare('SELECT count(*) FROM files').pluck(),
    contentMark: db.prepare("SELECT count(*) || ' ' || coalesce(max(uploaded_at), '') FROM files").pluck(),
    countAndSizeFiles: db.prepare('SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM files'),
    countPending: db.prepare('SELECT count(*) FROM pending_deletes').pluck(),
    countFailedPending: db.prepare('SELECT count(*) FROM pending_deletes WHERE attempts > 0').pluck(),
    // Positional parameters in the two per-file writes: ~8 µs a call less than nine named ones.
    upsertFile: db.prepare(`INSERT INTO files (path, file_id, size, mtime_ms, ino, sha256, mime_type, remote_name, uploaded_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (path) DO UPDATE SET file_id = excluded.file_id, size = excluded.size, mtime_ms = excluded.mtime_ms,
        ino = excluded.ino, sha256 = excluded.sha256, mime_type = excluded.mime_type,
        remote_name = excluded.remote_name, uploaded_at = excluded.uploaded_at`),
    updateStat: db.prepare('UPDATE files SET size = ?, mtime_ms = ?, ino = ? WHERE path = ?'),
    deleteFile: db.prepare('DELETE FROM files WHERE path = ?'),
    forgetFile: db.prepare('DELETE FROM files WHERE path = ? AND file_id = ?'),
    allPending: db.prepare(`SELECT file_id AS fileId, path, reason, attempts, last_error AS lastError, created_at AS createdAt
      FROM pending_deletes ORDER BY created_at, file_id`),
    addPending: db.prepare(`INSERT INTO pending_deletes (file_id, path, reason, created_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (file_id) DO NOTHING`),
    removePending: db.prepare('DELETE FROM pending_deletes WHERE file_id = ?'),
    failPending: db.prepare('UPDATE pending_deletes SET attempts = attempts + 1, last_error = ? WHERE file_id = ?'),
    allInFlight: db.prepare(`SELECT id, path, remote_name AS remoteName, size, sha256, mime_type AS mimeType,
      started_at AS startedAt, unknown_outcomes AS unknownOutcomes, resolved_file_id AS resolvedFileId,
      ${v1 ? 'NULL AS attemptsEndedAt, NULL AS clockOffsetMs' : 'attempts_ended_at AS attemptsEndedAt, clock_offset_ms AS clockOffsetMs'},
      ${v2 ? 'NULL AS mtimeMs, NULL AS ino' : 'mtime_ms AS mtimeMs, ino'},
      ${v3 ? 'NULL AS knownLookalikes' : 'known_lookalikes AS knownLookalikes'}
      FROM uploads_in_flight ORDER BY id`),
    // Writes happen only on a migrated ledger (a read-only one of an older schema is never written).
    addInFlight: v3
      ? null
      : db.prepare(`INSERT INTO uploads_in_flight (path, remote_name, size, sha256, mime_type, started_at, clock_offset_ms, mtime_ms, ino,
        known_lookalikes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    // One indexed probe (files_size, schema 3): could a new file of this size be a move?
    hasSize: db.prepare('SELECT 1 FROM files WHERE size = ? LIMIT 1').pluck(),
    removeInFlight: db.prepare('DELETE FROM uploads_in_flight WHERE id = ?'),
    keepInFlight: db.prepare('UPDATE uploads_in_flight SET unknown_outcomes = ?, resolved_file_id = ?, attempts_ended_at = ? WHERE id = ?'),
    allUnclaimed: db.prepare(`SELECT file_id AS fileId, path, remote_name AS remoteName, size, sha256, created_at AS createdAt,
      reason, recorded_at AS recordedAt FROM ${unclaimedTable} ORDER BY path, created_at, file_id`),
    unclaimedById: db.prepare(`SELECT file_id AS fileId, path, remote_name AS remoteName, size, sha256, created_at AS createdAt,
      reason, recorded_at AS recordedAt FROM ${unclaimedTable} WHERE file_id = ?`),
    // Writes happen only on a migrated ledger (a read-only one of schema 1 is never written).
    addUnclaimed: v1
      ? null
      : db.prepare(`INSERT INTO unclaimed_copies (file_id, path, remote_name, size, sha256, created_at, reason, recorded_at)
      VALUES (@fileId, @path, @remoteName, @size, @sha256, @createdAt, @reason, @recordedAt) ON CONFLICT (file_id) DO NOTHING`),
    removeUnclaimed: v1 ? null : db.prepare('DELETE FROM unclaimed_copies WHERE file_id = ?'),
    ...failureStatements(db, v4),
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
  };
}

/**
 * The reconciliation's merge: keyset pages in path order, each row with its rowid (the key of the
 * listing's RowSet, row-set.ts), and the owned ids in order.
 */
function listingStatements(db: Database.Database) {
  return {
    // Rows as arrays, made into objects by reads.ts: a third of the cost of better-sqlite3's named rows.
    filesAfter: db.prepare(`SELECT ${FILE_COLUMNS}, rowid FROM files WHERE path > ? ORDER BY path LIMIT ?`).raw(),
    ownedIdsAfter: db.prepare('SELECT file_id AS id FROM files WHERE file_id > ? ORDER BY file_id LIMIT ?'),
    currentOf: db.prepare('SELECT file_id AS id, rowid AS row FROM files WHERE file_id IN (SELECT value FROM json_each(?))').raw(),
    sizeOfId: db.prepare('SELECT rowid AS row, size FROM files WHERE file_id = ?'),
  };
}

/** The per-file failures (rule 6): back-offs, retries, and the new paths whose upload failed. */
function failureStatements(db: Database.Database, v4: boolean) {
  // Before schema 5 a failure recorded no content.
  const columns = `path, error, retryable, attempts, next_retry_at AS nextRetryAt, size, mtime_ms AS mtimeMs,
      last_failed_at AS lastFailedAt, ${v4 ? 'NULL' : 'sha256'} AS sha256`;
  return {
    allFailures: db.prepare(`SELECT ${columns} FROM failures ORDER BY path`),
    someFailures: db.prepare(`SELECT ${columns} FROM failures ORDER BY path LIMIT ?`),
    countFailures: db.prepare('SELECT count(*) FROM failures').pluck(),
    failureByPath: db.prepare('SELECT attempts FROM failures WHERE path = ?'),
    oneFailure: db.prepare(`SELECT ${columns} FROM failures WHERE path = ?`),
    nextRetryAfter: db.prepare('SELECT min(next_retry_at) AS at FROM failures WHERE retryable = 1 AND next_retry_at > ?'),
    retriesDueBy: db.prepare('SELECT path FROM failures WHERE retryable = 1 AND next_retry_at <= ? ORDER BY path'),
    // Writes happen only on a migrated ledger.
    upsertFailure: v4
      ? null
      : db.prepare(`INSERT INTO failures (path, error, retryable, attempts, next_retry_at, size, mtime_ms, last_failed_at, sha256)
      VALUES (@path, @error, @retryable, @attempts, @nextRetryAt, @size, @mtimeMs, @lastFailedAt, @sha256)
      ON CONFLICT (path) DO UPDATE SET error = excluded.error, retryable = excluded.retryable, attempts = excluded.attempts,
        next_retry_at = excluded.next_retry_at, size = excluded.size, mtime_ms = excluded.mtime_ms,
        last_failed_at = excluded.last_failed_at, sha256 = excluded.sha256`),
    clearFailure: db.prepare('DELETE FROM failures WHERE path = ?'),
    // A row from before schema 5 learns the content it holds for (the walk hashed the same file).
    noteFailureContent: v4 ? null : db.prepare('UPDATE failures SET sha256 = ? WHERE path = ? AND sha256 IS NULL'),
    // New paths (no row in files) whose upload of one of the contents given (a JSON array) failed, by content then path.
    failedNewPathsOf: v4
      ? null
      : db.prepare(`SELECT path, sha256, size, mtime_ms AS mtimeMs FROM failures f
      WHERE sha256 IN (SELECT value FROM json_each(?)) AND NOT EXISTS (SELECT 1 FROM files WHERE files.path = f.path)
      ORDER BY sha256, path LIMIT ?`),
  };
}

/** The prepared statements of one connection. */
export type Statements = ReturnType<typeof prepareStatements>;

/** The look-up of an id in every table that may hold one (`idKnown`): four positional parameters. */
function idKnownSql(unclaimedTable: string): string {
  return `SELECT 1 FROM files WHERE file_id = ? UNION ALL SELECT 1 FROM pending_deletes WHERE file_id = ?
    UNION ALL SELECT 1 FROM uploads_in_flight WHERE resolved_file_id = ? UNION ALL SELECT 1 FROM ${unclaimedTable} WHERE file_id = ?`;
}
