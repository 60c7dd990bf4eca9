// The watched directory tree: one fs.watch (one inotify watch) per directory the sync enters, found
// by listings of which at most a fixed number run at once, and no state per file, so the watcher's
// memory and start-up work do not grow with the number of files (issue 13).
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import PQueue from 'p-queue';
import { append } from '../arrays.js';
import { fsCode, type DirChain } from '../local/entry.js';
import { IGNORE_FILE_NAME } from '../local/filter.js';
import type { PathFilter } from '../local/types.js';
import { FileConditionError } from '../file-errors.js';
import { childRel, identity, listSubdirs, parentOf, sameDir, subdirAt, watchOpened, watchRoot } from './dir-children.js';
import type { ChildContext, DirId, DirRef, Found, WatchedDir as Node } from './dir-children.js';

/** What the tree reports; each is only a hint that a path should be looked at. */
export type TreeHint = 'change' | 'addDir' | 'unlinkDir';

/** Listings (and the stats beside them) in flight at most: the libuv thread pool's size. */
export const MAX_LISTINGS = 4;
/** A directory's events are gathered this long before the names they carry are looked at. */
const RESCAN_DELAY_MS = 50;
/** More names than this in one gathering: one listing of the directory is cheaper than an lstat each. */
const MAX_NAMES = 64;

/** The root to watch, its filter, and where hints and errors go. */
export interface DirTreeOptions {
  /** The sync root (absolute). */
  root: string;
  filter: PathFilter;
  /** Enter symbolic links to directories inside the root, as the walk does (config `followSymlinks`). */
  followSymlinks: boolean;
  /** `rel` is relative to the root with POSIX separators. */
  onHint: (kind: TreeHint, rel: string) => void;
  /** Every raw event, before it is read (the overflow count). */
  onRaw: () => void;
  /** Watching or listing a directory failed (not merely because it vanished). */
  onError: (err: Error) => void;
  /** The root was deleted or moved (its own watch said so, and it is not the directory watched). */
  onRootLost?: () => void;
  /** Default MAX_LISTINGS. */
  maxListings?: number;
}

/** The directories under one root, each watched once; `close()` is safe to call twice. */
export class DirectoryTree {
  private readonly nodes = new Map<string, Node>();
  /** Listings and the stats beside them: at most `maxListings` run at once, in arrival order. */
  private readonly slots: PQueue;
  private readonly ctx: ChildContext;
  private closed = false;
  /** The root was not there (or no directory) when the tree started: it watches nothing. */
  rootAbsent = false;

  constructor(private readonly o: DirTreeOptions) {
    this.slots = new PQueue({ concurrency: Math.max(1, o.maxListings ?? MAX_LISTINGS) });
    this.ctx = { filter: o.filter, realRoot: null, base: null };
  }

  /** Directories watched now. */
  get size(): number {
    return this.nodes.size;
  }

  /** Watches the root and every directory under it; resolves when all are watched. */
  async start(): Promise<void> {
    let chain: DirChain | undefined;
    this.ctx.base = await realpath(this.o.root).catch((err: unknown) => this.failed(err));
    if (this.o.followSymlinks) {
      this.ctx.realRoot = this.ctx.base;
      if ((this.rootAbsent = this.ctx.realRoot === null)) return;
      chain = { real: this.ctx.realRoot, parent: undefined };
    }
    await this.watchTree({ rel: '', abs: this.o.root, chain });
  }

  /** Whether the root this tree watches (or is setting up) is the directory `id`. */
  rootIs(id: DirId): boolean {
    const root = this.nodes.get('');
    return root !== undefined && sameDir(id, root);
  }

  /** Events were lost (the kernel's queue overflowed): look at every directory's entries again. */
  lookAgainEverywhere(): void {
    for (const node of this.nodes.values()) this.lookSoon(node, null);
  }

  close(): void {
    this.closed = true;
    for (const node of this.nodes.values()) node.watcher.close();
    this.nodes.clear();
  }

  /** Watches `dir` and then, a bounded number of listings at a time, every directory under it. */
  private async watchTree(dir: DirRef): Promise<void> {
    const found = await this.slots.add(async () =>
      (await this.watchOne(dir)) ? listSubdirs(dir, this.ctx).catch((err: unknown) => this.failed(err)) : null,
    );
    if (!found || this.closed) return;
    await Promise.all(found.map((f) => this.watchTree(f)));
  }

  /** Watches one directory before listing it, so that what is created meanwhile has an event. */
  private async watchOne(dir: DirRef): Promise<Node | null> {
    // Not if the tree closed, another look watched it, or its parent was dropped (removed or moved).
    const wanted = () => !this.closed && !this.nodes.has(dir.rel) && this.parentWatched(dir.rel);
    if (!wanted()) return null;
    let watched;
    try {
      // The root by its path (rootcheck.ts tells its replacement; its own watch names it by its
      // path's last component when it goes: rootStill); any other folder through a safe open.
      watched = dir.rel === '' ? await watchRoot(dir.abs) : await watchOpened(dir, this.ctx);
    } catch (err) {
      return this.failed(err);
    }
    if (dir.rel === '') this.rootAbsent = watched === null;
    if (watched === null) return null;
    // Asked again: any of that may have happened while the folder was looked at.
    if (!wanted()) return (watched.watcher.close(), null);
    const { id, watcher } = watched;
    const node: Node = {
      rel: dir.rel,
      chain: dir.chain,
      dev: id.dev,
      ino: id.ino,
      birth: id.birth,
      watcher,
      children: undefined,
      names: undefined,
      everything: false,
      look: 'idle',
    };
    this.listen(node);
    this.nodes.set(dir.rel, node);
    if (dir.rel !== '') {
      const parent = this.nodes.get(parentOf(dir.rel));
      if (parent) (parent.children ??= new Set()).add(path.posix.basename(dir.rel));
    }
    return node;
  }

  /** The node's two listeners share one small closure context (the node alone). */
  private listen(node: Node): void {
    node.watcher.on('change', (event: string, name: string | Buffer | null) => this.onEvent(node, event, name));
    node.watcher.on('error', (err: Error) => {
      if (this.nodes.get(node.rel) === node) this.o.onError(err);
    });
  }

  /** The path a node watches and lists: a followed link's real directory, else under the root. */
  private ref(node: Node): DirRef {
    const abs = node.rel === '' ? this.o.root : (node.chain?.real ?? path.join(this.o.root, node.rel));
    return { rel: node.rel, abs, chain: node.chain };
  }

  private parentWatched(rel: string): boolean {
    return rel === '' || this.nodes.has(parentOf(rel));
  }

  /** A raw event: a hint for the path it names; a name created or removed may be a directory. */
  private onEvent(node: Node, event: string, name: string | Buffer | null): void {
    if (this.closed || this.nodes.get(node.rel) !== node) return;
    this.o.onRaw();
    if (typeof name !== 'string' || name === '' || name === '.') return; // ".": a subfolder's own event (its parent's tells)
    // The root deleted or moved says so on its own (dead) watch under its own name, as do a chmod
    // of it and a child of that name: its identity tells (of a folder, its parent's look tells).
    if (node.rel === '' && event === 'rename' && name === path.basename(this.o.root)) void this.rootStill(node);
    const rel = childRel(node.rel, name);
    if (rel === IGNORE_FILE_NAME || this.o.filter(rel, false)) this.o.onHint('change', rel);
    if (event === 'rename') this.lookSoon(node, name);
  }

  private async baseStill(): Promise<void> {
    const now = await realpath(this.o.root).catch(() => null);
    if (!this.closed && this.ctx.base !== null && now !== this.ctx.base) this.o.onRootLost?.();
  }

  private async rootStill(node: Node): Promise<void> {
    const now = await identity(this.o.root).catch(() => null);
    if (!this.closed && this.nodes.get('') === node && !sameDir(now, node)) this.o.onRootLost?.();
  }

  /** Looks at `name` in `node` (null: at every entry) soon, gathering a burst's names, once at a time. */
  private lookSoon(node: Node, name: string | null): void {
    if (name === null || node.everything || (node.names?.size ?? 0) >= MAX_NAMES) {
      node.everything = true;
      node.names = undefined;
    } else (node.names ??= new Set()).add(name);
    this.schedule(node);
  }

  private schedule(node: Node): void {
    if (node.look === 'running') node.look = 'again';
    if (node.look !== 'idle') return;
    node.look = 'waiting';
    setTimeout(() => {
      this.look(node).catch((err: unknown) => this.failed(err));
    }, RESCAN_DELAY_MS).unref();
  }

  /** Compares the subdirectories the events named with those watched: watches the new, drops the gone. */
  private async look(node: Node): Promise<void> {
    node.look = 'running';
    const names = node.everything ? null : (node.names ?? new Set<string>());
    node.names = undefined;
    node.everything = false;
    try {
      const diff = await this.slots.add(() => this.diff(node, names));
      if (diff && !this.closed && this.nodes.get(node.rel) === node) this.apply(node, diff);
    } finally {
      // Set by lookSoon while this ran (TypeScript cannot see that an await let it change).
      const again = (node.look as Node['look']) === 'again';
      node.look = 'idle';
      if (again && !this.closed && this.nodes.get(node.rel) === node) this.schedule(node);
    }
  }

  /** Subdirectories among `names` (null: all entries) that appeared, and watched ones gone or replaced. */
  private async diff(node: Node, names: Set<string> | null): Promise<{ added: Found[]; gone: string[] } | null> {
    if (this.closed || this.nodes.get(node.rel) !== node) return null;
    const dir = this.ref(node);
    const seen = new Set<string>();
    const added: Found[] = [];
    const gone: string[] = [];
    try {
      const found: (Found | null)[] = [];
      if (names === null) append(found, await listSubdirs(dir, this.ctx));
      // One at a time: the slot stands for one file system call in flight.
      else for (const name of names) found.push(await subdirAt(dir, name, this.ctx));
      for (const f of found) {
        if (!f) continue;
        seen.add(f.name);
        const child = this.nodes.get(f.rel);
        if (!child) {
          added.push(f);
          continue;
        }
        let now: DirId | null;
        try {
          now = await identity(f.abs);
        } catch (err) {
          // This child alone: it stays watched as it is, and the rest of the look goes on.
          this.failed(err);
          continue;
        }
        if (!sameDir(now, child)) {
          gone.push(f.name);
          added.push(f);
        }
      }
    } catch (err) {
      return this.failed(err);
    }
    const children = node.children;
    if (children) for (const name of names ?? children) if (children.has(name) && !seen.has(name)) gone.push(name);
    return { added, gone };
  }

  private apply(node: Node, diff: { added: Found[]; gone: string[] }): void {
    for (const name of diff.gone) {
      this.unwatch(childRel(node.rel, name));
      this.o.onHint('unlinkDir', childRel(node.rel, name));
    }
    // addDir once the new directory's whole subtree is watched: the daemon then lists its files,
    // and any file created after its directory's watch has an event of its own.
    for (const f of diff.added) {
      this.watchTree(f).then(
        () => {
          if (!this.closed && this.nodes.has(f.rel)) this.o.onHint('addDir', f.rel);
        },
        (err: unknown) => this.failed(err),
      );
    }
  }

  /** Stops watching `rel` and everything under it. */
  private unwatch(rel: string): void {
    const node = this.nodes.get(rel);
    if (!node) return;
    for (const name of node.children ?? []) this.unwatch(childRel(rel, name));
    node.watcher.close();
    this.nodes.delete(rel);
    if (rel === '') return;
    const parent = this.nodes.get(parentOf(rel));
    parent?.children?.delete(path.posix.basename(rel));
    if (parent?.children?.size === 0) parent.children = undefined;
  }

  /** A directory that vanished meanwhile is no error (its parent's events tell); others are. */
  private failed(err: unknown): null {
    const code = fsCode(err);
    // A folder swapped for a link or a file meanwhile (safe-open.ts's `changing`) is no error either;
    // but if the root's own real path moved (a root renamed and a link left in its place), every
    // folder would read so: the root is lost, and the watch starts again from its real path.
    if (err instanceof FileConditionError) void this.baseStill();
    if (!this.closed && code !== 'ENOENT' && code !== 'ENOTDIR' && !(err instanceof FileConditionError)) {
      this.o.onError(err instanceof Error ? err : new Error(String(err)));
    }
    return null;
  }
}
