// The scale row's trees (issue 13): N files of 1 KiB in nested folders, written once under
// os.tmpdir() and reused across bench runs (a marker file says a tree is whole), after checking
// with `df` that the disk holds it. Written by a small C program (scaletree.c, compiled here when
// gcc is there: ~10× fewer CPU cycles a file than Node's sync calls) or, without gcc, by Node.
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  futimesSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './env.js';
import { backdate } from './tree.js';

/** Bumped whenever the layout or content changes, so an old tree is not reused. */
const LAYOUT = 1;
const FILES_PER_DIR = 100;
const DIRS_PER_PARENT = 100;
const MIDS_PER_TOP = 10;
/** What one 1 KiB file costs on ext4 (a 4 KiB block and its share of inode and directory entry). */
const BYTES_ON_DISK_PER_FILE = 4096 + 512;

export interface ScaleTree {
  root: string;
  files: number;
  size: number;
  /** True when this call wrote it; false when an earlier run's tree was reused. */
  written: boolean;
  writeMs: number;
  /** What wrote it (this call): the compiled C writer or Node. */
  writer?: 'c' | 'node';
}

/** Where the tree of `count` files lives (its parent holds the marker). */
export function scaleTreeDir(count: number): string {
  return join(tmpdir(), `files-sync-bench-scale-${count}`);
}

/** The relative path of file `i`: `aNN/bNNNN/cNNNNNN/fNNNNNNN.txt`, 100 files a folder. */
export function scalePath(i: number): string {
  const leaf = Math.floor(i / FILES_PER_DIR);
  const mid = Math.floor(leaf / DIRS_PER_PARENT);
  const top = Math.floor(mid / MIDS_PER_TOP);
  return `a${String(top).padStart(2, '0')}/b${String(mid).padStart(4, '0')}/c${String(leaf).padStart(6, '0')}/f${String(i).padStart(7, '0')}.txt`;
}

/** Free bytes on the file system holding `dir` (`df -Pk`). */
export function freeBytes(dir: string): number {
  const out = execFileSync('df', ['-Pk', dir], { encoding: 'utf8' }).trim().split('\n').at(-1)!.split(/\s+/);
  return Number(out[3]) * 1024;
}

/** Bytes the tree of `count` files takes on disk (an estimate: see BYTES_ON_DISK_PER_FILE). */
export function scaleTreeBytes(count: number): number {
  return count * BYTES_ON_DISK_PER_FILE;
}

/**
 * The tree of `count` files of `size` bytes (distinct printable content, mtime an hour ago so no
 * settle time applies), reused when a whole one is already there. Fails before writing when the
 * disk would be left with less than `reserveBytes` free.
 */
export function ensureScaleTree(count: number, size = 1024, reserveBytes = 5 * 2 ** 30): ScaleTree {
  const dir = scaleTreeDir(count);
  const root = join(dir, 'root');
  const marker = join(dir, 'complete.json');
  const want = { layout: LAYOUT, count, size };
  if (existsSync(marker)) {
    const have = JSON.parse(readFileSync(marker, 'utf8')) as typeof want;
    if (have.layout === LAYOUT && have.count === count && have.size === size)
      return { root, files: count, size, written: false, writeMs: 0 };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const need = scaleTreeBytes(count);
  const free = freeBytes(dir);
  if (free - need < reserveBytes) {
    throw new Error(
      `the scale tree of ${count} files needs ~${(need / 2 ** 30).toFixed(1)} GiB in ${dir} and only ${(free / 2 ** 30).toFixed(1)} GiB is free (keeping ${reserveBytes / 2 ** 30} GiB spare): pick a smaller --scale-files or free some space`,
    );
  }
  const t = performance.now();
  const times = backdate();
  const writer = writerBinary();
  if (writer) execFileSync(writer, [root, String(count), String(size), String(times.mtime), String(times.atime)], { stdio: 'inherit' });
  else writeWithNode(root, count, size, times);
  writeFileSync(marker, `${JSON.stringify(want)}\n`);
  return { root, files: count, size, written: true, writeMs: performance.now() - t, writer: writer ? 'c' : 'node' };
}

/**
 * The compiled writer, built from bench/lib/scaletree.c into os.tmpdir() when gcc is there and the
 * binary is missing or older than its source; null without gcc (the Node writer takes over).
 * A compile error is thrown, not hidden: the source is part of the bench.
 */
export function writerBinary(): string | null {
  if (process.env.BENCH_SCALETREE_WRITER === 'node') return null;
  const source = join(REPO, 'bench', 'lib', 'scaletree.c');
  const binary = join(tmpdir(), `files-sync-bench-scaletree-${LAYOUT}`);
  const fresh = existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs;
  if (fresh) return binary;
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const tmp = `${binary}.${process.pid}`;
  execFileSync('gcc', ['-O2', '-Wall', '-o', tmp, source], { stdio: ['ignore', 'inherit', 'inherit'] });
  renameSync(tmp, binary);
  return binary;
}

/** The same tree with Node's sync calls (no gcc). */
function writeWithNode(root: string, count: number, size: number, { atime, mtime }: { atime: number; mtime: number }): void {
  const pool = Buffer.from(Array.from({ length: size + 8192 }, (_, k) => 33 + ((k * 7919 + (k >> 7)) % 94)));
  for (let i = 0; i < count; i++) {
    const rel = scalePath(i);
    if (i % FILES_PER_DIR === 0) mkdirSync(join(root, rel.slice(0, rel.lastIndexOf('/'))), { recursive: true });
    const header = Buffer.from(`file ${i}\n`, 'latin1');
    const offset = (i * 7919) % 8192;
    const fd = openSync(join(root, rel), 'w');
    try {
      writeSync(fd, header);
      writeSync(fd, pool, offset, size - header.length);
      futimesSync(fd, atime, mtime);
    } finally {
      closeSync(fd);
    }
  }
}
