// The watched directory tree: one fs.watch (one inotify watch) per directory the sync enters, found
// by listings of which at most a fixed number run at once, and no state per file, so the watcher's
// memory and start-up work do not grow with the number of files (issue 13).
import { watch, type FSWatcher } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { IGNORE_FILE_NAME } from '../local/filter.js';
import { fsCode, resolveLink, type DirChain } from '../local/entry.js';
import type { PathFilter } from '../local/types.js';
import { Slots } from './slots.js';

/** What the tree reports; each is only a hint that a path should be looked at. */
export type TreeHint = 'change' | 'addDir' | 'unlinkDir';

/** Listings (and the stats beside them) in flight at most: the libuv thread pool's size. */
export const MAX_LISTINGS = 4;
/** A directory's events are gathered this long before its subdirectories are listed again. */
const RESCAN_DELAY_MS = 50;

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
  /** Default MAX_LISTINGS. */
  maxListings?: number;
}

/** One watched directory: its watch, identity and the names of its watched subdirectories. */
interface Node {
  rel: string;
  /** The path watched and listed (a followed link's real directory). */
  abs: string;
  /** The real directories above it, when links are followed (loop checks). */
  chain: DirChain | undefined;
  dev: number;
  ino: number;
  watcher: FSWatcher;
  children: Set<string>;
  /** Its subdirectories are being listed again (`again`: and once more after that). */
  rescan: 'idle' | 'waiting' | 'running' | 'again';
}

/** A subdirectory found by a listing. */
interface Found {
  name: string;
  abs: string;
  chain: DirChain | undefined;
}

/** The directories under one root, each watched once; `close()` is safe to call twice. */
export class DirectoryTree {
  private readonly nodes = new Map<string, Node>();
  private readonly slots: Slots;
  private realRoot: string | null = null;
  private closed = false;

  constructor(private readonly o: DirTreeOptions) {
    this.slots = new Slots(o.maxListings ?? MAX_LISTINGS);
  }

  /** Directories watched now. */
  get size(): number {
    return this.nodes.size;
  }

  /** Watches the root and every directory under it; resolves when all are watched. */
  async start(): Promise<void> {
    let chain: DirChain | undefined;
    if (this.o.followSymlinks) {
      try {
        this.realRoot = await realpath(this.o.root);
      } catch (err) {
        this.failed(err);
        return;
      }
      chain = { real: this.realRoot, parent: undefined };
    }
    await this.watchTree('', this.o.root, chain);
  }

  close(): void {
    this.closed = true;
    for (const node of this.nodes.values()) node.watcher.close();
    this.nodes.clear();
  }

  /** Watches `rel` and then, a bounded number of listings at a time, every directory under it. */
  private async watchTree(rel: string, abs: string, chain: DirChain | undefined): Promise<void> {
    const found = await this.slots.run(async () => {
      const node = await this.watchOne(rel, abs, chain);
      return node ? this.listChildren(node) : null;
    });
    if (!found || this.closed) return;
    await Promise.all(found.map((f) => this.watchTree(join(rel, f.name), f.abs, f.chain)));
  }

  /** Watches one directory before listing it, so that what is created meanwhile has an event. */
  private async watchOne(rel: string, abs: string, chain: DirChain | undefined): Promise<Node | null> {
    if (this.closed || this.nodes.has(rel)) return null;
    let info;
    try {
      info = await stat(abs);
    } catch (err) {
      return this.failed(err);
    }
    if (this.closed || this.nodes.has(rel) || !info.isDirectory()) return null;
    let watcher: FSWatcher;
    try {
      watcher = watch(abs, { persistent: true }, (event, name) => this.onEvent(node, event, name));
    } catch (err) {
      return this.failed(err);
    }
    const node: Node = { rel, abs, chain, dev: info.dev, ino: info.ino, watcher, children: new Set(), rescan: 'idle' };
    watcher.on('error', (err: Error) => {
      if (this.nodes.get(rel) === node) this.o.onError(err);
    });
    this.nodes.set(rel, node);
    if (rel !== '') this.nodes.get(parentOf(rel))?.children.add(path.posix.basename(rel));
    return node;
  }

  /** The subdirectories of `node` the sync enters (null when it cannot be read). */
  private async listChildren(node: Node): Promise<Found[] | null> {
    let entries;
    try {
      entries = await readdir(node.abs, { withFileTypes: true });
    } catch (err) {
      return this.failed(err);
    }
    const found: Found[] = [];
    for (const entry of entries) {
      const rel = join(node.rel, entry.name);
      const abs = path.join(node.abs, entry.name);
      if (entry.isDirectory()) {
        if (this.o.filter(rel, true)) found.push({ name: entry.name, abs, chain: node.chain && { real: abs, parent: node.chain } });
      } else if (entry.isSymbolicLink() && node.chain && this.realRoot !== null && this.o.filter(rel, true)) {
        // Followed as the walk follows it: inside the root, no loop (local/entry.ts).
        const target = await resolveLink(rel, abs, this.realRoot, node.chain);
        if (target.kind === 'dir') found.push({ name: entry.name, abs: target.real, chain: { real: target.real, parent: node.chain } });
      }
    }
    return found;
  }

  /** A raw event: a hint for the path it names; a name created or removed may be a directory. */
  private onEvent(node: Node, event: string, name: string | Buffer | null): void {
    if (this.closed || this.nodes.get(node.rel) !== node) return;
    this.o.onRaw();
    if (typeof name !== 'string' || name === '') return;
    const rel = join(node.rel, name);
    if (rel === IGNORE_FILE_NAME || this.o.filter(rel, false)) this.o.onHint('change', rel);
    if (event === 'rename') this.rescanSoon(node);
  }

  /** Lists `node` again soon (coalescing the events of a burst), once at a time. */
  private rescanSoon(node: Node): void {
    if (node.rescan === 'running') node.rescan = 'again';
    if (node.rescan !== 'idle') return;
    node.rescan = 'waiting';
    setTimeout(() => {
      this.rescan(node).catch((err: unknown) => this.failed(err));
    }, RESCAN_DELAY_MS).unref();
  }

  /** Compares `node`'s subdirectories with those watched: watches the new, drops the gone. */
  private async rescan(node: Node): Promise<void> {
    node.rescan = 'running';
    try {
      const diff = await this.slots.run(() => this.diffChildren(node));
      if (diff && !this.closed && this.nodes.get(node.rel) === node) this.apply(node, diff);
    } finally {
      // Set by rescanSoon while this ran (TypeScript cannot see that an await let it change).
      const again = (node.rescan as Node['rescan']) === 'again';
      node.rescan = 'idle';
      if (again && !this.closed && this.nodes.get(node.rel) === node) this.rescanSoon(node);
    }
  }

  private apply(node: Node, diff: { added: Found[]; gone: string[] }): void {
    for (const name of diff.gone) {
      this.unwatch(join(node.rel, name));
      this.o.onHint('unlinkDir', join(node.rel, name));
    }
    // addDir once the new directory's whole subtree is watched: the daemon then lists its files,
    // and any file created after its directory's watch has an event of its own.
    for (const f of diff.added) {
      const rel = join(node.rel, f.name);
      this.watchTree(rel, f.abs, f.chain).then(
        () => {
          if (!this.closed && this.nodes.has(rel)) this.o.onHint('addDir', rel);
        },
        (err: unknown) => this.failed(err),
      );
    }
  }

  /** The subdirectories that appeared and those gone (or replaced: another inode) since last seen. */
  private async diffChildren(node: Node): Promise<{ added: Found[]; gone: string[] } | null> {
    if (this.closed || this.nodes.get(node.rel) !== node) return null;
    const found = await this.listChildren(node);
    if (!found) return null;
    const names = new Set(found.map((f) => f.name));
    const gone = [...node.children].filter((name) => !names.has(name));
    const added: Found[] = [];
    for (const f of found) {
      const child = this.nodes.get(join(node.rel, f.name));
      if (!child) {
        added.push(f);
        continue;
      }
      const now = await stat(f.abs).catch(() => null);
      if (now && (now.ino !== child.ino || now.dev !== child.dev)) {
        gone.push(f.name);
        added.push(f);
      }
    }
    return { added, gone };
  }

  /** Stops watching `rel` and everything under it. */
  private unwatch(rel: string): void {
    const node = this.nodes.get(rel);
    if (!node) return;
    for (const name of node.children) this.unwatch(join(rel, name));
    node.watcher.close();
    this.nodes.delete(rel);
    if (rel !== '') this.nodes.get(parentOf(rel))?.children.delete(path.posix.basename(rel));
  }

  /** A directory that vanished meanwhile is no error (its parent's events tell); others are. */
  private failed(err: unknown): null {
    const code = fsCode(err);
    if (!this.closed && code !== 'ENOENT' && code !== 'ENOTDIR') {
      this.o.onError(err instanceof Error ? err : new Error(String(err)));
    }
    return null;
  }
}

function join(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}

function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}
