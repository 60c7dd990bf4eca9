// The listing's marks on ledger rows (a bit per rowid, row-set.ts): what `filesAfter` reports as
// listed, across pages, after a reset, and for ids the ledger does not hold. A real SQLite file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/ledger/ledger.js';
import { RowSet } from '../../src/ledger/row-set.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-marks-'));
  file = path.join(dir, 'ledger.db');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A ledger of `n` rows `p/0.txt`… with ids `file_0`… and sizes 100 + i, written outside the verbs. */
function ledgerOf(n: number): Ledger {
  Ledger.open(file).close();
  const db = new Database(file);
  const insert = db.prepare(`INSERT INTO files (path, file_id, size, mtime_ms, ino, sha256, mime_type, remote_name, uploaded_at)
    VALUES (?, ?, ?, 1, 1, 'h', 'text/plain', 'r', '2026-11-01T00:00:00.000000Z')`);
  db.transaction(() => {
    for (let i = 0; i < n; i++) insert.run(`p/${i}.txt`, `file_${i}`, 100 + i);
  })();
  db.close();
  return Ledger.open(file);
}

/** Every row's path and whether it reads as listed, `limit` rows a page. */
function listedByPath(ledger: Ledger, limit: number): Map<string, boolean> {
  const seen = new Map<string, boolean>();
  let after: string | null = null;
  for (;;) {
    const page = ledger.filesAfter(after, limit);
    for (const row of page) seen.set(row.path, row.listed);
    if (page.length < limit) return seen;
    after = page.at(-1)!.path;
  }
}

describe('the listing marks on ledger rows', () => {
  it('reports as listed exactly the rows whose ids were found, over many pages, with their sizes', () => {
    const ledger = ledgerOf(50);
    try {
      const found = ['file_3', 'file_17', 'file_49', 'file_theirs'];
      const current = ledger.currentRows(found);
      expect([...current.keys()].sort()).toEqual(['file_17', 'file_3', 'file_49']);
      expect(ledger.markListed(current.values(), true)).toBe(3);
      // Marking again adds nothing: a look-up and the recent listing may both return a copy.
      expect(ledger.markListed([current.get('file_3')!])).toBe(0);

      const listed = listedByPath(ledger, 7);
      expect(listed.size).toBe(50);
      expect(
        [...listed]
          .filter(([, l]) => l)
          .map(([p]) => p)
          .sort(),
      ).toEqual(['p/17.txt', 'p/3.txt', 'p/49.txt']);
      expect(ledger.listedSize('file_17')).toBe(117);
      expect(ledger.listedSize('file_18')).toBeUndefined();
      expect(ledger.listedSize('file_theirs')).toBeUndefined();
    } finally {
      ledger.close();
    }
  });

  it('forgets the last listing when the next one starts, and nothing is listed before any', () => {
    const ledger = ledgerOf(5);
    try {
      expect([...listedByPath(ledger, 10).values()]).toEqual([false, false, false, false, false]);
      ledger.markListed(ledger.currentRows(['file_0', 'file_1']).values(), true);
      ledger.markListed(ledger.currentRows(['file_2']).values(), true);
      expect([...listedByPath(ledger, 10)].filter(([, l]) => l).map(([p]) => p)).toEqual(['p/2.txt']);
    } finally {
      ledger.close();
    }
  });
});

describe('RowSet', () => {
  it('holds rows in any order, near and far, each once', () => {
    const set = new RowSet();
    const rows = [1, 70_000, 8, 2 ** 27 + 5, 2 ** 40, 0, 9, 70_000];
    const added = rows.map((r) => set.add(r));
    expect(added).toEqual([true, true, true, true, true, true, true, false]);
    expect(set.size).toBe(7);
    for (const r of rows) expect(set.has(r)).toBe(true);
    for (const r of [2, 7, 10, 69_999, 70_001, 2 ** 27 + 4, 2 ** 41, 10_000_000]) expect(set.has(r)).toBe(false);
    set.clear();
    expect(set.size).toBe(0);
    expect(rows.some((r) => set.has(r))).toBe(false);
  });

  it('refuses a row id that is not an integer', () => {
    expect(() => new RowSet().add(1.5)).toThrow(RangeError);
  });
});
