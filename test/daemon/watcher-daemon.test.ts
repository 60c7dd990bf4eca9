// The daemon's watcher end to end (built CLI, emulator on loopback, real temp folder): a file made
// right after its deeply nested new folder is synced, and with `followSymlinks` a change seen
// through a followed directory link is synced at once, not at the next periodic reconciliation.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import {
  INOTIFY_QUEUE_SIZE,
  daemonSetup,
  daemonStatus,
  overflowWhileStopped,
  remoteFiles,
  startDaemon,
  tearDown,
  waitForMirror,
} from '../helpers/daemon.js';
import { emulator, sha256, waitFor, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  await tearDown(emu, setup);
  emu = setup = undefined;
});

describe('daemon: the watcher', () => {
  it('syncs a file created right after its deeply nested new folder, and one created later in it', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    writeTree(setup.root, { 'start.txt': 'start' });
    await startDaemon(setup);
    await waitForMirror(emu, setup, 'the first reconciliation');

    fs.mkdirSync(path.join(setup.root, 'd1/d2/d3/d4/d5'), { recursive: true });
    fs.writeFileSync(path.join(setup.root, 'd1/d2/d3/d4/d5/early.txt'), 'early');
    await waitForMirror(emu, setup, 'the file made with its folder');
    await waitFor(async () => (await daemonStatus(setup!)).watcher.directories === 6, 'the new folders watched');
    fs.writeFileSync(path.join(setup.root, 'd1/d2/d3/d4/d5/late.txt'), 'late');
    await waitForMirror(emu, setup, 'the file made later');
    expect(remoteFiles(emu).get('d1∕d2∕d3∕d4∕d5∕late.txt')).toBe(sha256('late'));
  }, 60_000);

  it.skipIf(!(INOTIFY_QUEUE_SIZE > 0 && INOTIFY_QUEUE_SIZE <= 200_000))(
    'watches a folder whose creation the kernel dropped (inotify queue overflow)',
    async () => {
      emu = await emulator();
      setup = daemonSetup(emu);
      writeTree(setup.root, { 'noise-a.txt': 'a', 'noise-b.txt': 'b' });
      const daemon = await startDaemon(setup, { args: ['--log-format', 'json'] });
      await waitForMirror(emu, setup, 'the first reconciliation');
      // As in inotify-overflow.test.ts: a stopped daemon's queue overflows and drops what follows.
      overflowWhileStopped(daemon.pid, setup.root, () => fs.mkdirSync(path.join(setup!.root, 'late')));
      await waitFor(async () => (await daemonStatus(setup!)).watcher.directories === 2, 'the folder watched after the overflow');
      fs.writeFileSync(path.join(setup.root, 'late/after.txt'), 'after');
      await waitFor(() => remoteFiles(emu!).get('late∕after.txt') === sha256('after'), 'late/after.txt uploaded', 20_000);
    },
    120_000,
  );

  it('with followSymlinks, syncs a change under a linked folder at once under both paths', async () => {
    emu = await emulator();
    setup = daemonSetup(emu, { followSymlinks: true });
    writeTree(setup.root, { 'real/a.txt': 'alpha' });
    fs.symlinkSync('real', path.join(setup.root, 'link'));
    fs.symlinkSync('..', path.join(setup.root, 'real/up')); // a loop: never entered
    await startDaemon(setup);
    await waitFor(() => remoteFiles(emu!).get('link∕a.txt') === sha256('alpha'), 'the first reconciliation');
    expect((await daemonStatus(setup)).watcher.directories).toBe(3); // the root, real, link (not up)

    fs.writeFileSync(path.join(setup.root, 'real/b.txt'), 'bravo');
    await waitFor(
      () => remoteFiles(emu!).get('real∕b.txt') === sha256('bravo') && remoteFiles(emu!).get('link∕b.txt') === sha256('bravo'),
      'b.txt under both paths',
    );
  }, 60_000);
});
