// The daemon never syncs its own state directory under another name (DESIGN.md rule 9): renamed
// within the root while it runs, the new folder's files were hinted and uploaded (its ledger, the
// ledger's WAL the daemon goes on writing, backups, lock), and the next daemon's walk uploaded the
// folder. A folder holding files-sync's state marker is now excluded in every listing and job.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { daemonSetup, startDaemon, tearDown } from '../helpers/daemon.js';
import { emulator, ourNames, waitFor, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  await tearDown(emu, setup);
  emu = undefined;
  setup = undefined;
});

it('a state directory inside the root renamed while the daemon runs: nothing of it is uploaded, then or after a restart', async () => {
  emu = await emulator();
  const base = daemonSetup(emu);
  const stateDir = path.join(base.root, '.state');
  const config = JSON.parse(fs.readFileSync(base.configFile, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(base.configFile, JSON.stringify({ ...config, stateDir }));
  setup = { ...base, stateDir };
  writeTree(setup.root, { 'a.txt': 'a' });
  const stolenNames = () => ourNames(emu!).filter((n) => n.startsWith('stolen') || n.startsWith('.state'));

  const first = await startDaemon(setup);
  await waitFor(() => ourNames(emu!).includes('a.txt'), 'a.txt uploaded');
  fs.renameSync(stateDir, path.join(setup.root, 'stolen'));
  // Until it finds its ledger moved (it then stops), the daemon takes the folder's events: a new
  // file shows it does.
  writeTree(setup.root, { 'after.txt': 'after' });
  await waitFor(() => ourNames(emu!).includes('after.txt'), 'after.txt uploaded');
  writeTree(setup.root, { 'stolen/planted.txt': 'in the renamed folder' });
  await new Promise((r) => setTimeout(r, 1500)); // settle and delete delays, several times over
  expect(stolenNames()).toEqual([]);
  await first.stop();

  // A new daemon makes a fresh state directory at the configured path; its walk passes the old one by.
  const second = await startDaemon(setup);
  await new Promise((r) => setTimeout(r, 1000));
  expect(stolenNames()).toEqual([]);
  expect(fs.existsSync(path.join(stateDir, '.files-sync-state'))).toBe(true);
  await second.stop();
});
