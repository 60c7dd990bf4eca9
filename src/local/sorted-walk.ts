// The walk as a stream: the entries under the root in `comparePaths` order, one directory listed
// at a time (with a few listings read ahead), so that a tree of any size costs the memory of the
// directories on the current path, and the merge with the ledger can pair it in one pass.
import type { Dirent, Stats } from 'node:fs';
import type { Logger } from '../log.js';
import { type DirChain, specialReason } from './entry.js';
import { type MarkerCache, resolveLink, takesPartWhereItIs } from './link-target.js';
import { entryKey, comparePaths } from './order.js';
import { RootError, checkRootUnchanged, openRoot, type OpenedRoot } from './root.js';
import type { LocalProblem, PathFilter } from './types.js';
import { STATE_MARKER } from '../private.js';
import type { StateMarkerVerdict } from './state-marker.js';
import { listDirectory, lostDirectory, oneEntryPerName } from './walk-steps.js';
import { pathUnder } from '../safe-open.js';

/** What the walk found at one path, in order. A file is only named here: the take (take.ts) stats and hashes it. */
export type WalkItem =
  | { kind: 'file'; path: string; abs: string; target?: { real: string; info: Stats } }
  | { kind: 'problem'; problem: LocalProblem }
  | { kind: 'skipped'; path: string; reason: string };

export interface SortedWalkOptions {
  filter: PathFilter;
  followSymlinks: boolean;
  signal?: AbortSignal | undefined;
  logger?: Logger | undefined;
}

/** Subdirectory listings read ahead of the one being walked, per directory on the current path. */
const READ_AHEAD = 8;

/** One entry of a listed directory, classified and filtered, with its sort key. */
interface Entry {
  key: string;
  rel: string;
  abs: string;
  type: 'dir' | 'file' | 'link-file' | 'skipped' | 'problem';
  chain?: DirChain | undefined;
  info?: Stats;
  reason?: string;
  problem?: LocalProblem;
}

/**
 * Unreadable directories logged one by one in a walk; the rest in one line at its end. Whoever
 * writes into the folder can make thousands (each is a problem in the run's report all the same),
 * and a line each at every reconciliation would fill the log's disk.
 */
const UNREADABLE_LOGGED = 10;

/**
 * The most folders the walk could not list that `unseenFolders` names: past them every delete
 * waits, as for any incomplete walk (whoever writes into the folder can make any number).
 */
export const UNSEEN_FOLDERS_MAX = 256;

/** A listing read (or failed), as a value: a read-ahead that fails must not reject unobserved. */
type Listing = { ok: true; entries: Entry[] } | { ok: false; error: unknown };

/** A directory being walked: its sorted entries, where the walk is, and the listings read ahead. */
interface Frame {
  entries: Entry[];
  next: number;
  ahead: Map<number, Promise<Listing>>;
}

/**
 * Walks the tree under a root in `comparePaths` order. `complete` turns false when a directory
 * could not be read (its paths are unseen, not deleted: rule 4). Iterating throws RootError when
 * the root goes away or is replaced during the walk, and the signal's reason when aborted.
 */
export class SortedWalk implements AsyncIterable<WalkItem> {
  complete = true;
  /** The folders whose listing failed, while they are all that made the walk incomplete (null: something else did, or too many). */
  #unseen: string[] | null = [];
  /** The walk went through to its end (the root checked unchanged). */
  #ended = false;
  readonly #logger: Logger | undefined;
  /** Directories that could not be read so far: the first UNREADABLE_LOGGED are logged each. */
  #unreadable = 0;
  /** Entries left out because their names read as a sibling's (`oneEntryPerName`), and the first folder holding one. */
  #alike = { dropped: 0, first: '' };
  /** Whether a state marker of another owner was logged (once a walk). */
  #foreignMarker = false;

  private constructor(
    readonly opened: OpenedRoot,
    readonly options: SortedWalkOptions,
  ) {
    this.#logger = options.logger?.child({ module: 'walk' });
  }

  /**
   * The folders the walk could not list, when they are all that made it incomplete: a path under
   * none of them was seen whole, so rule 4 holds only the paths under them. Empty for a complete
   * walk; null (every delete waits) before the walk has ended, when anything else made it
   * incomplete (`unseenFolderFound`), or past UNSEEN_FOLDERS_MAX folders.
   */
  unseenFolders(): readonly string[] | null {
    // `complete` set false by anyone but the walk itself leaves no folder to scope the hold to.
    if (!this.#ended || (!this.complete && this.#unseen?.length === 0)) return null;
    return this.#unseen;
  }

  /** A take found a folder where the listing said file: what is under it was not seen, and no other path is known seen. */
  unseenFolderFound(): void {
    this.complete = false;
    this.#unseen = null;
  }

  /** Opens the root (RootError when it is missing, not a directory or unreadable). */
  static async open(root: string, options: SortedWalkOptions): Promise<SortedWalk> {
    return new SortedWalk(await openRoot(root), options);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<WalkItem> {
    const { realRoot } = this.opened;
    const chain = this.options.followSymlinks ? { real: realRoot, parent: undefined } : undefined;
    const first = await this.#list('', realRoot, chain);
    if (!first.ok) {
      const lost = lostDirectory('', first.error);
      throw new RootError(lost.rootReason, this.opened.absRoot, { cause: first.error });
    }
    const stack: Frame[] = [{ entries: first.entries, next: 0, ahead: new Map() }];
    // The unreadable folders past the first few are said however the walk ends (complete, stopped
    // by its consumer, aborted): in a finally around the loop, not a generator more per item.
    try {
      while (stack.length > 0) {
        this.options.signal?.throwIfAborted();
        const frame = stack.at(-1)!;
        const i = frame.next++;
        const entry = frame.entries[i];
        if (entry === undefined) {
          stack.pop();
          continue;
        }
        if (entry.type !== 'dir') {
          yield itemOf(entry);
          continue;
        }
        this.#readAhead(frame, i + 1);
        const listing = await (frame.ahead.get(i) ?? this.#list(entry.rel, entry.abs, entry.chain));
        frame.ahead.delete(i);
        if (listing.ok) {
          stack.push({ entries: listing.entries, next: 0, ahead: new Map() });
          continue;
        }
        const lost = lostDirectory(entry.rel, listing.error);
        // Rule 4: what was under it is unseen, not deleted (vanished, swapped, unreadable alike).
        this.complete = false;
        if (this.#unseen !== null && this.#unseen.push(entry.rel) > UNSEEN_FOLDERS_MAX) this.#unseen = null;
        if (++this.#unreadable <= UNREADABLE_LOGGED) {
          this.#logger?.warn('cannot read directory: the scan is incomplete', { path: entry.rel, reason: lost.problem.reason });
        }
        yield { kind: 'problem', problem: lost.problem };
      }
    } finally {
      const more = this.#unreadable - UNREADABLE_LOGGED;
      if (more > 0) this.#logger?.warn(`${more} more folders could not be read: the scan is incomplete (each is in the run's problems)`);
      const { dropped, first } = this.#alike;
      if (dropped > 0) {
        this.#logger?.warn(
          `${dropped} entries whose names are not valid UTF-8 read as another entry's name: they are not synced (rename them)`,
          {
            folder: first === '' ? '.' : first,
          },
        );
      }
    }
    await checkRootUnchanged(this.opened);
    this.#ended = true;
  }

  /** Starts the listings of the next few subdirectories of `frame` from entry `from` on. */
  #readAhead(frame: Frame, from: number): void {
    let started = 0;
    for (let j = from; j < frame.entries.length && frame.ahead.size < READ_AHEAD && started < READ_AHEAD; j++) {
      const entry = frame.entries[j]!;
      if (entry.type !== 'dir' || frame.ahead.has(j)) continue;
      frame.ahead.set(j, this.#list(entry.rel, entry.abs, entry.chain));
      started++;
    }
  }

  /** Lists one directory: its entries filtered, classified (links resolved when followed) and sorted. */
  async #list(rel: string, abs: string, chain: DirChain | undefined): Promise<Listing> {
    let dirents: Dirent[];
    try {
      const listed = await listDirectory(abs);
      if (rel !== '' && this.#isStateDirectory(rel, listed.marker)) return { ok: true, entries: [] };
      dirents = listed.entries;
    } catch (error) {
      return { ok: false, error };
    }
    try {
      const distinct = await oneEntryPerName(dirents, abs);
      if (distinct.dropped > 0 && this.#alike.dropped === 0) this.#alike.first = rel;
      this.#alike.dropped += distinct.dropped;
      dirents = distinct.entries;
      const entries: Entry[] = [];
      // Folders looked at for a state marker by this listing's links (many may lead into one deep
      // folder); not kept longer, so that a folder renamed meanwhile is looked at again.
      const markers: MarkerCache = new Map();
      for (const dirent of dirents) {
        const entry = await this.#classify(dirent, rel, abs, chain, markers);
        if (entry !== undefined) entries.push(entry);
      }
      entries.sort((a, b) => comparePaths(a.key, b.key));
      return { ok: true, entries };
    } catch (error) {
      return { ok: false, error };
    }
  }

  /**
   * A folder holding our state marker is a state directory, perhaps renamed: excluded, as the
   * configured one is (rule 9). Another's marker is ignored, said once a walk.
   */
  #isStateDirectory(rel: string, marker: StateMarkerVerdict): boolean {
    if (marker === 'foreign' && !this.#foreignMarker) {
      this.#foreignMarker = true;
      this.#logger?.warn(`a ${STATE_MARKER} file not written by files-sync is ignored: its folder is synced`, { folder: rel });
    }
    return marker === 'ours';
  }

  /** The filter's verdict on an entry; under a followed link, where it really is too (link-target.ts). */
  #takes(rel: string, abs: string, isDir: boolean): boolean {
    const { filter, followSymlinks } = this.options;
    return filter(rel, isDir) && (!followSymlinks || takesPartWhereItIs(filter, rel, abs, this.opened.realRoot, isDir));
  }

  async #classify(
    dirent: Dirent,
    parentRel: string,
    parentAbs: string,
    chain: DirChain | undefined,
    markers: MarkerCache,
  ): Promise<Entry | undefined> {
    const { followSymlinks } = this.options;
    const name = dirent.name;
    const rel = parentRel === '' ? name : `${parentRel}/${name}`;
    const abs = pathUnder(parentAbs, name);
    if (dirent.isDirectory()) {
      return this.#takes(rel, abs, true)
        ? { key: entryKey(name, true), rel, abs, type: 'dir', chain: chain && { real: abs, parent: chain } }
        : undefined;
    }
    if (dirent.isFile()) return this.#takes(rel, abs, false) ? { key: name, rel, abs, type: 'file' } : undefined;
    if (dirent.isSymbolicLink()) {
      if (!this.#takes(rel, abs, false) && !this.#takes(rel, abs, true)) return undefined;
      if (!followSymlinks || chain === undefined) return { key: name, rel, abs, type: 'skipped', reason: 'symlink' };
      return this.#followed(name, rel, abs, chain, markers);
    }
    return this.#takes(rel, abs, false) ? { key: name, rel, abs, type: 'skipped', reason: specialReason(dirent) } : undefined;
  }

  /** A symlink the walk follows: a directory to walk, a file to take, or why not (as resolveLink says). */
  async #followed(name: string, rel: string, abs: string, chain: DirChain, markers: MarkerCache): Promise<Entry | undefined> {
    const target = await resolveLink(rel, abs, this.opened.realRoot, chain, this.options.filter, markers);
    switch (target.kind) {
      // The link itself must take part where it lies too (#takes: a link inside a followed folder), as statOne asks.
      case 'dir':
        return this.#takes(rel, abs, true)
          ? { key: entryKey(name, true), rel, abs: target.real, type: 'dir', chain: { real: target.real, parent: chain } }
          : undefined;
      case 'file':
        return this.#takes(rel, abs, false) ? { key: name, rel, abs: target.real, type: 'link-file', info: target.info } : undefined;
      case 'skipped':
        return { key: name, rel, abs, type: 'skipped', reason: target.reason };
      case 'problem':
        return target.taken.kind === 'problem' ? { key: name, rel, abs, type: 'problem', problem: target.taken.problem } : undefined;
      case 'missing':
        return undefined;
    }
  }
}

function itemOf(entry: Entry): WalkItem {
  switch (entry.type) {
    case 'file':
      return { kind: 'file', path: entry.rel, abs: entry.abs };
    case 'link-file':
      return { kind: 'file', path: entry.rel, abs: entry.abs, target: { real: entry.abs, info: entry.info! } };
    case 'problem':
      return { kind: 'problem', problem: entry.problem! };
    default:
      return { kind: 'skipped', path: entry.rel, reason: entry.reason ?? 'not a regular file' };
  }
}
