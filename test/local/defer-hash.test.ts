// A large new file that cannot be a move is left for its upload to hash (issue 13): the walk and
// statOne over a real folder, with `deferHashFor` over a real ledger file.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/ledger/ledger.js';
import { DEFER_HASH_MIN_BYTES, deferHashFor } from '../../src/local/entry.js';
import { createFilter } from '../../src/local/filter.js';
import { type WalkOptions, statOne, walk } from '../../src/local/walk.js';

const MIB = 1024 * 1024;
const MAX = 100 * MIB;
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let base: string;
let root: string;
let ledger: Ledger;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'files-sync-defer-'));
  root = join(base, 'root');
  mkdirSync(root);
  ledger = Ledger.open(join(base, 'state', 'ledger.db'));
});
afterEach(() => {
  ledger.close();
  rmSync(base, { recursive: true, force: true });
});

/** `size` bytes of text (so a name without an extension sniffs as text/plain). */
function put(rel: string, size: number): Buffer {
  const data = Buffer.alloc(size, 'all work and no play\n');
  writeFileSync(join(root, rel), data);
  return data;
}

function options(extra: Partial<WalkOptions> = {}): WalkOptions {
  return {
    filter: createFilter({ include: [], exclude: [] }),
    followSymlinks: false,
    maxFileBytes: MAX,
    known: () => undefined,
    deferHash: deferHashFor(ledger, MAX),
    ...extra,
  };
}

/** A synced file of `size` bytes elsewhere in the ledger: a new file of that size may be its move. */
function ledgerRowOfSize(size: number): void {
  const content = {
    path: 'old/place.bin',
    size,
    mtimeMs: 1,
    ino: 1,
    sha256: 'x'.repeat(64),
    mimeType: 'application/octet-stream',
    remoteName: 'place.bin',
  };
  ledger.finishUpload(null, content, { id: 'file_old', created_at: '2026-11-01T00:00:00Z' }, 0, 1);
}

describe('deferHash', () => {
  it('a 20 MiB new file is not read by the walk: sha256 null, hashLater, its MIME type from the name and head', async () => {
    put('big.bin', 20 * MIB);
    put('notes', 20 * MIB + 1); // no extension: the head says text
    const small = put('small.txt', 100);
    const r = await walk(root, options());
    expect(r.files.map((f) => [f.path, f.sha256, f.hashLater, f.mimeType])).toEqual([
      ['big.bin', null, true, 'application/octet-stream'],
      ['notes', null, true, 'text/plain'],
      ['small.txt', sha(small), undefined, 'text/plain'],
    ]);
    expect(r.bytesHashed).toBe(100);
    expect(r.filesHashed).toBe(1);
  });

  it('a new 20 MiB file with a ledger row of the same size elsewhere is hashed (it may be a move)', async () => {
    const data = put('moved.bin', 20 * MIB);
    ledgerRowOfSize(20 * MIB);
    const r = await walk(root, options());
    expect(r.files).toEqual([expect.objectContaining({ path: 'moved.bin', sha256: sha(data) })]);
    expect(r.files[0]!.hashLater).toBeUndefined();
    expect(r.bytesHashed).toBe(20 * MIB);
  });

  it('hashes files under 8 MiB, files over the cap it was given, and a path with an upload in flight', async () => {
    const under = put('under.bin', DEFER_HASH_MIN_BYTES - 1);
    const over = put('over.bin', 10 * MIB);
    const inFlight = put('again.bin', 9 * MIB);
    ledger.beginUpload({ path: 'again.bin', remoteName: 'again.bin', size: 9 * MIB, sha256: null, mimeType: 'text/plain', startedAt: 1 });
    const r = await walk(root, options({ deferHash: deferHashFor(ledger, 10 * MIB - 1) }));
    expect(r.files.map((f) => [f.path, f.sha256, f.hashLater])).toEqual([
      ['again.bin', sha(inFlight), undefined],
      ['over.bin', sha(over), undefined],
      ['under.bin', sha(under), undefined],
    ]);
    // Over the walk's own cap a file is never read, and not marked for its upload either.
    const capped = await walk(root, options({ maxFileBytes: 10 * MIB - 1 }));
    expect(capped.files.find((f) => f.path === 'over.bin')).toEqual(expect.objectContaining({ sha256: null }));
    expect(capped.files.find((f) => f.path === 'over.bin')!.hashLater).toBeUndefined();
  });

  it('the lstat path (statOne, a followed link) defers too, with the MIME type from the name', async () => {
    put('big.bin', 9 * MIB);
    symlinkSync(join(root, 'big.bin'), join(root, 'link.dat'));
    const one = await statOne(root, 'big.bin', options());
    expect(one).toEqual(expect.objectContaining({ path: 'big.bin', sha256: null, hashLater: true, mimeType: 'application/octet-stream' }));
    const r = await walk(root, options({ followSymlinks: true }));
    expect(r.files.map((f) => [f.path, f.sha256, f.hashLater])).toEqual([
      ['big.bin', null, true],
      ['link.dat', null, true],
    ]);
    expect(r.bytesHashed).toBe(0);
  });

  it('a known path is never deferred: a changed file of a new size is hashed as before', async () => {
    const data = put('grown.bin', 12 * MIB);
    const known = { size: 1, mtimeMs: 1, sha256: 'y'.repeat(64), mimeType: 'application/octet-stream' };
    const r = await walk(root, options({ known: (p) => (p === 'grown.bin' ? known : undefined) }));
    expect(r.files).toEqual([expect.objectContaining({ path: 'grown.bin', sha256: sha(data) })]);
  });
});
