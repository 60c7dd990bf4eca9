// A set of the ledger's row ids (SQLite rowids of `files`), one bit each: the rows whose remote copy
// a listing found. 125 KB for a million rows, where a temp table of their ids cost a B-tree insert
// per listed file and a look-up per row the merge read. Rowids are small integers handed out in
// order (the largest plus one), so the bits stay dense; one past `BITMAP_ROWS` (a ledger whose
// rows never came from files-sync) goes to a plain set instead of a huge bitmap.

/** Rowids kept as bits below this (16 MiB of bits at most); any above in a Set. */
const BITMAP_ROWS = 2 ** 27;

export class RowSet {
  #bits = new Uint8Array(0);
  #far = new Set<number>();
  #size = 0;

  /** Rows in the set. */
  get size(): number {
    return this.#size;
  }

  has(row: number): boolean {
    if (row >= BITMAP_ROWS || row < 0) return this.#far.has(row);
    const byte = row >>> 3;
    return byte < this.#bits.length && (this.#bits[byte]! & (1 << (row & 7))) !== 0;
  }

  /** Adds `row`; false when it was already in the set. */
  add(row: number): boolean {
    if (!Number.isSafeInteger(row)) throw new RangeError(`a row id is an integer, not ${row}`);
    if (row >= BITMAP_ROWS || row < 0) {
      if (this.#far.has(row)) return false;
      this.#far.add(row);
      this.#size++;
      return true;
    }
    const byte = row >>> 3;
    if (byte >= this.#bits.length) this.#grow(byte);
    const mask = 1 << (row & 7);
    if ((this.#bits[byte]! & mask) !== 0) return false;
    this.#bits[byte]! |= mask;
    this.#size++;
    return true;
  }

  clear(): void {
    this.#bits = new Uint8Array(0);
    this.#far.clear();
    this.#size = 0;
  }

  /** Room for `byte` at least, doubling: a listing's rows arrive in no particular order. */
  #grow(byte: number): void {
    const bits = new Uint8Array(Math.max(byte + 1, this.#bits.length * 2, 1024));
    bits.set(this.#bits);
    this.#bits = bits;
  }
}
