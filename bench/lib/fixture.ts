// The tree of 100,000 synced files that rows 3 and 5 share: written and synced once (a minute),
// kept with its emulator until the bench ends.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RowContext } from '../rows/types.js';
import { Emulator } from './emulator.js';
import { runSync, writeConfig } from './filesync.js';
import { fmt, seconds } from './stats.js';
import { makeSmallTree, resetTimes, tempDir, type SmallTree } from './tree.js';

export interface SyncedTree {
  tree: SmallTree;
  emu: Emulator;
  stateDir: string;
  /** Config file: concurrency 8, requestsPerMinute 100,000 (root and state dir on the command line). */
  config: string;
  dir: string;
  /** Wall time of the initial sync (a first sync of the whole tree). */
  initialMs: number;
  initialRssKb: number;
}

let shared: Promise<SyncedTree> | undefined;

/** The shared synced tree of `count` files of 1 KiB, made on first use. */
export function syncedTree(ctx: RowContext, count: number): Promise<SyncedTree> {
  shared ??= (async () => {
    const dir = tempDir('synced');
    const t = performance.now();
    const tree = makeSmallTree(join(dir, 'root'), count, 1024);
    ctx.log(`${fmt(count)} files of 1 KiB written in ${seconds(performance.now() - t, 1)}`);
    const config = writeConfig(join(dir, 'config.json'), { concurrency: 8, requestsPerMinute: 100_000 });
    const stateDir = join(dir, 'state');
    const emu = await Emulator.start();
    const initial = await runSync({ url: emu.url, root: tree.root, stateDir, config, timeoutMs: 900_000 });
    if (initial.report.uploaded !== count) throw new Error(`initial sync uploaded ${initial.report.uploaded} of ${count}`);
    ctx.log(`initial sync of ${fmt(count)} files in ${seconds(initial.measured.wallMs, 1)}`);
    // The initial sync read every file: put their times back, so any later read shows.
    resetTimes(tree);
    return {
      tree,
      emu,
      stateDir,
      config,
      dir,
      initialMs: initial.measured.wallMs,
      initialRssKb: initial.measured.probe?.maxRssKb ?? NaN,
    };
  })();
  return shared;
}

/** Stops the shared emulator and removes the tree (at the end of the bench). */
export async function disposeFixtures(): Promise<void> {
  if (!shared) return;
  const fixture = await shared.catch(() => undefined);
  shared = undefined;
  if (!fixture) return;
  await fixture.emu.stop();
  rmSync(fixture.dir, { recursive: true, force: true });
}
