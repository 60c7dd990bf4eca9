// The MIME type a file is uploaded with: from the extension (mime-types plus a table of source
// and text formats), with a text sniff of the first bytes for unknown extensions.
import { posix } from 'node:path';
import { lookup } from 'mime-types';

/** How many leading bytes the sniff looks at; `hashFile` returns at least this many. */
export const SNIFF_BYTES = 8192;

const TEXT = 'text/plain';
const BINARY = 'application/octet-stream';

/**
 * Extensions whose mime-types answer is wrong or missing for this product. The Files API stores
 * the part's type as given and the Messages API takes `text/plain` files (and PDFs) as `document`
 * blocks, so source code and configuration get `text/plain`, not the `text/x-…` or
 * `application/x-…` guesses (mime-types says `video/mp2t` for `.ts`/`.mts`,
 * `application/rls-services+xml` for `.rs`, `application/x-sh` for `.sh`, nothing for `.py`).
 * Markdown is prose that applications pass to Messages as a document, so it is `text/plain`
 * too (as `text/markdown` it could only be a container upload). `.csv` and `.json` keep their
 * registered types (data for the code execution tool). Keys are lower-case, without the dot.
 */
const OVERRIDES: Readonly<Record<string, string>> = Object.freeze({
  // Data formats with a registered type.
  csv: 'text/csv',
  json: 'application/json',
  // Prose.
  md: TEXT,
  markdown: TEXT,
  mdx: TEXT,
  // Source code.
  ts: TEXT,
  tsx: TEXT,
  mts: TEXT,
  cts: TEXT,
  js: TEXT,
  jsx: TEXT,
  mjs: TEXT,
  cjs: TEXT,
  py: TEXT,
  pyi: TEXT,
  rb: TEXT,
  php: TEXT,
  pl: TEXT,
  pm: TEXT,
  lua: TEXT,
  r: TEXT,
  rs: TEXT,
  go: TEXT,
  java: TEXT,
  kt: TEXT,
  kts: TEXT,
  scala: TEXT,
  swift: TEXT,
  dart: TEXT,
  c: TEXT,
  h: TEXT,
  cc: TEXT,
  cpp: TEXT,
  cxx: TEXT,
  hh: TEXT,
  hpp: TEXT,
  hxx: TEXT,
  cs: TEXT,
  m: TEXT,
  mm: TEXT,
  zig: TEXT,
  nim: TEXT,
  hs: TEXT,
  ml: TEXT,
  ex: TEXT,
  exs: TEXT,
  erl: TEXT,
  clj: TEXT,
  jl: TEXT,
  sql: TEXT,
  vue: TEXT,
  svelte: TEXT,
  proto: TEXT,
  graphql: TEXT,
  gql: TEXT,
  // Shell and build scripts.
  sh: TEXT,
  bash: TEXT,
  zsh: TEXT,
  fish: TEXT,
  ps1: TEXT,
  bat: TEXT,
  cmd: TEXT,
  mk: TEXT,
  cmake: TEXT,
  gradle: TEXT,
  dockerfile: TEXT,
  // Configuration and plain-text formats.
  yaml: TEXT,
  yml: TEXT,
  toml: TEXT,
  ini: TEXT,
  cfg: TEXT,
  conf: TEXT,
  env: TEXT,
  properties: TEXT,
  lock: TEXT,
  log: TEXT,
  diff: TEXT,
  patch: TEXT,
  rst: TEXT,
  adoc: TEXT,
  org: TEXT,
  tex: TEXT,
  jsonl: TEXT,
  ndjson: TEXT,
});

/**
 * True when `head` is valid UTF-8 without a NUL byte. A multi-byte sequence cut by the end of
 * the head (the head is a prefix of the file) does not count against it.
 */
export function looksLikeText(head: Uint8Array): boolean {
  if (head.includes(0)) return false;
  try {
    // `stream: true` keeps an incomplete trailing sequence pending instead of failing on it.
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * The MIME type of a file, without parameters (no `; charset`): the override table, then
 * mime-types, by the extension of the last path segment (case-insensitive); for a name without
 * a known extension (`Makefile`, `.bashrc`, `notes.xyz`), `text/plain` when `head` (the file's
 * first bytes, up to `SNIFF_BYTES`) looks like text, else `application/octet-stream`. Without a
 * head, an unknown extension is `application/octet-stream`.
 */
export function mimeTypeFor(relPath: string, head?: Uint8Array): string {
  const ext = posix.extname(relPath).slice(1).toLowerCase();
  if (ext !== '') {
    const override = OVERRIDES[ext];
    if (override !== undefined) return override;
    const known = lookup(ext);
    if (known !== false) return known;
  }
  if (head === undefined) return BINARY;
  return looksLikeText(head.subarray(0, SNIFF_BYTES)) ? TEXT : BINARY;
}
