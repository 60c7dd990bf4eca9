// Where file content and the metadata index live: in memory, or on disk in a data directory.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';

/** The stored record of one file (metadata as the API shows it, plus what the emulator needs). */
export interface StoredFile {
  id: string;
  filename: string;
  mime_type: string;
  size_bytes: number;
  /** Creation time in microseconds since the epoch; strictly increasing in creation order. */
  created_micros: number;
  downloadable: boolean;
  sha256: string;
  owner: string;
  scope_id: string | null;
  /** When the content expires (GA `expires_in_seconds`), in microseconds; absent or null: never. */
  expires_micros?: number | null;
}

/** One line of the on-disk index: a stored file, or the tombstone of a deleted one. */
export type IndexEntry = { op: 'put'; file: StoredFile } | { op: 'del'; id: string; created_micros: number };

/** What a backend found at start: live files in creation order and the tombstones of deleted ones. */
export interface Loaded {
  files: StoredFile[];
  tombstones: Map<string, number>;
}

/**
 * A writable that takes an upload's bytes, hashing them as they pass. After it finishes, `commit`
 * keeps the content under an id and `discard` throws it away; one of the two must be called.
 */
export abstract class ContentSink extends Writable {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;

  /** Bytes written so far. */
  get bytes(): number {
    return this.count;
  }

  /** Hex sha256 of everything written; call once, after `finish`. */
  digest(): string {
    return this.hash.digest('hex');
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    this.keep(chunk).then(() => callback(), callback);
  }

  protected abstract keep(chunk: Buffer): Promise<void>;
  abstract commit(id: string): Promise<void>;
  abstract discard(): Promise<void>;
}

/** Storage of content and index; the file store above it keeps the metadata in memory. */
export interface Backend {
  load(): Promise<Loaded>;
  createSink(): ContentSink;
  /** Stores content given whole (seeding). */
  putSync(id: string, content: Buffer): void;
  /** Appends to the index (a no-op in memory). */
  record(entry: IndexEntry): void;
  read(id: string): Readable;
  remove(id: string): void;
  close(): Promise<void>;
}

class DiskSink extends ContentSink {
  private handle: fs.promises.FileHandle | undefined;
  constructor(
    private readonly tmpPath: string,
    private readonly contentPath: (id: string) => string,
  ) {
    super();
  }
  override _construct(callback: (error?: Error | null) => void): void {
    fs.promises.open(this.tmpPath, 'wx').then((h) => {
      this.handle = h;
      callback();
    }, callback);
  }
  protected async keep(chunk: Buffer): Promise<void> {
    await this.handle?.write(chunk);
  }
  override _final(callback: (error?: Error | null) => void): void {
    const h = this.handle;
    this.handle = undefined;
    (h ? h.close() : Promise.resolve()).then(() => callback(), callback);
  }
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const h = this.handle;
    this.handle = undefined;
    (h ? h.close() : Promise.resolve()).then(
      () => callback(error),
      () => callback(error),
    );
  }
  async commit(id: string): Promise<void> {
    await fs.promises.rename(this.tmpPath, this.contentPath(id));
  }
  async discard(): Promise<void> {
    // Wait for the handle to close (destroy waits for a pending open), or the file could appear
    // after the rm.
    if (!this.closed) await new Promise<void>((resolve) => this.once('close', resolve).destroy());
    await fs.promises.rm(this.tmpPath, { force: true });
  }
}

/** The file that marks a data directory as the emulator's own (written when it adopts an empty one). */
export const DATA_DIR_MARKER = '.files-sync-emulator';

/** The data directory holds files the emulator did not write: it is not used, and nothing in it is touched. */
export class DataDirError extends Error {
  override name = 'DataDirError';
}

/**
 * Adopts `dataDir` only when it is new, empty or marked as the emulator's own, because loading
 * removes `tmp/` and every file of `content/` the index does not name; marks a new one.
 */
async function adoptDataDir(dataDir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fs.promises.readdir(dataDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new DataDirError(`cannot open the data directory ${dataDir}: ${(err as Error).message}`, { cause: err });
    }
    await fs.promises.mkdir(dataDir, { recursive: true, mode: 0o700 });
    entries = [];
  }
  if (entries.includes(DATA_DIR_MARKER)) {
    const marker = await fs.promises.lstat(path.join(dataDir, DATA_DIR_MARKER));
    if (marker.isFile()) return;
  } else if (entries.length === 0) {
    await fs.promises.writeFile(
      path.join(dataDir, DATA_DIR_MARKER),
      'files-sync emulator data directory: the emulator owns every file here\n',
      { flag: 'wx' },
    );
    return;
  }
  throw new DataDirError(
    `the data directory ${dataDir} is not empty and is not the emulator's own (it has no ${DATA_DIR_MARKER} file); ` +
      'the emulator deletes files it did not write in its data directory, so it refuses this one: give a new or empty directory',
  );
}

/**
 * Content in `DIR/content/<id>`, uploads in progress in `DIR/tmp/`, metadata in `DIR/index.jsonl`:
 * one JSON line per put or delete, appended with a single write each. At start the index is read
 * (a torn last line is skipped), rewritten compacted to a temp file and renamed over the old one, so
 * the index on disk is always whole; content files the index does not name are removed. Only a
 * directory the emulator adopted (see `adoptDataDir`) is used.
 */
export class DiskBackend implements Backend {
  private readonly contentDir: string;
  private readonly tmpDir: string;
  private readonly indexPath: string;
  private fd: number | undefined;

  constructor(dataDir: string) {
    this.contentDir = path.join(dataDir, 'content');
    this.tmpDir = path.join(dataDir, 'tmp');
    this.indexPath = path.join(dataDir, 'index.jsonl');
  }

  async load(): Promise<Loaded> {
    await adoptDataDir(path.dirname(this.indexPath));
    await fs.promises.rm(this.tmpDir, { recursive: true, force: true });
    await fs.promises.mkdir(this.tmpDir, { recursive: true });
    await fs.promises.mkdir(this.contentDir, { recursive: true });
    const live = new Map<string, StoredFile>();
    const tombstones = new Map<string, number>();
    let text = '';
    try {
      text = await fs.promises.readFile(this.indexPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const line of text.split('\n')) {
      const entry = parseEntry(line);
      if (entry?.op === 'put') live.set(entry.file.id, entry.file);
      else if (entry?.op === 'del') {
        live.delete(entry.id);
        tombstones.set(entry.id, entry.created_micros);
      }
    }
    const present = new Set(await fs.promises.readdir(this.contentDir));
    for (const [id] of live) if (!present.has(id)) live.delete(id);
    for (const name of present) if (!live.has(name)) await fs.promises.rm(path.join(this.contentDir, name), { force: true });
    const files = [...live.values()].sort((a, b) => a.created_micros - b.created_micros);
    const compacted = [
      ...[...tombstones].map(([id, created_micros]): IndexEntry => ({ op: 'del', id, created_micros })),
      ...files.map((file): IndexEntry => ({ op: 'put', file })),
    ];
    const tmp = path.join(this.tmpDir, 'index.jsonl');
    await fs.promises.writeFile(tmp, compacted.map((e) => `${JSON.stringify(e)}\n`).join(''));
    await fs.promises.rename(tmp, this.indexPath);
    this.fd = fs.openSync(this.indexPath, 'a');
    return { files, tombstones };
  }

  createSink(): ContentSink {
    const tmp = path.join(this.tmpDir, `${randomBytes(12).toString('hex')}.part`);
    return new DiskSink(tmp, (id) => this.contentPath(id));
  }

  putSync(id: string, content: Buffer): void {
    const tmp = path.join(this.tmpDir, `${randomBytes(12).toString('hex')}.part`);
    fs.writeFileSync(tmp, content);
    fs.renameSync(tmp, this.contentPath(id));
  }

  record(entry: IndexEntry): void {
    if (this.fd === undefined) throw new Error('emulator storage is closed');
    fs.writeSync(this.fd, `${JSON.stringify(entry)}\n`);
  }

  read(id: string): Readable {
    return fs.createReadStream(this.contentPath(id));
  }

  remove(id: string): void {
    fs.rmSync(this.contentPath(id), { force: true });
  }

  close(): Promise<void> {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    return Promise.resolve();
  }

  private contentPath(id: string): string {
    // Ids are generated here (`file_` + base62), so they are safe as file names.
    return path.join(this.contentDir, id);
  }
}

function parseEntry(line: string): IndexEntry | undefined {
  if (!line.trim()) return undefined;
  try {
    const entry = JSON.parse(line) as IndexEntry;
    if (entry.op === 'put' && typeof entry.file?.id === 'string') return entry;
    if (entry.op === 'del' && typeof entry.id === 'string') return entry;
  } catch {
    // A line torn by a crash mid-append: skip it.
  }
  return undefined;
}
