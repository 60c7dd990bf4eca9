// Bytes read with room around them for an upload's multipart framing. A small file the walk keeps
// is read into a window with FRAME_HEAD_ROOM bytes free before it and FRAME_TAIL_ROOM after, so
// that its upload writes the part's head and tail in place around the bytes instead of copying them
// into a new body: one allocation and one copy of the file less per upload (remote/multipart.ts).
// Only views made here are framed in place: the bytes around any other buffer's may be another
// buffer's (node's pool).
//
// The windows of small files are cut from shared slabs, as node's own pool cuts small buffers:
// one allocation of memory outside the heap for every few files instead of one each (each such
// allocation costs a few microseconds and work for the garbage collector). A slab is freed when
// the last view of it is, so a kept file holds at most one slab (32 KiB), half what a window of
// its own of the largest kept size (64 KiB) holds; the queue's 256 uploads, at most 8 MiB.

/** Room before the bytes: a part's head is ~130 bytes plus the file name and MIME type. */
export const FRAME_HEAD_ROOM = 512;
/** Room after the bytes: a part's tail is ~50 bytes. */
export const FRAME_TAIL_ROOM = 64;

/** A shared slab's size, and the largest region (room included) cut from one: four or more a slab. */
const SLAB_BYTES = 32 * 1024;
const SLAB_REGION_MAX = SLAB_BYTES / 4;

/** The free bytes after each framable view (those before are FRAME_HEAD_ROOM). */
const roomAfter = new WeakMap<Buffer, number>();

let slab: Buffer | undefined;
let slabUsed = 0;

/** A region of `bytes` bytes no other region overlaps: from the current slab, or of its own when large. */
function region(bytes: number): Buffer {
  if (bytes > SLAB_REGION_MAX) return Buffer.allocUnsafeSlow(bytes);
  if (slab === undefined || slabUsed + bytes > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabUsed = 0;
  }
  const cut = slab.subarray(slabUsed, slabUsed + bytes);
  slabUsed += (bytes + 7) & ~7; // the next region starts 8-aligned
  return cut;
}

/**
 * A window of `capacity` bytes to read a file into, with the room around it. Its bytes become the
 * file's content through `framable` (a view of the length actually read).
 */
export function roomyWindow(capacity: number): Buffer {
  const whole = region(FRAME_HEAD_ROOM + capacity + FRAME_TAIL_ROOM);
  return whole.subarray(FRAME_HEAD_ROOM, FRAME_HEAD_ROOM + capacity);
}

/** The first `length` bytes of a `roomyWindow`, as a view its upload frames in place. */
export function framable(window: Buffer, length: number): Buffer {
  if (length > window.length) throw new RangeError(`framable: ${length} bytes asked of a window of ${window.length}`);
  const bytes = window.subarray(0, length);
  roomAfter.set(bytes, window.length - length + FRAME_TAIL_ROOM);
  return bytes;
}

/** The free bytes before and after `bytes` when `framable` made them; null for any other buffer. */
export function roomAround(bytes: Buffer): { before: number; after: number } | null {
  const after = roomAfter.get(bytes);
  return after === undefined ? null : { before: FRAME_HEAD_ROOM, after };
}
