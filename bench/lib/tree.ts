// Test trees in os.tmpdir(): many small text files, sparse large files, one real large file.
// Every file is backdated (mtime an hour ago, atime an hour before that) so that no settle time
// applies and a later read shows up as an atime newer than the mtime (ext4 relatime).
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, statSync, truncateSync, utimesSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temp dir for the bench (removed by the caller). */
export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `files-sync-bench-${tag}-`));
}

/** The backdated times every bench file gets: whole seconds, so setting them again is exact. */
export function backdate(): { atime: number; mtime: number } {
  const mtime = Math.floor(Date.now() / 1000) - 3600;
  return { atime: mtime - 3600, mtime };
}

export interface SmallTree {
  root: string;
  files: number;
  bytes: number;
  /** Relative paths. */
  paths: string[];
  times: { atime: number; mtime: number };
}

/**
 * `count` text files of `size` bytes (distinct printable content), `perDir` per directory, in
 * directories grouped 100 to a parent: `d012/d012345/f0012345678.txt`.
 */
export function makeSmallTree(root: string, count: number, size: number, perDir = 100): SmallTree {
  const times = backdate();
  const paths: string[] = [];
  // One random pool, sliced per file with a unique header: distinct content without a syscall per byte.
  const pool = randomBytes(Math.ceil((size * 3) / 4) + 4096).toString('base64');
  for (let i = 0; i < count; i++) {
    const leaf = Math.floor(i / perDir);
    const dir = `d${String(Math.floor(leaf / 100)).padStart(3, '0')}/d${String(leaf).padStart(6, '0')}`;
    if (i % perDir === 0) mkdirSync(join(root, dir), { recursive: true });
    const rel = `${dir}/f${String(i).padStart(10, '0')}.txt`;
    const header = `file ${i}\n`;
    const offset = (i * 7919) % 4096;
    const body = header + pool.slice(offset, offset + size - header.length);
    const fd = openSync(join(root, rel), 'w');
    writeSync(fd, body);
    closeSync(fd);
    utimesSync(join(root, rel), times.atime, times.mtime);
    paths.push(rel);
  }
  return { root, files: count, bytes: count * size, paths, times };
}

/** Sets the tree's times back to the backdated ones (after a run that read every file). */
export function resetTimes(tree: SmallTree): void {
  for (const rel of tree.paths) utimesSync(join(tree.root, rel), tree.times.atime, tree.times.mtime);
}

/** How many files of the tree were read since their times were set (atime moved past mtime). */
export function filesReadSince(tree: SmallTree): number {
  let read = 0;
  for (const rel of tree.paths) {
    const s = statSync(join(tree.root, rel));
    if (s.atimeMs > s.mtimeMs) read++;
  }
  return read;
}

/** One sparse file of `bytes` (holes only: the kernel serves zero pages). */
export function makeSparseFile(path: string, bytes: number): void {
  closeSync(openSync(path, 'w'));
  truncateSync(path, bytes);
  const { atime, mtime } = backdate();
  utimesSync(path, atime, mtime);
}

/** One real file of `bytes`, written with random 1 MiB blocks (needs the disk space). */
export function makeRealFile(path: string, bytes: number): void {
  const block = randomBytes(1 << 20);
  const fd = openSync(path, 'w');
  try {
    for (let done = 0; done < bytes;) {
      const n = Math.min(block.length, bytes - done);
      // Vary each block a little so the file is not one block repeated.
      block.writeUInt32LE(done >>> 0, 0);
      writeSync(fd, block, 0, n);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  const { atime, mtime } = backdate();
  utimesSync(path, atime, mtime);
}

/** Relative paths of every regular file under `root`. */
export function listFiles(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1));
}
