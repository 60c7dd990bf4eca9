// A daemon on a lost state directory holds the new paths whose copies seem to be in the workspace
// (look-alikes, until `adopt` or `--allow-duplicates`): its path jobs must hold them too. Before,
// a touch of a held file had its path job upload a second copy, and `status` said "syncing" for
// as long as the hold lasted, beside an idle daemon.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { daemonSetup, startDaemon, tearDown } from '../helpers/daemon.js';
import { emulator, runCli, waitFor, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  await tearDown(emu, setup);
  emu = setup = undefined;
});

describe('daemon: look-alikes held', () => {
  it('a path job does not upload a held path again; a new file with no look-alike is uploaded', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    writeTree(setup.root, { 'a.txt': 'alpha held', 'b.txt': 'bravo held' });
    const past = new Date(Date.now() - 60_000);
    for (const f of ['a.txt', 'b.txt']) fs.utimesSync(path.join(setup.root, f), past, past);
    expect((await runCli(['sync', '--config', setup.configFile], setup.env)).code).toBe(0);
    fs.rmSync(setup.stateDir, { recursive: true, force: true }); // a lost state directory
    const ours = () =>
      emu!
        .state()
        .files.filter((f) => f.owner === 'self')
        .map((f) => f.filename)
        .sort();

    const daemon = await startDaemon(setup, { ready: false });
    await daemon.waitForLine(/2 files are not uploaded/);
    const now = new Date();
    fs.utimesSync(path.join(setup.root, 'a.txt'), now, now); // same content and size: a path job
    writeTree(setup.root, { 'c.txt': 'charlie, new' });
    await waitFor(() => ours().includes('c.txt'), 'the new file to be uploaded', 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // a.txt's job, settled and run
    expect(ours()).toEqual(['a.txt', 'b.txt', 'c.txt']);
    const status = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(status.stdout).toMatch(/^state: failing: 2 files are not uploaded/m);
  });

  it('a fresh daemon with a file it cannot upload (too large) settles all the same: new files go by path jobs', async () => {
    emu = await emulator();
    setup = daemonSetup(emu, { maxFileBytes: 1000 });
    writeTree(setup.root, { 'a.txt': 'a', 'video.bin': 'v'.repeat(5000) });
    const daemon = await startDaemon(setup);
    const reconciled = () => daemon.count(/reconciled/);
    const before = reconciled();
    writeTree(setup.root, { 'new-1.txt': 'one', 'new-2.txt': 'two' });
    await waitFor(() => ['new-1.txt', 'new-2.txt'].every((n) => emu!.state().files.some((f) => f.filename === n)), 'the new files', 20_000);
    // Uploaded by their path jobs: no reconciliation asked for (before, each new file cost one, with a full listing).
    expect(reconciled()).toBe(before);
    expect(daemon.count(/look-alikes are held/)).toBe(0);
  });
});
