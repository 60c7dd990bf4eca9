// A daemon killed during its first reconciliation, with uploads in flight: the daemon does not
// time its uploads on the API's clock (health.ts), so the next reconciliation cannot tell the
// copies those uploads made from another application's and records them as unclaimed (rule 3:
// never deleted or taken on a guess). Those copies must not then hold their own paths' uploads
// as a lost state directory's look-alikes would: every file is synced (rule 3: no lost file), and
// the unclaimed copies are left for `forget-copies`, with the true reason.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { daemonSetup, startDaemon, tearDown } from '../helpers/daemon.js';
import { emulator, localHashes, runCli, waitFor, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  await tearDown(emu, setup);
  emu = setup = undefined;
});

const FILES = 60;

describe('daemon: killed during its first reconciliation', () => {
  it('syncs every file after the restart; the copies of the cut uploads are unclaimed, not holding their paths', async () => {
    emu = await emulator({ faults: { latencyMs: 300 } });
    setup = daemonSetup(emu);
    const files: Record<string, string> = {};
    for (let i = 0; i < FILES; i++) files[`d${i % 3}/f${i}.txt`] = `content ${i} `.repeat(20);
    writeTree(setup.root, files);
    const first = await startDaemon(setup, { ready: false });
    await waitFor(() => emu!.state().files.length >= 10, '10 uploads', 60_000);
    await first.stop('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 600)); // the uploads in flight land
    emu.setFaults({});

    const second = await startDaemon(setup);
    const run = await runCli(['sync', '--config', setup.configFile], setup.env);
    expect(run.stdout + run.stderr).not.toMatch(/not uploaded/);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const ledger = Ledger.open(path.join(setup.stateDir, 'ledger.db'), { readOnly: true });
    try {
      expect(new Set(ledger.files().map((f) => f.path))).toEqual(new Set(localHashes(setup.root).keys()));
      expect(ledger.unclaimedCopies().length).toBeGreaterThan(0);
      for (const copy of ledger.unclaimedCopies()) expect(copy.reason).toMatch(/not timed on the API's clock \(the daemon's are not/);
    } finally {
      ledger.close();
    }
    const status = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(status.stdout).not.toMatch(/failing/);
    expect(second.count(/not uploaded/)).toBe(0);
  }, 120_000);
});
