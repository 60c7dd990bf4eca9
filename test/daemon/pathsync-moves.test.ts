// The daemon's delete batches use the planner's one move rule (DESIGN.md rule 4): one new path
// excuses one deleted path of the same content, so `rm` of many empty files is still held. The
// batch reads only the rows it needs (no per-file load), yet the guard's share counts every row.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { deleteBatch } from '../../src/daemon/pathsync.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import { buildFilter } from '../../src/local/filter.js';
import { TEST_KEY, emulator, syncSetup, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  setup?.cleanup();
  setup = undefined;
  await emu?.close();
  emu = undefined;
});

it('a delete batch of twenty empty files is held although one new empty file was just uploaded', async () => {
  emu = await emulator();
  setup = syncSetup(emu, { deletes: { maxCount: 5, maxShare: 1 } });
  const empties = Array.from({ length: 20 }, (_, i) => `empty/${i}.txt`);
  writeTree(setup.root, {
    'keep.txt': 'kept',
    'new-empty.txt': '',
    ...Object.fromEntries(empties.map((p) => [p, ''])),
  });
  const first = await setup.sync();
  expect(first.code, first.stderr).toBe(0);
  fs.rmSync(path.join(setup.root, 'empty'), { recursive: true });

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
    const outcome = await deleteBatch(deps, empties);
    expect(outcome.deleted).toBe(0);
    expect(outcome.held?.reason).toMatch(/^19 files deleted locally/);
    expect(emu.state().files.filter((f) => f.owner === 'self')).toHaveLength(22);
  } finally {
    await remote.close();
    ledger.close();
  }
}, 60_000);

it("a delete batch reads only its rows, yet the guard's share counts every tracked row (20 of 30: held)", async () => {
  emu = await emulator();
  setup = syncSetup(emu, { deletes: { maxCount: 1000, maxShare: 0.5 } });
  const doomed = Array.from({ length: 20 }, (_, i) => `doomed/${i}.txt`);
  const kept = Array.from({ length: 10 }, (_, i) => `kept/${i}.txt`);
  writeTree(setup.root, Object.fromEntries([...doomed, ...kept].map((p) => [p, `content of ${p}`])));
  const first = await setup.sync();
  expect(first.code, first.stderr).toBe(0);
  fs.rmSync(path.join(setup.root, 'doomed'), { recursive: true });

  const config = loadConfig({ configPath: setup.configFile }, setup.env);
  const ledger = Ledger.open(path.join(setup.stateDir, 'ledger.db'));
  const remote = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY });
  // Every row at once is what a daemon with a million files cannot afford per batch.
  let wholeLoads = 0;
  const files = ledger.files.bind(ledger);
  ledger.files = () => {
    wholeLoads += 1;
    return files();
  };
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
    const outcome = await deleteBatch(deps, doomed);
    expect(outcome.deleted).toBe(0);
    expect(outcome.held?.reason).toMatch(/^20 files deleted locally, more than deletes.maxShare \(50%\) of 30 tracked files/);
    expect(wholeLoads).toBe(0);
    expect(emu.state().files.filter((f) => f.owner === 'self')).toHaveLength(30);
  } finally {
    await remote.close();
    ledger.close();
  }
}, 60_000);
