// Old copies that wait for their new ones, and copies that go to make room.
//
// A sync that meets a full Files API storage (400 `storage_quota_exceeded`). No upload of the run
// can succeed, but its deletes can, and they are what makes room: the copies of files deleted from
// the folder. They used to wait with the uploads (the run ended at the first refused upload), so
// deleting files in the synced folder never freed the room its own uploads needed. A moved file's
// old copy still waits for its new one (rule 2), and refused uploads excuse no delete from the guard.
//
// A move whose new upload fails (DESIGN.md rules 2 and 4). The guard excuses a deleted path whose
// content reappears at a new path; when that new path's upload failed, the old copy used to be
// deleted all the same, excused as a move: a renamed folder whose uploads failed lost every copy,
// past `deletes.maxCount`. Now the run keeps those old copies and the next one moves them.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import {
  emulator,
  expectExactState,
  localHashes,
  ourNames,
  refuseUntilChanged,
  requestsOf,
  runCli,
  syncSetup,
  writeTree,
  type SyncSetup,
} from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  setup?.cleanup();
  await emu?.close();
  emu = setup = undefined;
});

describe('sync: the Files API storage full', () => {
  it('still deletes the copies of files removed from the folder, then exits 5; the next run uploads', async () => {
    emu = await emulator({ storageQuotaBytes: 2_000 });
    setup = syncSetup(emu);
    writeTree(setup.root, { 'a.txt': 'a'.repeat(900), 'b.txt': 'b'.repeat(900) });
    const first = await setup.sync();
    expect(first.code, first.stderr).toBe(0);

    // The user makes room in the folder and adds a file: 1,800 + 900 > 2,000 until a.txt's copy goes.
    fs.rmSync(path.join(setup.root, 'a.txt'));
    writeTree(setup.root, { 'c.txt': 'c'.repeat(900) });
    const deletesBefore = requestsOf(emu, 'DELETE /v1/files/{id}');
    const full = await setup.sync();
    expect(full.code, full.stderr).toBe(5);
    expect(full.stderr).toMatch(/storage quota is exhausted/);
    expect(full.stderr).toMatch(/deleted 1 copy no path needs any more, to make room/);
    expect(requestsOf(emu, 'DELETE /v1/files/{id}') - deletesBefore).toBe(1);
    expect(ourNames(emu)).toEqual(['b.txt']);

    const again = await setup.sync();
    expect(again.code, again.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
  });

  it("keeps a renamed file's old copy until its new one is stored, and deletes the rest", async () => {
    emu = await emulator({ storageQuotaBytes: 2_000 });
    setup = syncSetup(emu);
    writeTree(setup.root, { 'a.txt': 'a'.repeat(900), 'b.txt': 'b'.repeat(900) });
    expect((await setup.sync()).code).toBe(0);

    // a.txt goes; b.txt is renamed, which needs room for its new copy before the old one may go.
    fs.rmSync(path.join(setup.root, 'a.txt'));
    fs.renameSync(path.join(setup.root, 'b.txt'), path.join(setup.root, 'moved.txt'));
    const full = await setup.sync();
    expect(full.code, full.stderr).toBe(5);
    expect(ourNames(emu)).toEqual(['b.txt']); // a.txt's copy made the room; b.txt's waits for moved.txt's

    const again = await setup.sync();
    expect(again.code, again.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
    expect(ourNames(emu)).toEqual(['moved.txt']);
  });

  it('deletes no old copy of a renamed folder: the uploads that would excuse them from the guard were refused', async () => {
    emu = await emulator({ storageQuotaBytes: 2_000 });
    setup = syncSetup(emu, { deletes: { maxCount: 1 } });
    writeTree(setup.root, { 'd/1.txt': '1'.repeat(600), 'd/2.txt': '2'.repeat(600), 'd/3.txt': '3'.repeat(600) });
    expect((await setup.sync()).code).toBe(0);

    fs.renameSync(path.join(setup.root, 'd'), path.join(setup.root, 'e'));
    const full = await setup.sync();
    expect(full.code, full.stderr).toBe(5);
    expect(full.stderr).not.toMatch(/deleted \d+ cop/);
    expect(ourNames(emu)).toEqual(['d\u22151.txt', 'd\u22152.txt', 'd\u22153.txt']); // remote names: '/' as U+2215
  });

  it('keeps old copies one to one: three deleted files of one content and one new file of it keep one copy', async () => {
    emu = await emulator({ storageQuotaBytes: 1_800 });
    setup = syncSetup(emu);
    writeTree(setup.root, { 'a.txt': 'x'.repeat(500), 'b.txt': 'x'.repeat(500), 'c.txt': 'x'.repeat(500) });
    expect((await setup.sync()).code).toBe(0);

    // 1,500 + 500 > 1,800: the new file is refused, so one old copy of its content waits for it;
    // the other two are no move's old copy, and go.
    for (const name of ['a.txt', 'b.txt', 'c.txt']) fs.rmSync(path.join(setup.root, name));
    writeTree(setup.root, { 'n.txt': 'x'.repeat(500) });
    const full = await setup.sync();
    expect(full.code, full.stderr).toBe(5);
    expect(full.stderr).toMatch(/deleted 2 copies no path needs any more, to make room/);
    expect(ourNames(emu)).toEqual(['c.txt']); // the last of the content in path order waits

    const again = await setup.sync();
    expect(again.code, again.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
    expect(ourNames(emu)).toEqual(['n.txt']);
  });
});

describe('sync: a move whose new upload fails', () => {
  it('keeps the old copies of a renamed folder while its uploads fail or wait on a failure; the run that stores one moves it', async () => {
    emu = await emulator();
    setup = syncSetup(emu, { deletes: { maxCount: 1 } });
    writeTree(setup.root, { 'd/1.txt': '1'.repeat(600), 'd/2.txt': '2'.repeat(600) });
    expect((await setup.sync()).code).toBe(0);
    const before = ourNames(emu);

    // Every upload is cut mid-body: nothing is stored, and the run goes on (two in a row do not end it).
    emu.setFaults({ resetMidUpload: 1 });
    fs.renameSync(path.join(setup.root, 'd'), path.join(setup.root, 'e'));
    const deletesBefore = requestsOf(emu, 'DELETE /v1/files/{id}');
    const failed = await setup.sync();
    expect(requestsOf(emu, 'DELETE /v1/files/{id}') - deletesBefore).toBe(0);
    expect(ourNames(emu)).toEqual(before);
    expect(failed.code, failed.stderr).toBe(1);
    const said = failed.stdout + failed.stderr;
    expect(said).toMatch(/failed: e\/1\.txt/);
    expect(said).toMatch(/kept: 2 moved files keep their old copy until the new path is uploaded/);

    // e/1.txt's failure now waits for the file to change, as a refused upload (a 400) records it:
    // the next run does not try it, and its old copy still waits; e/2.txt is moved.
    emu.setFaults({});
    const file1 = path.join(setup.root, 'e/1.txt');
    refuseUntilChanged(setup, 'e/1.txt');
    // status counts what a sync would do: e/2.txt to upload, d/2.txt's copy to delete (not d/1.txt's).
    const status = await runCli(['status', '--config', setup.configFile, '--json'], setup.env);
    expect(JSON.parse(status.stdout)).toMatchObject({ toUpload: 1, toDelete: 1, movesWaiting: 1 });
    const human = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(human.stdout).toMatch(/^kept: 1 moved file keeps its old copy until the new path is uploaded$/m);
    // A dry run shows the same: e/2.txt's upload and d/2.txt's delete, d/1.txt's copy kept.
    const preview = await setup.sync(['--dry-run']);
    expect(preview.stdout).toMatch(/^ {2}removed +d\/2\.txt /m);
    expect(preview.stdout).not.toMatch(/d\/1\.txt/);
    expect(preview.stdout).toMatch(/kept: 1 moved file keeps its old copy/);
    const waiting = await setup.sync();
    expect(ourNames(emu)).toEqual(['d\u22151.txt', 'e\u22152.txt']);
    expect(waiting.code, waiting.stderr).toBe(1);
    expect(waiting.stdout + waiting.stderr).toMatch(/kept: 1 moved file keeps its old copy until the new path is uploaded/);

    // The file changes (its mtime): its upload is tried again, stored, and the old copy goes.
    fs.utimesSync(file1, new Date(), new Date(Date.now() - 60_000));
    const again = await setup.sync();
    expect(again.code, again.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
    expect(ourNames(emu)).toEqual(['e\u22151.txt', 'e\u22152.txt']);
  }, 60_000);
});
