// `status` tells the truth: beside a running one-shot sync it says "syncing" and no daemon; a
// missing root is exit 3; a failed run is recorded with its exit code.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { killDaemons, startDaemon, waitForMirror } from '../helpers/daemon.js';
import { emulator, runCli, spawnCli, syncSetup, waitFor, writeTree, type SyncSetup } from '../helpers/sync.js';

describe('status', () => {
  let emu: Emulator;
  let setup: SyncSetup | undefined;
  beforeAll(async () => {
    emu = await emulator();
  });
  afterEach(async () => {
    await killDaemons();
    emu.setFaults({});
    setup?.cleanup();
  });
  afterAll(async () => emu.close());

  it('beside a running one-shot sync: "syncing", and no daemon', async () => {
    setup = syncSetup(emu, { concurrency: 1, requestsPerMinute: 100_000 });
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`s-${i}.txt`] = `status ${i}`;
    writeTree(setup.root, files);
    emu.setFaults({ latencyMs: 300 });
    const { child, done } = spawnCli(['sync', '--config', setup.configFile], setup.env);
    await waitFor(() => fs.existsSync(path.join(setup!.stateDir, 'lock')), 'the sync to take the lock', 30_000);
    const status = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^state: syncing: \\d+ to upload, 0 to delete \\(a one-shot sync, pid ${child.pid}\\)$`, 'm'));
    expect(status.stdout).toMatch(/^daemon: not running$/m);
    expect(status.stdout).not.toMatch(new RegExp(`daemon: .*${child.pid}`));
    emu.setFaults({});
    expect((await done).code).toBe(0);
    const after = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(after.stdout).toMatch(/^state: up to date$/m);
    expect(after.stdout).toMatch(/^last sync: \S+, exit 0$/m);
  });

  it('beside an idle daemon: "up to date", naming the daemon; "syncing" while it has work', async () => {
    // Its own emulator: the mirror check counts every copy of ours the emulator holds.
    const own = await emulator();
    onTestFinished(() => own.close());
    setup = syncSetup(own);
    writeTree(setup.root, { 'a.txt': 'watched', 'b/c.txt': 'watched too' });
    const daemon = await startDaemon(setup);
    await waitForMirror(own, setup, 'the daemon to mirror the folder');
    const state = async () => {
      const status = await runCli(['status', '--config', setup!.configFile], setup!.env);
      expect(status.code, status.stderr).toBe(0);
      return /^state: (.*)$/m.exec(status.stdout)?.[1];
    };
    await waitFor(async () => (await state())?.startsWith('up to date') === true, 'status to say up to date', 20_000);
    expect(await state()).toBe(`up to date (daemon, pid ${daemon.pid}, watching)`);
    const json = JSON.parse((await runCli(['status', '--json', '--config', setup.configFile], setup.env)).stdout) as { state: string };
    expect(json.state).toBe('up to date');

    // Work the daemon has not done yet is not "up to date".
    own.setFaults({ latencyMs: 2_000 });
    fs.writeFileSync(path.join(setup.root, 'new.txt'), 'not yet sent');
    await waitFor(async () => (await state())?.startsWith('syncing') === true, 'status to say syncing', 20_000);
    expect(await state()).toMatch(new RegExp(`^syncing: [01] to upload, 0 to delete \\(daemon, pid ${daemon.pid}\\)$`));
    own.setFaults({});
    await waitForMirror(own, setup, 'the daemon to send new.txt');
    await waitFor(async () => (await state())?.startsWith('up to date') === true, 'status to say up to date again', 20_000);
    await daemon.stop();

    // A daemon whose watcher failed (the inotify limit) is not watching: status does not say it is.
    const blind = await startDaemon(setup, { env: { FILES_SYNC_TEST_WATCHER: 'enospc' } });
    await waitFor(async () => (await state())?.startsWith('up to date') === true, 'status to say up to date', 20_000);
    expect(await state()).toBe(`up to date (daemon, pid ${blind.pid}; its watcher: failed, so changes wait for its next reconciliation)`);
    await blind.stop();
  }, 60_000);

  it('beside an idle daemon holding a mass delete: "not up to date" with the hold, not "syncing"', async () => {
    const own = await emulator();
    onTestFinished(() => own.close());
    setup = syncSetup(own, { deleteDelaySeconds: 0 });
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`held-${i}.txt`] = `held ${i}`;
    writeTree(setup.root, files);
    const daemon = await startDaemon(setup);
    await waitForMirror(own, setup, 'the daemon to mirror the folder');
    for (let i = 0; i < 13; i++) fs.rmSync(path.join(setup.root, `held-${i}.txt`));
    const state = async () => {
      const status = await runCli(['status', '--config', setup!.configFile], setup!.env);
      expect(status.code, status.stderr).toBe(0);
      return /^state: (.*)$/m.exec(status.stdout)?.[1];
    };
    await waitFor(async () => (await state())?.includes('deletes held') === true, 'status to tell the hold', 20_000);
    await new Promise((r) => setTimeout(r, 1_000)); // the daemon idle, waiting on the operator
    // 12 or 13: with no delete delay the daemon may judge the first removal alone (1 of 20, under
    // the guard's share) before the others reach it; the rest are held either way.
    expect(await state()).toMatch(/^not up to date: 0 to upload, 0 to delete; deletes held: 1[23] files deleted locally/);
    await daemon.stop();
  }, 60_000);

  it('deletes a sync would hold (a mass delete) are said, not counted away as "up to date"', async () => {
    setup = syncSetup(emu);
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`held-${i}.txt`] = `held ${i}`;
    writeTree(setup.root, files);
    expect((await setup.sync()).code).toBe(0);
    for (let i = 0; i < 13; i++) fs.rmSync(path.join(setup.root, `held-${i}.txt`));
    const status = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(
      /^state: not up to date: 0 to upload, 0 to delete; deletes held: 13 files deleted locally, .*run with --allow-mass-delete/m,
    );
    const json = JSON.parse((await runCli(['status', '--json', '--config', setup.configFile], setup.env)).stdout) as Record<
      string,
      unknown
    >;
    expect(json).toMatchObject({ state: 'not up to date', deletesHeld: { count: 13 } });
  });

  it('deletes a sync would block (the root marker missing) are said too', async () => {
    setup = syncSetup(emu, { rootMarker: '.mounted' });
    writeTree(setup.root, { '.mounted': '', 'one-block.txt': 'one', 'two-block.txt': 'two' });
    expect((await setup.sync()).code).toBe(0);
    fs.rmSync(path.join(setup.root, '.mounted'));
    fs.rmSync(path.join(setup.root, 'one-block.txt'));
    const status = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(status.stdout).toMatch(
      /^state: not up to date: 0 to upload, 0 to delete; deletes blocked: the root marker \.mounted is missing/m,
    );
  });

  it("after ledger restore, the backup's reconciliation tells the state, not the run record from before it", async () => {
    setup = syncSetup(emu);
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`restored-${i}.txt`] = `restored ${i}`;
    writeTree(setup.root, files);
    expect((await setup.sync()).code).toBe(0);
    for (let i = 0; i < 13; i++) fs.rmSync(path.join(setup.root, `restored-${i}.txt`));
    expect((await setup.sync()).code).toBe(3); // held: recorded as the last sync
    // Accepted: this run's backup is taken before its own record is written.
    expect((await setup.sync(['--allow-mass-delete'])).code).toBe(0);
    const restored = await runCli(['ledger', 'restore', '--config', setup.configFile], setup.env);
    expect(restored.code, restored.stderr).toBe(0);
    const status = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(status.stdout).toMatch(/^state: up to date$/m);
  });

  it('status --root /missing exits 3 and says the root is missing', async () => {
    setup = syncSetup(emu);
    const r = await runCli(['status', '--root', path.join(setup.dir, 'missing'), '--state-dir', setup.stateDir], setup.env);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^state: root missing: /m);
  });

  it('a failed run (exit 4) is recorded: status says failing, with the exit code', async () => {
    setup = syncSetup(emu);
    writeTree(setup.root, { 'f.txt': 'failing run' });
    const failed = await runCli(['sync', '--config', setup.configFile], { ANTHROPIC_API_KEY: 'sk-ant-wrong-key' });
    expect(failed.code).toBe(4);
    const status = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(status.stdout).toMatch(/^state: failing: /m);
    expect(status.stdout).toMatch(/^last sync: \S+, exit 4, /m);
  });
});
