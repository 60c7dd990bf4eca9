// Rule 8 for the watcher: a folder the writer of the root swaps with a link to a directory outside
// it (renameat2(RENAME_EXCHANGE), again and again) never gets a directory outside the root watched.
// The kernel's own list of this process's inotify watches (/proc/self/fdinfo) is what is checked.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { TreeWatcher } from '../../src/daemon/watcher.js';
import { silentLogger } from '../../src/log.js';
import { compileExchange } from '../helpers/exchange.js';

let dir: string | undefined;
let watcher: TreeWatcher | undefined;
afterEach(async () => {
  await watcher?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = watcher = undefined;
});

/** Inode numbers of every inotify watch this process holds now. */
function watchedInodes(): number[] {
  const inodes: number[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    if (target !== 'anon_inode:inotify') continue;
    let info: string;
    try {
      info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    for (const m of info.matchAll(/^inotify wd:\S+ ino:([0-9a-f]+)/gm)) inodes.push(Number.parseInt(m[1]!, 16));
  }
  return inodes;
}

it('a folder swapped with a link to an outside directory in a loop: no directory outside the root is watched', async (ctx) => {
  if (process.platform !== 'linux') return ctx.skip('inotify and /proc are Linux');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-watch-in-'));
  const exchange = compileExchange(dir);
  if (exchange === undefined) return ctx.skip('needs a C compiler (cc) to build the renameat2(RENAME_EXCHANGE) helper');
  const root = path.join(dir, 'root');
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(path.join(root, 'd', 'in1', 'in2'), { recursive: true });
  fs.mkdirSync(path.join(outside, 'o1', 'o2'), { recursive: true });
  fs.mkdirSync(path.join(outside, 'o3'));
  fs.symlinkSync(outside, path.join(root, 'dl'));
  const inodeOf = (p: string) => fs.statSync(p).ino;
  const outsideInodes = new Set([outside, path.join(outside, 'o1'), path.join(outside, 'o1', 'o2'), path.join(outside, 'o3')].map(inodeOf));
  const insideInodes = new Set([path.join(root, 'd'), path.join(root, 'd', 'in1')].map(inodeOf));

  const errors: Error[] = [];
  watcher = new TreeWatcher({
    root,
    filter: () => true,
    followSymlinks: false,
    logger: silentLogger(),
    onEvent: () => undefined,
    onError: (err) => errors.push(err),
  });
  watcher.start();
  await watcher.settled();

  const swapper = spawn(exchange, [path.join(root, 'd'), path.join(root, 'dl')], { stdio: 'ignore' });
  const seen = new Set<number>();
  try {
    const until = Date.now() + 2_000;
    while (Date.now() < until) {
      for (const ino of watchedInodes()) seen.add(ino);
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    swapper.kill('SIGKILL');
  }
  expect([...seen].filter((ino) => outsideInodes.has(ino))).toEqual([]);
  // A swap is no watcher error (each would ask for a full reconciliation).
  expect(errors).toEqual([]);
  // Not vacuous: the folder inside was watched all along, under one name or the other.
  for (const ino of insideInodes) expect(seen.has(ino)).toBe(true);
});

it.each([false, true])(
  'a root renamed with a link left at its path (followSymlinks %s): the watch starts again from its real path, and new folders are watched',
  async (followSymlinks) => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-watch-in-'));
    const root = path.join(dir, 'root');
    fs.mkdirSync(path.join(root, 'a'), { recursive: true });
    const hints: string[] = [];
    let lost = 0;
    watcher = new TreeWatcher({
      root,
      filter: () => true,
      followSymlinks,
      logger: silentLogger(),
      onEvent: (_kind, rel) => hints.push(rel),
      onError: () => undefined,
      onRootLost: () => lost++,
    });
    watcher.start();
    await watcher.settled();
    // The same directory (its inode, birth time) now reached through a link: its real path moved.
    fs.renameSync(root, path.join(dir, 'moved'));
    fs.symlinkSync(path.join(dir, 'moved'), root);
    fs.mkdirSync(path.join(dir, 'moved', 'new'));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      // Written again and again: the first writes may come before the new folder is watched.
      fs.writeFileSync(path.join(dir, 'moved', 'new', 'f.txt'), String(Date.now()));
      if (hints.includes('new/f.txt')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(lost).toBeGreaterThan(0);
    expect(hints).toContain('new/f.txt');
  },
);
