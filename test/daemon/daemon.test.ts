// `files-sync daemon` end to end, the watcher path: the built CLI as a child process, the emulator
// in this process on loopback, a real temp folder. Every wait polls with a deadline.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { daemonSetup, daemonStatus, remoteFiles, startDaemon, tearDown, waitForMirror } from '../helpers/daemon.js';
import { emulator, requestsOf, sha256, waitFor, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  await tearDown(emu, setup);
  emu = setup = undefined;
});

const UPLOADS = 'POST /v1/files';
const DELETES = 'DELETE /v1/files/{id}';

describe('daemon: changes as they happen', () => {
  it('mirrors creating, modifying, deleting and renaming files and directories', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    writeTree(setup.root, { 'start.txt': 'there before the daemon' });
    const daemon = await startDaemon(setup);
    await waitForMirror(emu, setup, 'the first reconciliation');
    const root = setup.root;

    writeTree(root, { 'a.txt': 'alpha', 'dir/b.txt': 'bravo', 'dir/sub/c.txt': 'charlie' });
    await waitForMirror(emu, setup, 'new files and directories');

    fs.writeFileSync(path.join(root, 'a.txt'), 'alpha, modified');
    await waitForMirror(emu, setup, 'a modified file');

    fs.rmSync(path.join(root, 'dir/b.txt'));
    await waitForMirror(emu, setup, 'a deleted file');

    fs.renameSync(path.join(root, 'a.txt'), path.join(root, 'renamed.txt'));
    await waitForMirror(emu, setup, 'a renamed file');
    expect([...remoteFiles(emu).keys()].sort()).toEqual(['dir∕sub∕c.txt', 'renamed.txt', 'start.txt']);

    fs.renameSync(path.join(root, 'dir'), path.join(root, 'moved'));
    await waitForMirror(emu, setup, 'a renamed directory');
    expect(remoteFiles(emu).get('moved∕sub∕c.txt')).toBe(sha256('charlie'));

    fs.rmSync(path.join(root, 'moved'), { recursive: true });
    await waitForMirror(emu, setup, 'a removed directory');
    expect([...remoteFiles(emu).keys()].sort()).toEqual(['renamed.txt', 'start.txt']);

    // An editor's delete-and-recreate with the same content costs no request at all.
    const before = { uploads: requestsOf(emu, UPLOADS), deletes: requestsOf(emu, DELETES) };
    fs.rmSync(path.join(root, 'start.txt'));
    fs.writeFileSync(path.join(root, 'start.txt'), 'there before the daemon');
    fs.writeFileSync(path.join(root, 'marker.txt'), 'a later change, to know the first one was handled');
    await waitForMirror(emu, setup, 'the recreated file and the marker');
    await waitFor(() => daemon.count(/jobs: uploaded.*marker\.txt/) === 1, 'the marker upload');
    // Give the recreated file's (cancelled) delete its delay, then check nothing was spent on it.
    await waitFor(async () => (await daemonStatus(setup!)).queue.deletesWaiting === 0, 'no delete waiting');
    expect(requestsOf(emu, UPLOADS) - before.uploads).toBe(1); // the marker only
    expect(requestsOf(emu, DELETES) - before.deletes).toBe(0);

    const stopped = await daemon.stop();
    expect(stopped.code, stopped.stderr).toBe(0);
  });

  it('renames a large folder without tripping the mass-delete guard, and holds a large rm -rf', async () => {
    emu = await emulator();
    setup = daemonSetup(emu, { deletes: { mode: 'mirror', maxCount: 3, maxShare: 0.5 } });
    writeTree(setup.root, Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`big/f${i}.txt`, `file ${i}`])));
    writeTree(setup.root, { 'other.txt': 'other' });
    const daemon = await startDaemon(setup);
    fs.renameSync(path.join(setup.root, 'big'), path.join(setup.root, 'renamed'));
    await waitForMirror(emu, setup, 'the renamed folder');
    expect(remoteFiles(emu).has('renamed∕f11.txt')).toBe(true);
    expect(daemon.count(/deletes held/)).toBe(0);

    fs.rmSync(path.join(setup.root, 'renamed'), { recursive: true });
    await daemon.waitForLine(/deletes held: 12 files deleted locally, more than deletes\.maxCount \(3\)/);
    expect(remoteFiles(emu).size).toBe(13);
    expect((await daemonStatus(setup)).held).toMatchObject({ count: 12 });
  });

  it('turns a burst of 500 writes to one file into at most a few uploads of the final content', async () => {
    emu = await emulator();
    setup = daemonSetup(emu, { settleSeconds: 0.5 });
    await startDaemon(setup);
    const file = path.join(setup.root, 'burst.txt');
    const before = requestsOf(emu, UPLOADS);
    for (let i = 0; i < 500; i++) {
      fs.writeFileSync(file, `version ${i}\n`.repeat(1 + (i % 7)));
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 10)); // let events flow as they would
    }
    const last = `version 499\n`.repeat(1 + (499 % 7));
    await waitFor(() => remoteFiles(emu!).get('burst.txt') === sha256(last), 'the final content');
    await waitForMirror(emu, setup, 'the mirror after the burst');
    expect(requestsOf(emu, UPLOADS) - before).toBeLessThanOrEqual(3);
  });

  it('uploads a 50 MB file written slowly over several seconds once, complete', async () => {
    emu = await emulator();
    setup = daemonSetup(emu, { settleSeconds: 2 }); // room for a slow writer on a loaded machine
    await startDaemon(setup);
    const before = requestsOf(emu, UPLOADS);
    const file = path.join(setup.root, 'big.bin');
    const chunk = Buffer.alloc(1024 * 1024);
    const whole = Buffer.alloc(50 * chunk.length);
    const fd = fs.openSync(file, 'w');
    try {
      for (let i = 0; i < 50; i++) {
        chunk.fill(i);
        fs.writeSync(fd, chunk);
        chunk.copy(whole, i * chunk.length);
        await new Promise((r) => setTimeout(r, 80)); // ~4 s of writing, each pause well under the settle time
      }
    } finally {
      fs.closeSync(fd);
    }
    await waitFor(() => remoteFiles(emu!).has('big.bin'), 'the big file', 30_000);
    expect(remoteFiles(emu).get('big.bin')).toBe(sha256(whole));
    expect(requestsOf(emu, UPLOADS) - before).toBe(1);
    await waitForMirror(emu, setup, 'the mirror');
  });
});
