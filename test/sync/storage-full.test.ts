// A sync that meets a full Files API storage (400 `storage_quota_exceeded`). No upload of the run
// can succeed, but its deletes can, and they are what makes room: the copies of files deleted from
// the folder. They used to wait with the uploads (the run ended at the first refused upload), so
// deleting files in the synced folder never freed the room its own uploads needed. A moved file's
// old copy still waits for its new one (rule 2), and refused uploads excuse no delete from the guard.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { emulator, expectExactState, localHashes, requestsOf, syncSetup, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  setup?.cleanup();
  await emu?.close();
  emu = setup = undefined;
});

/** Our copies' remote names in the emulator. */
function ourNames(emulator: Emulator): string[] {
  return emulator
    .state()
    .files.filter((f) => f.owner === 'self')
    .map((f) => f.filename)
    .sort();
}

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
});
