// The multipart/form-data body of an upload, read from disk: one buffer for a small file, a stream
// of chunks for a large one. Cheaper than a file-backed Blob in a FormData (which goes through web
// streams): for 10,000 files of 4 KiB it halves the client's CPU time per upload (BENCHMARKS.md).
// Every attempt opens the file through the safe open of src/safe-open.ts (DESIGN.md rule 8).
import { randomBytes } from 'node:crypto';
import { close, fstat, read, type Stats } from 'node:fs';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { roomAround } from '../framing-room.js';
import { type Place, openFileInRoot } from '../safe-open.js';
import type { UploadOptions } from './types.js';

/** Files up to this size are read at once into one buffer with the framing; larger ones stream. */
export const INLINE_MAX_BYTES = 1 << 20;

/** Size of each read of a streamed file: enough to keep a loopback socket busy, small for RSS. */
export const STREAM_CHUNK_BYTES = 256 * 1024;

/** Receives the file's bytes as a body sends them (`SentHash`): `end` once all were sent unchanged. */
export interface ContentTap {
  update(chunk: Uint8Array): void;
  end(): void;
}

/** A request body with the headers that describe it. */
export interface MultipartBody {
  body: Buffer | Readable;
  /** `content-type` (with the boundary) and `content-length`. */
  headers: Record<string, string>;
  /** The file's size as it was when the body was built. */
  fileSize: number;
}

/**
 * The file changed (size or mtime), shrank, or vanished while its body was read: what was sent
 * would not be one version of it. The request is cut off before the body ends, so nothing is stored.
 */
export class SourceChangedError extends Error {
  override name = 'SourceChangedError';
  readonly code = 'changed';
}

const fstatFd = promisify(fstat) as (fd: number) => Promise<Stats>;
const closeFd = promisify(close);
const readFd = (fd: number, buffer: Buffer, offset: number, length: number, position: number) =>
  new Promise<number>((resolve, reject) => {
    read(fd, buffer, offset, length, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead)));
  });

/** As undici's FormData encodes a filename: `"`, CR and LF percent-escaped (WHATWG). */
function escapeQuoted(value: string): string {
  return value.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
}

/** Boundaries: 96 random bits per process and a counter, so no two bodies share one. */
const BOUNDARY_PREFIX = `----files-sync-${randomBytes(12).toString('hex')}-`;
let boundaries = 0;

/** The framing around one `file` part, as text: the part's head (UTF-8) and the tail (ASCII). */
interface Framing {
  head: string;
  headBytes: number;
  tail: string;
  contentType: string;
}

/** The framing around one `file` part: a fresh boundary, then the part's head and the tail. */
function framing(filename: string, mimeType: string): Framing {
  const boundary = `${BOUNDARY_PREFIX}${(boundaries++).toString(36)}`;
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${escapeQuoted(filename)}"\r\nContent-Type: ${mimeType}\r\n\r\n`;
  return {
    head,
    headBytes: Buffer.byteLength(head, 'utf8'),
    tail: `\r\n--${boundary}--\r\n`,
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

/**
 * One buffer for the whole body of a `size`-byte file: the head and tail written in place, the
 * content left for the caller at `headBytes` (no separate head and tail buffers, no concat: one
 * allocation a small upload).
 */
function inlineBody(frame: Framing, size: number): Buffer {
  const body = Buffer.allocUnsafe(frame.headBytes + size + frame.tail.length);
  body.write(frame.head, 0, 'utf8');
  body.write(frame.tail, frame.headBytes + size, 'latin1');
  return body;
}

/**
 * The body of `POST /v1/files` for bytes already in memory (a file the walk read and hashed):
 * framed in place when they sit in a buffer with room for the head and tail (framing-room.ts; the
 * body is then a view of that buffer), else copied into a new one.
 */
export function multipartOf(content: Buffer, filename: string, mimeType: string, tap?: ContentTap): MultipartBody {
  const frame = framing(filename, mimeType);
  tap?.update(content);
  tap?.end();
  const room = roomAround(content);
  let body: Buffer;
  if (room !== null && room.before >= frame.headBytes && room.after >= frame.tail.length) {
    body = Buffer.from(content.buffer, content.byteOffset - frame.headBytes, frame.headBytes + content.length + frame.tail.length);
    body.write(frame.head, 0, 'utf8');
    body.write(frame.tail, frame.headBytes + content.length, 'latin1');
  } else {
    body = inlineBody(frame, content.length);
    content.copy(body, frame.headBytes);
  }
  return {
    body,
    headers: { 'content-type': frame.contentType, 'content-length': String(body.length) },
    fileSize: content.length,
  };
}

/** What a safe open of the file must find: `expect`'s identity, under `expect.root` and at `expect.realPath` when given. */
function placeOf(expect: UploadOptions['expect']): Place {
  if (expect === undefined) return {};
  const { root, realPath, ...identity } = expect;
  return { ...(root !== undefined ? { realRoot: root } : {}), ...(realPath !== undefined ? { realPath } : {}), expect: identity };
}

/**
 * Builds the body of `POST /v1/files` for the file at `path`: one part named `file` with
 * `filename` and `mimeType` (a valid MIME type: the caller checks). The file is opened safely
^ * (src/safe-open.ts: never through a symlink, a regular file only, with `expect`'s size, mtime,
 * device and inode, its real path under `expect.root`); a refusal rejects with the
 * FileConditionError (code `changed`) before a byte is read, other opening errors with the file
 * system's error (ENOENT, EACCES). A small file is read now; a large one is opened again the same
 * way when the body is consumed (so a body that is never sent holds no descriptor) and any change
 * met while streaming fails it with SourceChangedError. `tap` sees the file's bytes as they are
 * read for the body, and its `end` once the whole file was read and found unchanged.
 */
export async function multipartBody(
  path: string,
  filename: string,
  mimeType: string,
  expect?: UploadOptions['expect'],
  tap?: ContentTap,
): Promise<MultipartBody> {
  const frame = framing(filename, mimeType);
  const headers = (length: number) => ({ 'content-type': frame.contentType, 'content-length': String(length) });
  const place = placeOf(expect);

  const { fd, stats: before } = await openFileInRoot(path, place);
  try {
    if (before.size <= INLINE_MAX_BYTES) {
      const body = inlineBody(frame, before.size);
      let at = 0;
      while (at < before.size) {
        const n = await readFd(fd, body, frame.headBytes + at, before.size - at, at);
        if (n === 0) throw new SourceChangedError(`${path} shrank while it was read`);
        at += n;
      }
      tap?.update(body.subarray(frame.headBytes, frame.headBytes + before.size));
      tap?.end();
      return { body, headers: headers(body.length), fileSize: before.size };
    }
  } finally {
    await closeFd(fd);
  }
  // The stream's open must find this very file again, where it was.
  const again: Place = {
    ...place,
    expect: { dev: before.dev, ino: before.ino, size: before.size, mtimeMs: before.mtimeMs },
  };
  const head = Buffer.from(frame.head, 'utf8');
  const tail = Buffer.from(frame.tail, 'latin1');
  return {
    body: Readable.from(streamFile(path, again, before, { head, tail, tap }), { objectMode: false }),
    headers: headers(head.length + before.size + tail.length),
    fileSize: before.size,
  };
}

/** Same size and mtime (and the same file): the content is taken to be unchanged. */
function sameFile(a: Stats, b: Stats): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino && a.dev === b.dev;
}

/**
 * Yields `head`, the file's `before.size` bytes (each through `tap`), then `tail`; fails when the
 * file is not `before` any more.
 */
async function* streamFile(
  path: string,
  place: Place,
  before: Stats,
  frame: { head: Buffer; tail: Buffer; tap: ContentTap | undefined },
): AsyncGenerator<Buffer, void, undefined> {
  const { head, tail, tap } = frame;
  let fd: number;
  try {
    ({ fd } = await openFileInRoot(path, place));
  } catch (err) {
    throw new SourceChangedError(`${path} could not be reopened for its upload`, { cause: err });
  }
  try {
    const changed = (why: string, cause?: unknown) => new SourceChangedError(`${path} ${why} while it was uploaded`, { cause });
    try {
      if (!sameFile(await fstatFd(fd), before)) throw changed('changed');
    } catch (err) {
      throw err instanceof SourceChangedError ? err : changed('could not be read', err);
    }
    yield head;
    for (let at = 0; at < before.size;) {
      // A fresh buffer per chunk: the socket may still hold the previous one.
      const chunk = Buffer.allocUnsafe(Math.min(STREAM_CHUNK_BYTES, before.size - at));
      let n: number;
      try {
        n = await readFd(fd, chunk, 0, chunk.length, at);
      } catch (err) {
        throw changed('could not be read', err);
      }
      if (n === 0) throw changed('shrank');
      at += n;
      const sent = n === chunk.length ? chunk : chunk.subarray(0, n);
      tap?.update(sent);
      yield sent;
    }
    let after: Stats;
    try {
      after = await fstatFd(fd);
    } catch (err) {
      throw changed('could not be read', err);
    }
    // Checked before the closing boundary: a changed file never makes a complete request.
    if (!sameFile(after, before)) throw changed('changed');
    tap?.end();
    yield tail;
  } finally {
    await closeFd(fd);
  }
}
