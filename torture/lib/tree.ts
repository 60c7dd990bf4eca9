// The local tree under torture: the first build (mixed sizes, nested folders) and the random
// changes of a round (same-size rewrites, renames, deletes, restores, new files and folders).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Rng } from './prng.js';

const WORDS = ['alpha', 'notes', 'report', 'draft', 'data', 'scan', 'minutes', 'plan', 'été', 'spec', 'copy of x', 'v2'];
const EXTENSIONS = ['txt', 'md', 'bin', 'json', 'csv', 'pdf', 'dat'];
const MB = 1024 * 1024;

/** A file as the checker and the change generator see it. */
export interface LocalFile {
  rel: string;
  size: number;
  sha256: string;
}

/** Settings of the tree. */
export interface TreeOptions {
  files: number;
  /** Add a few files of 8 to 20 MB. */
  big: boolean;
}

/** What a round changed: the paths that now hold new or moved content (candidates for colliding foreign files). */
export interface ChangeLog {
  kinds: Record<string, number>;
  landed: string[];
}

/** Deleted contents kept for later restores (bounded, so memory stays small). */
export class Graveyard {
  private readonly items: { rel: string; content: Buffer }[] = [];
  add(rel: string, content: Buffer): void {
    this.items.push({ rel, content });
    if (this.items.length > 40) this.items.shift();
  }
  take(rng: Rng): { rel: string; content: Buffer } | undefined {
    if (this.items.length === 0) return undefined;
    return this.items.splice(rng.int(0, this.items.length - 1), 1)[0];
  }
}

/** A size from 1 B to a few MB, mostly small, as real folders are. */
export function randomSize(rng: Rng): number {
  const r = rng.float();
  if (r < 0.45) return rng.int(1, 4096);
  if (r < 0.75) return rng.int(4097, 128 * 1024);
  if (r < 0.93) return rng.int(128 * 1024 + 1, MB);
  return rng.int(MB + 1, 4 * MB);
}

let counter = 0;
function freshName(rng: Rng): string {
  counter++;
  return `${rng.pick(WORDS)} ${counter}.${rng.pick(EXTENSIONS)}`;
}

function write(root: string, rel: string, content: Buffer): void {
  const abs = path.join(root, rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, content);
}

/** Builds the first tree: `files` files in folders up to three levels deep. */
export function buildTree(root: string, rng: Rng, opts: TreeOptions): void {
  const dirs = [''];
  for (let i = 0; i < Math.max(2, Math.round(opts.files / 12)); i++) {
    const parent = rng.pick(dirs);
    if (parent.split('/').length < 3) dirs.push(path.posix.join(parent, `dir ${i}`));
  }
  for (let i = 0; i < opts.files; i++) write(root, path.posix.join(rng.pick(dirs), freshName(rng)), rng.bytes(randomSize(rng)));
  if (opts.big)
    for (let i = 0; i < 3; i++) write(root, path.posix.join(rng.pick(dirs), `big ${i}.bin`), rng.bytes(rng.int(8 * MB, 20 * MB)));
}

/** Every regular file under `root` (sorted, so choices replay), with its size and sha256. */
export function listTree(root: string, withHashes = true): LocalFile[] {
  const out: LocalFile[] = [];
  const visit = (dir: string): void => {
    const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const abs = path.join(dir, entry.name);
      const rel = path.relative(root, abs).split(path.sep).join('/');
      if (entry.isDirectory()) visit(abs);
      else if (entry.isFile()) {
        const content = withHashes ? fs.readFileSync(abs) : null;
        out.push({
          rel,
          size: content ? content.length : fs.statSync(abs).size,
          sha256: content ? createHash('sha256').update(content).digest('hex') : '',
        });
      }
    }
  };
  visit(root);
  return out;
}

/** Every folder under `root` but the root itself, sorted. */
function listDirs(root: string): string[] {
  const out: string[] = [];
  const visit = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (!entry.isDirectory()) continue;
      const abs = path.join(dir, entry.name);
      out.push(path.relative(root, abs).split(path.sep).join('/'));
      visit(abs);
    }
  };
  visit(root);
  return out;
}

/** Applies `count` random changes to the tree; returns what it did. */
export function randomChanges(root: string, rng: Rng, count: number, graveyard: Graveyard): ChangeLog {
  const log: ChangeLog = { kinds: {}, landed: [] };
  for (let i = 0; i < count; i++) {
    const kind = oneChange(root, rng, graveyard, log.landed);
    log.kinds[kind] = (log.kinds[kind] ?? 0) + 1;
  }
  return log;
}

/** One change, chosen by weight; falls back to a new file when the tree is too small for it. */
function oneChange(root: string, rng: Rng, graveyard: Graveyard, landed: string[]): string {
  const files = listTree(root, false);
  const dirs = listDirs(root);
  const places = ['', ...dirs];
  const abs = (rel: string) => path.join(root, rel);
  const r = rng.float();
  if (files.length > 5 && r < 0.22) {
    const f = rng.pick(files);
    write(root, f.rel, rng.bytes(f.size));
    return 'rewrite same size';
  }
  if (files.length > 5 && r < 0.27) {
    const f = rng.pick(files);
    write(root, f.rel, rng.bytes(randomSize(rng)));
    return 'rewrite new size';
  }
  if (files.length > 5 && r < 0.42) {
    const f = rng.pick(files);
    const to = path.posix.join(rng.pick(places), rng.chance(0.5) ? path.posix.basename(f.rel) : freshName(rng));
    if (fs.existsSync(abs(to))) return 'rename skipped';
    fs.renameSync(abs(f.rel), abs(to));
    landed.push(to);
    return 'rename file';
  }
  if (dirs.length > 2 && r < 0.47) {
    const d = rng.pick(dirs);
    const to = path.posix.join(path.posix.dirname(d) === '.' ? '' : path.posix.dirname(d), `moved ${++counter}`);
    fs.renameSync(abs(d), abs(to));
    for (const f of listTree(abs(to), false)) landed.push(path.posix.join(to, f.rel));
    return 'rename folder';
  }
  if (files.length > 5 && r < 0.62) {
    const f = rng.pick(files);
    graveyard.add(f.rel, fs.readFileSync(abs(f.rel)));
    fs.rmSync(abs(f.rel));
    return 'delete file';
  }
  if (dirs.length > 2 && r < 0.65) {
    const d = rng.pick(dirs);
    const inside = listTree(abs(d), false);
    if (inside.length > 8) return 'delete folder skipped';
    for (const f of inside) graveyard.add(path.posix.join(d, f.rel), fs.readFileSync(path.join(abs(d), f.rel)));
    fs.rmSync(abs(d), { recursive: true });
    return 'delete folder';
  }
  if (r < 0.77) {
    const g = graveyard.take(rng);
    if (g) {
      const to = rng.chance(0.6) ? g.rel : path.posix.join(rng.pick(places), freshName(rng));
      write(root, to, g.content);
      landed.push(to);
      return 'restore deleted';
    }
  }
  if (rng.chance(0.8)) {
    const to = path.posix.join(rng.pick(places), freshName(rng));
    write(root, to, rng.bytes(randomSize(rng)));
    landed.push(to);
    return 'new file';
  }
  const dir = path.posix.join(rng.pick(places), `new dir ${++counter}`);
  for (let n = rng.int(1, 4); n > 0; n--) {
    const to = path.posix.join(dir, freshName(rng));
    write(root, to, rng.bytes(randomSize(rng)));
    landed.push(to);
  }
  return 'new folder';
}
