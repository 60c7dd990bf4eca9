// The one order of paths that the walk, the ledger and the merge between them share: Unicode code
// point order, which is the order of the paths' UTF-8 bytes and so SQLite's BINARY collation.

/**
 * Compares two paths by code point. JavaScript's `<` compares UTF-16 code units, which puts a
 * character above U+FFFF (a surrogate pair) before U+E000..U+FFFF; SQLite compares UTF-8 bytes,
 * which puts it after. The merge of the walk with the ledger needs both sides in one order.
 */
export function comparePaths(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

/** Surrogates (code points above U+FFFF) rank above U+E000..U+FFFF, as in code point order. */
function rank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit <= 0xdfff ? unit + 0x2000 : unit - 0x800;
}

/**
 * The key a directory entry sorts by so that a depth-first walk visits whole paths in
 * `comparePaths` order: a directory's name with its `/` (its files' paths go on with `/`),
 * a file's name alone. So `a.b` (`.` is 0x2E) comes before `a/x` (`/` is 0x2F) before `a0`.
 */
export function entryKey(name: string, isDirectory: boolean): string {
  return isDirectory ? `${name}/` : name;
}
