// The walk's building blocks that touch no walk state: listing one directory safely, naming why a
// directory was lost, and the bounded pool that takes the walk's files.
import type { Dirent, Stats } from 'node:fs';
import { lstat, readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { FileConditionError } from '../file-errors.js';
import { STATE_MARKER } from '../private.js';
import { openDirInRoot } from '../safe-open.js';
import { fsCode, fsReason, undecodable } from './entry.js';
import { type StateMarkerVerdict, markerAt } from './state-marker.js';
import type { LocalProblem, PathFilter } from './types.js';

/** A folder's entries, and whether it holds files-sync's state marker. */
export interface Listed {
  entries: Dirent[];
  marker: StateMarkerVerdict;
}

/**
 * Lists the directory whose real path is `abs` through a descriptor opened without following a
 * link and checked to be at `abs` (open.ts), so a directory swapped for a link, or reached through
 * a swapped parent, is refused instead of listing another folder under this one's name. The state
 * marker is looked at (an lstat, through the same descriptor) only when its name is listed.
 */
export async function listDirectory(abs: string): Promise<Listed> {
  const dir = await openDirInRoot(abs, abs);
  let listed: Listed;
  try {
    const entries = await readdir(dir.listPath, { withFileTypes: true });
    const named = entries.some((entry) => entry.name === STATE_MARKER);
    listed = { entries, marker: named ? await markerAt(join(dir.listPath, STATE_MARKER), () => Promise.resolve(dir.stats)) : 'none' };
  } catch (err) {
    // The listing's own error is the one to report; closing may only add "it changed" to it.
    await dir.close().catch(() => undefined);
    throw err;
  }
  await dir.close();
  return listed;
}

/**
 * The folders at `dir` (relative to `root`; '' is the root) and beneath it that the filter takes,
 * depth first, each listed as the walk lists it (`listDirectory`, rule 8). A folder below the root
 * holding files-sync's state marker is left out with all beneath it (rule 9); one that cannot be
 * listed comes with `entries` null. Nothing when the root itself is gone. The daemon's listings
 * (a new folder's files, the folders to watch) go through here.
 */
export async function* foldersUnder(
  root: string,
  dir: string,
  filter: PathFilter,
): AsyncGenerator<{ rel: string; entries: Dirent[] | null }> {
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch {
    return;
  }
  const pending = [dir];
  while (pending.length > 0) {
    const rel = pending.pop()!;
    let listed: Listed;
    try {
      listed = await listDirectory(join(realRoot, rel));
    } catch {
      yield { rel, entries: null }; // gone again, or unreadable: its job or the next reconciliation says why
      continue;
    }
    if (rel !== '' && listed.marker === 'ours') continue;
    yield { rel, entries: listed.entries };
    for (const entry of listed.entries) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory() && filter(child, true)) pending.push(child);
    }
  }
}

/**
 * One entry per name. A name that is not valid UTF-8 reads, in Node, as text holding U+FFFD, so
 * it may read as a sibling's name (a valid one holding U+FFFD, or another invalid one): the walk
 * must not name one path twice (two uploads of one path, a folder taken for a file and the scan
 * lost). Of entries that read alike, the one kept is of the type the text opens (an lstat of it),
 * so a valid name is taken as what it is; when none opens, any one (its take or listing then says
 * the name does not decode). `dropped`: the entries left out, never read.
 */
export async function oneEntryPerName(dirents: Dirent[], parentAbs: string): Promise<{ entries: Dirent[]; dropped: number }> {
  const alike = new Map<string, Dirent[]>();
  let twice = false;
  for (const dirent of dirents) {
    if (!undecodable(dirent.name)) continue;
    const group = alike.get(dirent.name);
    if (group === undefined) alike.set(dirent.name, [dirent]);
    else {
      group.push(dirent);
      twice = true;
    }
  }
  if (!twice) return { entries: dirents, dropped: 0 };
  const kept = new Set<Dirent>();
  for (const [name, group] of alike) kept.add(group.length === 1 ? group[0]! : await openedBy(join(parentAbs, name), group));
  const entries = dirents.filter((dirent) => !undecodable(dirent.name) || kept.has(dirent));
  return { entries, dropped: dirents.length - entries.length };
}

/** The entry of `group` whose type is what `abs` (their common text) opens; the first when it opens nothing. */
async function openedBy(abs: string, group: Dirent[]): Promise<Dirent> {
  let info: Stats;
  try {
    info = await lstat(abs);
  } catch {
    return group[0]!;
  }
  const same = (d: Dirent) =>
    d.isFile() === info.isFile() && d.isDirectory() === info.isDirectory() && d.isSymbolicLink() === info.isSymbolicLink();
  return group.find(same) ?? group[0]!;
}

/** Why a directory could not be listed: the problem to record, and the RootError reason for the root. */
export function lostDirectory(rel: string, err: unknown): { problem: LocalProblem; rootReason: 'missing' | 'unreadable' | 'changed' } {
  if (err instanceof FileConditionError) return { problem: { path: rel, kind: 'changing', reason: err.message }, rootReason: 'changed' };
  const code = fsCode(err);
  if (code === undefined) throw err;
  if (undecodable(rel))
    return {
      problem: { path: rel, kind: 'unreadable', reason: 'the name is not valid UTF-8' },
      rootReason: 'unreadable',
    };
  if (code === 'ENOENT')
    return {
      problem: { path: rel, kind: 'changing', reason: 'the folder vanished or was renamed during the scan' },
      rootReason: 'missing',
    };
  return {
    problem: { path: rel, kind: 'unreadable', reason: fsReason(code, err) },
    rootReason: 'unreadable',
  };
}

/**
 * The longest (ms) a run of items keeps the event loop before it lets timers and I/O callbacks
 * run. Small files are taken with synchronous reads, so a chain of them never waits on the loop:
 * without a turn now and then, uploads the items queued could not even connect (a 10,000-file
 * sync sent its first request 400 ms after queuing it).
 */
const TURN_MS = 5;

/**
 * Runs `run` on each item of `source` with at most `concurrency` in flight, pulling the next item
 * only when a slot is free (so a streamed source is never read far ahead), and giving the event
 * loop a turn every TURN_MS. On a failure no item starts any more; the promise rejects once the
 * runs in flight have settled, so nothing outlives it.
 */
export async function forEachConcurrent<T>(
  source: AsyncIterable<T> | Iterable<T>,
  concurrency: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  const limit = Math.max(1, Math.floor(concurrency));
  let running = 0;
  let failure: { error: unknown } | undefined;
  // One waiter for a free slot (not a race over every run: that is a reaction per run per item).
  let freed: (() => void) | undefined;
  let idle: (() => void) | undefined;
  const settle = () => {
    running--;
    freed?.();
    if (running === 0) idle?.();
  };
  let turnAt = performance.now();
  try {
    for await (const item of source) {
      if (performance.now() - turnAt >= TURN_MS) {
        await nextTurn();
        turnAt = performance.now();
        // A run may have failed during the turn: then this item does not start.
        if (failure !== undefined) break;
      }
      running++;
      run(item).then(settle, (error: unknown) => {
        failure ??= { error };
        settle();
      });
      while (running >= limit && failure === undefined) await new Promise<void>((resolve) => (freed = resolve));
      freed = undefined;
      if (failure !== undefined) break;
    }
  } catch (error) {
    failure ??= { error };
  }
  if (running > 0) await new Promise<void>((resolve) => (idle = resolve));
  if (failure !== undefined) throw failure.error;
}
