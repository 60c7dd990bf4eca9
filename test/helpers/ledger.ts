// Ledgers for fault tests: one filled through the Ledger API, and damage written into its pages.
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { Ledger } from '../../src/ledger/ledger.js';
import type { FileMetadata } from '../../src/remote/types.js';

const meta = (i: number): FileMetadata => ({
  id: `file_${String(i).padStart(24, '0')}`,
  type: 'file',
  filename: `dir∕file-${i}.txt`,
  mime_type: 'text/plain',
  size_bytes: 10,
  created_at: '2026-11-01T00:00:00.000000Z',
});

/** A ledger with `rows` tracked files, written through the Ledger API and checkpointed on close. */
export function fillLedger(file: string, rows = 600): void {
  const ledger = Ledger.open(file);
  ledger.transaction(() => {
    for (let i = 0; i < rows; i++) {
      const content = {
        path: `dir/file-${i}.txt`,
        size: 10,
        mtimeMs: 1,
        ino: i + 10,
        sha256: `h${i}`.padEnd(64, '0'),
        mimeType: 'text/plain',
        remoteName: `dir∕file-${i}.txt`,
      };
      ledger.finishUpload(null, content, meta(i), 0, 1);
    }
  });
  ledger.close();
}

/**
 * Overwrites two leaf pages of the `files` table with zeros (the header page stays intact), and
 * checks the damage shows. The pages are found through `dbstat`: fixed page numbers can land on an
 * index, another table or the freelist, whose layout depends on the order of earlier writes.
 */
export function damageLedger(file: string): void {
  const db = new Database(file);
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const leaves = db
    .prepare("SELECT pageno FROM dbstat WHERE name = 'files' AND pagetype = 'leaf' ORDER BY pageno")
    .pluck()
    .all() as number[];
  db.close(); // the last connection checkpoints the WAL into the file
  expect(fs.existsSync(`${file}-wal`)).toBe(false);
  expect(leaves.length, 'the files table spans several pages').toBeGreaterThanOrEqual(2);
  const fd = fs.openSync(file, 'r+');
  for (const page of [leaves[Math.floor(leaves.length / 3)]!, leaves[Math.floor(leaves.length / 2)]!]) {
    fs.writeSync(fd, Buffer.alloc(pageSize), 0, pageSize, (page - 1) * pageSize); // pages count from 1
  }
  fs.closeSync(fd);
  const check = new Database(file, { readonly: true });
  expect(() => check.prepare('SELECT * FROM files ORDER BY path').all()).toThrow(/malformed/);
  check.close();
}
