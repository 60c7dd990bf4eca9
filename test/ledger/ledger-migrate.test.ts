// Schemas 3 to 6 over a real ledger file made by schema 2: the in-flight table rebuilt with its rows and
// ids (sha256 now nullable), the size index, and read-only opens of the older file still working.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/ledger/ledger.js';
import { MIGRATIONS } from '../../src/ledger/schema.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-ledger-migrate-'));
  fs.mkdirSync(path.join(dir, 'state'), { mode: 0o700 });
  file = path.join(dir, 'state', 'ledger.db');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A ledger file as files-sync at schema 2 left it: one synced file, two intents (one kept after lost answers). */
function schema2Ledger(): void {
  const db = new Database(file);
  fs.chmodSync(file, 0o600);
  db.pragma('journal_mode = WAL');
  db.transaction(() => {
    for (const sql of MIGRATIONS.slice(0, 2)) db.exec(sql);
    db.pragma('user_version = 2');
  })();
  db.prepare(
    `INSERT INTO files (path, file_id, size, mtime_ms, ino, sha256, mime_type, remote_name, uploaded_at)
     VALUES ('a.txt', 'file_a', 3, 1.5, 7, 'h-a', 'text/plain', 'a.txt', '2026-11-01T00:00:00Z')`,
  ).run();
  const intent = db.prepare(
    `INSERT INTO uploads_in_flight (id, path, remote_name, size, sha256, mime_type, started_at, unknown_outcomes,
       resolved_file_id, attempts_ended_at, clock_offset_ms) VALUES (?, ?, ?, ?, ?, 'text/plain', ?, ?, ?, ?, ?)`,
  );
  intent.run(4, 'b.txt', 'b.txt', 10, 'h-b', 100, 2, 'file_b', 150, -20);
  intent.run(9, 'c.txt', 'c.txt', 11, 'h-c', 200, 0, null, null, null);
  db.close();
}

describe('ledger schemas 3 to 6', () => {
  it('migrates a schema 2 file: in-flight rows and ids kept, sha256 nullable, the size index, the known look-alikes', () => {
    schema2Ledger();
    const ledger = Ledger.open(file);
    expect(ledger.inFlight()).toEqual([
      {
        id: 4,
        path: 'b.txt',
        remoteName: 'b.txt',
        size: 10,
        sha256: 'h-b',
        mimeType: 'text/plain',
        startedAt: 100,
        unknownOutcomes: 2,
        resolvedFileId: 'file_b',
        attemptsEndedAt: 150,
        clockOffsetMs: -20,
        mtimeMs: null,
        ino: null,
        knownLookalikes: null,
      },
      expect.objectContaining({ id: 9, path: 'c.txt', sha256: 'h-c', attemptsEndedAt: null }),
    ]);
    // A new intent hashed by its upload: no sha256, the file's mtime and inode; ids go on after the old ones.
    const id = ledger.beginUpload({
      path: 'big.bin',
      remoteName: 'big.bin',
      size: 5,
      sha256: null,
      mimeType: 'application/octet-stream',
      startedAt: 300,
      mtimeMs: 2.5,
      ino: 42,
      knownLookalikes: 'file_x file_y',
    });
    expect(id).toBe(10);
    expect(ledger.inFlight().at(-1)).toEqual(
      expect.objectContaining({ id: 10, sha256: null, mtimeMs: 2.5, ino: 42, knownLookalikes: 'file_x file_y' }),
    );
    expect(ledger.hasSize(3)).toBe(true);
    expect(ledger.hasSize(4)).toBe(false);
    expect(ledger.fileByPath('a.txt')?.fileId).toBe('file_a');
    // Schema 5: a failure records the content whose upload failed, and a new path's is found by it.
    ledger.recordFailure('n.txt', '400 refused', 'on-change', { size: 3, mtimeMs: 1, sha256: 'h-a' }, 400);
    ledger.recordFailure('a.txt', '400 refused', 'on-change', { size: 3, mtimeMs: 1, sha256: 'h-a' }, 400);
    expect(ledger.failure('n.txt')?.sha256).toBe('h-a');
    expect(ledger.failedNewPathsOf(['h-a', 'h-z'], 10)).toEqual([{ path: 'n.txt', sha256: 'h-a', size: 3, mtimeMs: 1 }]);
    ledger.close();

    const db = new Database(file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    const plan = db.prepare('EXPLAIN QUERY PLAN SELECT 1 FROM files WHERE size = ? LIMIT 1').all(3) as { detail: string }[];
    expect(plan.map((row) => row.detail).join(' ')).toMatch(/USING COVERING INDEX files_size/);
    db.close();
  });

  it("schema 6: an answer's id is found among the in-flight rows by an index, not by reading every row", () => {
    schema2Ledger();
    const ledger = Ledger.open(file);
    // The kept intent's resolved copy (file_b) is the ledger's: a new answer naming it is refused.
    expect(ledger.knowsId('file_b')).toBe(true);
    expect(ledger.knowsId('file_new')).toBe(false);
    ledger.close();
    // Each upload asks once (upload.ts claimNewId); a scan would cost a read of every intent written
    // ahead (up to the queue's thousand) per file.
    const db = new Database(file, { readonly: true });
    const plan = db.prepare('EXPLAIN QUERY PLAN SELECT 1 FROM uploads_in_flight WHERE resolved_file_id = ?').all('file_b') as {
      detail: string;
    }[];
    expect(plan.map((row) => row.detail).join(' ')).toMatch(/USING COVERING INDEX uploads_in_flight_resolved/);
    db.close();
  });

  it('opens a schema 2 file read-only, unmigrated: its rows, hasSize, and no writes', () => {
    schema2Ledger();
    const ledger = Ledger.open(file, { readOnly: true });
    expect(ledger.inFlight().map((row) => [row.id, row.sha256, row.mtimeMs, row.ino])).toEqual([
      [4, 'h-b', null, null],
      [9, 'h-c', null, null],
    ]);
    expect(ledger.hasSize(3)).toBe(true);
    expect(() => ledger.beginUpload({ path: 'x', remoteName: 'x', size: 1, sha256: null, mimeType: 'text/plain', startedAt: 1 })).toThrow(
      /read-only at an older schema/,
    );
    // No content recorded before schema 5: nothing to find by it, and no failure written.
    expect(ledger.failures()).toEqual([]);
    expect(ledger.failedNewPathsOf(['h-a'], 10)).toEqual([]);
    expect(() => ledger.recordFailure('x', 'e', 'on-change', null, 1)).toThrow(/read-only at an older schema/);
    ledger.close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    db.close();
  });
});
