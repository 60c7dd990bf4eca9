// None of the program's own files is ever synced (DESIGN.md rule 9), even under another name: a
// writer of the root may rename a state directory that lies in it (same parent, no write on the
// folder itself needed), and the next sync uploaded its ledger, backups and lock as content. The
// state directory now holds a marker file (`.files-sync-state`, ours), and a folder holding ours
// is excluded as the configured state directory is; another's marker hides nothing.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { countDirectories } from '../../src/daemon/watch-limits.js';
import { listFiles } from '../../src/daemon/pathsync.js';
import type { Emulator } from '../../src/emulator/index.js';
import { createFilter } from '../../src/local/filter.js';
import { statOne } from '../../src/local/stat-one.js';
import { emulator, expectExactState, localHashes, ourNames, runCli, syncSetup, writeTree, type SyncSetup } from '../helpers/sync.js';

const MARKER = '.files-sync-state';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
// An emulator each: the exact-state check counts every copy of ours in it.
beforeEach(async () => {
  emu = await emulator();
});
afterEach(async () => {
  setup?.cleanup();
  setup = undefined;
  await emu?.close();
  emu = undefined;
});

/** A setup whose state directory is `.state` inside its root. */
function stateInRoot(): SyncSetup {
  const base = syncSetup(emu!);
  const stateDir = path.join(base.root, '.state');
  const config = JSON.parse(fs.readFileSync(base.configFile, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(base.configFile, JSON.stringify({ ...config, stateDir }));
  return { ...base, stateDir };
}

describe('a state directory inside the root', () => {
  it('renamed within the root is not synced under its new name: its ledger, backups and lock stay local', async () => {
    setup = stateInRoot();
    writeTree(setup.root, { 'a.txt': 'a', 'docs/b.txt': 'bb' });
    const first = await setup.sync();
    expect(first.code, first.stderr).toBe(0);
    const names = ourNames(emu!);
    expect(names.filter((n) => n.startsWith('.state'))).toEqual([]);

    fs.renameSync(setup.stateDir, path.join(setup.root, 'stolen'));
    expect(fs.readdirSync(path.join(setup.root, 'stolen'))).toContain('ledger.db');
    // The configured state directory is made anew: the folder's copies are taken over, as after any
    // lost one (made within a clock tick of the files, they are sent again: same names).
    const adopt = await runCli(['adopt', '--config', setup.configFile], setup.env);
    expect(adopt.code, adopt.stderr).toBe(0);
    const again = await runCli(['sync', '--config', setup.configFile], setup.env);
    expect(again.code, again.stderr).toBe(0);
    expect(ourNames(emu!)).toEqual(names);
    const synced = (rel: string) => !rel.startsWith('stolen/') && !rel.startsWith('.state/');
    expectExactState(emu!, setup, localHashes(setup.root, synced));
    expect(again.stdout).toMatch(/^0 new, .* 0 removed/m);
  });

  it("is neither listed for a new folder's hints nor counted for the watch limit once renamed", async () => {
    setup = stateInRoot();
    writeTree(setup.root, { 'a.txt': 'a' });
    expect((await setup.sync()).code).toBe(0);
    fs.renameSync(setup.stateDir, path.join(setup.root, 'stolen'));
    const filter = createFilter({ include: [], exclude: [], stateDirInRoot: '.state' });
    expect(await listFiles(setup.root, 'stolen', filter)).toEqual([]);
    expect((await listFiles(setup.root, '', filter)).sort()).toEqual(['a.txt']);
    expect(await countDirectories(setup.root, filter)).toBe(1);
  });
});

describe('a folder that becomes a state directory', () => {
  it('has its rows handled as those of an excluded path: their copies are deleted', async () => {
    setup = syncSetup(emu!);
    writeTree(setup.root, { 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c', 'other/ledger.db': 'another state directory' });
    expect((await setup.sync()).code).toBe(0);
    // Another files-sync (of this user) keeps its state there now: it marks the folder when it opens it.
    fs.writeFileSync(path.join(setup.root, 'other', MARKER), 'ours', { mode: 0o600 });
    const result = await setup.sync();
    expect(result.code, result.stderr).toBe(0);
    expect(ourNames(emu!)).toEqual(['a.txt', 'b.txt', 'c.txt']);
    expectExactState(
      emu!,
      setup,
      localHashes(setup.root, (rel) => !rel.startsWith('other/')),
    );
  });
});

describe('the state marker', () => {
  it('is written into a new state directory, and into an existing one without it at its next writable open', async () => {
    setup = syncSetup(emu!);
    writeTree(setup.root, { 'a.txt': 'a' });
    expect((await setup.sync()).code).toBe(0);
    const marker = path.join(setup.stateDir, MARKER);
    const check = () => {
      const stat = fs.lstatSync(marker);
      expect(stat.isFile()).toBe(true);
      expect(stat.mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(marker, 'utf8')).toMatch(/^[^\n]*files-sync never syncs a folder that holds this file\.\n$/);
    };
    check();
    fs.rmSync(marker); // a state directory of an earlier version
    const status = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(status.code, status.stderr).toBe(0);
    expect(fs.existsSync(marker)).toBe(false); // a reader writes nothing
    expect((await setup.sync()).code).toBe(0);
    check();
  });

  it.skipIf(process.getuid?.() !== 0)(
    'of another user, or not a regular file, is ignored: its folder is synced, and said once a run',
    async () => {
      setup = syncSetup(emu!);
      writeTree(setup.root, {
        'a.txt': 'a',
        [`shared/${MARKER}`]: 'planted',
        'shared/x.txt': 'x',
        [`other/${MARKER}`]: 'planted too',
        'other/y.txt': 'y',
        [`odd/${MARKER}/z.txt`]: 'a folder by that name',
      });
      for (const folder of ['shared', 'other']) fs.chownSync(path.join(setup.root, folder, MARKER), 65534, 65534);
      const result = await setup.sync();
      expect(result.code, result.stderr).toBe(0);
      expectExactState(emu!, setup, localHashes(setup.root));
      expect(ourNames(emu!)).toContain('shared∕x.txt'); // remote names take U+2215 for the slash
      expect(result.stderr.match(/not written by files-sync is ignored/g)).toHaveLength(1);
    },
  );

  it.skipIf(process.getuid?.() !== 0 || spawnSync('setpriv', ['--version']).status !== 0)(
    "planted by another writer of the root (a file of the service's user renamed into a shared folder) hides nothing",
    async () => {
      setup = syncSetup(emu!);
      writeTree(setup.root, { 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c', 'notes.txt': "the service user's own", 'shared/report.txt': 'r' });
      // A shared folder: another user (nobody) may write the root and shared/, as a group would.
      for (const dir of [setup.dir, setup.root, path.join(setup.root, 'shared')]) fs.chmodSync(dir, 0o777);
      expect((await setup.sync()).code).toBe(0);
      // That user renames a file of the service's user (root here) into shared/ under the marker's
      // name: a regular file of the service's user, which only a rename put there.
      const args = ['--reuid', '65534', '--regid', '65534', '--clear-groups', '--', 'mv', 'notes.txt', `shared/${MARKER}`];
      const mv = spawnSync('setpriv', args, { cwd: setup.root });
      expect(mv.status, mv.stderr.toString()).toBe(0);
      expect(fs.statSync(path.join(setup.root, 'shared', MARKER)).uid).toBe(0);
      const result = await setup.sync();
      expect(result.code, result.stderr).toBe(0);
      // shared/report.txt is still there: its copy stays, and the planted file is synced like any other.
      expect(ourNames(emu!)).toContain('shared∕report.txt');
      expectExactState(emu!, setup, localHashes(setup.root));
      // The daemon's listing of a new folder and its presence check before a delete agree.
      const filter = createFilter({ include: [], exclude: [] });
      expect((await listFiles(setup.root, 'shared', filter)).sort()).toEqual([`shared/${MARKER}`, 'shared/report.txt']);
      const scan = { filter, followSymlinks: false, maxFileBytes: 0, known: () => undefined, stateMarkers: true };
      expect(await statOne(setup.root, 'shared/report.txt', scan)).toMatchObject({ path: 'shared/report.txt' });
    },
  );
});
