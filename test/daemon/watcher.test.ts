// The watcher on a real temp folder: its start lists a bounded number of directories at once (its
// cost must not grow with the files: issue 13), and directories created, moved or removed later are
// watched or dropped, so a file created right after its (deeply nested) directory still gets a hint;
// and it says when its watch is in place, for the walk that must not begin before it.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TreeWatcher, type WatchEventKind } from '../../src/daemon/watcher.js';
import { silentLogger } from '../../src/log.js';
import { ageDirectory, birthTimesReal, remadeOnSameInode, waitFor } from '../helpers/sync.js';

/** The bound the watcher promises: the libuv thread pool's size. */
const BOUND = 4;

let watcher: TreeWatcher | undefined;
let root: string | undefined;
let restore: (() => void) | undefined;
afterEach(async () => {
  restore?.();
  await watcher?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
  watcher = root = restore = undefined;
});

/**
 * Counts the file system calls in flight that list or stat (node:fs/promises, which the watcher and
 * the libraries it may use import; `syncBuiltinESMExports` carries the wrappers into ES imports).
 */
function countFsCalls(): { peak: () => number; calls: () => number; listed: string[] } {
  const names = ['readdir', 'opendir', 'lstat', 'stat', 'realpath'] as const;
  const saved = names.map((name) => [name, fsp[name]] as const);
  let inFlight = 0;
  let peak = 0;
  let calls = 0;
  const listed: string[] = [];
  for (const [name, original] of saved) {
    (fsp as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      inFlight++;
      calls++;
      if (name === 'readdir' || name === 'opendir') listed.push(String(args[0]));
      peak = Math.max(peak, inFlight);
      try {
        return await (original as (...a: unknown[]) => Promise<unknown>)(...args);
      } finally {
        inFlight--;
      }
    };
  }
  syncBuiltinESMExports();
  restore = () => {
    for (const [name, original] of saved) (fsp as unknown as Record<string, unknown>)[name] = original;
    syncBuiltinESMExports();
  };
  return { peak: () => peak, calls: () => calls, listed };
}

function startWatcher(dir: string) {
  const hints: [WatchEventKind, string][] = [];
  watcher = new TreeWatcher({
    root: dir,
    filter: () => true,
    followSymlinks: false,
    logger: silentLogger(),
    onEvent: (kind, rel) => hints.push([kind, rel]),
    onError: (err) => {
      throw err;
    },
  });
  watcher.start();
  return hints;
}

const watching = () => watcher?.status().state === 'watching';

describe('watcher', () => {
  it(`lists at most ${BOUND} directories at once while it starts, whatever the number of files`, async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-watcher-'));
    // 3,000 files in 300 directories (and the root), three levels deep.
    for (let a = 0; a < 30; a++) {
      for (let b = 0; b < 9; b++) {
        const dir = path.join(root, `a${a}`, `b${b}`);
        fs.mkdirSync(dir, { recursive: true });
        for (let f = 0; f < 11; f++) fs.writeFileSync(path.join(dir, `f${f}.txt`), 'x');
      }
      for (let f = 0; f < 3; f++) fs.writeFileSync(path.join(root, `a${a}`, `g${f}.txt`), 'y');
    }
    const fsCalls = countFsCalls();
    startWatcher(root);
    await waitFor(watching, 'the watcher ready', 60_000);
    expect(fsCalls.peak()).toBeLessThanOrEqual(BOUND);
    // No per-file work: a listing and a stat per directory, not a stat per file.
    expect(fsCalls.calls()).toBeLessThan(3_000);
    expect(watcher!.status().directories).toBe(1 + 30 + 30 * 9);
  }, 90_000);

  it('looks at the names an event carries, not at every entry of their directory', async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-watcher-'));
    const big = path.join(root, 'big');
    fs.mkdirSync(big);
    for (let f = 0; f < 2000; f++) fs.writeFileSync(path.join(big, `f${f}.txt`), 'x');
    const hints = startWatcher(root);
    await waitFor(watching, 'the watcher ready');
    const fsCalls = countFsCalls();
    // An editor's save (write a temp file, rename it over the old one), then a new folder.
    fs.writeFileSync(path.join(big, 'f1.txt.tmp'), 'saved');
    fs.renameSync(path.join(big, 'f1.txt.tmp'), path.join(big, 'f1.txt'));
    fs.mkdirSync(path.join(big, 'sub'));
    await waitFor(() => hints.some(([k, r]) => k === 'addDir' && r === 'big/sub'), 'addDir big/sub');
    expect(hints).toContainEqual(['change', 'big/f1.txt']);
    expect(fsCalls.listed.filter((p) => path.resolve(p) === big)).toEqual([]);
    expect(fsCalls.calls()).toBeLessThan(20);
  });

  it('watches a deeply nested new directory, whose file created right after it is covered', async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-watcher-'));
    fs.mkdirSync(path.join(root, 'old'));
    const hints = startWatcher(root);
    await waitFor(watching, 'the watcher ready');
    const has = (kind: WatchEventKind, rel: string) => hints.some(([k, r]) => k === kind && r === rel);

    fs.mkdirSync(path.join(root, 'n1/n2/n3/n4'), { recursive: true });
    fs.writeFileSync(path.join(root, 'n1/n2/n3/n4/early.txt'), 'early');
    // The file came before its directory's watch: the daemon lists the new folder on addDir (after
    // every directory in it is watched), unless the file's own event came first.
    await waitFor(() => has('addDir', 'n1') || has('change', 'n1/n2/n3/n4/early.txt'), 'a hint covering early.txt');
    await waitFor(() => watcher!.status().directories === 6, 'n1..n4 watched');
    fs.writeFileSync(path.join(root, 'n1/n2/n3/n4/late.txt'), 'late');
    await waitFor(() => has('change', 'n1/n2/n3/n4/late.txt'), 'the hint for late.txt');

    // Moved: the old name is gone (unlinkDir), the new one watched all the way down.
    fs.renameSync(path.join(root, 'n1'), path.join(root, 'm1'));
    await waitFor(() => has('unlinkDir', 'n1') && has('addDir', 'm1'), 'unlinkDir n1 and addDir m1');
    fs.writeFileSync(path.join(root, 'm1/n2/n3/n4/moved.txt'), 'moved');
    await waitFor(() => has('change', 'm1/n2/n3/n4/moved.txt'), 'the hint for moved.txt');
    expect(watcher!.status().directories).toBe(6);

    fs.rmSync(path.join(root, 'm1'), { recursive: true });
    await waitFor(() => has('unlinkDir', 'm1') && watcher!.status().directories === 2, 'm1 unwatched');
  }, 60_000);

  it('a folder, or the root, deleted and made again at once (its inode number reused) is watched anew', async (ctx) => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-watcher-'));
    fs.mkdirSync(path.join(root, 'out'));
    await ageDirectory(path.join(root, 'out'));
    await ageDirectory(root);
    const hints = startWatcher(root);
    await waitFor(watching, 'the watcher ready');
    const has = (kind: WatchEventKind, rel: string) => hints.some(([k, r]) => k === kind && r === rel);
    const out = path.join(root, 'out');
    // As `rm -rf out && mkdir out`: the freed inode number goes to the new folder, so only its birth
    // time tells it from the old one, whose watch is dead.
    const reused = remadeOnSameInode(out);
    if (!reused || !(await birthTimesReal(root))) return ctx.skip('no reused inode number with a real birth time here');
    await waitFor(() => has('addDir', 'out'), 'out watched anew (addDir)');
    fs.writeFileSync(path.join(out, 'later.txt'), 'later');
    await waitFor(() => has('change', 'out/later.txt'), 'the hint for a file written later in the new folder');

    if (!remadeOnSameInode(root)) return ctx.skip('no reused inode number for the root here');
    await waitFor(() => watching() && watcher!.status().directories === 1, 'the new root watched');
    fs.writeFileSync(path.join(root, 'later.txt'), 'later');
    await waitFor(() => has('change', 'later.txt'), 'the hint for a file written later in the new root');
  });

  it('a chmod of a folder or of the root, or a child named like the root, is no replacement', async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-watcher-'));
    fs.mkdirSync(path.join(root, 'out'));
    fs.writeFileSync(path.join(root, 'out/a.txt'), 'a');
    const hints = startWatcher(root);
    await waitFor(watching, 'the watcher ready');
    const startedAt = watcher!.startedAt;
    // inotify tells a directory's own attribute change as a rename under its own name (IN_ISDIR).
    fs.chmodSync(path.join(root, 'out'), 0o750);
    fs.utimesSync(root, new Date(), new Date());
    const twin = path.join(root, path.basename(root));
    fs.writeFileSync(twin, 'a child named like the root');
    fs.rmSync(twin);
    fs.writeFileSync(path.join(root, 'out/b.txt'), 'b'); // the last event: every earlier one was read
    await waitFor(() => hints.some(([k, r]) => k === 'change' && r === 'out/b.txt'), 'the hint for out/b.txt');
    await new Promise((r) => setTimeout(r, 300)); // past the looks the events asked for
    expect(hints.filter(([k]) => k === 'addDir' || k === 'unlinkDir')).toEqual([]);
    expect([watcher!.startedAt, watcher!.status().state, watcher!.status().directories]).toEqual([startedAt, 'watching', 2]);
  });

  it('says when its watch is in place: settled() waits for it, onReady tells a restart from the first start', async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-watch-'));
    for (let i = 0; i < 50; i++) fs.mkdirSync(path.join(root, `d${i}`));
    const ready: boolean[] = [];
    const options = { root, filter: () => true, followSymlinks: false, logger: silentLogger(), onEvent: () => undefined };
    watcher = new TreeWatcher({
      ...options,
      onError: (err) => {
        throw err;
      },
      onReady: (again) => ready.push(again),
      startDelayMs: 200,
    });
    watcher.start();
    const first = watcher.settled();
    expect(watcher.status().state).toBe('starting');
    await first;
    expect([watcher.status().state, watcher.status().directories, ready]).toEqual(['watching', 51, [false]]);
    await expect(watcher.settled()).resolves.toBeUndefined(); // settled now: at once

    watcher.restart({ root, filter: () => true, followSymlinks: false });
    const again = watcher.settled();
    expect(watcher.status().state).toBe('starting');
    await again;
    expect([watcher.status().state, ready]).toEqual(['watching', [false, true]]);

    // A failed watch settles too (a reconciliation must not wait for a watch that will not come).
    const failing = new TreeWatcher({ ...options, onError: () => undefined, mode: 'enospc', retryFirstMs: 60_000 });
    try {
      failing.start();
      await failing.settled();
      expect(failing.status().state).toBe('failed');
    } finally {
      await failing.close();
    }
    watcher.restart({ root, filter: () => true, followSymlinks: false });
    const closing = watcher.settled();
    await watcher.close();
    await closing; // closed while starting: settled
  });
});
