// Bytes read with room around them for an upload's multipart framing. A small file the walk keeps
// is read into a buffer with FRAME_HEAD_ROOM bytes free before it and FRAME_TAIL_ROOM after, so
// that its upload writes the part's head and tail in place around the bytes instead of copying them
// into a new body: one allocation and one copy of the file less per upload (remote/multipart.ts).
// Only buffers made here are framed in place: the bytes around any other buffer's may be another
// buffer's (node's pool).

/** Room before the bytes: a part's head is ~130 bytes plus the file name and MIME type. */
export const FRAME_HEAD_ROOM = 512;
/** Room after the bytes: a part's tail is ~50 bytes. */
export const FRAME_TAIL_ROOM = 64;

const roomy = new WeakSet<ArrayBufferLike>();

/** A buffer of its own for `length` bytes at offset FRAME_HEAD_ROOM, with the room around them. */
export function roomyBuffer(length: number): Buffer {
  const buffer = Buffer.allocUnsafeSlow(FRAME_HEAD_ROOM + length + FRAME_TAIL_ROOM);
  roomy.add(buffer.buffer);
  return buffer;
}

/** The free bytes before and after `bytes` when they sit in a `roomyBuffer`; null for any other buffer. */
export function roomAround(bytes: Buffer): { before: number; after: number } | null {
  if (!roomy.has(bytes.buffer)) return null;
  return { before: bytes.byteOffset, after: bytes.buffer.byteLength - bytes.byteOffset - bytes.length };
}
