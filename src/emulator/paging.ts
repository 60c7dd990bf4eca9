// The GA listing (2026-08-19): `page`/`next_page` cursors, `limit`, and `ids[]` look-ups.
import { badRequest } from './errors.js';
import type { StoredFile } from './backend.js';
import { toMetadata, type FileMetadata, type FileStore } from './store.js';

/** A GA list page as the API answers it. */
export interface GaListPage {
  data: FileMetadata[];
  next_page: string | null;
}

/** The most ids one look-up takes, after de-duplication (files-api.md). */
export const MAX_LOOKUP_IDS = 100;

/** GA list parameters, already validated: a page of the listing, or a look-up. */
export type GaListQuery = { kind: 'page'; limit: number; before?: Position } | { kind: 'ids'; ids: string[] };

/** A place in the listing: just before (older than) the file created at `micros` with `id`. */
export interface Position {
  micros: number;
  id: string;
}

const CURSOR_PREFIX = 'page_';

/**
 * An opaque cursor for "the files older than this one". It encodes the position by (creation
 * time, id), not an index, so it stays right while files are added or deleted between pages: a
 * new file is newer than every page already handed out, and a deleted one leaves no hole.
 */
export function encodeCursor(p: Position): string {
  return CURSOR_PREFIX + Buffer.from(`${p.micros}.${p.id}`, 'utf8').toString('base64url');
}

/** The position a cursor names; a 400 for anything this emulator did not hand out. */
export function decodeCursor(cursor: string): Position {
  const invalid = () => badRequest(`page: ${JSON.stringify(cursor.slice(0, 80))} is not a valid page cursor`);
  if (!cursor.startsWith(CURSOR_PREFIX)) throw invalid();
  const text = Buffer.from(cursor.slice(CURSOR_PREFIX.length), 'base64url').toString('utf8');
  const m = /^(\d{1,17})\.(file_[0-9A-Za-z]{1,64})$/.exec(text);
  if (!m?.[1] || !m[2]) throw invalid();
  return { micros: Number(m[1]), id: m[2] };
}

/**
 * Parses GA list parameters. `before_id`/`after_id` are beta parameters (400 without the beta
 * header); `ids[]` takes 1 to 100 distinct ids and cannot be combined with `page` or `limit`.
 */
export function gaListQuery(params: URLSearchParams): GaListQuery {
  for (const beta of ['before_id', 'after_id']) {
    if (params.has(beta))
      throw badRequest(`${beta}: not a parameter of this API version; page with \`page\` (send the files beta header for the beta shapes)`);
  }
  const page = params.get('page');
  const limit = params.get('limit');
  if (params.has('ids[]')) {
    if (page !== null || limit !== null) throw badRequest('ids: cannot be combined with `page` or `limit`');
    const ids = [...new Set(params.getAll('ids[]').filter((id) => id !== ''))];
    if (ids.length === 0) throw badRequest('ids: must name at least one file id');
    if (ids.length > MAX_LOOKUP_IDS) throw badRequest(`ids: at most ${MAX_LOOKUP_IDS} ids (got ${ids.length})`);
    return { kind: 'ids', ids };
  }
  let n = 20;
  if (limit !== null) {
    n = /^\d{1,7}$/.test(limit) ? Number(limit) : NaN;
    if (!(n >= 1 && n <= 1000)) throw badRequest('limit: Input should be an integer between 1 and 1000');
  }
  return page !== null && page !== '' ? { kind: 'page', limit: n, before: decodeCursor(page) } : { kind: 'page', limit: n };
}

/**
 * Answers a GA listing, newest first. A page holds the `limit` files just older than the cursor;
 * `next_page` is null on the last page (the 1.x SDK keeps paging while it is truthy). A look-up
 * answers the live files among the ids (unknown and deleted ones left out), newest first, in one
 * page. Expired files still list: only their content is gone (files-api.md); so do deleted ones
 * for the store's list lag, but not in look-ups.
 */
export function gaList(store: FileStore, q: GaListQuery): GaListPage {
  const pool = store.listed();
  if (q.kind === 'ids') {
    const files = q.ids.map((id) => store.get(id)).filter((f): f is StoredFile => f !== undefined);
    files.sort((a, b) => b.created_micros - a.created_micros);
    return { data: files.map((f) => toMetadata(f, 'ga')), next_page: null };
  }
  const end = q.before === undefined ? pool.length : olderThan(pool, q.before);
  const start = Math.max(0, end - q.limit);
  const page = pool.slice(start, end).reverse();
  const last = page[page.length - 1];
  return {
    data: page.map((f) => toMetadata(f, 'ga')),
    next_page: start > 0 && last ? encodeCursor({ micros: last.created_micros, id: last.id }) : null,
  };
}

/** How many files of `pool` (oldest first) come before `p` in (creation time, id) order. */
function olderThan(pool: readonly StoredFile[], p: Position): number {
  let lo = 0;
  let hi = pool.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const f = pool[mid]!;
    if (f.created_micros < p.micros || (f.created_micros === p.micros && f.id < p.id)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
