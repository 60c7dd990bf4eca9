// Symlinks the walk, `statOne` and the daemon's watcher follow (`followSymlinks`), and where they
// may lead (rules 8 and 9): inside the root is not enough, since a link is the folder's writer's
// to point anywhere there. What it leads to must be a path the sync itself takes: not under an
// excluded folder, not an excluded file, not the state directory or any folder below the root
// holding files-sync's state marker; and never around a loop.
import type { Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type DirChain, type Taken, fsCode, problemOf, specialReason } from './entry.js';
import { holdsOwnStateMarker } from './state-marker.js';
import type { PathFilter } from './types.js';

/**
 * Why the link's target at `real` (a real path strictly under `realRoot`, a directory when
 * `isDir`) may not be read through the link, or null when it may: each folder from the root down
 * to it, and the target itself, must pass `filter` as the walk would ask (folders as folders, a
 * file as a file: include globs too, so a link exposes no file the sync would not take where it
 * is), and none of those folders, nor the target folder, may hold files-sync's state marker.
 */
export async function linkTargetRefusal(
  real: string,
  realRoot: string,
  isDir: boolean,
  filter: PathFilter,
  markers?: MarkerCache,
): Promise<string | null> {
  const segments = realRel(real, realRoot).split('/');
  for (let i = 1; i <= segments.length; i++) {
    const rel = segments.slice(0, i).join('/');
    const folder = i < segments.length || isDir;
    if (!filter(rel, folder)) return 'symlink leads to an excluded path';
    if (folder && (await markedFolder(join(realRoot, rel), markers))) return "symlink leads into files-sync's state directory";
  }
  return null;
}

/**
 * What one listing's links learnt of folders' state markers (folder → holds ours): many links
 * into one deep folder ask of the same folders again. Bounded (MARKER_CACHE_MAX); kept for one
 * listing only, so a folder renamed into place later is looked at again.
 */
export type MarkerCache = Map<string, boolean>;

/** Folders a MarkerCache remembers at most; past it, it starts again. */
const MARKER_CACHE_MAX = 4096;

async function markedFolder(folder: string, markers: MarkerCache | undefined): Promise<boolean> {
  const known = markers?.get(folder);
  if (known !== undefined) return known;
  const marked = await holdsOwnStateMarker(folder);
  if (markers !== undefined) {
    if (markers.size >= MARKER_CACHE_MAX) markers.clear();
    markers.set(folder, marked);
  }
  return marked;
}

/** The path of `real` (a real path strictly under `realRoot`) relative to the root. */
export function realRel(real: string, realRoot: string): string {
  return real.slice(realRoot.endsWith('/') ? realRoot.length : realRoot.length + 1);
}

/**
 * Whether the entry at logical path `rel`, whose real path is `real`, takes part where it really
 * is: it does when the two are one path (no followed link on the way), else its real path must
 * pass `filter` too. Under a followed folder link the walk lists the target's entries by the
 * link's path; an entry excluded where it lies (`private/secret.txt`) stays excluded.
 */
export function takesPartWhereItIs(filter: PathFilter, rel: string, real: string, realRoot: string, isDir: boolean): boolean {
  const where = realRel(real, realRoot);
  return where === rel || filter(where, isDir);
}

/** Where a symlink leads, when it may be followed. */
export type LinkTarget =
  | { kind: 'dir'; real: string }
  | { kind: 'file'; real: string; info: Stats }
  | { kind: 'skipped'; reason: string }
  | { kind: 'missing' }
  | { kind: 'problem'; taken: Taken };

/**
 * Resolves the symlink at `absPath` (found in the real directory `chain.real`). Skipped when it
 * dangles, leaves the root, leads to the root, a directory on the chain (a loop) or an ancestor
 * of the directory it sits in, or to a path `filter` excludes or a state directory (link-target.ts).
 */
export async function resolveLink(
  relPath: string,
  absPath: string,
  realRoot: string,
  chain: DirChain,
  filter: PathFilter,
  markers?: MarkerCache,
): Promise<LinkTarget> {
  let real: string;
  try {
    real = await realpath(absPath);
  } catch (err) {
    const code = fsCode(err);
    if (code === 'ENOENT') return { kind: 'skipped', reason: 'dangling symlink' };
    if (code === 'ELOOP') return { kind: 'skipped', reason: 'symlink loop' };
    return { kind: 'problem', taken: problemOf(relPath, err) };
  }
  const rootPrefix = realRoot.endsWith('/') ? realRoot : `${realRoot}/`;
  if (real !== realRoot && !real.startsWith(rootPrefix)) return { kind: 'skipped', reason: 'symlink leads out of the root' };
  let info: Stats;
  try {
    info = await stat(real);
  } catch (err) {
    const taken = problemOf(relPath, err);
    return taken.kind === 'missing' ? { kind: 'missing' } : { kind: 'problem', taken };
  }
  if (!info.isDirectory() && !info.isFile()) return { kind: 'skipped', reason: `symlink to a ${specialReason(info)}` };
  if (info.isDirectory()) {
    if (`${chain.real}/`.startsWith(`${real}/`)) return { kind: 'skipped', reason: 'symlink loop (leads to an ancestor)' };
    for (let link: DirChain | undefined = chain; link !== undefined; link = link.parent) {
      if (link.real === real) return { kind: 'skipped', reason: 'symlink loop' };
    }
  }
  const refusal = await linkTargetRefusal(real, realRoot, info.isDirectory(), filter, markers);
  if (refusal !== null) return { kind: 'skipped', reason: refusal };
  return info.isDirectory() ? { kind: 'dir', real } : { kind: 'file', real, info };
}
