// A sync that meets a full Files API storage (400 `storage_quota_exceeded`). No upload of the run
// can succeed, but its deletes can, and they are what makes room: the copies of files deleted or
// moved in the folder. They used to wait with the uploads (the run ended at the first refused
// upload), so deleting files in the synced folder never freed the room its own uploads needed, and
// a renamed file, whose new copy could not be uploaded before its old one went, never synced.
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
    expect(full.stderr).toMatch(/deleted 1 copy .* to make room/);
    expect(requestsOf(emu, 'DELETE /v1/files/{id}') - deletesBefore).toBe(1);
    expect(ourNames(emu)).toEqual(['b.txt']);

    const again = await setup.sync();
    expect(again.code, again.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
  });

  it('lets a renamed file through: its old copy goes although its new one was refused', async () => {
    emu = await emulator({ storageQuotaBytes: 2_000 });
    setup = syncSetup(emu);
    writeTree(setup.root, { 'a.txt': 'a'.repeat(900), 'b.txt': 'b'.repeat(900) });
    expect((await setup.sync()).code).toBe(0);

    // A move needs room for a second copy until the first goes: the storage has none.
    fs.renameSync(path.join(setup.root, 'b.txt'), path.join(setup.root, 'moved.txt'));
    const full = await setup.sync();
    expect(full.code, full.stderr).toBe(5);
    expect(ourNames(emu)).toEqual(['a.txt']);

    const again = await setup.sync();
    expect(again.code, again.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
    expect(ourNames(emu)).toEqual(['a.txt', 'moved.txt']);
  });
});
