// `adopt`'s scan: the remote listing streamed into a temp table, then the sorted walk, each path the
// ledger does not know looked up there by its remote name and size (a stat, no hash), the matches
// paired in SQL and judged one-to-one as `adoptable` judges them. Memory holds a listing page and
// the folders being walked, not the tree.
import { lstat, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { AdoptTables, ListedFile } from '../ledger/adopt-tables.js';
import { fsCode, undecodable } from '../local/entry.js';
import type { SortedWalk, WalkItem } from '../local/sorted-walk.js';
import { forEachConcurrent } from '../local/walk-steps.js';
import type { Logger } from '../log.js';

/** Listed files added to the temp table per transaction. */
const LIST_BATCH = 1000;
/** Matched paths paired in one transaction. */
const PAIR_BATCH = 500;
/** Paths stat'ed at once while the walk goes on. */
const STAT_CONCURRENCY = 16;

/** What the scan needs. */
export interface AdoptScanInput {
  tables: AdoptTables;
  /** The workspace's files, streamed (the client's `list()`). */
  listing: AsyncIterable<ListedFile>;
  walk: SortedWalk;
  /** The remote name files-sync gives a path (names.ts `nameFor(config)`). */
  remoteName: (relPath: string) => string;
  /** Files over this size are never synced, so never adopted (nor read). */
  maxFileBytes: number;
  logger: Logger;
  /** Paths walked so far, as the walk goes. */
  onProgress?: ((walked: number) => void) | undefined;
}

/** What the scan found: the verdict's counts, and whether the walk saw every folder. */
export interface AdoptScan {
  listed: number;
  walked: number;
  take: number;
  ambiguous: number;
  /** Bytes of the files to take (what the take-over reads). */
  takeBytes: number;
  complete: boolean;
}

/**
 * Loads the listing, walks, pairs and decides. Rejects with the listing's or the walk's error
 * (RootError); the tables then hold a partial scan and must not be decided on.
 */
export async function scanForAdoption(input: AdoptScanInput): Promise<AdoptScan> {
  const { tables } = input;
  await loadListing(tables, input.listing);
  const listed = tables.listedCount();
  let walked = 0;
  // Nothing unowned to adopt: the walk cannot find a match, so it is not made.
  if (listed > 0) {
    const batch: Matched[] = [];
    await forEachConcurrent(input.walk, STAT_CONCURRENCY, async (item) => {
      walked++;
      input.onProgress?.(walked);
      const matched = item.kind === 'file' ? await matchPath(input, item) : undefined;
      if (matched) batch.push(matched);
      if (batch.length >= PAIR_BATCH) tables.addPairs(batch.splice(0));
    });
    tables.addPairs(batch);
  }
  return { listed, walked, ...tables.decide(), complete: input.walk.complete };
}

async function loadListing(tables: AdoptTables, listing: AsyncIterable<ListedFile>): Promise<void> {
  let page: ListedFile[] = [];
  for await (const file of listing) {
    page.push(file);
    if (page.length >= LIST_BATCH) {
      tables.addListed(page);
      page = [];
    }
  }
  tables.addListed(page);
}

/** A walked file worth pairing: its path, remote name and what the stat saw. */
type Matched = Parameters<AdoptTables['addPairs']>[0][number];

/**
 * One walked file: skipped when the ledger knows its path or no listed file carries its name
 * (probes, no stat); else stat'ed, to be paired with the listed files of its name and size.
 */
async function matchPath(input: AdoptScanInput, item: Extract<WalkItem, { kind: 'file' }>): Promise<Matched | undefined> {
  const { tables, logger } = input;
  // Rule 9: a name that is not valid UTF-8 cannot be opened by the name Node gives it.
  if (undecodable(item.path)) {
    logger.debug('skipped', { path: item.path, reason: 'the name is not valid UTF-8' });
    return undefined;
  }
  const name = input.remoteName(item.path);
  if (!tables.worthLooking(item.path, name)) return undefined;
  const info = item.target?.info ?? (await lstatOrUndefined(item.abs, item.path, logger));
  // A symlink, FIFO or folder swapped in since the listing: the next run takes it as what it is.
  if (info === undefined || !info.isFile() || info.size > input.maxFileBytes) return undefined;
  const realPath = item.target?.real ?? item.abs;
  const { size, mtimeMs, ctimeMs, ino, dev } = info;
  // The walk's real path for the file; null when it is the usual `<real root>/<path>` (kept small).
  const seen = { size, mtimeMs, ctimeMs, ino, dev, realPath: realPath === join(input.walk.opened.realRoot, item.path) ? null : realPath };
  return { path: item.path, name, seen };
}

/** lstat, or undefined (logged) when the path cannot be stat'ed: it is not adopted this time. */
function lstatOrUndefined(abs: string, relPath: string, logger: Logger): Promise<Stats | undefined> {
  return new Promise((resolve, reject) =>
    lstat(abs, (err, stats) => {
      if (!err) return resolve(stats);
      const code = fsCode(err);
      // Not a file system error: a bug, not the folder's doing.
      if (code === undefined) return reject(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') logger.warn('cannot stat a file: not adopted', { path: relPath, reason: code });
      resolve(undefined);
    }),
  );
}
