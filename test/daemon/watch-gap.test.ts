// No change is lost while the daemon sets its watch up (at start, on a replaced root, on a root gone
// and back): a reconciliation walks only once the watch is in place, and a watch set up again after
// a walk is followed by one more. FILES_SYNC_TEST_WATCH_DELAY_MS widens the gap between a (re)start
// of the watcher and its watches being set, as a loaded machine does (the CI run that found this).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { daemonSetup, daemonStatus, ledgerRows, startDaemon, tearDown, waitForMirror, type DaemonProcess } from '../helpers/daemon.js';
import { emulator, sha256, waitFor, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  await tearDown(emu, setup);
  emu = setup = undefined;
});

const DELAY = { FILES_SYNC_TEST_WATCH_DELAY_MS: '1500' };

/** `rel` is synced with `content` (its ledger row names a remote copy of that content). */
function synced(rel: string, content: string): boolean {
  const row = ledgerRows(setup!).find((r) => r.path === rel);
  return row !== undefined && emu!.state().files.some((f) => f.id === row.fileId && f.sha256 === sha256(content));
}

/** Writes `rel`, then expects it synced within 6 s: the periodic reconciliation is an hour away. */
async function writtenAndSynced(rel: string, content: string): Promise<void> {
  fs.writeFileSync(path.join(setup!.root, rel), content);
  await waitFor(() => synced(rel, content), `${rel}, written while the watch was set up, synced`, 6_000);
}

async function startOn(files: Record<string, string>, options: { ready?: boolean } = {}): Promise<DaemonProcess> {
  emu = await emulator();
  setup = daemonSetup(emu, { reconcileIntervalMinutes: 60 });
  writeTree(setup.root, files);
  return startDaemon(setup, { args: ['--log-format', 'json'], env: DELAY, ...options });
}

describe('daemon: no change lost while the watch is set up', () => {
  it('at start: the first reconciliation walks once every folder is watched', async () => {
    const daemon = await startOn({ 'one.txt': 'one' }, { ready: false });
    await daemon.waitForLine(/initial reconciliation done/);
    await writtenAndSynced('two.txt', 'two');
    const order = daemon.lines().map((l) => String(JSON.parse(l).message));
    expect(order.findIndex((m) => m.startsWith('watching '))).toBeLessThan(
      order.findIndex((m) => m.startsWith('initial reconciliation done')),
    );
  });

  it('a replaced root: it is reconciled once it is watched, and a file written then is synced', async () => {
    const daemon = await startOn({ 'one.txt': 'one' });
    fs.renameSync(setup!.root, path.join(setup!.dir, 'root.old'));
    writeTree(setup!.root, { 'three.txt': 'three' });
    await waitFor(() => synced('three.txt', 'three'), 'three.txt synced from the new root', 10_000);
    await writtenAndSynced('four.txt', 'four');
    expect(daemon.count(/"message":"the sync root .* was replaced/)).toBe(1);
    expect((await daemonStatus(setup!)).watcher.state).toBe('watching');
  });

  it('a root gone and back: watched again after its reconciliation, and reconciled again once it is', async () => {
    const daemon = await startOn({ 'one.txt': 'one' });
    const away = path.join(setup!.dir, 'away');
    fs.renameSync(setup!.root, away);
    await waitFor(async () => (await daemonStatus(setup!)).rootCheck.state === 'missing', 'the root seen missing', 10_000);
    await daemon.waitForLine(/cannot reconcile/, 10_000);
    fs.renameSync(away, setup!.root);
    await daemon.waitForLine(/the sync root is back"/, 10_000);
    await writtenAndSynced('back.txt', 'back').finally(() =>
      console.log(
        daemon
          .lines()
          .map((l) => {
            const j = JSON.parse(l);
            return `${j.timestamp} ${j.module ?? ''} ${j.message}`;
          })
          .join('\n'),
      ),
    );
    await waitForMirror(emu!, setup!, 'the returned root mirrored');
    expect((await daemonStatus(setup!)).watcher.state).toBe('watching');
  });
});
