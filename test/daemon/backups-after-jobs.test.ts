// The daemon's backups keep up with its path jobs: a reconciliation that itself changed nothing
// still backs up a ledger whose copies changed since the newest backup (uploads, deletes and moves
// made by path jobs in between). Before, the daemon's backups stopped at its first reconciliation,
// so a `ledger restore` months later brought back a ledger that knew none of its later copies.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { syncPath } from '../../src/daemon/pathsync.js';
import type { Emulator } from '../../src/emulator/index.js';
import { listBackups } from '../../src/ledger/faults.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { buildFilter } from '../../src/local/filter.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import { reconcile } from '../../src/sync/reconcile.js';
import { TEST_KEY, emulator, syncSetup, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  setup?.cleanup();
  setup = undefined;
  await emu?.close();
  emu = undefined;
});

function pathsIn(file: string): string[] {
  const copy = Ledger.open(file, { readOnly: true });
  try {
    return copy
      .files()
      .map((r) => r.path)
      .sort();
  } finally {
    copy.close();
  }
}

it('a reconciliation after path jobs backs up what they changed; one after nothing changed does not', async () => {
  emu = await emulator();
  setup = syncSetup(emu);
  writeTree(setup.root, { 'a.txt': 'alpha' });
  const config = loadConfig({ configPath: setup.configFile }, setup.env);
  const file = path.join(setup.stateDir, 'ledger.db');
  fs.mkdirSync(setup.stateDir, { recursive: true });
  const ledger = Ledger.open(file);
  const remote = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY });
  try {
    const built = await buildFilter(config);
    const { filter } = built;
    const deps = {
      config: () => config,
      filter: () => filter,
      ledger,
      remote,
      logger: silentLogger(),
      signal: new AbortController().signal,
    };
    const run = () => reconcile({ config, filter: built, ledger, remote, logger: silentLogger() });
    expect((await run()).uploaded).toBe(1);
    expect(listBackups(file)).toHaveLength(1);

    // Path jobs, as the daemon runs them on watcher hints.
    writeTree(setup.root, { 'b.txt': 'bravo', 'c.txt': 'charlie' });
    for (const p of ['b.txt', 'c.txt']) expect((await syncPath(deps, p)).kind).toBe('done');

    const after = await run();
    expect(after.uploaded + after.deleted).toBe(0);
    const backups = listBackups(file);
    expect(backups).toHaveLength(2);
    expect(pathsIn(backups.at(-1)!)).toEqual(['a.txt', 'b.txt', 'c.txt']);

    // Nothing changed since: no backup is due.
    await run();
    expect(listBackups(file)).toHaveLength(2);
  } finally {
    await remote.close();
    ledger.close();
  }
}, 60_000);
