// The daemon's own listings of the root besides the walk and the watcher: the count of folders that
// `limitAdvice` gives when the inotify limit is reached (watch-limits.ts), and the files of a new
// folder hinted to path jobs (pathsync.ts `listFiles`), list the way the walk does (DESIGN.md
// rule 8): a folder under the root swapped with a link to a folder outside, again and again, never
// gets the outside folder listed.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { listFiles } from '../../src/daemon/pathsync.js';
import { countDirectories, limitAdvice } from '../../src/daemon/watch-limits.js';
import { compileExchange } from '../helpers/exchange.js';
import { tempDir } from '../helpers/sync.js';

let dir: string | undefined;
let swapper: ChildProcess | undefined;
afterEach(async () => {
  if (swapper && swapper.exitCode === null && swapper.signalCode === null) {
    const exited = new Promise((resolve) => swapper!.on('exit', resolve));
    swapper.kill('SIGKILL');
    await exited;
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = swapper = undefined;
});

it('counts no folder outside the root while a folder of it is swapped with a link to one', async (ctx) => {
  dir = fs.realpathSync(tempDir('fs-count-'));
  const exchange = compileExchange(dir);
  if (exchange === undefined) {
    ctx.skip('needs Linux and a C compiler (cc) to build the renameat2(RENAME_EXCHANGE) helper');
    return;
  }
  const root = path.join(dir, 'root');
  fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
  // Outside: 50 folders, which a count that followed the swapped link would add.
  for (let i = 0; i < 50; i++) fs.mkdirSync(path.join(dir, 'outside', `d${i}`), { recursive: true });
  fs.symlinkSync(path.join(dir, 'outside'), path.join(dir, 'alt'));
  swapper = spawn(exchange, [path.join(root, 'sub'), path.join(dir, 'alt')], { stdio: 'ignore' });
  const counts = new Set<number>();
  for (let i = 0; i < 300; i++) counts.add(await countDirectories(root, () => true));
  // The root, and `sub` when the count met it in place: never a folder of `outside`.
  expect(Math.max(...counts)).toBeLessThanOrEqual(2);
  expect(swapper.exitCode, 'the swapper ran the whole time').toBeNull();
});

it('hints no file outside the root for a new folder while a folder of it is swapped with a link to one', async (ctx) => {
  dir = fs.realpathSync(tempDir('fs-hints-'));
  const exchange = compileExchange(dir);
  if (exchange === undefined) {
    ctx.skip('needs Linux and a C compiler (cc) to build the renameat2(RENAME_EXCHANGE) helper');
    return;
  }
  const root = path.join(dir, 'root');
  fs.mkdirSync(path.join(root, 'new', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(root, 'new', 'sub', 'inside.txt'), 'inside');
  // Outside: a tree whose names a listing that followed the swapped link would hint.
  for (let i = 0; i < 20; i++) {
    fs.mkdirSync(path.join(dir, 'outside', `d${i}`), { recursive: true });
    fs.writeFileSync(path.join(dir, 'outside', `d${i}`, 'secret.txt'), 'secret');
  }
  fs.symlinkSync(path.join(dir, 'outside'), path.join(dir, 'alt'));
  swapper = spawn(exchange, [path.join(root, 'new', 'sub'), path.join(dir, 'alt')], { stdio: 'ignore' });
  const hinted = new Set<string>();
  for (let i = 0; i < 300; i++) for (const file of await listFiles(root, 'new', () => true)) hinted.add(file);
  // `new/sub` itself when listed as the link (a path of the root, which its job skips): nothing under the link.
  expect([...hinted].filter((file) => file !== 'new/sub/inside.txt' && file !== 'new/sub')).toEqual([]);
  expect(swapper.exitCode, 'the swapper ran the whole time').toBeNull();
});

it('advises a raise over the current limit, also when it cannot be read (the unit hides /proc/sys: ProcSubset=pid)', async () => {
  const root = tempDir('fs-limits-advice-');
  for (const name of ['a', 'b', 'b/c']) fs.mkdirSync(path.join(root, name));
  const known = await limitAdvice(
    root,
    () => true,
    'ENOSPC',
    () => Promise.resolve(65_536),
  );
  expect(known).toMatch(/raise fs\.inotify\.max_user_watches \(now 65536\) to at least 73728: 4 directories/);
  // Unknown: never a figure that may lie below the current one, which other programs' watches fill.
  const hidden = await limitAdvice(
    root,
    () => true,
    'ENOSPC',
    () => Promise.resolve(null),
  );
  expect(hidden).toMatch(/raise fs\.inotify\.max_user_watches by at least 4 over its current value/);
  expect(hidden).not.toMatch(/=8192|at least 8192/);
  fs.rmSync(root, { recursive: true, force: true });
});
