// The local scan: `walk` lists every synced regular file under the root with its size, mtime and
// sha256 (`statOne`, re-exported here, answers the same question for a single path). It collects
// the stream of `SortedWalk` and the takes of its files; a reconciliation consumes the stream itself.
import type { Logger } from '../log.js';
import { type ScanOptions, type Taken, logTaken } from './entry.js';
import { comparePaths } from './order.js';
import { SortedWalk } from './sorted-walk.js';
import { takeItem } from './take.js';
import type { LocalFile, LocalProblem, WalkResult } from './types.js';
import { forEachConcurrent } from './walk-steps.js';

export type { ScanOptions } from './entry.js';
export { RootError, type RootErrorReason } from './root.js';
export { isLocalProblem, statOne, type StatOneResult } from './stat-one.js';
export { SortedWalk, type WalkItem } from './sorted-walk.js';
export { takeItem, type TakeContext } from './take.js';
export { comparePaths } from './order.js';

/** Progress of a walk: files taken so far and bytes read for hashing. */
export interface WalkProgress {
  files: number;
  bytesHashed: number;
}

export interface WalkOptions extends ScanOptions {
  /** Files taken (lstat, hash) at once; default 16. */
  concurrency?: number;
  /** Called at most every 100 ms while walking, and once at the end. */
  onProgress?: (progress: WalkProgress) => void;
}

export const DEFAULT_WALK_CONCURRENCY = 16;
const PROGRESS_INTERVAL_MS = 100;

/**
 * Walks the tree under `root` into one result. Excluded directories are not entered. Regular files
 * only: FIFOs, sockets and devices are skipped unopened; symlinks are skipped, or with
 * `followSymlinks` followed when they stay inside the root and close no loop. A file is hashed only
 * when size or mtime differ from `known`. A directory that cannot be read makes the result
 * incomplete (and adds a problem); a file that cannot be read or changes while read is a problem,
 * never a missing file. Results are sorted by path in code point order (`comparePaths`).
 * @throws RootError when the root is missing, not a directory, unreadable, or replaced during
 *   the walk; the signal's reason when aborted.
 */
export async function walk(root: string, options: WalkOptions): Promise<WalkResult> {
  const sorted = await SortedWalk.open(root, options);
  const scan = new Collected(options);
  const ctx = { options, realRoot: sorted.opened.realRoot, onUnseenFolder: () => sorted.unseenFolderFound() };
  await forEachConcurrent(sorted, options.concurrency ?? DEFAULT_WALK_CONCURRENCY, async (item) => {
    options.signal?.throwIfAborted();
    if (item.kind === 'file') scan.record(await takeItem(item, options.known(item.path), ctx), item.path);
    else if (item.kind === 'problem') scan.problems.push(item.problem);
    else scan.record({ kind: 'skipped', reason: item.reason }, item.path);
  });
  scan.progress(true);
  const byPath = (a: { path: string }, b: { path: string }) => comparePaths(a.path, b.path);
  scan.files.sort(byPath);
  scan.problems.sort(byPath);
  scan.skipped.sort(byPath);
  scan.logger?.debug('walk done', {
    files: scan.files.length,
    problems: scan.problems.length,
    skipped: scan.skipped.length,
    complete: sorted.complete,
    filesHashed: scan.filesHashed,
    bytesHashed: scan.bytesHashed,
  });
  return {
    files: scan.files,
    problems: scan.problems,
    complete: sorted.complete,
    skipped: scan.skipped,
    root: { dev: sorted.opened.dev, ino: sorted.opened.ino },
    filesHashed: scan.filesHashed,
    bytesHashed: scan.bytesHashed,
    ...(scan.contents ? { contents: scan.contents } : {}),
  };
}

/** One walk's findings and counters. */
class Collected {
  readonly logger: Logger | undefined;
  readonly files: LocalFile[] = [];
  readonly problems: LocalProblem[] = [];
  readonly skipped: { path: string; reason: string }[] = [];
  filesHashed = 0;
  bytesHashed = 0;
  readonly contents: Map<string, Buffer> | undefined;
  lastProgress = 0;

  constructor(readonly options: WalkOptions) {
    this.logger = options.logger?.child({ module: 'walk' });
    this.contents = options.keepContent ? new Map<string, Buffer>() : undefined;
  }

  progress(force: boolean): void {
    if (this.options.onProgress === undefined) return;
    const now = Date.now();
    if (!force && now - this.lastProgress < PROGRESS_INTERVAL_MS) return;
    this.lastProgress = now;
    this.options.onProgress({ files: this.files.length, bytesHashed: this.bytesHashed });
  }

  record(taken: Taken, rel: string): void {
    logTaken(this.logger, taken, rel);
    switch (taken.kind) {
      case 'file':
        this.files.push(taken.file);
        if (taken.content !== undefined) this.contents?.set(rel, taken.content);
        if (taken.hashedBytes !== undefined) {
          this.filesHashed++;
          this.bytesHashed += taken.hashedBytes;
        }
        this.progress(false);
        return;
      case 'problem':
        this.problems.push(taken.problem);
        return;
      case 'skipped':
        this.skipped.push({ path: rel, reason: taken.reason });
        return;
      case 'missing':
        return;
    }
  }
}
