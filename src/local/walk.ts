// The local scan: `walk` lists every synced regular file under the root with its size, mtime and
// sha256 (`statOne`, re-exported here, answers the same question for a single path).
import type { Dirent, Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type DirChain,
  type ScanOptions,
  type Taken,
  fsCode,
  logTaken,
  problem,
  resolveLink,
  specialReason,
  takeFile,
  takeUnknownFile,
  undecodable,
} from './entry.js';
import type { Logger } from '../log.js';
import { RootError, checkRootUnchanged, openRoot, type OpenedRoot } from './root.js';
import { listDirectory, lostDirectory, runPool } from './walk-steps.js';
import type { LocalFile, LocalProblem, WalkResult } from './types.js';

export type { ScanOptions } from './entry.js';
export { RootError, type RootErrorReason } from './root.js';
export { isLocalProblem, statOne, type StatOneResult } from './stat-one.js';

/** Progress of a walk: files taken so far and bytes read for hashing. */
export interface WalkProgress {
  files: number;
  bytesHashed: number;
}

export interface WalkOptions extends ScanOptions {
  /** File system operations in flight at once (readdir, lstat, hash); default 16. */
  concurrency?: number;
  /** Called at most every 100 ms while walking, and once at the end. */
  onProgress?: (progress: WalkProgress) => void;
}

const DEFAULT_CONCURRENCY = 16;
const PROGRESS_INTERVAL_MS = 100;

/** One unit of work: read a directory, or take a file or a symlink (as readdir typed them). */
interface Task {
  type: 'dir' | 'file' | 'link';
  rel: string;
  /** Absolute path; for directories, their real path (followed symlinks resolved). */
  abs: string;
  /** Real directories along the logical path (only when following symlinks). */
  chain: DirChain | undefined;
}

/**
 * Walks the tree under `root`. Directories are read with bounded parallelism; excluded
 * directories are not entered. Regular files only: FIFOs, sockets and devices are skipped
 * unopened; symlinks are skipped, or with `followSymlinks` followed when they stay inside the
 * root and close no loop. A file is hashed only when size or mtime differ from `known`. A
 * directory that cannot be read makes the result incomplete (and adds a problem); a file that
 * cannot be read or changes while read is a problem, never a missing file. Results are sorted
 * by path (UTF-16 code units). Names are kept as the file system returns them.
 * @throws RootError when the root is missing, not a directory, unreadable, or replaced during
 *   the walk; the signal's reason when aborted.
 */
export async function walk(root: string, options: WalkOptions): Promise<WalkResult> {
  const scan = new TreeScan(await openRoot(root), options);
  const { opened } = scan;
  const first: Task = {
    type: 'dir',
    rel: '',
    abs: opened.realRoot,
    chain: options.followSymlinks ? { real: opened.realRoot, parent: undefined } : undefined,
  };
  await runPool([first], options.concurrency ?? DEFAULT_CONCURRENCY, options.signal, (task, queue) =>
    task.type === 'dir' ? scan.readDirectory(task, queue) : scan.takeEntry(task, queue),
  );
  await checkRootUnchanged(opened);
  scan.progress(true);
  return scan.result();
}

/** One walk's findings and counters, and the steps that fill them. */
class TreeScan {
  readonly logger: Logger | undefined;
  readonly files: LocalFile[] = [];
  readonly problems: LocalProblem[] = [];
  readonly skipped: { path: string; reason: string }[] = [];
  complete = true;
  filesHashed = 0;
  bytesHashed = 0;
  readonly contents: Map<string, Buffer> | undefined;
  lastProgress = 0;

  constructor(
    readonly opened: OpenedRoot,
    readonly options: WalkOptions,
  ) {
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

  async readDirectory(task: Task, queue: Task[]): Promise<void> {
    const { filter, followSymlinks } = this.options;
    let entries: Dirent[];
    try {
      entries = await listDirectory(task.abs);
    } catch (err) {
      const lost = lostDirectory(task.rel, err);
      if (task.rel === '') throw new RootError(lost.rootReason, this.opened.absRoot, { cause: err });
      // Rule 4: what was under it is unseen, not deleted (vanished, swapped, unreadable alike).
      this.complete = false;
      this.logger?.warn('cannot read directory: the scan is incomplete', {
        path: task.rel,
        reason: lost.problem.reason,
      });
      this.problems.push(lost.problem);
      return;
    }
    for (const entry of entries) {
      const rel = task.rel === '' ? entry.name : `${task.rel}/${entry.name}`;
      const abs = join(task.abs, entry.name);
      if (entry.isDirectory()) {
        if (filter(rel, true)) queue.push({ type: 'dir', rel, abs, chain: task.chain && { real: abs, parent: task.chain } });
      } else if (entry.isFile()) {
        if (filter(rel, false)) queue.push({ type: 'file', rel, abs, chain: task.chain });
      } else if (entry.isSymbolicLink()) {
        if (filter(rel, false) || filter(rel, true)) {
          if (followSymlinks) queue.push({ type: 'link', rel, abs, chain: task.chain });
          else this.record({ kind: 'skipped', reason: 'symlink' }, rel);
        }
      } else if (filter(rel, false)) {
        this.record({ kind: 'skipped', reason: specialReason(entry) }, rel);
      }
    }
  }

  /** A file (opened at once when unknown, else lstat to compare with the ledger) or a symlink. */
  async takeEntry(task: Task, queue: Task[]): Promise<void> {
    const { options, opened } = this;
    if (task.type === 'file' && options.known(task.rel) === undefined) {
      const taken = await takeUnknownFile(task.rel, task.abs, options, opened.realRoot);
      if (taken !== undefined) {
        this.record(taken, task.rel);
        return;
      }
    }
    let info: Stats;
    try {
      info = await lstat(task.abs);
    } catch (err) {
      const code = fsCode(err);
      if (code === undefined) throw err;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && !undecodable(task.rel)) return;
      const reason = undecodable(task.rel) ? 'the name is not valid UTF-8' : `${code}: ${(err as Error).message}`;
      this.record(problem(task.rel, 'unreadable', reason), task.rel);
      return;
    }
    if (info.isFile()) {
      this.record(await takeFile(task.rel, task.abs, info, options, opened.realRoot), task.rel);
    } else if (info.isDirectory()) {
      // Replaced by a directory since readdir: walk it like any other.
      if (options.filter(task.rel, true))
        queue.push({
          type: 'dir',
          rel: task.rel,
          abs: task.abs,
          chain: task.chain && { real: task.abs, parent: task.chain },
        });
    } else if (info.isSymbolicLink()) {
      await this.takeLink(task, queue);
    } else {
      this.record({ kind: 'skipped', reason: specialReason(info) }, task.rel);
    }
  }

  /** A symlink: skipped, or followed to a directory or file inside the root. */
  private async takeLink(task: Task, queue: Task[]): Promise<void> {
    const { options, opened } = this;
    if (!options.followSymlinks || task.chain === undefined) {
      this.record({ kind: 'skipped', reason: 'symlink' }, task.rel);
      return;
    }
    const target = await resolveLink(task.rel, task.abs, opened.realRoot, task.chain);
    switch (target.kind) {
      case 'dir':
        if (options.filter(task.rel, true))
          queue.push({
            type: 'dir',
            rel: task.rel,
            abs: target.real,
            chain: { real: target.real, parent: task.chain },
          });
        return;
      case 'file':
        if (options.filter(task.rel, false))
          this.record(await takeFile(task.rel, target.real, target.info, options, opened.realRoot), task.rel);
        return;
      case 'skipped':
        this.record(target, task.rel);
        return;
      case 'problem':
        this.record(target.taken, task.rel);
        return;
      case 'missing':
        return;
    }
  }

  /** The findings, sorted by path (UTF-16 code units). */
  result(): WalkResult {
    const { files, problems, skipped, complete, filesHashed, bytesHashed, contents, opened } = this;
    const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
    files.sort(byPath);
    problems.sort(byPath);
    skipped.sort(byPath);
    this.logger?.debug('walk done', {
      files: files.length,
      problems: problems.length,
      skipped: skipped.length,
      complete,
      filesHashed,
      bytesHashed,
    });
    return {
      files,
      problems,
      complete,
      skipped,
      root: { dev: opened.dev, ino: opened.ino },
      filesHashed,
      bytesHashed,
      ...(contents ? { contents } : {}),
    };
  }
}
