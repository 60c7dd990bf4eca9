// Hashing a large new file while it is uploaded (issue 13): which files the walk leaves unhashed
// (`deferHashFor`), and how it lists them (`hashLater`), so that each is read once, not twice.
import { read, type Stats } from 'node:fs';
import { SNIFF_BYTES, mimeTypeFor } from './mime.js';
import type { LocalFile } from './types.js';

/** Files from this size up are hashed by their upload when they cannot be a move (`deferHashFor`). */
export const DEFER_HASH_MIN_BYTES = 8 * 1024 * 1024;

/** What `deferHashFor` asks the ledger (a narrow view: the local layer does not import it). */
export interface DeferHashLedger {
  /** Whether any synced file has exactly this size. */
  hasSize(size: number): boolean;
  /** Uploads whose outcome is not known yet. */
  inFlight(): readonly { path: string }[];
}

/**
 * The `deferHash` of a walk: a file of at least DEFER_HASH_MIN_BYTES, within `maxFileBytes`, whose
 * size no ledger row has (a move would keep its size, so it cannot be one), is hashed by its
 * upload. Not a path with an upload in flight: its copy may be adopted, which needs the hash now
 * (DESIGN.md rule 3). Make one per walk: the in-flight paths are read once.
 */
export function deferHashFor(ledger: DeferHashLedger, maxFileBytes: number): (size: number, relPath: string) => boolean {
  const inFlight = new Set(ledger.inFlight().map((row) => row.path));
  return (size, relPath) => size >= DEFER_HASH_MIN_BYTES && size <= maxFileBytes && !inFlight.has(relPath) && !ledger.hasSize(size);
}

/** A large new file left for its upload to hash (read once); `head` sniffs a name without a known extension. */
export function hashLater(relPath: string, info: Stats, head: Uint8Array | undefined): LocalFile {
  const file: LocalFile = {
    path: relPath,
    size: info.size,
    mtimeMs: info.mtimeMs,
    ino: info.ino,
    dev: info.dev,
    sha256: null,
    mimeType: mimeTypeFor(relPath, head),
    hashLater: true,
  };
  return file;
}

/** The first bytes of an open file, for the MIME sniff: one read of at most SNIFF_BYTES. */
export function readHead(fd: number, size: number): Promise<Uint8Array> {
  const head = Buffer.allocUnsafe(Math.min(size, SNIFF_BYTES));
  return new Promise((resolve, reject) => {
    read(fd, head, 0, head.length, 0, (err, n) => (err ? reject(err) : resolve(head.subarray(0, n))));
  });
}
