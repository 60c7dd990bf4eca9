// What the watcher knows of a directory (its identity, and the node the tree keeps for it), and which
// of its entries are directories it enters: all of them by one listing, or one name by one lstat (an
// event named it), links followed as the walk follows them.
import { watch, type FSWatcher } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fsCode, type DirChain } from '../local/entry.js';
import { resolveLink, takesPartWhereItIs } from '../local/link-target.js';
import type { PathFilter } from '../local/types.js';
import { openDirInRoot, type SafeDir } from '../safe-open.js';

/** A directory to watch: its path from the root, the path watched, the real directories above it. */
export interface DirRef {
  rel: string;
  /** The path watched and listed (a followed link's real directory). */
  abs: string;
  /** The real directories above it, when links are followed (loop checks); undefined otherwise. */
  chain: DirChain | undefined;
}

/** A subdirectory found, and its identity when it was looked at by name. */
export interface Found extends DirRef {
  name: string;
}

/** What the classification needs: the sync's filter and, when links are followed, the real root. */
export interface ChildContext {
  filter: PathFilter;
  realRoot: string | null;
  /** The root's real path (whether links are followed or not): where every directory must lie. */
  base: string | null;
}

/**
 * Opens `dir` as the walk opens a folder (safe-open.ts, DESIGN.md rule 8): its last component not
 * followed, and its real path the one the tree puts it at, so a folder swapped for a link to a
 * directory outside the root is neither listed nor watched (`changing`: the swap's events bring a
 * look at its parent). Listed, and watched, through the descriptor, whatever is renamed meanwhile.
 */
export async function openWatched(dir: DirRef, ctx: ChildContext): Promise<SafeDir> {
  // A followed link's chain holds real paths; otherwise the place is the root's real path and rel.
  if (dir.rel === '' && ctx.base !== null) return openDirInRoot(ctx.base, ctx.base); // the root by its real path
  const real = dir.chain ? dir.abs : ctx.base === null ? dir.abs : path.join(ctx.base, dir.rel);
  return openDirInRoot(dir.abs, real);
}

/** `rel` of `name` in the directory `parent`. */
export function childRel(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}

/** Watches the root by its path: its identity and watch, null when it is not there (or no directory). */
export async function watchRoot(abs: string): Promise<{ id: DirId; watcher: FSWatcher } | null> {
  const id = await identity(abs);
  return id === null ? null : { id, watcher: watch(abs, { persistent: true }) };
}

/**
 * Watches `dir` (not the root) through `openWatched`: the descriptor's directory, whatever is
 * renamed meanwhile. Without procfs its close checks the path again; a folder swapped meanwhile
 * is then not watched (`changing`).
 */
export async function watchOpened(dir: DirRef, ctx: ChildContext): Promise<{ id: DirId; watcher: FSWatcher }> {
  const opened = await openWatched(dir, ctx);
  let watcher: FSWatcher;
  try {
    // Through /proc, at `…/fd/N/.`: events on the folder itself come under the path's last name,
    // and "N" would read as a child of that name; no child can be named ".".
    watcher = watch(opened.listPath.startsWith('/proc/') ? `${opened.listPath}/.` : opened.listPath, { persistent: true });
  } catch (err) {
    // The watch's own failure is the one to tell (a limit, say); the descriptor is closed all the same.
    await opened.close().catch(() => undefined);
    throw err;
  }
  try {
    await opened.close();
  } catch (err) {
    watcher.close();
    throw err;
  }
  return { id: { dev: opened.stats.dev, ino: opened.stats.ino, birth: birthOf(opened.stats) }, watcher };
}

/**
 * Every subdirectory of `dir` the sync enters (throws what readdir throws). Files are passed over
 * without a path, a promise or a filter call each: a listing at start-up is mostly files.
 */
export async function listSubdirs(dir: DirRef, ctx: ChildContext): Promise<Found[]> {
  const opened = await openWatched(dir, ctx);
  let entries;
  try {
    entries = await readdir(opened.listPath, { withFileTypes: true });
  } finally {
    await opened.close();
  }
  const found: Found[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() && !entry.isSymbolicLink()) continue;
    const f = await classify(dir, entry.name, entry, ctx);
    if (f) found.push(f);
  }
  return found;
}

/**
 * `name` in `dir` by itself: the subdirectory it is, null when it is none (gone, a file, filtered
 * out), undefined when that cannot be told (the error is thrown to the caller's `failed`).
 */
export async function subdirAt(dir: DirRef, name: string, ctx: ChildContext): Promise<Found | null> {
  let info;
  try {
    info = await lstat(path.join(dir.abs, name));
  } catch (err) {
    const code = fsCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
  return classify(dir, name, info, ctx);
}

/**
 * A directory's device, inode and birth time, to tell a replaced one from the one watched: made
 * again at once (`rm -rf out && mkdir out`), it often gets the freed inode number back on ext4, and
 * only its birth time differs (0 where the file system does not keep one).
 */
export interface DirId {
  dev: number;
  ino: number;
  birth: number;
}

/**
 * One watched directory: its watch, identity and the names of its watched subdirectories. The tree
 * (dir-tree.ts) holds one per directory for as long as it runs, so it is kept small (issue 13): the path watched
 * is derived (`absOf`), the sets exist only while they hold something, the identity is three numbers.
 */
export interface WatchedDir extends DirId {
  rel: string;
  /** The real directories above and at it, when links are followed (`chain.real` is the path watched). */
  chain: DirChain | undefined;
  watcher: FSWatcher;
  /** Names of the watched subdirectories; undefined while there is none. */
  children: Set<string> | undefined;
  /** Names that events carried since the last look; undefined while there is none. */
  names: Set<string> | undefined;
  /** Look at every entry at the next look, not only at `names`. */
  everything: boolean;
  /** `again`: events came while a look ran, so one more follows. */
  look: 'idle' | 'waiting' | 'running' | 'again';
}

/** The identity of a directory now: null when it is gone or no directory; throws other errors. */
export async function identity(abs: string): Promise<DirId | null> {
  let info;
  try {
    info = await stat(abs);
  } catch (err) {
    const code = fsCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
  return info.isDirectory() ? { dev: info.dev, ino: info.ino, birth: birthOf(info) } : null;
}

interface TypeOf {
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

async function classify(dir: DirRef, name: string, type: TypeOf, ctx: ChildContext): Promise<Found | null> {
  const rel = childRel(dir.rel, name);
  // Under the parent's real directory when links are followed (the root's path may be a link).
  const abs = path.join(dir.chain?.real ?? dir.abs, name);
  if (type.isDirectory()) {
    // Under a followed link, excluded where it really is too (local/link-target.ts).
    const takes =
      ctx.filter(rel, true) && (!dir.chain || ctx.realRoot === null || takesPartWhereItIs(ctx.filter, rel, abs, ctx.realRoot, true));
    return takes ? { name, rel, abs, chain: dir.chain && { real: abs, parent: dir.chain } } : null;
  }
  if (!type.isSymbolicLink() || !dir.chain || ctx.realRoot === null || !ctx.filter(rel, true)) return null;
  if (!takesPartWhereItIs(ctx.filter, rel, abs, ctx.realRoot, true)) return null; // the link where it lies, as the walk asks
  // Followed as the walk follows it: inside the root, no loop (local/entry.ts).
  const target = await resolveLink(rel, abs, ctx.realRoot, dir.chain, ctx.filter);
  return target.kind === 'dir' ? { name, rel, abs: target.real, chain: { real: target.real, parent: dir.chain } } : null;
}

/** Devices where a birth time was seen to differ from the change time: statx gives real ones there. */
const realBirthTimes = new Set<number>();

/**
 * A stat's birth time, or 0 (unknown). Without statx (an old kernel, a seccomp filter that refuses
 * it) libuv reports the change time as the birth time, which a chmod or a new entry moves: so a
 * device's birth times are trusted only once one of them differed from its change time.
 */
export function birthOf(info: { dev: number; birthtimeMs: number; ctimeMs: number }): number {
  if (info.birthtimeMs !== info.ctimeMs && info.birthtimeMs !== 0) realBirthTimes.add(info.dev);
  return realBirthTimes.has(info.dev) ? info.birthtimeMs : 0;
}

/** Whether `id` (null: gone) is the directory `known` is (a birth time of 0 is unknown). */
export function sameDir(id: DirId | null, known: DirId): boolean {
  if (id === null || id.dev !== known.dev || id.ino !== known.ino) return false;
  return id.birth === 0 || known.birth === 0 || id.birth === known.birth;
}

/** The parent of a relative path ('' for a top-level one). */
export function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}
