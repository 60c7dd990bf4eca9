// `status`'s counts (sync/pending.ts) come from the sync's own pass in its counting mode: it keeps
// no upload action nor stat update, writes nothing (a read-only ledger), makes no request (the
// ledger is trusted for the remote side), and counts what the dry run plans.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { SortedWalk } from '../../src/local/sorted-walk.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import { pendingCounts } from '../../src/sync/pending.js';
import { emptyPlan } from '../../src/sync/plan.js';
import { reconcile } from '../../src/sync/reconcile.js';
import { passScanOptions, planOptionsFor } from '../../src/sync/session.js';
import { runPass } from '../../src/sync/stream.js';
import { TEST_KEY, emulator, tempDir, writeTree } from '../helpers/sync.js';

describe("status's counting pass", () => {
  let emu: Emulator;
  let dir: string;
  let root: string;
  let client: FilesClient;
  const ledgerFile = () => path.join(dir, 'state', 'ledger.db');
  const config = (): Config => ({ ...loadConfig({ root, stateDir: path.join(dir, 'state') }, {}, dir), settleSeconds: 0 });
  beforeEach(async () => {
    emu = await emulator();
    dir = tempDir('fs-pending-');
    root = path.join(dir, 'root');
    fs.mkdirSync(root);
    client = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY, requestsPerMinute: 100_000 });
  });
  afterEach(async () => {
    await client.close();
    await emu.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const tree = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`d${i % 7}/f${i}.txt`, `file ${i}`]));
  const syncOnce = async () => {
    const ledger = Ledger.open(ledgerFile());
    try {
      await reconcile({ config: config(), ledger, remote: client, logger: silentLogger(), allowDuplicates: true });
    } finally {
      ledger.close();
    }
  };
  /** One pass as pendingCounts runs it, with the options under test. */
  const pass = async (ledger: Ledger, opts: { countOnly: boolean; ledgerTrusted: boolean }) => {
    const c = config();
    const plan = emptyPlan();
    const walk = await SortedWalk.open(root, { filter: () => true, followSymlinks: false });
    const result = await runPass({
      ledger,
      tracked: ledger.fileCount(),
      walk,
      scan: passScanOptions(c, ledger, { filter: () => true }),
      options: planOptionsFor(c, { now: Date.now() }),
      adoptedPaths: new Set(),
      failures: new Map(),
      exec: null,
      ...opts,
      plan,
      logger: silentLogger(),
    });
    return { result, plan };
  };

  it('counts a never-synced folder without keeping an upload action', async () => {
    writeTree(root, tree(1500));
    const ledger = Ledger.open(':memory:');
    try {
      const counted = await pass(ledger, { countOnly: true, ledgerTrusted: true });
      expect(counted.result.uploads).toBe(1500);
      expect(counted.plan.uploads).toEqual([]);
      // The dry run's pass keeps them, one action per file: the same number.
      const planned = await pass(ledger, { countOnly: false, ledgerTrusted: true });
      expect(planned.plan.uploads).toHaveLength(1500);
      expect(await pendingCounts(config(), ledger, silentLogger())).toEqual({
        toUpload: 1500,
        toDelete: 0,
        movesWaiting: 0,
        deletesHeld: null,
      });
    } finally {
      ledger.close();
    }
  });

  it('touched files (more than a batch of stat updates) are counted unchanged: kept nowhere, written nowhere', async () => {
    writeTree(root, tree(700));
    await syncOnce();
    const later = new Date(Date.now() + 120_000);
    for (let i = 0; i < 700; i++) fs.utimesSync(path.join(root, `d${i % 7}/f${i}.txt`), later, later);
    const ledger = Ledger.open(ledgerFile(), { readOnly: true });
    try {
      const before = ledger.files();
      const counted = await pass(ledger, { countOnly: true, ledgerTrusted: true });
      expect(counted.plan.statUpdates).toEqual([]);
      expect(counted.plan.unchanged).toBe(700);
      expect(counted.result.uploads).toBe(0);
      expect(await pendingCounts(config(), ledger, silentLogger())).toEqual({
        toUpload: 0,
        toDelete: 0,
        movesWaiting: 0,
        deletesHeld: null,
      });
      expect(ledger.files()).toEqual(before);
    } finally {
      ledger.close();
    }
  });

  it('the ledger is trusted for the remote side: no listing, and no row reads as missing remotely', async () => {
    writeTree(root, tree(40));
    await syncOnce();
    fs.rmSync(path.join(root, 'd0/f0.txt'));
    const ledger = Ledger.open(ledgerFile(), { readOnly: true });
    const requests = structuredClone(emu.state().requests);
    try {
      expect(await pendingCounts(config(), ledger, silentLogger())).toEqual({
        toUpload: 0,
        toDelete: 1,
        movesWaiting: 0,
        deletesHeld: null,
      });
      // Without the option, a connection that loaded no listing finds no id remotely: all re-uploads.
      const untrusted = await pass(ledger, { countOnly: true, ledgerTrusted: false });
      expect(untrusted.result.uploads).toBe(39);
    } finally {
      ledger.close();
    }
    expect(emu.state().requests).toEqual(requests);
  });
});
