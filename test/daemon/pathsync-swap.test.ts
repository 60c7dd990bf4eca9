// A daemon path job on a file replaced by another of the same size and mtime (two files swapped
// by renames, `cp -p`, `rsync -t`, an archive unpacked over the tree): the inode tells the new
// file from the old, as in a full reconciliation, so its content is read again and uploaded. It
// used to reuse the ledger's hash: the path's copy kept the other file's content, and "up to date".
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { syncPath } from '../../src/daemon/pathsync.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { buildFilter } from '../../src/local/filter.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import { TEST_KEY, emulator, expectExactState, localHashes, syncSetup, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  setup?.cleanup();
  setup = undefined;
  await emu?.close();
  emu = undefined;
});

it('two files of the same size and mtime swapped by renames: each path gets the content it now holds', async () => {
  emu = await emulator();
  setup = syncSetup(emu);
  writeTree(setup.root, { 'a.cfg': 'version-A', 'b.cfg': 'version-B' });
  const stamp = new Date('2024-05-01T12:00:00Z');
  for (const f of ['a.cfg', 'b.cfg']) fs.utimesSync(path.join(setup.root, f), stamp, stamp);
  const first = await setup.sync();
  expect(first.code, first.stderr).toBe(0);

  const at = (f: string) => path.join(setup!.root, f);
  fs.renameSync(at('a.cfg'), at('tmp.cfg'));
  fs.renameSync(at('b.cfg'), at('a.cfg'));
  fs.renameSync(at('tmp.cfg'), at('b.cfg'));

  const config = loadConfig({ configPath: setup.configFile }, setup.env);
  const ledger = Ledger.open(path.join(setup.stateDir, 'ledger.db'));
  const remote = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY });
  try {
    const { filter } = await buildFilter(config);
    const deps = {
      config: () => config,
      filter: () => filter,
      ledger,
      remote,
      logger: silentLogger(),
      signal: new AbortController().signal,
    };
    for (const f of ['a.cfg', 'b.cfg']) expect((await syncPath(deps, f)).kind).toBe('done');
  } finally {
    await remote.close();
    ledger.close();
  }
  // The old copies the two uploads replaced are deleted by the next reconciliation.
  const after = await setup.sync();
  expect(after.code, after.stderr).toBe(0);
  expectExactState(emu, setup, localHashes(setup.root));
}, 60_000);
