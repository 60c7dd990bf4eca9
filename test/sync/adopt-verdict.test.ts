// adopt's one-to-one verdict in SQL (ledger/adopt-tables.ts) gives exactly what the pure
// `findLookalikes` + `adoptable` give on the same inputs: a real SQLite ledger, a table of shapes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AdoptTables } from '../../src/ledger/adopt-tables.js';
import { Ledger } from '../../src/ledger/ledger.js';
import type { FileMetadata } from '../../src/remote/types.js';
import { comparePaths } from '../../src/local/order.js';
import { adoptable, findLookalikes } from '../../src/sync/lookalikes.js';
import { nameFor } from '../../src/sync/names.js';

const remote = (id: string, filename: string, size: number): FileMetadata => ({
  id,
  type: 'file',
  filename,
  mime_type: 'text/plain',
  size_bytes: size,
  created_at: '2026-11-01T00:00:00.000000Z',
});

interface Shape {
  name: string;
  remoteNames: 'path' | 'basename';
  local: { path: string; size: number }[];
  remote: FileMetadata[];
  /** Ledger rows: path → the id it owns (with a remote file of that id in `remote`, or not). */
  rows?: Record<string, string>;
  pending?: string[];
  /** The verdict both must give. */
  take: [string, string][];
  ambiguous: string[];
}

const SHAPES: Shape[] = [
  {
    name: 'unique: one candidate, claimed once',
    remoteNames: 'path',
    local: [{ path: 'a/b.txt', size: 3 }],
    remote: [remote('f1', 'a∕b.txt', 3), remote('f2', 'a∕b.txt', 4)],
    take: [['a/b.txt', 'f1']],
    ambiguous: [],
  },
  {
    name: 'two candidates of one name and size: ambiguous',
    remoteNames: 'path',
    local: [
      { path: 'x.txt', size: 5 },
      { path: 'y.txt', size: 1 },
    ],
    remote: [remote('f1', 'x.txt', 5), remote('f2', 'x.txt', 5), remote('f3', 'y.txt', 1)],
    take: [['y.txt', 'f3']],
    ambiguous: ['x.txt'],
  },
  {
    name: 'one id claimed by two paths under basename names: both ambiguous',
    remoteNames: 'basename',
    local: [
      { path: 'p/same.txt', size: 7 },
      { path: 'q/same.txt', size: 7 },
      { path: 'q/other.txt', size: 7 },
    ],
    remote: [remote('f1', 'same.txt', 7), remote('f2', 'other.txt', 7)],
    take: [['q/other.txt', 'f2']],
    ambiguous: ['p/same.txt', 'q/same.txt'],
  },
  {
    name: 'owned ids (a current copy, a pending delete) are no candidates; a known path is skipped',
    remoteNames: 'path',
    local: [
      { path: 'k.txt', size: 2 },
      { path: 'm.txt', size: 2 },
      { path: 'n.txt', size: 2 },
    ],
    remote: [remote('own1', 'm.txt', 2), remote('pend', 'n.txt', 2), remote('f9', 'n.txt', 2), remote('f8', 'k.txt', 2)],
    rows: { 'k.txt': 'kid', 'elsewhere.txt': 'own1' },
    pending: ['pend'],
    take: [['n.txt', 'f9']],
    ambiguous: [],
  },
  {
    name: 'sizes tell apart, and Unicode paths come out in code point order',
    remoteNames: 'path',
    local: [
      { path: '\u{1F600}.txt', size: 1 },
      { path: '\uFF21.txt', size: 1 },
      { path: 'a.b', size: 1 },
      { path: 'a/b', size: 1 },
      { path: 'z.txt', size: 9 },
    ],
    remote: [
      remote('e', '\u{1F600}.txt', 1),
      remote('w', '\uFF21.txt', 1),
      remote('d', 'a.b', 1),
      remote('s', 'a∕b', 1),
      remote('z', 'z.txt', 8),
    ],
    take: [
      ['a.b', 'd'],
      ['a/b', 's'],
      ['\uFF21.txt', 'w'],
      ['\u{1F600}.txt', 'e'],
    ],
    ambiguous: [],
  },
];

describe('adopt verdict: SQL over the pairs table = adoptable()', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it.each(SHAPES)('$name', (shape) => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-adopt-verdict-'));
    const ledger = Ledger.open(path.join(dir, 'ledger.db'));
    try {
      for (const [p, id] of Object.entries(shape.rows ?? {})) {
        const content = { path: p, size: 2, mtimeMs: 1, ino: 1, sha256: 'h'.repeat(64), mimeType: 'text/plain', remoteName: p };
        ledger.finishUpload(null, content, { id, created_at: '2026-11-01T00:00:00Z' }, 0, 1);
      }
      ledger.addPendingDeletes(
        (shape.pending ?? []).map((fileId) => ({ fileId, path: null, reason: 'orphan' as const })),
        1,
      );
      const name = nameFor({ remoteNames: shape.remoteNames });

      // The pure verdict, from the ledger as the old command read it.
      const known = new Set(ledger.files().map((r) => r.path));
      const owned = new Set([...ledger.files().map((r) => r.fileId), ...ledger.pendingDeletes().map((d) => d.fileId)]);
      // The walk yields paths in code point order; the old command's walk sorted them so too.
      const local = [...shape.local].sort((a, b) => comparePaths(a.path, b.path));
      const pure = adoptable(
        findLookalikes(
          local,
          (p) => known.has(p),
          (id) => owned.has(id),
          shape.remote,
          name,
        ),
      );

      // The SQL verdict, as the scan feeds it: the listing, then each path probed and paired.
      const tables = new AdoptTables(ledger);
      tables.addListed(shape.remote);
      const seen = (size: number) => ({ size, mtimeMs: 1, ctimeMs: 1, ino: 1, dev: 1, realPath: null });
      tables.addPairs(
        shape.local
          .filter((l) => tables.worthLooking(l.path, name(l.path)))
          .map((l) => ({ path: l.path, name: name(l.path), seen: seen(l.size) })),
      );
      const counts = tables.decide();
      const take = tables.takesAfter('', 1000).map((t) => [t.path, t.id]);
      const ambiguous = tables.ambiguousAfter('', 1000);

      expect(pure.take.map((t) => [t.path, t.file.id])).toEqual(shape.take);
      expect(pure.ambiguous).toEqual(shape.ambiguous);
      expect(take).toEqual(shape.take);
      expect(ambiguous).toEqual(shape.ambiguous);
      expect(counts).toMatchObject({ take: shape.take.length, ambiguous: shape.ambiguous.length });
    } finally {
      ledger.close();
    }
  });

  it('pages of takes and of ambiguous paths resume after the last path', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-adopt-verdict-'));
    const ledger = Ledger.open(path.join(dir, 'ledger.db'));
    try {
      const tables = new AdoptTables(ledger);
      const files = Array.from({ length: 7 }, (_, i) => remote(`f${i}`, `n${i}`, 1));
      tables.addListed([...files, remote('g0', 'n0', 1)]);
      tables.addPairs(
        files.map((f) => ({
          path: f.filename,
          name: f.filename,
          seen: { size: 1, mtimeMs: 1, ctimeMs: 1, ino: 1, dev: 1, realPath: null },
        })),
      );
      expect(tables.decide()).toMatchObject({ take: 6, ambiguous: 1, takeBytes: 6 });
      const seen: string[] = [];
      for (let after = '', page = tables.takesAfter(after, 4); page.length > 0; page = tables.takesAfter(after, 4)) {
        seen.push(...page.map((t) => t.path));
        after = page.at(-1)!.path;
      }
      expect(seen).toEqual(['n1', 'n2', 'n3', 'n4', 'n5', 'n6']);
      expect(tables.ambiguousAfter('', 4)).toEqual(['n0']);
      expect(tables.ambiguousAfter('n0', 4)).toEqual([]);
    } finally {
      ledger.close();
    }
  });
});
