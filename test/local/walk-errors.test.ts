// Errors the file system cannot be made to produce on demand (tests run as root, where chmod 000
// does not stop reading): injected into readdir and hashFile, against a real temp folder.
import { type Stats, mkdirSync, mkdtempSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFilter } from '../../src/local/filter.js';
import { RootError, type WalkOptions, statOne, walk } from '../../src/local/walk.js';
import { SortedWalk, UNSEEN_FOLDERS_MAX } from '../../src/local/sorted-walk.js';
import { memoryLogger } from '../../src/log.js';

/** Absolute paths → the errno code readdir / opening a file fail with; inodes whose hash is torn. */
const faults = vi.hoisted(() => ({
  readdir: new Map<string, string>(),
  hash: new Map<string, string>(),
  unstableInodes: new Set<number>(),
}));

function errnoError(code: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected, '${path}'`), { code, path });
}

vi.mock('node:fs/promises', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...original,
    readdir: (async (path: string, ...rest: unknown[]) => {
      // The walk lists a directory through its open descriptor: the fault is keyed by its path.
      const where = String(path).startsWith('/proc/self/fd/') ? readlinkSync(String(path)) : String(path);
      const code = faults.readdir.get(where);
      if (code !== undefined) throw errnoError(code, String(path));
      return (original.readdir as (...a: unknown[]) => unknown)(path, ...rest);
    }) as typeof original.readdir,
  };
});

// Both ways the walk reads a file: hashFile (after an lstat), and withOpenFile + hashDescriptor
// (the open-first path for files the ledger does not know).
vi.mock('../../src/local/hash.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/local/hash.js')>();
  const fail = (path: string) => {
    const fault = faults.hash.get(path);
    if (fault !== undefined && fault !== 'unstable') throw errnoError(fault, path);
  };
  const unstable = <R extends { stableAcrossRead: boolean; ino: number }>(result: R): R =>
    faults.unstableInodes.has(result.ino) ? { ...result, stableAcrossRead: false } : result;
  return {
    ...original,
    hashFile: async (path: string, options: Parameters<typeof original.hashFile>[1]) => {
      fail(path);
      return unstable(await original.hashFile(path, options));
    },
    withOpenFile: async <T>(
      path: string,
      options: Parameters<typeof original.withOpenFile>[1],
      use: (fd: number, before: Stats) => Promise<T>,
    ) => {
      fail(path);
      return original.withOpenFile(path, options, use);
    },
    hashDescriptor: async (...args: Parameters<typeof original.hashDescriptor>) => unstable(await original.hashDescriptor(...args)),
  };
});

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'files-sync-walk-errors-'));
  faults.readdir.clear();
  faults.hash.clear();
  faults.unstableInodes.clear();
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function put(rel: string, content = `content of ${rel}`): string {
  const abs = join(root, rel);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, content);
  return abs;
}

const options: WalkOptions = {
  filter: createFilter({ include: [], exclude: [] }),
  followSymlinks: false,
  maxFileBytes: 1_000_000,
  known: () => undefined,
};

describe('walk under injected errors', () => {
  it('an unreadable file (EACCES) is a problem; the rest is synced and the walk complete', async () => {
    put('ok.txt');
    faults.hash.set(put('locked.txt'), 'EACCES');
    const r = await walk(root, options);
    expect(r.files.map((f) => f.path)).toEqual(['ok.txt']);
    expect(r.problems).toEqual([{ path: 'locked.txt', kind: 'unreadable', reason: expect.stringMatching(/^EACCES/) }]);
    expect(r.complete).toBe(true);
    expect(await statOne(root, 'locked.txt', options)).toEqual(r.problems[0]);
  });

  it('an unreadable file over the limit is listed unhashed (never opened for reading)', async () => {
    faults.hash.set(put('huge.bin', 'x'.repeat(100)), 'EACCES');
    const r = await walk(root, { ...options, maxFileBytes: 10 });
    expect(r.files).toMatchObject([{ path: 'huge.bin', size: 100, sha256: null }]);
    expect(r.problems).toEqual([]);
  });

  it('an I/O error (EIO) on a file is a problem', async () => {
    faults.hash.set(put('bad-sector.bin'), 'EIO');
    const r = await walk(root, options);
    expect(r.problems).toEqual([{ path: 'bad-sector.bin', kind: 'unreadable', reason: expect.stringMatching(/^EIO/) }]);
  });

  it('a file replaced by a symlink between lstat and open (ELOOP) is changing', async () => {
    faults.hash.set(put('swapped.txt'), 'ELOOP');
    const r = await walk(root, options);
    expect(r.problems).toEqual([{ path: 'swapped.txt', kind: 'changing', reason: expect.any(String) }]);
  });

  it('a file deleted between readdir and open is simply gone', async () => {
    faults.hash.set(put('gone.txt'), 'ENOENT');
    const r = await walk(root, options);
    expect(r).toMatchObject({ files: [], problems: [], complete: true });
  });

  it('a file that changes while it is hashed is changing, not listed', async () => {
    put('ok.txt');
    faults.unstableInodes.add(statSync(put('busy.log')).ino);
    const r = await walk(root, options);
    expect(r.files.map((f) => f.path)).toEqual(['ok.txt']);
    expect(r.problems).toEqual([{ path: 'busy.log', kind: 'changing', reason: expect.any(String) }]);
    expect(await statOne(root, 'busy.log', options)).toMatchObject({ kind: 'changing' });
  });

  it('an unreadable directory makes the walk incomplete, with a problem; its siblings are walked', async () => {
    put('ok.txt');
    put('closed/inner.txt');
    put('open/x.txt');
    faults.readdir.set(join(root, 'closed'), 'EACCES');
    const r = await walk(root, options);
    expect(r.complete).toBe(false);
    expect(r.files.map((f) => f.path)).toEqual(['ok.txt', 'open/x.txt']);
    expect(r.problems).toEqual([{ path: 'closed', kind: 'unreadable', reason: expect.stringMatching(/^EACCES/) }]);
  });

  it('many unreadable directories: the first ten logged one by one, the rest in one line (every one is a problem)', async () => {
    for (let i = 0; i < 25; i++) {
      put(`locked-${String(i).padStart(2, '0')}/x.txt`);
      faults.readdir.set(join(root, `locked-${String(i).padStart(2, '0')}`), 'EACCES');
    }
    const { logger, lines } = memoryLogger('warn');
    const r = await walk(root, { ...options, logger });
    expect(r.problems).toHaveLength(25);
    expect(lines.filter((l) => /cannot read directory/.test(l))).toHaveLength(10);
    expect(lines.filter((l) => /15 more folders could not be read/.test(l))).toHaveLength(1);
  });

  it('the folders a sorted walk could not list are named once it has ended; past the bound, none (every delete waits)', async () => {
    put('ok.txt');
    for (const name of ['a/b', 'c']) {
      put(`${name}/x.txt`);
      faults.readdir.set(join(root, name), 'EACCES');
    }
    const complete = await SortedWalk.open(root, { filter: () => true, followSymlinks: false });
    expect(complete.unseenFolders()).toBeNull(); // not walked yet
    faults.readdir.clear();
    for await (const _ of complete);
    expect(complete.unseenFolders()).toEqual([]);
    for (const name of ['a/b', 'c']) faults.readdir.set(join(root, name), 'EACCES');
    const partial = await SortedWalk.open(root, { filter: () => true, followSymlinks: false });
    for await (const _ of partial);
    expect(partial.complete).toBe(false);
    expect(partial.unseenFolders()).toEqual(['a/b', 'c']);
    for (let i = 0; i <= UNSEEN_FOLDERS_MAX; i++) {
      put(`many/${i}/x.txt`);
      faults.readdir.set(join(root, `many/${i}`), 'EACCES');
    }
    const many = await SortedWalk.open(root, { filter: () => true, followSymlinks: false });
    for await (const _ of many);
    expect(many.unseenFolders()).toBeNull();
  });

  it('a directory deleted during the walk (ENOENT) makes the walk partial: no delete is inferred under it', async () => {
    put('gone/x.txt');
    faults.readdir.set(join(root, 'gone'), 'ENOENT');
    const r = await walk(root, options);
    expect(r).toMatchObject({ files: [], problems: [{ path: 'gone', kind: 'changing' }], complete: false });
  });

  it('an unreadable root is a RootError, never an empty walk', async () => {
    put('a.txt');
    faults.readdir.set(root, 'EACCES');
    const error = await walk(root, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RootError);
    expect(error).toMatchObject({ reason: 'unreadable', exitCode: 3 });
  });

  it('a root replaced during the walk is a RootError', async () => {
    put('a.txt');
    const other = `${root}-other`;
    const old = `${root}-old`;
    mkdirSync(other);
    try {
      const r = walk(root, {
        ...options,
        known: () => {
          // Runs mid-walk: another directory takes the root's place (both exist: new inode).
          renameSync(root, old);
          renameSync(other, root);
          return undefined;
        },
      });
      await expect(r).rejects.toMatchObject({ name: 'RootError', reason: 'changed' });
    } finally {
      rmSync(other, { recursive: true, force: true });
      rmSync(old, { recursive: true, force: true });
    }
  });
});
