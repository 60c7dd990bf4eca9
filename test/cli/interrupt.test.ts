// Interruptions are reported as interruptions: SIGINT during a one-shot sync and during a sync
// handed to a daemon ends with exit 130 and says so; status records the interrupted sync.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { daemonSetup, killDaemons, startDaemon } from '../helpers/daemon.js';
import {
  emulator,
  expectExactState,
  localHashes,
  runCli,
  spawnCli,
  syncSetup,
  waitFor,
  writeTree,
  type SyncSetup,
} from '../helpers/sync.js';

const FILES = 30;

function fill(setup: SyncSetup, tag: string): void {
  const files: Record<string, string> = {};
  for (let i = 0; i < FILES; i++) files[`d/${tag}-${i}.txt`] = `${tag} ${i}`;
  writeTree(setup.root, files);
}

describe('interruptions', () => {
  let emu: Emulator;
  let setup: SyncSetup | undefined;
  beforeAll(async () => {
    emu = await emulator();
  });
  afterEach(async () => {
    emu.setFaults({});
    await killDaemons();
    setup?.cleanup();
  });
  afterAll(async () => emu.close());
  const ours = () => emu.state().files.filter((f) => f.owner === 'self').length;

  it('SIGINT during a dry run with --json, before its plan: one document with the exit code, not an empty stdout', async () => {
    setup = syncSetup(emu);
    fill(setup, 'dry');
    emu.setFaults({ latencyMs: 3_000 }); // the listing is on the wire when the stop comes
    const { child, done } = spawnCli(['sync', '--dry-run', '--json', '--config', setup.configFile], setup.env);
    await new Promise((resolve) => setTimeout(resolve, 800));
    child.kill('SIGINT');
    const r = await done;
    expect(r.code, r.stderr).toBe(130);
    expect(JSON.parse(r.stdout)).toEqual({ exitCode: 130, error: 'interrupted while scanning: nothing was uploaded or deleted' });
  });

  it('SIGINT during a one-shot sync: in-flight transfers end, "interrupted: N of M done", exit 130, status says interrupted', async () => {
    setup = syncSetup(emu, { concurrency: 2, requestsPerMinute: 100_000 });
    fill(setup, 'one');
    emu.setFaults({ latencyMs: 300 });
    const before = ours();
    const { child, done } = spawnCli(['sync', '--config', setup.configFile], setup.env);
    await waitFor(() => ours() > before, 'a first upload', 30_000);
    child.kill('SIGINT');
    const r = await done;
    expect(r.code, r.stderr).toBe(130);
    const m = /interrupted: (\d+) of (\d+) done; run sync again/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    expect(Number(m![2])).toBe(FILES);
    expect(Number(m![1])).toBeLessThan(FILES);
    // Every transfer that started was let finish and recorded: what landed is what the ledger holds.
    expect(Number(m![1])).toBe(ours() - before);
    const status = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(status.stdout).toMatch(/^state: interrupted/m);
    expect(status.stdout).toMatch(/last sync: .* exit 130, interrupted/);
    emu.setFaults({});
    const again = await setup.sync();
    expect(again.code, again.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
  });

  it('SIGINT while uploads wait for the rate limiter: no request is on the wire, so the sync ends at once, not after the grace', async () => {
    // An emulator of its own, for the exact state at the end. 5 requests a minute: the listing and 4
    // uploads, then every upload waits for a slot a minute away.
    const own = await emulator();
    onTestFinished(() => own.close());
    setup = syncSetup(own, { concurrency: 4, requestsPerMinute: 5 });
    fill(setup, 'limited');
    const stored = () => own.state().files.length;
    const { child, done } = spawnCli(['sync', '--config', setup.configFile], setup.env);
    await waitFor(() => stored() >= 4, 'the uploads the limit lets through', 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the next ones are waiting for a slot
    const signalled = Date.now();
    child.kill('SIGINT');
    const r = await done;
    const ms = Date.now() - signalled;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/interrupted: 4 of 30 done; run sync again/);
    // The grace is 10 s: nothing was in flight to wait for.
    expect(ms, r.stderr).toBeLessThan(5_000);
    expect(stored()).toBe(4);
    const config = JSON.parse(fs.readFileSync(setup.configFile, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(setup.configFile, JSON.stringify({ ...config, requestsPerMinute: 100_000 }));
    const again = await setup.sync();
    expect(again.code, again.stderr).toBe(0);
    expectExactState(own, setup, localHashes(setup.root));
  });

  it('a second SIGINT while the scan is still going: the uploads done are reported, not "nothing was uploaded"', async () => {
    // More files than the queue holds ahead (256): the scan is still going when the stop comes. An
    // emulator of its own, for the exact state at the end.
    const own = await emulator();
    onTestFinished(() => own.close());
    setup = syncSetup(own, { concurrency: 2, requestsPerMinute: 100_000 });
    const ours = () => own.state().files.filter((f) => f.owner === 'self').length;
    const files: Record<string, string> = {};
    for (let i = 0; i < 400; i++) files[`d/many-${String(i).padStart(3, '0')}.txt`] = `many ${i}`;
    writeTree(setup.root, files);
    own.setFaults({ latencyMs: 300 });
    const { child, done } = spawnCli(['sync', '--config', setup.configFile], setup.env);
    await waitFor(() => ours() >= 2, 'the first uploads', 30_000);
    child.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 50));
    child.kill('SIGINT'); // now: the uploads in flight are cut
    const r = await done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).not.toMatch(/nothing was uploaded or deleted/);
    const m = /interrupted: (\d+) of (\d+) found before the scan stopped done; run sync again/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    expect(Number(m![1])).toBe(ours());
    own.setFaults({});
    const again = await setup.sync();
    expect(again.code, again.stderr).toBe(0);
    expectExactState(own, setup, localHashes(setup.root));
  });

  it('SIGINT after the storage filled up: the full storage is the outcome (exit 5), not "nothing was uploaded"', async () => {
    // Room for 4 files of 100 bytes, 20 to upload: the uploads stop, the user presses Ctrl-C.
    const own = await emulator({ storageQuotaBytes: 400 });
    onTestFinished(() => own.close());
    setup = syncSetup(own, { concurrency: 2, requestsPerMinute: 100_000 });
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`f${String(i).padStart(2, '0')}.txt`] = String(i).padStart(100, '.');
    writeTree(setup.root, files);
    own.setFaults({ latencyMs: 800 });
    const stored = () => own.state().files.filter((f) => f.owner === 'self').length;
    const { child, done } = spawnCli(['sync', '--config', setup.configFile], setup.env);
    await waitFor(() => stored() >= 4, 'the storage full', 30_000);
    child.kill('SIGINT');
    const r = await done;
    expect(stored()).toBe(4);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/storage quota is exhausted/);
    expect(r.stderr).not.toMatch(/nothing was uploaded or deleted/);
    const status = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(status.stdout).toMatch(/last sync: .* exit 5/);
  });

  it('SIGINT during a sync handed to the daemon: exit 130, and the client says the daemon goes on', async () => {
    setup = daemonSetup(emu, { concurrency: 1 });
    const daemon = await startDaemon(setup);
    fill(setup, 'two');
    emu.setFaults({ latencyMs: 300 });
    const { child, done } = spawnCli(['sync', '--json', '--config', setup.configFile], setup.env);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(() => /asking it to reconcile now/.test(stderr), 'the hand-off', 30_000);
    child.kill('SIGINT');
    const r = await done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/interrupted: the daemon's reconciliation goes on/);
    // --json: one document all the same (a review found an empty stdout).
    expect(JSON.parse(r.stdout)).toEqual({ exitCode: 130, error: "interrupted: the daemon's reconciliation goes on" });
    expect(daemon.child.exitCode).toBeNull();
    expect(path.isAbsolute(setup.root)).toBe(true);
  });
});
