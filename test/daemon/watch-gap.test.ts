// No change is lost while the daemon sets its watch up (at start, on a replaced root, on a root gone
// and back): a reconciliation walks only once the watch is in place, and a watch set up again after
// a walk is followed by one more. FILES_SYNC_TEST_WATCH_DELAY_MS widens the gap between a (re)start
// of the watcher and its watches being set, as a loaded machine does (the CI run that found this).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { daemonSetup, daemonStatus, ledgerRows, startDaemon, tearDown, waitForMirror, type DaemonProcess } from '../helpers/daemon.js';
import { IGNORE_FILE_NAME } from '../../src/local/filter.js';
import { ageDirectory, birthTimesReal, emulator, remadeOnSameInode, sha256, waitFor, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  await tearDown(emu, setup);
  emu = setup = undefined;
});

const DELAY = { FILES_SYNC_TEST_WATCH_DELAY_MS: '2500' };

/** `rel` is synced with `content` (its ledger row names a remote copy of that content). */
function synced(rel: string, content: string): boolean {
  const row = ledgerRows(setup!).find((r) => r.path === rel);
  return row !== undefined && emu!.state().files.some((f) => f.id === row.fileId && f.sha256 === sha256(content));
}

/** Writes `rel`, then expects it synced within 15 s: the periodic reconciliation is an hour away. */
async function writtenAndSynced(rel: string, content: string): Promise<void> {
  fs.writeFileSync(path.join(setup!.root, rel), content);
  await waitFor(() => synced(rel, content), `${rel}, written while the watch was set up, synced`, 15_000);
}

async function startOn(files: Record<string, string>, options: { ready?: boolean } = {}): Promise<DaemonProcess> {
  emu = await emulator();
  setup = daemonSetup(emu, { reconcileIntervalMinutes: 60 });
  writeTree(setup.root, files);
  return startDaemon(setup, { args: ['--log-format', 'json'], env: DELAY, ...options });
}

/**
 * The reconciliations logged after the first line matching `since`, once the daemon is quiet: no
 * run and none queued, watching, and still so after longer than a (re)start of the watch takes.
 */
async function reconciledSince(daemon: DaemonProcess, since: RegExp): Promise<number> {
  const quiet = async () => {
    const status = await daemonStatus(setup!);
    return !status.reconcile.running && !status.reconcile.followUp && status.watcher.state === 'watching';
  };
  await waitFor(quiet, 'the daemon quiet', 15_000);
  await new Promise((r) => setTimeout(r, 3_500));
  expect(await quiet()).toBe(true);
  const lines = daemon.lines();
  const from = lines.findIndex((l) => since.test(l));
  expect(from).toBeGreaterThanOrEqual(0);
  return lines.slice(from).filter((l) => /"message":"reconciled \(/.test(l)).length;
}

describe('daemon: no change lost while the watch is set up', () => {
  it('at start: the first reconciliation walks once every folder is watched', async () => {
    const daemon = await startOn({ 'one.txt': 'one' }, { ready: false });
    await daemon.waitForLine(/initial reconciliation done/);
    await writtenAndSynced('two.txt', 'two');
    const order = daemon.lines().map((l) => String(JSON.parse(l).message));
    const watching = order.findIndex((m) => m.startsWith('watching '));
    expect(watching).toBeGreaterThanOrEqual(0);
    expect(watching).toBeLessThan(order.findIndex((m) => m.startsWith('initial reconciliation done')));
    expect(await reconciledSince(daemon, /"message":"started/)).toBe(1);
  });

  it('a replaced root: reconciled once, when it is watched, and a file written then is synced', async () => {
    const daemon = await startOn({ 'one.txt': 'one' });
    const next = path.join(setup!.dir, 'root.new');
    writeTree(next, { 'three.txt': 'three' });
    fs.renameSync(setup!.root, path.join(setup!.dir, 'root.old'));
    fs.renameSync(next, setup!.root);
    // A reconciliation asked for while the watch is set up again waits for it, and serves the restart.
    await daemon.waitForLine(/watching it again and reconciling/, 10_000);
    daemon.child.kill('SIGUSR1');
    await waitFor(() => synced('three.txt', 'three'), 'three.txt synced from the new root', 15_000);
    await writtenAndSynced('four.txt', 'four');
    expect(await reconciledSince(daemon, /watching it again and reconciling/)).toBe(1);
  });

  it('a root gone and back: reconciled once, when it is watched again, and a file written then is synced', async () => {
    const daemon = await startOn({ 'one.txt': 'one' });
    const away = path.join(setup!.dir, 'away');
    fs.renameSync(setup!.root, away);
    await waitFor(async () => (await daemonStatus(setup!)).rootCheck.state === 'missing', 'the root seen missing', 10_000);
    await daemon.waitForLine(/cannot reconcile/, 10_000);
    fs.renameSync(away, setup!.root);
    await daemon.waitForLine(/the sync root is back"/, 15_000);
    await writtenAndSynced('back.txt', 'back');
    await waitForMirror(emu!, setup!, 'the returned root mirrored');
    expect(await reconciledSince(daemon, /watching it again and reconciling/)).toBe(1);
  });

  it('a new filter: watched with it, then reconciled once, and a file written then is synced', async () => {
    const daemon = await startOn({ 'keep.txt': 'keep', 'skip.log': 'skip', [IGNORE_FILE_NAME]: '*.log\n' });
    expect(synced('skip.log', 'skip')).toBe(false);
    fs.writeFileSync(path.join(setup!.root, IGNORE_FILE_NAME), '# no rules\n');
    await daemon.waitForLine(/"message":"reconciled \(new root or filter/, 15_000);
    expect(synced('skip.log', 'skip')).toBe(true);
    await writtenAndSynced('late.log', 'late');
    expect(await reconciledSince(daemon, /"message":"reconciled \(new root or filter/)).toBe(1);
  });

  it('a folder deleted and made again at once (its inode number reused): a file written in it later is synced', async (ctx) => {
    emu = await emulator();
    setup = daemonSetup(emu, { reconcileIntervalMinutes: 60 });
    writeTree(setup.root, { 'out/old.txt': 'old' });
    await ageDirectory(path.join(setup.root, 'out'));
    await startDaemon(setup);
    await waitForMirror(emu, setup, 'the first reconciliation');
    const out = path.join(setup.root, 'out');
    const reused = remadeOnSameInode(out); // as `rm -rf out && mkdir out`
    if (!reused || !(await birthTimesReal(setup.root))) return ctx.skip('no reused inode number with a real birth time here');
    await waitFor(() => !synced('out/old.txt', 'old'), 'out/old.txt deleted', 15_000);
    await writtenAndSynced('out/new.txt', 'new');
    await waitForMirror(emu, setup, 'the new folder mirrored');
  });
});
