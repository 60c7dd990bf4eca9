// `adopt`'s take-over: the paths the scan judged one-to-one (adopt-scan.ts), a page at a time,
// each hashed through a safe open under the root (rule 8) as the file the walk saw, then recorded
// as the copy of its remote file, a page per transaction. Only these files are read.
import { join } from 'node:path';
import { FileConditionError } from '../file-errors.js';
import type { AdoptTables, AdoptTake } from '../ledger/adopt-tables.js';
import type { Ledger, UploadedContent } from '../ledger/ledger.js';
import { fsCode } from '../local/entry.js';
import { SYNC_READ_MAX_BYTES, hashFile } from '../local/hash.js';
import { mimeTypeFor } from '../local/mime.js';
import { forEachConcurrent } from '../local/walk-steps.js';

/** Takes read from the tables, hashed, and recorded (one commit) at a time. */
const PAGE = 500;
/** Files hashed at once. */
const HASH_CONCURRENCY = 8;

/** One take's outcome, in path order. */
export type TakeOutcome =
  | { kind: 'adopted'; take: AdoptTake }
  | { kind: 'would-adopt'; take: AdoptTake }
  | { kind: 'not-adopted'; take: AdoptTake; reason: string };

/** What the take-over needs. */
export interface TakeOverInput {
  tables: AdoptTables;
  ledger: Ledger;
  /** The root's real path (the walk's): files are opened under it only. */
  realRoot: string;
  /** Report the takes, read and write nothing. */
  dryRun: boolean;
  now: () => number;
  /** Each take's outcome, in path order, once its page is recorded. */
  onOutcome: (outcome: TakeOutcome) => void;
  /** Bytes hashed so far, as the hashes go. */
  onProgress?: ((filesDone: number, bytesDone: number) => void) | undefined;
}

/** Runs the take-over; resolves to the number of files adopted (or, in a dry run, that would be). */
export async function takeOver(input: TakeOverInput): Promise<{ adopted: number; notAdopted: number }> {
  const counts = { adopted: 0, notAdopted: 0 };
  const progress = { files: 0, bytes: 0 };
  for (let after = ''; ;) {
    const page = input.tables.takesAfter(after, PAGE);
    if (page.length === 0) return counts;
    after = page.at(-1)!.path;
    if (input.dryRun) {
      for (const take of page) input.onOutcome({ kind: 'would-adopt', take });
      counts.adopted += page.length;
      continue;
    }
    const contents = await hashPage(page, input.realRoot, (size) => {
      progress.files++;
      progress.bytes += size;
      input.onProgress?.(progress.files, progress.bytes);
    });
    const now = input.now();
    // One commit for the page: a crash leaves it all recorded or none of it, and adopt can run again.
    input.ledger.transaction(() => {
      page.forEach((take, i) => {
        const content = contents[i]!;
        if (typeof content !== 'string') input.ledger.finishUpload(null, content, { id: take.id, created_at: take.createdAt }, 0, now);
      });
    });
    page.forEach((take, i) => {
      const content = contents[i]!;
      if (typeof content === 'string') counts.notAdopted++;
      else counts.adopted++;
      input.onOutcome(typeof content === 'string' ? { kind: 'not-adopted', take, reason: content } : { kind: 'adopted', take });
    });
  }
}

/**
 * Hashes a page's files, HASH_CONCURRENCY at once: each entry the row to record or why not. A
 * failure that is no file's (a bug) stops new hashes and rejects once those in flight settled.
 */
async function hashPage(
  page: readonly AdoptTake[],
  realRoot: string,
  onHashed: (size: number) => void,
): Promise<(UploadedContent | string)[]> {
  const contents = new Array<UploadedContent | string>(page.length);
  await forEachConcurrent(page.keys(), HASH_CONCURRENCY, async (i) => {
    contents[i] = await hashTake(page[i]!, realRoot);
    onHashed(page[i]!.size);
  });
  return contents;
}

/**
 * Hashes the take's file as the walk saw it (device, inode, size, mtime: the safe open refuses
 * another) and stable across the read; the row to record, or why the file is not adopted.
 */
async function hashTake(take: AdoptTake, realRoot: string): Promise<UploadedContent | string> {
  const abs = take.realPath ?? join(realRoot, take.path);
  const expect = { dev: take.dev, ino: take.ino, size: take.size, mtimeMs: take.mtimeMs };
  let hashed;
  try {
    hashed = await hashFile(abs, { place: { realRoot, realPath: abs, expect }, small: take.size <= SYNC_READ_MAX_BYTES });
  } catch (err) {
    if (err instanceof FileConditionError) return err.kind === 'vanished' ? 'it is gone' : 'it changed since the scan';
    const code = fsCode(err);
    if (code === undefined) throw err;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'it is gone' : `it cannot be read (${code})`;
  }
  if (!hashed.regular || !hashed.stableAcrossRead) return 'it changed since the scan';
  return {
    path: take.path,
    sha256: hashed.sha256,
    size: hashed.size,
    mtimeMs: hashed.mtimeMs,
    ino: hashed.ino,
    mimeType: mimeTypeFor(take.path, hashed.head),
    remoteName: take.filename,
  };
}
