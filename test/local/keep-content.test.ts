// The walk keeps what it hashed of small new or changed files (WalkResult.contents), within a
// budget, so an upload can send exactly the bytes that were hashed without reading them again.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFilter } from '../../src/local/filter.js';
import { HASH_CHUNK_BYTES, type HashOptions, hashFile as hashInRoot } from '../../src/local/hash.js';
import type { KnownFile } from '../../src/local/types.js';
import { walk } from '../../src/local/walk.js';

/** hashFile with the file's own (real) folder as the root: every open is a safe open (rule 8). */
const hashFile = (path: string, options: Omit<HashOptions, 'place'> = {}) =>
  hashInRoot(path, { place: { realRoot: realpathSync(dirname(path)) }, ...options });

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'files-sync-keep-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

function put(rel: string, content: Buffer): string {
  const abs = join(dir, rel);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, content);
  return abs;
}

describe('hashFile with keep', () => {
  for (const size of [0, 1, 4096, HASH_CHUNK_BYTES - 1]) {
    it(`returns the ${size} bytes it hashed, in a buffer of their own`, async () => {
      const data = randomBytes(size);
      const path = put('f.bin', data);
      const kept = await hashFile(path, { keep: true });
      expect(kept.sha256).toBe(sha(data));
      expect(kept.content?.equals(data)).toBe(true);
      // A later hash reuses the pool's buffers; the kept bytes must not change under it.
      put('g.bin', randomBytes(size));
      await hashFile(join(dir, 'g.bin'));
      expect(kept.content?.equals(data)).toBe(true);
    });
  }

  it('keeps nothing of a file of a chunk or more, or without keep', async () => {
    const path = put('big.bin', randomBytes(HASH_CHUNK_BYTES));
    expect((await hashFile(path, { keep: true })).content).toBeUndefined();
    expect((await hashFile(put('small.bin', randomBytes(10)))).content).toBeUndefined();
  });
});

describe('walk with keepContent', () => {
  it('keeps new and changed small files within the budget, not unchanged or large ones', async () => {
    const a = randomBytes(100);
    const b = randomBytes(200);
    const c = randomBytes(300);
    put('a.txt', a);
    put('sub/b.txt', b);
    put('c.txt', c);
    put('large.bin', randomBytes(5000));
    const first = await walk(dir, {
      filter: createFilter({ include: [], exclude: [] }),
      followSymlinks: false,
      maxFileBytes: 1_000_000,
      known: () => undefined,
      keepContent: { maxFileBytes: 1000, remainingBytes: 1_000_000 },
    });
    expect([...first.contents!.keys()].sort()).toEqual(['a.txt', 'c.txt', 'sub/b.txt']);
    expect(first.contents!.get('sub/b.txt')?.equals(b)).toBe(true);

    // Unchanged files (known with the same stat) are not read, so not kept; a budget that runs out keeps no more.
    const known = new Map<string, KnownFile>(
      first.files.map((f) => [f.path, { size: f.size, mtimeMs: f.mtimeMs, ino: f.ino, sha256: f.sha256!, mimeType: f.mimeType }]),
    );
    known.delete('a.txt');
    known.delete('c.txt');
    const budget = { maxFileBytes: 1000, remainingBytes: 350 };
    const second = await walk(dir, {
      filter: createFilter({ include: [], exclude: [] }),
      followSymlinks: false,
      maxFileBytes: 1_000_000,
      known: (p) => known.get(p),
      keepContent: budget,
    });
    expect(second.filesHashed).toBe(2);
    expect(second.contents!.size).toBe(1);
    const [path, content] = [...second.contents!][0]!;
    expect(content.equals(path === 'a.txt' ? a : c)).toBe(true);
    expect(budget.remainingBytes).toBeLessThan(300);
  });

  it('returns no contents without keepContent', async () => {
    put('a.txt', randomBytes(10));
    const result = await walk(dir, {
      filter: createFilter({ include: [], exclude: [] }),
      followSymlinks: false,
      maxFileBytes: 1_000_000,
      known: () => undefined,
    });
    expect(result.contents).toBeUndefined();
  });
});
