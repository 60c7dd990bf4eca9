// Streaming sha256 of one file, with its first bytes (for the MIME sniff) and the fstat of the
// same open descriptor before and after the read (DESIGN.md rule 5: stable files only); every
// file is opened through the safe open of open.ts (rule 8: reads stay inside the root).
import { createHash, hash as oneShotHash } from 'node:crypto';
import { fstat, fstatSync, read, readSync, type Stats } from 'node:fs';
import { promisify } from 'node:util';
import { framable, roomyWindow } from '../framing-room.js';
import { SNIFF_BYTES } from './mime.js';
import { type Place, withFileInRoot, withFileInRootSync } from '../safe-open.js';

/** Size of each read. Two buffers per hash in flight: one is read into while the other is hashed. */
export const HASH_CHUNK_BYTES = 1 << 20;

/**
 * Files up to this size are read (and, when the caller knows them small, opened and closed) with
 * synchronous calls: page-cache hits of microseconds each, cheaper than a thread-pool round trip
 * with its promise and wake-ups (issue 13: eight of those a file were most of a small file's cost).
 */
export const SYNC_READ_MAX_BYTES = 64 * 1024;

/** What `hashFile` saw. `size`, `mtimeMs`, `ctimeMs`, `ino` and `dev` come from the fstat before the read. */
export interface HashResult {
  /** Hex sha256 of the bytes read. */
  sha256: string;
  /** The first `min(size, SNIFF_BYTES)` bytes: a copy, or a view of `content` when that is kept. */
  head: Uint8Array;
  size: number;
  mtimeMs: number;
  /** When the inode last changed (a write, a chmod, a rename, a restore): no one can set it back. */
  ctimeMs: number;
  ino: number;
  dev: number;
  /**
   * True when the fstat after the read matches the one before (size, mtime) and exactly `size`
   * bytes were read. False means the file changed while it was read: the hash is torn.
   */
  stableAcrossRead: boolean;
  /** True when the descriptor is a regular file; otherwise nothing was read (sha256 is ''). */
  regular: boolean;
  /** With `keep`: every byte read (exactly `size`), when the read was stable. */
  content?: Buffer;
}

export interface HashOptions {
  /**
   * Where the file must be and what it must still be (open.ts): it is opened without following a
   * symlink, and refused (FileConditionError `changing`) unless it is a regular file there.
   */
  place: Place;
  signal?: AbortSignal;
  /**
   * Keep the bytes read (`HashResult.content`): a file smaller than one chunk is then read into a
   * buffer of its own instead of a shared one. Ignored for larger files.
   */
  keep?: boolean;
  /**
   * The caller saw the file at most SYNC_READ_MAX_BYTES (its lstat): open, fstat and close it with
   * synchronous calls too. A file that grew past that meanwhile is still read asynchronously.
   */
  small?: boolean;
  /** Test seam: awaited after each chunk is hashed, with the bytes read so far (reads are then asynchronous). */
  afterChunk?: (bytesRead: number) => void | Promise<void>;
}

// Raw descriptors through the callback API: a FileHandle costs about twice as much per file,
// which dominates a walk of many small files.
const fstatFd = promisify(fstat) as (fd: number) => Promise<Stats>;
const readFd = (fd: number, buffer: Buffer, length: number, position: number) =>
  new Promise<number>((resolve, reject) => {
    read(fd, buffer, 0, length, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead)));
  });

/** Free read buffers, so hashing 100,000 files does not allocate 100,000 megabyte buffers. */
const pool: Buffer[] = [];
const POOL_MAX = 32;

function takeBuffer(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafe(HASH_CHUNK_BYTES);
}

function giveBuffer(buffer: Buffer): void {
  if (pool.length < POOL_MAX) pool.push(buffer);
}

/**
 * Opens the regular file `absPath` safely at `place` (open.ts `withFileInRoot`: no symlink, the
 * identity and real path checked on the descriptor) and hands the descriptor and its fstat to
 * `use`, closing it when `use` settles. The one way this module opens a file.
 */
export function withOpenFile<T>(absPath: string, place: Place, use: (fd: number, before: Stats) => Promise<T>, sync = false): Promise<T> {
  // `sync`: the same open and checks with synchronous calls (safe-open.ts openFileInRootSync).
  return sync ? withFileInRootSync(absPath, place, use) : withFileInRoot(absPath, place, use);
}

/**
 * Hashes the file at `absPath` through one safely opened descriptor (see `withOpenFile`,
 * `hashDescriptor`). Rejects with FileConditionError `changing` when the file is a symlink, not
 * a regular file, or not at `options.place`; with the file system error (EACCES, EIO, ENOENT…);
 * or with the signal's reason.
 */
export async function hashFile(absPath: string, options: HashOptions): Promise<HashResult> {
  options.signal?.throwIfAborted();
  return withOpenFile(absPath, options.place, (fd, before) => hashDescriptor(fd, before, options), options.small === true);
}

/**
 * Hashes the open regular file `fd` whose fstat before the read is `before`. Reads stop at the
 * size `before` gives; more bytes, fewer bytes or a different fstat (size, mtime) afterwards
 * make `stableAcrossRead` false. The caller closes `fd`.
 */
export async function hashDescriptor(fd: number, before: Stats, options: Omit<HashOptions, 'place'> = {}): Promise<HashResult> {
  if (before.isFile() && before.size <= SYNC_READ_MAX_BYTES && options.afterChunk === undefined) {
    options.signal?.throwIfAborted();
    return hashSmallSync(fd, before, options.keep === true);
  }
  return hashStreamed(fd, before, options);
}

/** `hashDescriptor` with asynchronous reads of up to two chunks, one read while the other is hashed. */
async function hashStreamed(fd: number, before: Stats, options: Omit<HashOptions, 'place'>): Promise<HashResult> {
  const { signal, afterChunk } = options;
  const own = options.keep === true && before.size < HASH_CHUNK_BYTES;
  // Still true when the content sits whole in the first buffer (no short read).
  let whole = true;
  const identity = { size: before.size, mtimeMs: before.mtimeMs, ctimeMs: before.ctimeMs, ino: before.ino, dev: before.dev };
  if (!before.isFile()) {
    return { ...identity, sha256: '', head: new Uint8Array(0), stableAcrossRead: false, regular: false };
  }
  const buffers: Buffer[] = [];
  // The read in flight, if any: awaited before the buffers go back to the pool.
  let next: Promise<number> | undefined;
  try {
    const hash = createHash('sha256');
    const headLength = Math.min(before.size, SNIFF_BYTES);
    const head = new Uint8Array(headLength);
    let headFilled = 0;
    let position = 0;
    let stable = true;

    // A kept file gets a buffer of its own: its size plus the byte that shows growth.
    // Kept bytes get an allocation of their own: a slice of Node's shared 8 KiB pool would hold the
    // whole slab while the upload waits in the queue.
    if (before.size > 0) buffers.push(own ? Buffer.allocUnsafeSlow(before.size + 1) : takeBuffer());
    if (before.size > HASH_CHUNK_BYTES) buffers.push(takeBuffer());
    // Asks for at most one byte more than the size, so a file that grew is noticed. A rejection
    // while the other chunk is hashed is handled in `finally`.
    const readAt = (buffer: Buffer, at: number) => {
      const reading = readFd(fd, buffer, Math.min(buffer.length, before.size - at + 1), at);
      reading.catch(() => undefined);
      return reading;
    };

    let turn = 0;
    if (buffers.length > 0) next = readAt(buffers[0]!, 0);
    while (next !== undefined) {
      const bytesRead = await next;
      next = undefined;
      if (bytesRead === 0) {
        stable = false; // Shorter than fstat said: truncated while read.
        break;
      }
      const buffer = buffers[turn]!;
      position += bytesRead;
      if (position > before.size) {
        stable = false; // Longer than fstat said: appended while read.
        break;
      }
      // With two buffers, start the next read before hashing this chunk: disk and CPU overlap.
      if (position < before.size && buffers.length > 1) {
        turn = 1 - turn;
        next = readAt(buffers[turn]!, position);
      }
      if (headFilled < headLength) {
        const take = Math.min(headLength - headFilled, bytesRead);
        head.set(buffer.subarray(0, take), headFilled);
        headFilled += take;
      }
      hash.update(buffer.subarray(0, bytesRead));
      if (afterChunk) await afterChunk(position);
      signal?.throwIfAborted();
      // One buffer and a short read: read the rest into the same buffer, now hashed (so what it
      // held is not kept).
      if (next === undefined && position < before.size) {
        whole = false;
        next = readAt(buffer, position);
      }
    }
    const after = await fstatFd(fd);
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || position !== before.size) {
      stable = false;
    }
    const result: HashResult = { ...identity, sha256: hash.digest('hex'), head, stableAcrossRead: stable, regular: true };
    if (own && stable && whole) result.content = before.size === 0 ? Buffer.alloc(0) : buffers[0]!.subarray(0, before.size);
    return result;
  } finally {
    if (next !== undefined) await next.catch(() => undefined);
    if (!own) for (const buffer of buffers) giveBuffer(buffer);
  }
}

/** The read buffer of `hashSmallSync` when the bytes are not kept: one suffices, nothing runs while it is used. */
let scratch: Buffer | undefined;

/**
 * `hashDescriptor` of a regular file of at most SYNC_READ_MAX_BYTES, with synchronous reads and
 * fstat (the same checks: one byte more than the size is asked for, so growth shows; a short read
 * or another fstat after make it unstable). With `keep`, the bytes go into a window of their own,
 * with room around it for the upload's framing (framing-room.ts).
 */
function hashSmallSync(fd: number, before: Stats, keep: boolean): HashResult {
  const size = before.size;
  const buffer = keep ? roomyWindow(size + 1) : (scratch ??= Buffer.allocUnsafe(SYNC_READ_MAX_BYTES + 1));
  let position = 0;
  let stable = true;
  while (position < size) {
    const bytesRead = readSync(fd, buffer, position, size + 1 - position, position);
    if (bytesRead === 0) {
      stable = false; // Shorter than fstat said: truncated while read.
      break;
    }
    position += bytesRead;
  }
  if (position > size) stable = false; // Longer than fstat said: appended while read.
  const after = fstatSync(fd);
  if (after.size !== size || after.mtimeMs !== before.mtimeMs) stable = false;
  const length = Math.min(position, size);
  const bytes = keep ? framable(buffer, length) : buffer.subarray(0, length);
  // A kept window is the file's own: the head can be a view of it. The scratch buffer is reused.
  const headLength = Math.min(size, SNIFF_BYTES);
  const head = keep ? bytes.subarray(0, headLength) : Uint8Array.prototype.slice.call(bytes, 0, headLength);
  const result: HashResult = {
    size,
    mtimeMs: before.mtimeMs,
    ctimeMs: before.ctimeMs,
    ino: before.ino,
    dev: before.dev,
    sha256: oneShotHash('sha256', bytes, 'hex'),
    head,
    stableAcrossRead: stable,
    regular: true,
  };
  if (keep && stable) result.content = size === 0 ? Buffer.alloc(0) : bytes;
  return result;
}
