// hashFile: digest, head, the fstat comparison around the read, FIFOs, symlinks, aborts.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  fstatSync,
  mkdtempSync,
  openSync,
  realpathSync,
  rmSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HASH_CHUNK_BYTES, type HashOptions, SYNC_READ_MAX_BYTES, hashDescriptor, hashFile as hashInRoot } from '../../src/local/hash.js';
import { SNIFF_BYTES } from '../../src/local/mime.js';

/** hashFile with the file's own (real) folder as the root: every open is a safe open (rule 8). */
const hashFile = (path: string, options: Omit<HashOptions, 'place'> = {}) =>
  hashInRoot(path, { place: { realRoot: realpathSync(dirname(path)) }, ...options });

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'files-sync-hash-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('hashFile', () => {
  const sizes = [
    0,
    1,
    SNIFF_BYTES - 1,
    SNIFF_BYTES,
    SNIFF_BYTES + 1,
    SYNC_READ_MAX_BYTES,
    SYNC_READ_MAX_BYTES + 1,
    HASH_CHUNK_BYTES - 1,
    HASH_CHUNK_BYTES,
    HASH_CHUNK_BYTES + 1,
    3 * HASH_CHUNK_BYTES + 12345,
  ];
  for (const size of sizes) {
    it(`matches crypto and returns the head for ${size} bytes`, async () => {
      const data = randomBytes(size);
      const path = join(dir, 'f.bin');
      writeFileSync(path, data);
      const r = await hashFile(path);
      expect(r.sha256).toBe(sha(data));
      expect(r.size).toBe(size);
      expect(Buffer.from(r.head).equals(data.subarray(0, Math.min(size, SNIFF_BYTES)))).toBe(true);
      expect(r.stableAcrossRead).toBe(true);
      expect(r.regular).toBe(true);
      expect(r.ino).toBeGreaterThan(0);
    });
  }

  it('hashes the same content the same across calls (buffers are reused safely)', async () => {
    const a = randomBytes(HASH_CHUNK_BYTES * 2 + 7);
    const b = randomBytes(100);
    writeFileSync(join(dir, 'a'), a);
    writeFileSync(join(dir, 'b'), b);
    const results = await Promise.all([hashFile(join(dir, 'a')), hashFile(join(dir, 'b')), hashFile(join(dir, 'a'))]);
    expect(results.map((r) => r.sha256)).toEqual([sha(a), sha(b), sha(a)]);
  });

  it('reports a file appended to while it is read as unstable', async () => {
    const path = join(dir, 'growing.log');
    writeFileSync(path, randomBytes(3 * HASH_CHUNK_BYTES));
    let appended = false;
    const r = await hashFile(path, {
      afterChunk: () => {
        if (!appended) appendFileSync(path, 'more');
        appended = true;
      },
    });
    expect(appended).toBe(true);
    expect(r.stableAcrossRead).toBe(false);
  });

  it('reports a file truncated while it is read as unstable', async () => {
    const path = join(dir, 'shrinking.bin');
    writeFileSync(path, randomBytes(3 * HASH_CHUNK_BYTES));
    const r = await hashFile(path, {
      afterChunk: (read) => (read === HASH_CHUNK_BYTES ? truncateSync(path, 10) : undefined),
    });
    expect(r.stableAcrossRead).toBe(false);
  });

  it('reports a file rewritten in place (same size, new mtime) as unstable', async () => {
    const path = join(dir, 'rewritten.bin');
    const data = randomBytes(2 * HASH_CHUNK_BYTES);
    writeFileSync(path, data);
    utimesSync(path, new Date(1_000_000), new Date(1_000_000));
    const r = await hashFile(path, {
      afterChunk: (read) => {
        if (read === HASH_CHUNK_BYTES) {
          writeFileSync(path, Buffer.alloc(data.length, 1));
          utimesSync(path, new Date(2_000_000), new Date(2_000_000));
        }
      },
    });
    expect(r.stableAcrossRead).toBe(false);
    expect(r.mtimeMs).toBe(1_000_000);
  });

  it('a single-chunk file modified after its only read but before the final fstat is unstable', async () => {
    const path = join(dir, 'small.txt');
    writeFileSync(path, 'hello');
    const r = await hashFile(path, { afterChunk: () => appendFileSync(path, '!') });
    expect(r.stableAcrossRead).toBe(false);
  });

  it('opens a FIFO without hanging and reads nothing', { timeout: 10_000 }, async () => {
    const path = join(dir, 'pipe');
    execFileSync('mkfifo', [path]);
    // The safe open refuses anything but a regular file, before a byte is read.
    await expect(hashFile(path)).rejects.toMatchObject({ name: 'FileConditionError', kind: 'changing', check: 'type' });
  });

  it('never follows a symlink (a FileConditionError "changing")', async () => {
    writeFileSync(join(dir, 'target'), 'x');
    symlinkSync('target', join(dir, 'link'));
    await expect(hashFile(join(dir, 'link'))).rejects.toMatchObject({
      name: 'FileConditionError',
      kind: 'changing',
      check: 'link',
    });
  });

  it('rejects with the file system error for a missing file', async () => {
    await expect(hashFile(join(dir, 'nope'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('stops on abort, before and during the read', async () => {
    const path = join(dir, 'big.bin');
    writeFileSync(path, randomBytes(4 * HASH_CHUNK_BYTES));
    const early = new AbortController();
    early.abort();
    await expect(hashFile(path, { signal: early.signal })).rejects.toMatchObject({ name: 'AbortError' });
    const late = new AbortController();
    let chunks = 0;
    await expect(
      hashFile(path, {
        signal: late.signal,
        afterChunk: () => {
          if (++chunks === 2) late.abort();
        },
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(chunks).toBe(2);
  });
});

// Small files are read with synchronous calls (issue 13), larger ones asynchronously: the same
// checks either way. The change lands between the descriptor's fstat and the read.
describe('hashDescriptor, a file changed after its fstat', () => {
  const sizes = [5, SYNC_READ_MAX_BYTES, SYNC_READ_MAX_BYTES + 1];

  /** Opens `content` as f.bin, runs `change`, then hashes with the fstat taken before it. */
  async function hashChanged(content: Buffer, change: (path: string) => void, keep = true) {
    const path = join(dir, 'f.bin');
    writeFileSync(path, content);
    utimesSync(path, new Date(1_000_000), new Date(1_000_000));
    const fd = openSync(path, 'r');
    try {
      const before = fstatSync(fd);
      change(path);
      return await hashDescriptor(fd, before, { keep });
    } finally {
      closeSync(fd);
    }
  }

  for (const size of sizes) {
    it(`${size} bytes: unchanged is stable and kept whole; appended, truncated or rewritten is unstable`, async () => {
      const data = randomBytes(size);
      const same = await hashChanged(data, () => undefined);
      expect(same).toMatchObject({ sha256: sha(data), size, stableAcrossRead: true, regular: true });
      expect(same.content?.equals(data)).toBe(true);
      expect((await hashChanged(data, () => undefined, false)).content).toBeUndefined();
      const appended = await hashChanged(data, (path) => appendFileSync(path, 'x'));
      expect(appended.stableAcrossRead).toBe(false);
      expect(appended.content).toBeUndefined();
      expect((await hashChanged(data, (path) => truncateSync(path, 2))).stableAcrossRead).toBe(false);
      const rewritten = await hashChanged(data, (path) => utimesSync(path, new Date(2_000_000), new Date(2_000_000)));
      expect(rewritten.stableAcrossRead).toBe(false);
    });
  }

  it('a file the caller saw small that grew past the synchronous limit is hashed whole', async () => {
    const data = randomBytes(SYNC_READ_MAX_BYTES * 3);
    const path = join(dir, 'grown.bin');
    writeFileSync(path, data);
    const r = await hashFile(path, { small: true, keep: true });
    expect(r).toMatchObject({ sha256: sha(data), size: data.length, stableAcrossRead: true });
    expect(r.content?.equals(data)).toBe(true);
  });
});
