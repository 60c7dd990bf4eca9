// `adopt`'s take-over: the paths the scan judged one-to-one (adopt-scan.ts), a page at a time,
// each hashed through a safe open under the root (rule 8) as the file the walk saw, then recorded
// as the copy of its remote file, a page per transaction. Only these files are read. The API
// gives no hash of a copy: one made before the file's last change is recorded as unverified, so
// that the next sync sends the file again and deletes the copy (rule 2).
import { join } from 'node:path';
import { FileConditionError } from '../file-errors.js';
import type { AdoptTables, AdoptTake } from '../ledger/adopt-tables.js';
import type { Ledger, UploadedContent } from '../ledger/ledger.js';
import { fsCode } from '../local/entry.js';
import { SYNC_READ_MAX_BYTES, hashFile } from '../local/hash.js';
import { mimeTypeFor } from '../local/mime.js';
import { forEachConcurrent } from '../local/walk-steps.js';
import { UNMEASURED_SKEW_MS } from './restore-window.js';

/** Takes read from the tables, hashed, and recorded (one commit) at a time. */
const PAGE = 500;
/** Files hashed at once. */
const HASH_CONCURRENCY = 8;
/**
 * How long before its copy's `created_at` (on the API's clock, past the offset's least bound) a
 * file must have last changed for the copy to be taken as its present content: the bound's
 * uncertainty is a `Date` header's second and a round trip. Unmeasured: the orphans' allowance.
 */
const CHANGED_BEFORE_COPY_MS = 2_000;
/**
 * The sha256 and mtime recorded for a copy that may hold older content than its file: no file has
 * either, so the next walk hashes the file again and, the hash differing, sends it (rule 2).
 */
export const UNVERIFIED = { sha256: 'unverified: adopted copy older than the file', mtimeMs: -1 } as const;

/** One take's outcome, in path order. */
export type TakeOutcome =
  | { kind: 'adopted'; take: AdoptTake; unverified: boolean }
  | { kind: 'would-adopt'; take: AdoptTake; unverified: boolean }
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
  /** The API's clock minus this host's, its least bound (RemoteFiles.clockOffsetMs); undefined if unmeasured. */
  serverOffsetMs: number | undefined;
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
      for (const take of page) input.onOutcome({ kind: 'would-adopt', take, unverified: copyMayBeOlder(take, take, input.serverOffsetMs) });
      counts.adopted += page.length;
      continue;
    }
    const contents = await hashPage(page, input, (size) => {
      progress.files++;
      progress.bytes += size;
      input.onProgress?.(progress.files, progress.bytes);
    });
    const now = input.now();
    // One commit for the page: a crash leaves it all recorded or none of it, and adopt can run again.
    input.ledger.transaction(() => {
      page.forEach((take, i) => {
        const content = contents[i]!;
        if (typeof content !== 'string') input.ledger.finishUpload(null, content.row, { id: take.id, created_at: take.createdAt }, 0, now);
      });
    });
    page.forEach((take, i) => {
      const content = contents[i]!;
      if (typeof content === 'string') counts.notAdopted++;
      else counts.adopted++;
      input.onOutcome(
        typeof content === 'string'
          ? { kind: 'not-adopted', take, reason: content }
          : { kind: 'adopted', take, unverified: content.unverified },
      );
    });
  }
}

/**
 * Hashes a page's files, HASH_CONCURRENCY at once: each entry the row to record or why not. A
 * failure that is no file's (a bug) stops new hashes and rejects once those in flight settled.
 */
async function hashPage(
  page: readonly AdoptTake[],
  input: Pick<TakeOverInput, 'realRoot' | 'serverOffsetMs'>,
  onHashed: (size: number) => void,
): Promise<(Taken | string)[]> {
  const contents = new Array<Taken | string>(page.length);
  await forEachConcurrent(page.keys(), HASH_CONCURRENCY, async (i) => {
    contents[i] = await hashTake(page[i]!, input);
    onHashed(page[i]!.size);
  });
  return contents;
}

/** The row a take records, and whether its copy may hold older content than the file. */
interface Taken {
  row: UploadedContent;
  unverified: boolean;
}

/**
 * Whether the copy may have been made before the file last changed, by the API's clock. The file
 * changed at its mtime or later: its inode's change time (ctime) too, which a restore with the old
 * mtime (`cp -p`, `rsync -a`, `tar`) or a chmod moves to now and no one can set back.
 */
export function copyMayBeOlder(
  take: Pick<AdoptTake, 'createdAt'>,
  file: { mtimeMs: number; ctimeMs: number },
  serverOffsetMs: number | undefined,
): boolean {
  const margin = serverOffsetMs === undefined ? UNMEASURED_SKEW_MS : CHANGED_BEFORE_COPY_MS;
  const changedAt = Math.max(file.mtimeMs, file.ctimeMs);
  // Written so that an unreadable created_at (NaN) reads as "may be older".
  return !(changedAt + (serverOffsetMs ?? 0) + margin < Date.parse(take.createdAt));
}

/**
 * Hashes the take's file as the walk saw it (device, inode, size, mtime: the safe open refuses
 * another) and stable across the read; the row to record, or why the file is not adopted.
 */
async function hashTake(
  take: AdoptTake,
  { realRoot, serverOffsetMs }: Pick<TakeOverInput, 'realRoot' | 'serverOffsetMs'>,
): Promise<Taken | string> {
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
  const unverified = copyMayBeOlder(take, { mtimeMs: hashed.mtimeMs, ctimeMs: Math.max(take.ctimeMs, hashed.ctimeMs) }, serverOffsetMs);
  const row = {
    path: take.path,
    sha256: hashed.sha256,
    size: hashed.size,
    mtimeMs: hashed.mtimeMs,
    ino: hashed.ino,
    mimeType: mimeTypeFor(take.path, hashed.head),
    remoteName: take.filename,
  };
  return { row: unverified ? { ...row, ...UNVERIFIED } : row, unverified };
}
