// A listing page by page, whatever the contract's cursors: each cursor used once (a server that
// hands one out again would make the listing loop forever, files-api.md), and with `readAhead` the
// next page asked for while the caller handles this one, so the server works while the client does.
import { createHash } from 'node:crypto';
import { ResponseFormatError } from './errors.js';
import type { FileMetadata, ListOptions } from './types.js';
import { ExitCode } from '../errors.js';

/** One page of a listing: its files, and the cursor of the next (none: the last page). */
export interface ListPage {
  files: FileMetadata[];
  next: string | undefined;
}

/** Reads the page after a cursor (undefined: the first). */
export type ReadPage = (cursor: string | undefined, signal: AbortSignal) => Promise<ListPage>;

/**
 * Every file of every page, in order. A page asked for ahead and not read (the caller stopped, or
 * the listing failed) is abandoned; its failure reaches the caller only where the caller gets to it.
 */
export async function* listPages(read: ReadPage, options: ListOptions): AsyncGenerator<FileMetadata, void, undefined> {
  const seen = new Set<string>();
  const abandon = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, abandon.signal]) : abandon.signal;
  let next: Promise<ListPage> | undefined = read(undefined, signal);
  // The ids of the page before: a page made only of them is not the next page (a server handing
  // the same page out under fresh cursors would make the listing go on for ever); a file met again
  // on the next page (a pager by offset on a busy workspace) is handed out once.
  let before = new Set<string>();
  // A digest of each page met (not its ids: ~60 bytes a page, 10,000 pages for a million files): a
  // page handed out again, however far back, brings nothing new (pages going round, A, B, A, B…).
  const pages = new Set<string>();
  let empty = 0;
  try {
    while (next !== undefined) {
      const page: ListPage = await next;
      next = undefined;
      const digest = page.files.length > 0 ? pageDigest(page.files) : null;
      const again = digest !== null && pages.has(digest);
      if (digest !== null) pages.add(digest);
      const fresh = again ? [] : page.files.filter((f) => !before.has(f.id));
      // A page with nothing new, but a next one: once, a pager by offset; again and again, a loop.
      empty = fresh.length === 0 && page.next !== undefined ? empty + 1 : 0;
      if (empty > MAX_EMPTY_PAGES) throw looping(`pages with nothing new (${empty} in a row)`);
      before = new Set(page.files.map((f) => f.id));
      if (page.next !== undefined) {
        if (seen.has(page.next)) throw looping(`a cursor already used (${page.next})`);
        seen.add(page.next);
      }
      const ahead = options.readAhead === true && page.next !== undefined ? read(page.next, signal) : undefined;
      // Met when awaited; one abandoned by a caller that stopped is no failure.
      ahead?.catch(() => undefined);
      yield* fresh;
      next = ahead ?? (page.next === undefined ? undefined : read(page.next, signal));
    }
  } finally {
    abandon.abort();
  }
}

/** A page's ids, in order, as one digest. */
function pageDigest(files: readonly FileMetadata[]): string {
  const hash = createHash('sha256');
  for (const f of files) hash.update(f.id).update('\n');
  return hash.digest('base64');
}

/** Pages in a row with nothing new (empty, or the page before again), each with a next cursor, before the listing is taken to go round. */
const MAX_EMPTY_PAGES = 10;

/** The error of a listing that goes round: it stops instead of looping. */
function looping(what: string): ResponseFormatError {
  return new ResponseFormatError('list answer', 'page', `new: it repeats ${what}; stopping instead of looping`, {
    exitCode: ExitCode.unavailable,
  });
}
