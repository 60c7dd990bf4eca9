// The kernel's inotify queue overflowing (IN_Q_OVERFLOW, which libuv drops without a word): the
// daemon notices a burst as large as the queue, says so once, and reconciles fully, so a change
// whose event the kernel dropped is still synced within seconds, not at the hourly reconciliation.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import {
  INOTIFY_QUEUE_SIZE,
  daemonSetup,
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

describe('daemon: the kernel drops events', () => {
  it.skipIf(!(INOTIFY_QUEUE_SIZE > 0 && INOTIFY_QUEUE_SIZE <= 200_000))(
    'reconciles after an inotify queue overflow and syncs the change whose event was lost',
    async () => {
      emu = await emulator();
      setup = daemonSetup(emu);
      writeTree(setup.root, { 'noise-a.txt': 'a', 'noise-b.txt': 'b' });
      const daemon = await startDaemon(setup, { args: ['--log-format', 'json'] });
      await waitForMirror(emu, setup, 'the first reconciliation');

      // A stopped daemon reads no events: the kernel's queue fills with attribute changes,
      // overflows, and drops the creation of late.txt.
      overflowWhileStopped(daemon.pid, setup.root, () => fs.writeFileSync(path.join(setup!.root, 'late.txt'), 'late'));
      await waitFor(() => remoteFiles(emu!).get('late.txt') === sha256('late'), 'late.txt uploaded', 20_000);
      expect(daemon.count(/"message":"the kernel dropped file events/)).toBe(1);
      await waitForMirror(emu, setup, 'the folder after the overflow');
    },
    120_000,
  );
});
