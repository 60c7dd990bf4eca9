// The daemon's start-up is reported honestly: with the API down, "initial reconciliation failed
// (reason); retrying in N s" and never "done", in the log and in `status`; "done" once it succeeds.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { daemonSetup, daemonStatus, startDaemon, tearDown, waitForMirror } from '../helpers/daemon.js';
import { emulator, runCli, tempDir, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
let dataDir: string | undefined;
afterEach(async () => {
  await tearDown(emu, setup);
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  emu = setup = dataDir = undefined;
});

describe('daemon: start-up with the API down', () => {
  it('says the initial reconciliation failed and when it retries, then that it is done once the API answers', async () => {
    dataDir = tempDir('fs-emu-data-');
    emu = await emulator({ dataDir });
    const port = emu.port;
    setup = daemonSetup(emu);
    writeTree(setup.root, { 'a.txt': 'a' });
    await emu.close(); // connections refused from the start
    const daemon = await startDaemon(setup, { args: ['--log-format', 'json'], ready: false });

    const failed = await daemon.waitForLine(/"message":"initial reconciliation failed \(.+\); retrying in \d+ s"/, 60_000);
    expect(failed).toMatch(/unavailable|ECONNREFUSED/);
    expect(daemon.count(/initial reconciliation done/)).toBe(0);
    const status = await daemonStatus(setup);
    expect(status.initialReconciliation).toMatchObject({ state: 'failed' });
    expect(status.initialReconciliation.error).toMatch(/unavailable|ECONNREFUSED/);
    const human = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(human.stdout).toMatch(/initial reconciliation failed \(.+\); retrying at /);

    emu = await emulator({ dataDir, port });
    await daemon.waitForLine(/"message":"initial reconciliation done; syncing changes as they happen"/, 90_000);
    await waitForMirror(emu, setup, 'the folder once the API answers');
    expect((await daemonStatus(setup)).initialReconciliation).toMatchObject({ state: 'done', error: null });
    expect(daemon.count(/initial reconciliation done/)).toBe(1);
    expect((await daemon.stop()).code).toBe(0);
  }, 180_000);
});
