// `files-sync daemon` when the organisation's Files API storage is full (400
// `storage_quota_exceeded`). That is an answer, not an outage: the daemon says it once, parks its
// path jobs and tries again with back-off, instead of calling the API unreachable, seeing it
// "recover" at the next listing and uploading the same file again, in a loop, for as long as the
// storage stays full (it did: ~2,000 "unreachable"/"recovered" lines and as many uploads in 12 s).
// And a moved file whose new path waits on a failure: the daemon's reconciliations keep its old copy.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { daemonSetup, daemonStatus, startDaemon, tearDown, waitForMirror } from '../helpers/daemon.js';
import {
  TEST_KEY,
  emulator,
  expectExactState,
  localHashes,
  ourNames,
  refuseUntilChanged,
  requestsOf,
  waitFor,
  writeTree,
  type SyncSetup,
} from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  await tearDown(emu, setup);
  emu = setup = undefined;
});

/** Room is made the way a user would: another application deletes its file. */
async function deleteTheirs(emulator: Emulator, id: string): Promise<void> {
  const freed = await fetch(`${emulator.url}/v1/files/${id}`, {
    method: 'DELETE',
    headers: { 'x-api-key': TEST_KEY, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'files-api-2025-04-14' },
  });
  expect(freed.status).toBe(200);
}

describe('daemon: the Files API storage full', () => {
  it('says so once, makes no request storm, and resumes at a `files-sync sync` once there is room', async () => {
    emu = await emulator({ storageQuotaBytes: 2_000 });
    // Another application's file takes most of the storage.
    const foreign = emu.seed({ filename: 'theirs.bin', content_base64: Buffer.alloc(1_500).toString('base64') });
    setup = daemonSetup(emu);
    writeTree(setup.root, { 'a.txt': 'small' });
    const daemon = await startDaemon(setup, { args: ['--log-format', 'json'] });
    await waitForMirror(emu, setup, 'the first run');
    const uploadsBefore = requestsOf(emu, 'POST /v1/files');

    writeTree(setup.root, { 'big.txt': 'x'.repeat(800) }); // 5 + 1,500 + 800 > 2,000
    await daemon.waitForLine(/storage quota is exhausted/);
    await sleep(3_000);
    // One refused upload (the path job); no retry before the back-off, whatever the listings say.
    expect(requestsOf(emu, 'POST /v1/files') - uploadsBefore).toBe(1);
    expect(daemon.count(/storage quota is exhausted/)).toBe(1);
    expect(daemon.count(/API unreachable|API recovered/)).toBe(0);
    const status = await daemonStatus(setup);
    expect(status.api.state).toBe('ok');
    expect(status.storageFull).toMatch(/storage quota is exhausted/);
    expect(status.queue.parked).toBe(1);

    // Room is made (the other application deletes its file); the user asks for a sync.
    await deleteTheirs(emu, foreign.id);
    const sync = await setup.sync();
    expect(sync.code, sync.stderr).toBe(0);
    expect(sync.stdout).toMatch(/1 new, 0 changed, 0 removed, 1 unchanged/);
    expectExactState(emu, setup, localHashes(setup.root));
    await daemon.waitForLine(/storage takes uploads again/);
    const after = await daemonStatus(setup);
    expect(after.storageFull).toBeNull();
    expect(after.queue.parked).toBe(0);
    expect((await daemon.stop()).code).toBe(0);
  });

  it("keeps a renamed file's old copy while its new one waits for room, and moves it once there is room", async () => {
    emu = await emulator({ storageQuotaBytes: 2_000 });
    const foreign = emu.seed({ filename: 'theirs.bin', content_base64: Buffer.alloc(1_000).toString('base64') });
    setup = daemonSetup(emu);
    writeTree(setup.root, { 'a.txt': 'a'.repeat(900) });
    const daemon = await startDaemon(setup, { args: ['--log-format', 'json'] });
    await waitForMirror(emu, setup, 'the first run');

    // The new name's copy needs room the old one holds (900 + 1,000 + 900 > 2,000).
    fs.renameSync(path.join(setup.root, 'a.txt'), path.join(setup.root, 'b.txt'));
    await daemon.waitForLine(/storage quota is exhausted/);
    await sleep(3_000); // six times the delete delay
    const ours = emu.state().files.filter((f) => f.owner === 'self');
    expect(ours.map((f) => f.filename)).toEqual(['a.txt']);
    expect((await daemonStatus(setup)).queue.deletesWaiting).toBe(1);

    await deleteTheirs(emu, foreign.id);
    const sync = await setup.sync();
    expect(sync.code, sync.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
    await daemon.waitForLine(/storage takes uploads again/);
    expect((await daemon.stop()).code).toBe(0);
  });
});

describe('daemon: a moved file whose new path waits on a failure', () => {
  it('keeps the old copy through its reconciliations and says so; a sync after the upload deletes it', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    writeTree(setup.root, { 'd/1.txt': '1'.repeat(600) });
    expect((await setup.sync()).code).toBe(0);
    // Moved while the daemon was down, and its new path refused until the file changes (as a 400 records it).
    fs.renameSync(path.join(setup.root, 'd'), path.join(setup.root, 'e'));
    const moved = path.join(setup.root, 'e', '1.txt');
    refuseUntilChanged(setup, 'e/1.txt');

    const daemon = await startDaemon(setup);
    await daemon.waitForLine(/reconciled \(.*kept: 1 moved file keeps its old copy until the new path is uploaded/);
    expect(ourNames(emu)).toEqual(['d\u22151.txt']);

    // The file changes: its path job uploads it; the next reconciliation deletes the old copy.
    fs.utimesSync(moved, new Date(), new Date(Date.now() - 60_000));
    await waitFor(() => ourNames(emu!).includes('e\u22151.txt'), 'the new path uploaded');
    const sync = await setup.sync();
    expect(sync.code, sync.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
  }, 60_000);
});
