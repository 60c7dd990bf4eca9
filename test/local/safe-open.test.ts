// Reads stay inside the root (DESIGN.md rule 8) and a walk that loses a directory is partial
// (rule 4): the safe-open helper, and the walk driven through its filter callback so that a
// directory is swapped or renamed at an exact moment of the scan, against a real temp folder.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileRow } from '../../src/ledger/types.js';
import { createFilter } from '../../src/local/filter.js';
import {
  type Place,
  type SafeFile,
  openFileInRoot,
  openFileInRootSync,
  pathUnder,
  withFileInRoot,
  withFileInRootSync,
} from '../../src/safe-open.js';
import type { PathFilter } from '../../src/local/types.js';
import { type WalkOptions, walk } from '../../src/local/walk.js';
import { plan } from '../../src/sync/plan.js';

const SECRET = 'the secret outside the root: sk-not-a-real-key';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let dir: string;
let root: string;
let outside: string;
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'fs-safe-open-')));
  root = join(dir, 'root');
  outside = join(dir, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), SECRET);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function put(rel: string, content = `content of ${rel}`): string {
  const abs = join(root, rel);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, content);
  return abs;
}

/** Replaces the directory `rel` by a symlink to the outside directory (the attack of issue 8). */
function swapForLink(rel: string): void {
  renameSync(join(root, rel), join(dir, 'moved-away'));
  symlinkSync(outside, join(root, rel));
}

/** A filter that runs `hook` once, the first time it is asked about `when` (as a file or a folder). */
function hookedFilter(when: string, hook: () => void): PathFilter {
  const base = createFilter({ include: [], exclude: [] });
  let done = false;
  return (rel, isDir) => {
    if (!done && rel === when) {
      done = true;
      hook();
    }
    return base(rel, isDir);
  };
}

function options(filter: PathFilter): WalkOptions {
  return { filter, followSymlinks: false, maxFileBytes: 1_000_000, known: () => undefined, concurrency: 1 };
}

/** The asynchronous safe open and its synchronous twin (small files): one contract, both run it. */
const opens: [string, (abs: string, place: Place) => Promise<SafeFile>, typeof withFileInRoot][] = [
  ['openFileInRoot', openFileInRoot, withFileInRoot],
  ['openFileInRootSync', (abs, place) => Promise.resolve().then(() => openFileInRootSync(abs, place)), withFileInRootSync],
];

describe.each(opens)('%s', (_name, openFileInRoot, withFileInRoot) => {
  it('opens a regular file under the root and reports its fstat', async () => {
    const abs = put('a.txt', 'hello');
    const info = statSync(abs);
    const size = await withFileInRoot(
      abs,
      { realRoot: root, expect: { dev: info.dev, ino: info.ino, size: 5, mtimeMs: info.mtimeMs } },
      async (_fd, s) => s.size,
    );
    expect(size).toBe(5);
  });

  it('does not hang on a FIFO swapped in for the file: refused as not a regular file', async () => {
    const fifo = join(root, 'pipe');
    execFileSync('mkfifo', [fifo]);
    await expect(openFileInRoot(fifo, { realRoot: root })).rejects.toMatchObject({ kind: 'changing', check: 'type' });
  });

  it('refuses a symlink at the final component, to a file inside the root or out of it', async () => {
    put('a.txt');
    symlinkSync(join(root, 'a.txt'), join(root, 'in-link'));
    symlinkSync(join(outside, 'secret.txt'), join(root, 'out-link'));
    for (const name of ['in-link', 'out-link']) {
      await expect(openFileInRoot(join(root, name), { realRoot: root })).rejects.toMatchObject({
        name: 'FileConditionError',
        kind: 'changing',
        check: 'link',
        retryable: true,
      });
    }
  });

  it('refuses a file reached through a parent directory that is a link out of the root', async () => {
    symlinkSync(outside, join(root, 'sub'));
    await expect(openFileInRoot(join(root, 'sub', 'secret.txt'), { realRoot: root })).rejects.toMatchObject({
      kind: 'changing',
      check: 'place',
    });
  });

  it('refuses a file whose device, inode, size or mtime are not the expected ones', async () => {
    const abs = put('a.txt', 'hello');
    const info = statSync(abs);
    for (const expect_ of [{ ino: info.ino + 1 }, { dev: info.dev + 1 }, { size: 4 }, { mtimeMs: info.mtimeMs - 1000 }]) {
      await expect(openFileInRoot(abs, { realRoot: root, expect: expect_ })).rejects.toMatchObject({
        kind: 'changing',
        check: 'identity',
      });
    }
  });

  it('refuses a file elsewhere than the exact real path expected, even inside the root', async () => {
    const abs = put('a/x.txt');
    put('b/x.txt');
    await expect(openFileInRoot(abs, { realRoot: root, realPath: join(root, 'b', 'x.txt') })).rejects.toMatchObject({
      kind: 'changing',
      check: 'place',
    });
  });
});

describe('the walk reads nothing outside the root', () => {
  it('a parent directory swapped for a link after it was listed: the file is changing, never read', async () => {
    put('sub/secret.txt', 'the inside file');
    // Asked about sub/secret.txt while sub is listed: the swap lands before the file is opened.
    const result = await walk(root, options(hookedFilter('sub/secret.txt', () => swapForLink('sub'))));
    expect(result.files.map((f) => f.sha256)).not.toContain(sha(SECRET));
    expect(result.contents === undefined || [...result.contents.values()].every((b) => b.toString() !== SECRET)).toBe(true);
    expect(result.problems).toEqual([expect.objectContaining({ path: 'sub/secret.txt', kind: 'changing' })]);
  });

  it('a directory swapped for a link before its own listing: partial, and nothing outside is listed', async () => {
    put('sub/inside.txt');
    put('top.txt');
    const result = await walk(root, options(hookedFilter('sub', () => swapForLink('sub'))));
    expect(result.files.map((f) => f.path)).toEqual(['top.txt']);
    expect(result.files.map((f) => f.sha256)).not.toContain(sha(SECRET));
    expect(result.complete).toBe(false);
  });
});

describe('a walk that loses a directory is partial (issue 9 item 3)', () => {
  it('a directory renamed between the parent listing and its own: partial, and the plan deletes nothing', async () => {
    put('a/x.txt', 'x');
    put('keep.txt', 'k');
    const result = await walk(root, options(hookedFilter('a', () => renameSync(join(root, 'a'), join(root, 'a2')))));
    expect(result.files.map((f) => f.path)).toEqual(['keep.txt']);
    expect(result.complete).toBe(false);

    const row = (path: string, content: string, fileId: string): FileRow => ({
      path,
      fileId,
      size: content.length,
      mtimeMs: 1,
      ino: 1,
      sha256: sha(content),
      mimeType: 'text/plain',
      remoteName: path.replace('/', '_'),
      uploadedAt: new Date(0).toISOString(),
    });
    const ledger = {
      files: [row('a/x.txt', 'x', 'file_a'), row('keep.txt', 'k', 'file_k')],
      pendingDeletes: [],
      inFlight: [],
      failures: [],
    };
    const remote = {
      files: ['file_a', 'file_k'].map((id) => ({
        id,
        type: 'file' as const,
        filename: id,
        mime_type: 'text/plain',
        size_bytes: 1,
        created_at: new Date(0).toISOString(),
      })),
      complete: true,
    };
    const planned = plan(result, ledger, remote, {
      deleteMode: 'mirror',
      maxDeleteCount: 100,
      maxDeleteShare: 1,
      allowMassDelete: false,
      maxFileBytes: 1_000_000,
      remoteName: (p) => p.replace('/', '_'),
      rootDistrust: null,
      now: Date.now(),
      orphanSkewMs: 5_000,
    });
    expect(planned.deletes).toEqual([]);
    expect(planned.deletesBlocked).not.toBeNull();
  });
});

describe('pathUnder', () => {
  it('is path.join for a real directory and a walk relative path, the file system root included', () => {
    for (const base of ['/', '/srv', '/srv/files', '/srv/files/']) {
      for (const rel of ['a', 'a/b.txt', 'dir with spaces/é.txt', '.hidden/x']) expect(pathUnder(base, rel)).toBe(join(base, rel));
    }
  });
});
