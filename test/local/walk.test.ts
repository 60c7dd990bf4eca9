// The walk and statOne against real temp folders: names, special files, symlinks, reuse of
// known hashes, limits, the root's identity and errors.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFilter } from '../../src/local/filter.js';
import type { KnownFile, LocalFile } from '../../src/local/types.js';
import { RootError, type WalkOptions, isLocalProblem, statOne, walk } from '../../src/local/walk.js';
import { memoryLogger } from '../../src/log.js';
import { isValidRemoteName, remoteName } from '../../src/sync/names.js';

const isRoot = process.getuid?.() === 0;
const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

let base: string; // holds the root and an "outside" folder
let root: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'files-sync-walk-'));
  root = join(base, 'root');
  mkdirSync(root);
});
afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

function put(rel: string, content: string | Buffer = `content of ${rel}`): string {
  const abs = join(root, rel);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, content);
  return abs;
}

function options(extra: Partial<WalkOptions> = {}): WalkOptions {
  return {
    filter: createFilter({ include: [], exclude: [] }),
    followSymlinks: false,
    maxFileBytes: 1_000_000,
    known: () => undefined,
    ...extra,
  };
}

const paths = (files: { path: string }[]) => files.map((f) => f.path);
const byPath = (files: LocalFile[], path: string) => files.find((f) => f.path === path);

describe('walk', () => {
  it('lists nested files with size, mtime, ino, sha256 and MIME type, sorted', async () => {
    put('b.md', '# title\n');
    put('a/deep/er/x.txt', 'x');
    put('a/y.pdf', '%PDF-1.4');
    put('empty.txt', '');
    put('Makefile', 'all:\n');
    mkdirSync(join(root, 'empty-dir'));
    const r = await walk(root, options());
    expect(paths(r.files)).toEqual(['Makefile', 'a/deep/er/x.txt', 'a/y.pdf', 'b.md', 'empty.txt']);
    const x = byPath(r.files, 'a/deep/er/x.txt')!;
    const st = statSync(join(root, 'a/deep/er/x.txt'));
    expect(x).toEqual({
      path: 'a/deep/er/x.txt',
      size: 1,
      mtimeMs: st.mtimeMs,
      ino: st.ino,
      dev: st.dev,
      sha256: sha('x'),
      mimeType: 'text/plain',
    });
    expect(byPath(r.files, 'empty.txt')!.sha256).toBe(sha(''));
    expect(byPath(r.files, 'b.md')!.mimeType).toBe('text/plain');
    expect(byPath(r.files, 'a/y.pdf')!.mimeType).toBe('application/pdf');
    expect(byPath(r.files, 'Makefile')!.mimeType).toBe('text/plain');
    expect(r.complete).toBe(true);
    expect(r.problems).toEqual([]);
    expect(r.skipped).toEqual([]);
    expect(r.filesHashed).toBe(5);
    expect(r.bytesHashed).toBe(1 + 8 + 8 + 0 + 5);
    const rootStat = statSync(root);
    expect(r.root).toEqual({ dev: rootStat.dev, ino: rootStat.ino });
  });

  it('keeps unicode names as the file system gives them (NFC and NFD side by side), spaces and odd characters', async () => {
    const nfc = 'caf\u00e9.txt';
    const nfd = 'cafe\u0301.txt';
    const odd = [
      'my notes/a b.txt',
      'q?.txt',
      'a:b|c*"d<e>.txt',
      'back\\slash.txt',
      'new\nline.txt',
      'tab\t.txt',
      '\u65e5\u672c/\ud83d\ude00.md',
    ];
    put(nfc, 'nfc');
    put(nfd, 'nfd');
    for (const p of odd) put(p);
    const r = await walk(root, options());
    expect(paths(r.files)).toEqual([nfc, nfd, ...odd].sort());
    expect(byPath(r.files, nfc)!.sha256).toBe(sha('nfc'));
    expect(byPath(r.files, nfd)!.sha256).toBe(sha('nfd'));
    for (const f of r.files) expect(isValidRemoteName(remoteName(f.path))).toBe(true);
  });

  it('walks a path longer than 255 characters', async () => {
    const segments = Array.from({ length: 4 }, (_, i) => `${i}-${'d'.repeat(90)}`);
    const rel = `${segments.join('/')}/file-${'f'.repeat(100)}.txt`;
    expect(rel.length).toBeGreaterThan(255);
    put(rel, 'deep');
    const r = await walk(root, options());
    expect(paths(r.files)).toEqual([rel]);
    const name = remoteName(rel);
    expect(isValidRemoteName(name)).toBe(true);
    expect(name.endsWith('.txt')).toBe(true);
  });

  it('returns a file over maxFileBytes with sha256 null, unread', async () => {
    put('big.bin', Buffer.alloc(11));
    put('small.bin', Buffer.alloc(10));
    const r = await walk(root, options({ maxFileBytes: 10 }));
    expect(byPath(r.files, 'big.bin')).toMatchObject({ size: 11, sha256: null, mimeType: 'application/octet-stream' });
    expect(byPath(r.files, 'small.bin')!.sha256).toBe(sha(Buffer.alloc(10)));
    expect(r.filesHashed).toBe(1);
    expect(r.bytesHashed).toBe(10);
  });

  it('skips a FIFO without opening it (and does not hang)', { timeout: 10_000 }, async () => {
    put('a.txt');
    execFileSync('mkfifo', [join(root, 'pipe')]);
    const r = await walk(root, options());
    expect(paths(r.files)).toEqual(['a.txt']);
    expect(r.skipped).toEqual([{ path: 'pipe', reason: 'FIFO' }]);
    expect(await statOne(root, 'pipe', options())).toBe('skipped');
  });

  it('excludes editor temp files, the ignore file and the state directory', async () => {
    for (const p of [
      'doc.md',
      'doc.md~',
      '.doc.md.swp',
      '~$report.docx',
      '.~lock.sheet.ods#',
      'dl.part',
      '.DS_Store',
      'sub/Thumbs.db',
      '.filesyncignore',
      '.files-sync/ledger.db',
      'notes/keep.md',
      'drafts/x.md',
    ]) {
      put(p);
    }
    const filter = createFilter({ include: [], exclude: ['drafts/'], stateDirInRoot: '.files-sync' });
    const r = await walk(root, options({ filter }));
    expect(paths(r.files)).toEqual(['doc.md', 'notes/keep.md']);
    expect(r.skipped).toEqual([]);
  });

  describe('symlinks', () => {
    beforeEach(() => {
      put('docs/real.md', 'real');
      mkdirSync(join(base, 'outside'));
      writeFileSync(join(base, 'outside', 'secret.txt'), 'secret');
      symlinkSync('docs/real.md', join(root, 'link.md')); // inside, to a file
      symlinkSync('docs', join(root, 'alias')); // inside, to a directory
      symlinkSync(join(base, 'outside', 'secret.txt'), join(root, 'out.txt')); // out of the root
      symlinkSync('../outside', join(root, 'outdir')); // out of the root, a directory
      symlinkSync('nowhere', join(root, 'dangling'));
      symlinkSync('.', join(root, 'self')); // to the root: a loop
      symlinkSync('..', join(root, 'docs', 'up')); // to an ancestor: a loop
      symlinkSync('ping', join(root, 'pong')); // a loop of links
      symlinkSync('pong', join(root, 'ping'));
    });

    it('are skipped by default', async () => {
      const r = await walk(root, options());
      expect(paths(r.files)).toEqual(['docs/real.md']);
      expect(r.skipped.map((s) => `${s.path}: ${s.reason}`)).toEqual(
        ['alias', 'dangling', 'docs/up', 'link.md', 'out.txt', 'outdir', 'ping', 'pong', 'self'].map((p) => `${p}: symlink`),
      );
      expect(r.complete).toBe(true);
    });

    it('are followed inside the root with followSymlinks, never out of it or around a loop', async () => {
      const r = await walk(root, options({ followSymlinks: true }));
      expect(paths(r.files)).toEqual(['alias/real.md', 'docs/real.md', 'link.md']);
      expect(byPath(r.files, 'link.md')!.sha256).toBe(sha('real'));
      expect(byPath(r.files, 'alias/real.md')!.sha256).toBe(sha('real'));
      expect(Object.fromEntries(r.skipped.map((s) => [s.path, s.reason]))).toEqual({
        'alias/up': expect.stringMatching(/loop/),
        dangling: 'dangling symlink',
        'docs/up': expect.stringMatching(/loop/),
        'out.txt': 'symlink leads out of the root',
        outdir: 'symlink leads out of the root',
        ping: 'symlink loop',
        pong: 'symlink loop',
        self: expect.stringMatching(/loop/),
      });
      expect(r.complete).toBe(true);
    });

    it('terminate on a loop through two directories linking to each other', async () => {
      rmSync(root, { recursive: true });
      mkdirSync(root);
      put('a/f.txt', 'f');
      put('c/g.txt', 'g');
      symlinkSync('../c', join(root, 'a', 'lc'));
      symlinkSync('../a', join(root, 'c', 'la'));
      const r = await walk(root, options({ followSymlinks: true }));
      expect(paths(r.files)).toEqual(['a/f.txt', 'a/lc/g.txt', 'c/g.txt', 'c/la/f.txt']);
      expect(paths(r.skipped)).toEqual(['a/lc/la', 'c/la/lc']);
    });

    it('statOne applies the same rules, ancestors included', async () => {
      const follow = options({ followSymlinks: true });
      expect(await statOne(root, 'link.md', options())).toBe('skipped');
      expect(await statOne(root, 'alias/real.md', options())).toBe('skipped');
      expect(await statOne(root, 'link.md', follow)).toMatchObject({ path: 'link.md', sha256: sha('real') });
      expect(await statOne(root, 'alias/real.md', follow)).toMatchObject({
        path: 'alias/real.md',
        sha256: sha('real'),
      });
      expect(await statOne(root, 'out.txt', follow)).toBe('skipped');
      expect(await statOne(root, 'outdir/secret.txt', follow)).toBe('skipped');
      expect(await statOne(root, 'self/docs/real.md', follow)).toBe('skipped');
      expect(await statOne(root, 'docs/up/docs/real.md', follow)).toBe('skipped');
      expect(await statOne(root, 'ping', follow)).toBe('skipped');
      expect(await statOne(root, 'dangling', follow)).toBe('skipped');
    });
  });

  describe('known files', () => {
    it('an unchanged file (same size and mtime as known) is not read: its known sha and MIME are kept', async () => {
      const abs = put('a.txt', 'hello');
      const st = statSync(abs);
      const known: KnownFile = { size: st.size, mtimeMs: st.mtimeMs, sha256: 'f'.repeat(64), mimeType: 'text/x-known' };
      const r = await walk(root, options({ known: (p) => (p === 'a.txt' ? known : undefined) }));
      expect(byPath(r.files, 'a.txt')).toMatchObject({ sha256: 'f'.repeat(64), mimeType: 'text/x-known' });
      expect(r.filesHashed).toBe(0);
      expect(r.bytesHashed).toBe(0);
      expect(await statOne(root, 'a.txt', options({ known: () => known }))).toMatchObject({ sha256: 'f'.repeat(64) });
    });

    it('a touched but unchanged file costs a hash and keeps its sha', async () => {
      const abs = put('a.txt', 'hello');
      const before = statSync(abs);
      const known: KnownFile = {
        size: before.size,
        mtimeMs: before.mtimeMs,
        sha256: sha('hello'),
        mimeType: 'text/plain',
      };
      utimesSync(abs, new Date(), new Date(before.mtimeMs + 5000));
      const r = await walk(root, options({ known: () => known }));
      const file = byPath(r.files, 'a.txt')!;
      expect(file.sha256).toBe(known.sha256);
      expect(file.mtimeMs).not.toBe(known.mtimeMs);
      expect(r.filesHashed).toBe(1);
    });

    it('a changed file with the same mtime but another size is hashed again', async () => {
      const abs = put('a.txt', 'hello world');
      const st = statSync(abs);
      const known: KnownFile = { size: 5, mtimeMs: st.mtimeMs, sha256: sha('hello'), mimeType: 'text/plain' };
      const r = await walk(root, options({ known: () => known }));
      expect(byPath(r.files, 'a.txt')!.sha256).toBe(sha('hello world'));
      expect(r.filesHashed).toBe(1);
    });
  });

  describe('the root', () => {
    it('missing → RootError missing (exit 3)', async () => {
      const error = await walk(join(base, 'nope'), options()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RootError);
      expect(error).toMatchObject({ reason: 'missing', exitCode: 3 });
      await expect(statOne(join(base, 'nope'), 'a', options())).rejects.toMatchObject({ reason: 'missing' });
    });

    it('a file → RootError not-a-directory', async () => {
      writeFileSync(join(base, 'file'), 'x');
      await expect(walk(join(base, 'file'), options())).rejects.toMatchObject({
        name: 'RootError',
        reason: 'not-a-directory',
      });
    });

    it('a symlink to a directory is a valid root, with the identity of the directory', async () => {
      put('a.txt');
      symlinkSync(root, join(base, 'rootlink'));
      const r = await walk(join(base, 'rootlink'), options());
      expect(paths(r.files)).toEqual(['a.txt']);
      expect(r.root.ino).toBe(statSync(root).ino);
    });

    it('an empty root is complete and empty', async () => {
      const r = await walk(root, options());
      expect(r).toMatchObject({ files: [], problems: [], skipped: [], complete: true, filesHashed: 0 });
    });
  });

  describe('permissions', () => {
    it.skipIf(isRoot)('an unreadable file is a problem, not a missing file', async () => {
      put('ok.txt');
      chmodSync(put('locked.txt'), 0o000);
      const r = await walk(root, options());
      expect(paths(r.files)).toEqual(['ok.txt']);
      expect(r.problems).toEqual([{ path: 'locked.txt', kind: 'unreadable', reason: expect.stringMatching(/^EACCES/) }]);
      expect(r.complete).toBe(true);
    });

    it.skipIf(isRoot)('an unreadable directory makes the walk incomplete', async () => {
      put('ok.txt');
      put('closed/inner.txt');
      chmodSync(join(root, 'closed'), 0o000);
      try {
        const r = await walk(root, options());
        expect(r.complete).toBe(false);
        expect(r.problems).toEqual([{ path: 'closed', kind: 'unreadable', reason: expect.stringMatching(/^EACCES/) }]);
      } finally {
        chmodSync(join(root, 'closed'), 0o755);
      }
    });
    // As root, chmod 000 does not stop reading; test/local-walk-errors.test.ts injects the errors.
  });

  it('logs skipped paths and problems through the given logger', async () => {
    execFileSync('mkfifo', [join(root, 'pipe')]);
    const { logger, lines } = memoryLogger('debug');
    await walk(root, options({ logger }));
    expect(lines.some((l) => l.includes('skipped') && l.includes('path=pipe') && l.includes('FIFO'))).toBe(true);
  });

  it('reports progress and honours concurrency 1', async () => {
    for (let i = 0; i < 50; i++) put(`d${i % 5}/f${i}.txt`, 'x'.repeat(i));
    const seen: { files: number; bytesHashed: number }[] = [];
    const r = await walk(root, options({ concurrency: 1, onProgress: (p) => seen.push(p) }));
    expect(r.files).toHaveLength(50);
    expect(seen.at(-1)).toEqual({ files: 50, bytesHashed: (49 * 50) / 2 });
  });

  it('stops when aborted', async () => {
    for (let i = 0; i < 20; i++) put(`f${i}.txt`);
    const controller = new AbortController();
    controller.abort();
    await expect(walk(root, options({ signal: controller.signal }))).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('statOne', () => {
  it('returns the file as the walk would', async () => {
    put('docs/a.md', '# a');
    const r = await walk(root, options());
    expect(await statOne(root, 'docs/a.md', options())).toEqual(r.files[0]);
  });

  it('missing: no entry, a directory, or an ancestor that is a file', async () => {
    put('docs/a.md');
    expect(await statOne(root, 'docs/nope.md', options())).toBe('missing');
    expect(await statOne(root, 'nope/a.md', options())).toBe('missing');
    expect(await statOne(root, 'docs', options())).toBe('missing');
    expect(await statOne(root, 'docs/a.md/x', options())).toBe('missing');
  });

  it('excluded: by the path itself or by any ancestor', async () => {
    put('build/out/a.js');
    put('a.md~');
    put('.files-sync/ledger.db');
    const filter = createFilter({ include: [], exclude: ['build/'], stateDirInRoot: '.files-sync' });
    expect(await statOne(root, 'build/out/a.js', options({ filter }))).toBe('excluded');
    expect(await statOne(root, 'a.md~', options({ filter }))).toBe('excluded');
    expect(await statOne(root, '.files-sync/ledger.db', options({ filter }))).toBe('excluded');
    // Excluded even when it does not exist: the filter is decided first.
    expect(await statOne(root, 'build/none', options({ filter }))).toBe('excluded');
  });

  it('a file over the limit has sha256 null', async () => {
    put('big.bin', Buffer.alloc(100));
    expect(await statOne(root, 'big.bin', options({ maxFileBytes: 99 }))).toMatchObject({ size: 100, sha256: null });
  });

  it('rejects paths that are not clean and relative', async () => {
    for (const p of ['', '/a', 'a/', 'a//b', './a', 'a/../b', '..']) {
      await expect(statOne(root, p, options())).rejects.toBeInstanceOf(RangeError);
    }
  });

  it('isLocalProblem tells problems from files and verdicts', () => {
    expect(isLocalProblem({ path: 'a', kind: 'changing', reason: 'r' })).toBe(true);
    expect(isLocalProblem({ path: 'a', size: 1, mtimeMs: 1, ino: 1, sha256: null, mimeType: 'text/plain' })).toBe(false);
    expect(isLocalProblem('missing')).toBe(false);
  });
});
