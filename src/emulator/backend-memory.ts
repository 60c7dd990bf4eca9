// The emulator's content in memory (the default backend): nothing survives the process.
import { Readable } from 'node:stream';
import { ContentSink, type Backend, type Loaded } from './backend.js';

/** Collects an upload, kept whole on commit. */
class MemorySink extends ContentSink {
  private chunks: Buffer[] = [];
  constructor(private readonly blobs: Map<string, Buffer>) {
    super();
  }
  protected keep(chunk: Buffer): Promise<void> {
    this.chunks.push(chunk);
    return Promise.resolve();
  }
  commit(id: string): Promise<void> {
    this.blobs.set(id, ownCopy(this.chunks));
    this.chunks = [];
    return Promise.resolve();
  }
  discard(): Promise<void> {
    this.chunks = [];
    return Promise.resolve();
  }
}

/**
 * The chunks in one buffer of its own. Not `Buffer.concat`: a small result would be a slice of
 * Node's shared 8 KiB pool, and each kept slice holds its whole slab (a million 1 KiB files then
 * held ~4.7 GB instead of ~1 GB).
 */
function ownCopy(chunks: readonly Buffer[]): Buffer {
  const out = Buffer.allocUnsafeSlow(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) at += c.copy(out, at);
  return out;
}

/** Content in a Map; nothing survives the process. */
export class MemoryBackend implements Backend {
  private readonly blobs = new Map<string, Buffer>();
  load(): Promise<Loaded> {
    return Promise.resolve({ files: [], tombstones: new Map() });
  }
  createSink(): ContentSink {
    return new MemorySink(this.blobs);
  }
  putSync(id: string, content: Buffer): void {
    this.blobs.set(id, content);
  }
  record(): void {}
  read(id: string): Readable {
    return Readable.from([this.blobs.get(id) ?? Buffer.alloc(0)]);
  }
  remove(id: string): void {
    this.blobs.delete(id);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
