// The emulator's file table: ids, creation order, listing with cursors, quota, and inspection.
import type { Readable } from 'node:stream';
import { badRequest } from './errors.js';
import type { Backend, ContentSink, StoredFile } from './backend.js';
import { formatMicros, MicroClock, newFileId } from './ids.js';
import type { ContractName } from './headers.js';
import type { InspectedFile } from './types.js';

/** FileMetadata as the API answers it. */
export interface FileMetadata {
  id: string;
  type: 'file';
  filename: string;
  mime_type: string;
  size_bytes: number;
  created_at: string;
  downloadable: boolean;
  scope: { id: string; type: 'session' } | null;
  /** GA only: when the content expires (RFC 3339), or null. */
  expires_at?: string | null;
}

/** A list page as the API answers it. */
export interface FileListPage {
  data: FileMetadata[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** List parameters, already validated. */
export interface ListQuery {
  limit: number;
  afterId?: string;
  beforeId?: string;
  scopeId?: string;
}

/** What a new file needs besides its content. */
export interface NewFile {
  filename: string;
  mime_type: string;
  downloadable: boolean;
  owner: string;
  scope_id: string | null;
  /** GA uploads: the content expires this long after the file's creation. */
  expires_in_seconds?: number;
}

/** The API view of a stored file, in the shape of the contract asked for (GA adds `expires_at`). */
export function toMetadata(f: StoredFile, contract: ContractName = 'beta'): FileMetadata {
  const meta: FileMetadata = {
    id: f.id,
    type: 'file',
    filename: f.filename,
    mime_type: f.mime_type,
    size_bytes: f.size_bytes,
    created_at: formatMicros(f.created_micros),
    downloadable: f.downloadable,
    scope: f.scope_id === null ? null : { id: f.scope_id, type: 'session' },
  };
  if (contract === 'ga') meta.expires_at = f.expires_micros == null ? null : formatMicros(f.expires_micros);
  return meta;
}

/** The inspection view of a stored file. */
export function toInspected(f: StoredFile): InspectedFile {
  const out: InspectedFile = {
    id: f.id,
    filename: f.filename,
    mime_type: f.mime_type,
    size_bytes: f.size_bytes,
    created_at: formatMicros(f.created_micros),
    downloadable: f.downloadable,
    sha256: f.sha256,
    owner: f.owner,
  };
  if (f.scope_id !== null) out.scope_id = f.scope_id;
  if (f.expires_micros != null) out.expires_at = formatMicros(f.expires_micros);
  return out;
}

/**
 * Files in creation order (oldest first, `created_micros` strictly increasing) over a content
 * backend. Deleted ids keep their creation time as a tombstone so that they still work as list
 * cursors: a client that deletes the last file of a page can still ask for the next one.
 */
export class FileStore {
  private readonly byId = new Map<string, StoredFile>();
  /** Live files, oldest first. */
  private readonly ordered: StoredFile[] = [];
  private readonly tombstones = new Map<string, number>();
  /**
   * Deleted files the listing still shows, oldest first, each until the wall-clock time given
   * (`delete` with a lag): gone for every other route.
   */
  private lingering: { file: StoredFile; until: number }[] = [];
  /** The clock of `created_at` (and of the `Date` header). */
  readonly clock = new MicroClock();
  private used = 0;

  private constructor(
    private readonly backend: Backend,
    private readonly quotaBytes: number,
  ) {}

  /** Opens a store, loading what the backend holds. */
  static async open(backend: Backend, quotaBytes: number): Promise<FileStore> {
    const store = new FileStore(backend, quotaBytes);
    const loaded = await backend.load();
    for (const f of loaded.files) store.insert(f);
    for (const [id, micros] of loaded.tombstones) {
      store.tombstones.set(id, micros);
      store.clock.observe(micros);
    }
    return store;
  }

  get usedBytes(): number {
    return this.used;
  }

  get(id: string): StoredFile | undefined {
    return this.byId.get(id);
  }

  /** Every live file, oldest first. */
  all(): StoredFile[] {
    return [...this.ordered];
  }

  /** The live files, oldest first, without a copy: read, never change. */
  get live(): readonly StoredFile[] {
    return this.ordered;
  }

  /** The emulator's clock, in microseconds (ahead of the wall clock once advanced). */
  nowMicros(): number {
    return this.clock.peek();
  }

  /** Moves the emulator's clock ahead by `ms` (tests: expiry). */
  advanceClock(ms: number): void {
    this.clock.advance(ms);
  }

  /** Whether a file's `expires_at` has passed on the emulator's clock. */
  isExpired(f: StoredFile): boolean {
    return f.expires_micros != null && f.expires_micros <= this.clock.peek();
  }

  /** Gives a file an expiry `seconds` from now on the emulator's clock; false when no such file. */
  expire(id: string, seconds: number): boolean {
    const f = this.byId.get(id);
    if (!f) return false;
    f.expires_micros = this.clock.peek() + Math.round(seconds * 1e6);
    this.backend.record({ op: 'put', file: f });
    return true;
  }

  /** Drops the content of an expired file (its metadata stays, as the API keeps it). */
  dropContent(id: string): void {
    this.backend.remove(id);
  }

  createSink(): ContentSink {
    return this.backend.createSink();
  }

  /** Whether `bytes` more would exceed the storage quota. */
  wouldExceedQuota(bytes: number): boolean {
    return this.used + bytes > this.quotaBytes;
  }

  /** Keeps a finished upload as a new file; the sink must have finished. */
  async commit(sink: ContentSink, file: NewFile): Promise<StoredFile> {
    const id = newFileId();
    const sha256 = sink.digest();
    await sink.commit(id);
    const created = this.clock.now();
    const { expires_in_seconds: expiresIn, ...rest } = file;
    const stored: StoredFile = { ...rest, id, size_bytes: sink.bytes, sha256, created_micros: created };
    // `expires_at` is the upload time plus the value (files-api.md), on the creation stamp.
    if (expiresIn !== undefined) stored.expires_micros = created + expiresIn * 1e6;
    this.backend.record({ op: 'put', file: stored });
    this.insert(stored);
    return stored;
  }

  /** Stores a file given whole (seeding); synchronous. */
  putSync(content: Buffer, file: NewFile, sha256: string): StoredFile {
    const id = newFileId();
    this.backend.putSync(id, content);
    const stored: StoredFile = { ...file, id, size_bytes: content.length, sha256, created_micros: this.clock.now() };
    this.backend.record({ op: 'put', file: stored });
    this.insert(stored);
    return stored;
  }

  /**
   * The files a listing shows, oldest first: the live ones, and the deleted ones whose list lag
   * has not run out yet (`delete`).
   */
  listed(now = Date.now()): readonly StoredFile[] {
    if (this.lingering.length === 0) return this.ordered;
    this.lingering = this.lingering.filter((l) => l.until > now);
    if (this.lingering.length === 0) return this.ordered;
    return [...this.ordered, ...this.lingering.map((l) => l.file)].sort((a, b) => a.created_micros - b.created_micros);
  }

  /**
   * Deletes a file; false when no live file has that id. With `listLagMs`, listings still show it
   * for that long; every other route answers 404 at once.
   */
  delete(id: string, listLagMs = 0): boolean {
    const f = this.byId.get(id);
    if (!f) return false;
    this.backend.record({ op: 'del', id, created_micros: f.created_micros });
    this.backend.remove(id);
    this.byId.delete(id);
    const i = this.indexOf(f.created_micros);
    if (this.ordered[i]?.id === id) this.ordered.splice(i, 1);
    this.tombstones.set(id, f.created_micros);
    this.used -= f.size_bytes;
    if (listLagMs > 0) this.lingering.push({ file: f, until: Date.now() + listLagMs });
    return true;
  }

  read(id: string): Readable {
    return this.backend.read(id);
  }

  /**
   * One page, newest first. `after_id`: the files just older than that id; `before_id`: the files
   * just newer than it (still newest first), so paging with `before_id = first_id` walks back
   * towards the newest file. `has_more` says whether more files lie beyond the page in the
   * direction of travel. A cursor may name a deleted file (its tombstone keeps its place); an id
   * the emulator never issued is a 400.
   */
  list(q: ListQuery): FileListPage {
    let pool = this.listed();
    if (q.scopeId !== undefined) pool = pool.filter((f) => f.scope_id === q.scopeId);
    let page: StoredFile[];
    let hasMore: boolean;
    if (q.beforeId !== undefined) {
      const start = lowerBound(pool, this.cursor(q.beforeId, 'before_id') + 1);
      page = pool.slice(start, start + q.limit);
      hasMore = pool.length - start > q.limit;
    } else {
      const end = q.afterId !== undefined ? lowerBound(pool, this.cursor(q.afterId, 'after_id')) : pool.length;
      page = pool.slice(Math.max(0, end - q.limit), end);
      hasMore = end > q.limit;
    }
    const data = page.reverse().map((f) => toMetadata(f));
    return { data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null, has_more: hasMore };
  }

  close(): Promise<void> {
    return this.backend.close();
  }

  private cursor(id: string, name: string): number {
    const micros = this.byId.get(id)?.created_micros ?? this.tombstones.get(id);
    if (micros === undefined) throw badRequest(`${name}: no file with id ${JSON.stringify(id)}`);
    return micros;
  }

  private insert(f: StoredFile): void {
    // Creation times only grow, so appending keeps the order; loaded files arrive sorted.
    this.ordered.push(f);
    this.byId.set(f.id, f);
    this.used += f.size_bytes;
    this.clock.observe(f.created_micros);
  }

  private indexOf(micros: number): number {
    return lowerBound(this.ordered, micros);
  }
}

/** First index in `files` (oldest first) whose creation time is >= `micros`. */
function lowerBound(files: readonly StoredFile[], micros: number): number {
  let lo = 0;
  let hi = files.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((files[mid]?.created_micros ?? Infinity) < micros) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
