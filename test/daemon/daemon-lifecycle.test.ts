// `files-sync daemon` end to end, its life: restarts, the periodic reconciliation, `sync` and
// `status` through the control socket, the lock, signals, logging formats and a refused key.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { acquireLock } from '../../src/lock.js';
import { daemonSetup, daemonStatus, ledgerRows, remoteFiles, startDaemon, tearDown, waitForMirror } from '../helpers/daemon.js';
import { emulator, expectExactState, localHashes, runCli, waitFor, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  await tearDown(emu, setup);
  emu = setup = undefined;
});

describe('daemon: restarts and missed changes', () => {
  it('syncs at start what changed while it was stopped', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    writeTree(setup.root, { 'keep.txt': 'keep', 'change.txt': 'old', 'remove.txt': 'remove' });
    let daemon = await startDaemon(setup);
    await waitForMirror(emu, setup, 'the first run');
    expect((await daemon.stop()).code).toBe(0);

    writeTree(setup.root, { 'change.txt': 'new content', 'added/while-down.txt': 'added' });
    fs.rmSync(path.join(setup.root, 'remove.txt'));
    daemon = await startDaemon(setup);
    await waitForMirror(emu, setup, 'the changes made while stopped');
    expect([...remoteFiles(emu).keys()].sort()).toEqual(['added∕while-down.txt', 'change.txt', 'keep.txt']);
    expect((await daemon.stop()).code).toBe(0);
  });

  it('when watching fails, names the inotify limit once and catches changes by periodic reconciliation', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    writeTree(setup.root, { 'a/b/c/one.txt': 'one', 'a/two.txt': 'two' });
    const daemon = await startDaemon(setup, {
      env: { FILES_SYNC_TEST_WATCHER: 'enospc', FILES_SYNC_TEST_RECONCILE_SECONDS: '2' },
    });
    const line = await daemon.waitForLine(/fs\.inotify\.max_user_watches/);
    expect(line).toMatch(/ENOSPC/);
    expect(line).toMatch(/4 directories need one watch each/); // root, a, a/b, a/b/c
    await waitForMirror(emu, setup, 'the first reconciliation');

    // No watcher sees these: only the periodic reconciliation can.
    writeTree(setup.root, { 'missed.txt': 'the watcher never saw this', 'a/two.txt': 'changed unseen' });
    await waitForMirror(emu, setup, 'a periodic reconciliation');
    const status = await daemonStatus(setup);
    expect(status.watcher.state).toBe('failed');
    expect(status.watcher.error).toMatch(/ENOSPC/);
    expect(status.reconcile.nextAt).not.toBeNull();
    expect(daemon.count(/max_user_watches/)).toBe(1);
  });
});

describe('daemon: one writer', () => {
  it('answers `files-sync sync` itself, with the exit code a one-shot run would have', async () => {
    emu = await emulator();
    setup = daemonSetup(emu, { deletes: { mode: 'mirror', maxCount: 3, maxShare: 0.5 } });
    writeTree(setup.root, Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}.txt`, `file ${i}`])));
    const daemon = await startDaemon(setup);
    await waitForMirror(emu, setup, 'the first run');
    const lockBefore = fs.readFileSync(path.join(setup.stateDir, 'lock'), 'utf8');

    const ok = await setup.sync();
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/0 new, 0 changed, 0 removed, 12 unchanged/);
    expect(ok.stderr).toMatch(new RegExp(`daemon \\(pid ${daemon.pid}\\).*asking it to reconcile`));
    expect(daemon.count(/requested over the control socket/)).toBe(1);
    expect(fs.readFileSync(path.join(setup.stateDir, 'lock'), 'utf8')).toBe(lockBefore); // the daemon still owns the state

    // Deleting 6 of 12 files trips the guard: the daemon holds the deletes...
    for (let i = 0; i < 6; i++) fs.rmSync(path.join(setup.root, `f${i}.txt`));
    await daemon.waitForLine(/deletes held/);
    expect(remoteFiles(emu).size).toBe(12);
    // ...and a sync through it reports them held, with exit 3, as a one-shot run would.
    const held = await setup.sync(['--json']);
    expect(held.code, held.stderr).toBe(3);
    expect(JSON.parse(held.stdout).held.count).toBe(6);
    const allowed = await setup.sync(['--allow-mass-delete']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stdout).toMatch(/0 new, 0 changed, 6 removed, 6 unchanged/);
    await waitForMirror(emu, setup, 'the allowed deletes');

    const status = await runCli(['status', '--json', '--config', setup.configFile], setup.env);
    expect(status.code, status.stderr).toBe(0);
    const live = JSON.parse(status.stdout).daemon;
    expect(live.pid).toBe(daemon.pid);
    expect(live.live).toMatchObject({
      state: 'running',
      queue: { queued: 0, running: 0 },
      watcher: { state: 'watching' },
      api: { state: 'ok' },
    });
    expect(live.live.reconcile.last.exitCode).toBe(0);
  });

  it('retries at a `files-sync sync` a file backing off from an earlier failure, as a one-shot run would', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    writeTree(setup.root, { 'ok.txt': 'ok', 'flaky.txt': 'failed a minute ago' });
    const stat = fs.statSync(path.join(setup.root, 'flaky.txt'));
    const ledger = Ledger.open(path.join(setup.stateDir, 'ledger.db'));
    ledger.recordFailure('flaky.txt', 'HTTP 500', 'backoff', { size: stat.size, mtimeMs: stat.mtimeMs }, Date.now());
    ledger.close();
    const daemon = await startDaemon(setup);
    expect([...remoteFiles(emu).keys()]).toEqual(['ok.txt']); // the daemon's own runs wait out the back-off

    const sync = await setup.sync();
    expect(sync.code, sync.stderr).toBe(0);
    expect(sync.stdout).toMatch(/1 new, 0 changed, 0 removed, 1 unchanged, 0 failed/);
    expectExactState(emu, setup, localHashes(setup.root));
    expect((await daemon.stop()).code).toBe(0);
  });

  it('says which daemon holds the state when its control socket does not answer (exit 2)', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    // A live process (this test runner) holding the lock as the daemon, and no socket: a hung holder.
    // (A hint whose process holds no lock is stale: test/cli/stale-lock.test.ts.)
    const lock = acquireLock(setup.stateDir, 'daemon');
    onTestFinished(() => lock.release());
    const result = await setup.sync();
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      new RegExp(`daemon \\(pid ${process.pid}\\) holds .* its control socket .*control\\.sock does not answer \\(ENOENT\\)`),
    );
    expect(fs.existsSync(path.join(setup.stateDir, 'ledger.db'))).toBe(false);
  });

  it('refuses a second daemon on the same state with exit 2, naming the running pid', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    const first = await startDaemon(setup);
    const second = await startDaemon(setup, { ready: false });
    const result = await second.done;
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`pid ${first.pid}`));
    expect((await daemonStatus(setup)).pid).toBe(first.pid);
  });

  it('started while a one-shot command holds the state (a scheduled sync), waits for it and starts: exit 2 would leave its unit failed for good', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    writeTree(setup.root, { 'a.txt': 'a' });
    const held = acquireLock(setup.stateDir, 'sync'); // this test runner, as the sync
    let released = false;
    onTestFinished(() => {
      if (!released) held.release();
    });
    const daemon = await startDaemon(setup, { ready: false });
    const line = await daemon.waitForLine(/cannot start yet/);
    expect(line).toMatch(new RegExp(`another files-sync \\(sync, pid ${process.pid}\\) is using .*; starting once it has finished`));
    await new Promise((r) => setTimeout(r, 1_000));
    expect(daemon.child.exitCode).toBeNull();
    held.release();
    released = true;
    await daemon.waitForLine(/initial reconciliation done/, 30_000);
    expect(daemon.count(/cannot start/)).toBe(1);
    expect(remoteFiles(emu).size).toBe(1);
    const stopped = await daemon.stop();
    expect(stopped.code, stopped.stderr).toBe(0);
  });

  it('waiting for a command, a config broken meanwhile is said once, not at every look (a sync may hold the state for hours)', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    const held = acquireLock(setup.stateDir, 'sync');
    onTestFinished(() => held.release());
    const env = { FILES_SYNC_TEST_LOCK_RETRY_MS: '100' };
    const daemon = await startDaemon(setup, { ready: false, env });
    await daemon.waitForLine(/cannot start yet/);
    const config = fs.readFileSync(setup.configFile, 'utf8');
    fs.writeFileSync(setup.configFile, '{ "root": '); // being edited, or broken
    await daemon.waitForLine(/config not read again/);
    await new Promise((r) => setTimeout(r, 1_500)); // ~15 looks
    expect(daemon.count(/config not read again/)).toBe(1);
    fs.writeFileSync(setup.configFile, config);
    held.release();
    await daemon.waitForLine(/initial reconciliation done/, 30_000);
    expect((await daemon.stop()).code).toBe(0);
  });

  it('a holder that never names itself (a daemon whose hint is gone, or in another pid namespace) is waited for a while, then exit 2', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    const held = acquireLock(setup.stateDir, 'daemon'); // the other daemon
    onTestFinished(() => held.release());
    fs.rmSync(path.join(setup.stateDir, 'lock')); // its hint gone
    const daemon = await startDaemon(setup, { ready: false, env: { FILES_SYNC_TEST_LOCK_RETRY_MS: '100' } });
    const result = await daemon.done;
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/another files-sync \(another process\) is using/);
    expect(result.stderr.match(/cannot start yet/g)).toHaveLength(1);
  });
});

describe('daemon: signals', () => {
  it('stops on SIGTERM during 100 uploads within the bound; a restart leaves the exact state', async () => {
    emu = await emulator({ faults: { latencyMs: 150 } });
    setup = daemonSetup(emu, { concurrency: 4 });
    writeTree(
      setup.root,
      Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`d${i % 5}/file-${i}.txt`, `content ${i}\n`.repeat(i + 1)])),
    );
    const daemon = await startDaemon(setup, { ready: false });
    await waitFor(() => remoteFiles(emu!).size >= 8, 'some uploads');
    const stopped = await daemon.stop('SIGTERM');
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.ms).toBeLessThan(15_000);
    expect(stopped.stderr).toMatch(/stopping \(SIGTERM\)/);
    expect(remoteFiles(emu).size).toBeLessThan(100);
    // The reconciliation cut short says so, with how far it got: not "reconciled", as if whole.
    expect(stopped.stderr).not.toMatch(/reconciled \(/);
    expect(stopped.stderr).toMatch(/reconciliation cut short \(start\): \d+ new, /);

    emu.setFaults({});
    const after = await setup.sync();
    expect(after.code, after.stderr).toBe(0);
    const expected = localHashes(setup.root);
    expect(expected.size).toBe(100);
    expectExactState(emu, setup, expected);
  });

  it('stops on SIGTERM at once when its uploads only wait for the rate limiter (nothing on the wire), not after the grace', async () => {
    emu = await emulator();
    // 5 requests a minute: the first listing and a few uploads, then each upload waits a minute for a slot.
    setup = daemonSetup(emu, { concurrency: 4, requestsPerMinute: 5 });
    writeTree(setup.root, Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`w/file-${i}.txt`, `waiting ${i}\n`])));
    const daemon = await startDaemon(setup, { ready: false });
    await waitFor(() => remoteFiles(emu!).size >= 3, 'the uploads the limit lets through');
    await new Promise((resolve) => setTimeout(resolve, 300)); // the next ones wait for a slot
    const stored = remoteFiles(emu).size;
    const stopped = await daemon.stop('SIGTERM');
    expect(stopped.code, stopped.stderr).toBe(0);
    // The grace for requests in flight is 15 s: none was in flight.
    expect(stopped.ms, stopped.stderr).toBeLessThan(8_000);
    expect(remoteFiles(emu).size).toBe(stored);
    const config = JSON.parse(fs.readFileSync(setup.configFile, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(setup.configFile, JSON.stringify({ ...config, requestsPerMinute: 100_000 }));
    const after = await setup.sync();
    expect(after.code, after.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
  });

  it('keeps running on the old config after SIGHUP with a broken one', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    const daemon = await startDaemon(setup);
    const good = fs.readFileSync(setup.configFile, 'utf8');
    fs.writeFileSync(setup.configFile, '{"root": ');
    daemon.child.kill('SIGHUP');
    await daemon.waitForLine(/configuration not reloaded, the running one is kept: .*not valid JSON/);
    writeTree(setup.root, { 'after-bad-reload.txt': 'still syncing' });
    await waitForMirror(emu, setup, 'a file after the bad reload');

    // A good config with a new exclude applies: the watcher restarts and a reconciliation follows.
    fs.writeFileSync(setup.configFile, JSON.stringify({ ...JSON.parse(good), exclude: ['*.log'] }));
    daemon.child.kill('SIGHUP');
    await daemon.waitForLine(/configuration reloaded/);
    writeTree(setup.root, { 'skipped.log': 'excluded now', 'kept.txt': 'synced' });
    await waitFor(() => remoteFiles(emu!).has('kept.txt'), 'kept.txt');
    expect(remoteFiles(emu).has('skipped.log')).toBe(false);
    daemon.child.kill('SIGUSR1');
    await daemon.waitForLine(/reconciled \(.*SIGUSR1/);
    expect(remoteFiles(emu).has('skipped.log')).toBe(false);

    // Another root takes a restart: synced into this ledger it would be another folder's files.
    const other = path.join(setup.dir, 'other-root');
    fs.mkdirSync(other);
    fs.writeFileSync(setup.configFile, JSON.stringify({ ...JSON.parse(good), root: other }));
    daemon.child.kill('SIGHUP');
    await daemon.waitForLine(/changes to root.* take effect at the next start/);
    writeTree(other, { 'in-other.txt': 'not synced by this daemon' });
    writeTree(setup.root, { 'still-here.txt': 'the running root' });
    await waitFor(() => remoteFiles(emu!).has('still-here.txt'), 'still-here.txt');
    const reconciled = daemon.count(/reconciled \(.*SIGUSR1/);
    daemon.child.kill('SIGUSR1');
    await waitFor(() => daemon.count(/reconciled \(.*SIGUSR1/) > reconciled, 'a reconciliation after the reload');
    expect(remoteFiles(emu).has('in-other.txt')).toBe(false);
    expect((await daemon.stop()).code).toBe(0);
  });
});

describe('daemon: logging and a refused key', () => {
  it('under journald prefixes every line with a priority and prints no timestamp', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    const daemon = await startDaemon(setup, { env: { JOURNAL_STREAM: '8:12345' } });
    writeTree(setup.root, { 'j.txt': 'journal' });
    await waitFor(() => remoteFiles(emu!).has('j.txt'), 'the upload');
    const result = await daemon.stop();
    expect(result.code).toBe(0);
    const lines = result.stderr.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(4);
    for (const line of lines) {
      expect(line).toMatch(/^<[3-7]>/);
      expect(line).not.toMatch(/\b\d\d:\d\d:\d\d\b/);
    }
    expect(lines.some((l) => l.startsWith('<6>jobs: uploaded'))).toBe(true);
  });

  it('writes JSON lines with --log-format json', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    const daemon = await startDaemon(setup, { args: ['--log-format', 'json'] });
    const result = await daemon.stop();
    const entries = result.stderr
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.find((e) => e.message === 'initial reconciliation done; syncing changes as they happen')).toMatchObject({
      level: 'info',
      module: 'daemon',
    });
    expect(entries.every((e) => typeof e.timestamp === 'string')).toBe(true);
  });

  it('stops with exit 4 and one clear line when the key is refused', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    const daemon = await startDaemon(setup, {
      env: { ANTHROPIC_API_KEY: 'sk-ant-wrong-key-000000000000' },
      ready: false,
    });
    const result = await daemon.done;
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/stopping: the API key was refused \(401 authentication_error/);
    expect(result.stderr).not.toContain('sk-ant-wrong-key');
    expect(fs.existsSync(path.join(setup.stateDir, 'lock'))).toBe(false);
    expect(ledgerRows(setup)).toEqual([]);
  });
});
