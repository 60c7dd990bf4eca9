// `statOne`: the walk's verdict on a single relative path, for the daemon's per-path jobs, with
// the same filter, symlink and file rules as the walk (shared through entry.ts).
import type { Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type DirChain,
  type ScanOptions,
  type Taken,
  fsCode,
  fsReason,
  logTaken,
  problem,
  specialReason,
  takeFile,
  undecodable,
  undecodableProblem,
} from './entry.js';
import { openRoot } from './root.js';
import { resolveLink, takesPartWhereItIs } from './link-target.js';
import { holdsOwnStateMarker } from './state-marker.js';
import type { LocalFile, LocalProblem } from './types.js';

/** What `statOne` found at a path. */
export type StatOneResult = LocalFile | LocalProblem | 'missing' | 'excluded' | 'skipped';

/** True when a `statOne` result is a problem (as opposed to a file or a verdict string). */
export function isLocalProblem(result: StatOneResult): result is LocalProblem {
  return typeof result === 'object' && 'kind' in result;
}

/**
 * The walk's verdict on one relative path, for the daemon's per-path jobs: the filter on each
 * ancestor (as directories) and on the path (as a file), symlinked ancestors handled as the
 * walk would (skipped unless followed, never out of the root, never around a loop), then the
 * same rules for the entry itself. `missing` when nothing the walk would list is there: no
 * entry, a directory (its files are paths of their own), or an ancestor that is not a directory.
 * The filter is decided first, without I/O: an excluded path is `excluded` even when the root is
 * gone. With `stateMarkers`, a path under a folder holding files-sync's state marker is
 * `excluded` too. A file is always lstat-ed first (no open-first fast path: one path, one extra call).
 * @throws RootError when the root is missing, not a directory or unreadable; a RangeError for a
 *   path that is not relative and clean (empty, leading `/`, `.`/`..`/empty segments).
 */
export async function statOne(root: string, relPath: string, options: ScanOptions): Promise<StatOneResult> {
  const segments = relPath.split('/');
  if (relPath === '' || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new RangeError(`statOne needs a clean relative path, got "${relPath}"`);
  }
  const { filter, followSymlinks, signal } = options;
  for (let i = 1; i < segments.length; i++) {
    if (!filter(segments.slice(0, i).join('/'), true)) return 'excluded';
  }
  if (!filter(relPath, false)) return 'excluded';
  const opened = await openRoot(root);
  signal?.throwIfAborted();
  const logger = options.logger?.child({ module: 'walk' });
  const verdict = (taken: Taken): StatOneResult => {
    logTaken(logger, taken, relPath);
    if (taken.kind === 'file') return taken.file;
    if (taken.kind === 'problem') return taken.problem;
    return taken.kind;
  };

  let dir = opened.realRoot;
  let chain: DirChain = { real: dir, parent: undefined };
  for (let i = 0; i < segments.length; i++) {
    const rel = segments.slice(0, i + 1).join('/');
    const last = i === segments.length - 1;
    const abs = join(dir, segments[i]!);
    // Under a followed link: excluded where it really is, excluded here (link-target.ts).
    if (followSymlinks && !takesPartWhereItIs(filter, rel, abs, opened.realRoot, !last)) return 'excluded';
    let info: Stats;
    try {
      info = await lstat(abs);
    } catch (err) {
      const code = fsCode(err);
      if (code === undefined) throw err;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && !undecodable(rel)) return 'missing';
      if ((code === 'ENOENT' || code === 'ENOTDIR') && last) return verdict(undecodableProblem(relPath));
      return verdict(problem(relPath, 'unreadable', `${rel}: ${fsReason(code, err)}`));
    }
    if (info.isSymbolicLink()) {
      if (!followSymlinks) return verdict({ kind: 'skipped', reason: 'symlink' });
      const target = await resolveLink(relPath, abs, opened.realRoot, chain, filter);
      if (target.kind === 'skipped') return verdict(target);
      if (target.kind === 'problem') return verdict(target.taken);
      if (target.kind === 'missing') return 'missing';
      if (target.kind === 'file')
        return last ? verdict(await takeFile(relPath, target.real, target.info, options, opened.realRoot)) : 'missing';
      if (last) return 'missing';
      dir = target.real;
      chain = { real: dir, parent: chain };
      if (options.stateMarkers && (await holdsOwnStateMarker(dir))) return 'excluded';
    } else if (info.isDirectory()) {
      if (last) return 'missing';
      dir = abs;
      chain = { real: dir, parent: chain };
      if (options.stateMarkers && (await holdsOwnStateMarker(dir))) return 'excluded';
    } else if (info.isFile()) {
      return last ? verdict(await takeFile(relPath, abs, info, options, opened.realRoot)) : 'missing';
    } else {
      return last ? verdict({ kind: 'skipped', reason: specialReason(info) }) : 'missing';
    }
  }
  return 'missing'; // Unreachable: the last segment always returns.
}
