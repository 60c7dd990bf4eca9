// A `.filesyncignore` the daemon cannot take (a costly rule, another user's file, a link...) is
// written by whoever writes into the folder (DESIGN.md rule 9): at start it must not end the
// daemon (systemd would restart it into its start limit and leave the service down), but hold it
// back, nothing synced, said in the log and in `status`, until the file is fixed.
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

describe('daemon: a refused .filesyncignore at start', () => {
  it('holds the start, says why in the log and status, and starts once the file is fixed', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    writeTree(setup.root, { 'a.txt': 'a', 'b.log': 'b', '.filesyncignore': '*.log\na/**/b/**/c/**/d\n' });
    const daemon = await startDaemon(setup, { ready: false });
    const said = await daemon.waitForLine(/cannot start: \.filesyncignore/);
    expect(said).toMatch(/line 2 \(a\/\*\*\/b\/\*\*\/c\/\*\*\/d\)/);
    expect(said).toMatch(/nothing is synced until it is fixed/);
    // Held, not ended: still running a while later, and nothing uploaded.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await Promise.race([daemon.done.then(() => 'exited'), Promise.resolve('running')])).toBe('running');
    expect(emu.state().files).toEqual([]);
    const status = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^state: failing: \.filesyncignore line 2 .*; nothing is synced until it is fixed$/m);
    const json = await runCli(['status', '--json', '--config', setup.configFile], setup.env);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ state: 'failing', toUpload: null, toDelete: null });

    fs.writeFileSync(path.join(setup.root, '.filesyncignore'), '*.log\n');
    daemon.child.kill('SIGUSR1'); // ends the wait at once, as it ends the wait of any held start
    await daemon.waitForLine(/initial reconciliation done/, 30_000);
    await waitFor(() => emu!.state().files.length > 0, 'the first upload', 20_000);
    expect(emu.state().files.map((f) => f.filename)).toEqual(['a.txt']); // b.log and the ignore file itself are excluded
  });

  it('beside a running daemon, status says the daemon keeps the filter it has, not that nothing is synced', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    writeTree(setup.root, { 'a.txt': 'a' });
    const daemon = await startDaemon(setup);
    fs.writeFileSync(path.join(setup.root, '.filesyncignore'), 'a/**/b/**/c/**/d\n');
    await daemon.waitForLine(/\.filesyncignore/);
    const status = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(status.stdout).toMatch(/^state: failing: \.filesyncignore line 1 .*; the running daemon keeps the filter it had$/m);
    expect(status.stdout).not.toMatch(/nothing is synced/);
  });
});
