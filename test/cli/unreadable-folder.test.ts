// A folder the walk cannot list holds the deletes under it, not every delete of the root (rule 4,
// scoped): a folder deeper than PATH_MAX (which even root cannot list by its path), and a folder
// of mode 000 (walked by a user other than root). The real CLI, a real folder, the emulator.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { CLI, TEST_KEY, emulator, ourNames, runCli, syncSetup, writeTree, type CliResult, type SyncSetup } from '../helpers/sync.js';

const isRoot = process.getuid?.() === 0;
/** The user a root test walks as, so that mode 000 keeps it out. */
const NOBODY = 65534;
const canDropToNobody = isRoot && spawnSync('setpriv', ['--version']).status === 0;

/** Makes `levels` nested folders of 200-character names under `dir` (a path no open can name whole); returns the first. */
function deepChain(dir: string, levels: number): string {
  const name = 'd'.repeat(200);
  const made = spawnSync('bash', [
    '-c',
    `cd "$1" && for i in $(seq ${levels}); do mkdir "$2" && cd "$2" || exit 1; done`,
    'deep',
    dir,
    name,
  ]);
  expect(made.status, made.stderr.toString()).toBe(0);
  return path.join(dir, name);
}

/** Removes what `fs.rmSync` cannot name (paths past PATH_MAX): `rm -rf` walks by descriptor. */
function removeAll(dir: string): void {
  spawnSync('rm', ['-rf', dir]);
}

function ledgerPaths(setup: SyncSetup): string[] {
  const ledger = Ledger.open(path.join(setup.stateDir, 'ledger.db'), { readOnly: true });
  try {
    return ledger.files().map((r) => r.path);
  } finally {
    ledger.close();
  }
}

/** The CLI as the user nobody (setpriv) with `args`, the setup's folder handed to it. */
function cliAsNobody(setup: SyncSetup, args: string[]): Promise<CliResult> {
  spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, setup.dir]);
  const argv = ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--', process.execPath, CLI, ...args];
  const child = spawn('setpriv', argv, { env: { PATH: process.env.PATH, HOME: setup.dir, ANTHROPIC_API_KEY: TEST_KEY } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

describe('a folder the walk cannot read', () => {
  let emu: Emulator | undefined;
  let setup: SyncSetup | undefined;
  afterEach(async () => {
    if (setup) removeAll(setup.dir);
    await emu?.close();
    setup = undefined;
    emu = undefined;
  });

  it('deeper than PATH_MAX: a file deleted elsewhere has its copy deleted; the folder is reported', async () => {
    emu = await emulator();
    setup = syncSetup(emu);
    writeTree(setup.root, { 'a/one.txt': 'one', 'b/two.txt': 'two', 'keep.txt': 'keep' });
    expect((await setup.sync()).code).toBe(0);
    deepChain(setup.root, 30);
    fs.rmSync(path.join(setup.root, 'b/two.txt'));
    // `status` counts with the sync's own pass and guard: the delete is due, none is blocked.
    const status = await runCli(['status', '--json', '--config', setup.configFile], setup.env);
    expect(JSON.parse(status.stdout)).toMatchObject({ toDelete: 1, deletesHeld: null });
    const r = await setup.sync();
    expect(r.stdout).not.toMatch(/no remote file was deleted/);
    expect(r.stdout).toMatch(/failed: d{200}\/.*ENAMETOOLONG/);
    // The folder is a failure (exit 1), as it is with nothing deleted: no guard tripped.
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(ourNames(emu)).toEqual(['a∕one.txt', 'keep.txt']);
    expect(ledgerPaths(setup)).toEqual(['a/one.txt', 'keep.txt']);
  }, 60_000);

  it.skipIf(isRoot && !canDropToNobody)(
    'mode 000: the rows under it are kept (neither deleted nor forgotten), a name that only shares its prefix is deleted',
    async () => {
      emu = await emulator();
      setup = syncSetup(emu);
      const cli = (args: string[]) => (isRoot ? cliAsNobody(setup!, args) : runCli(args, setup!.env));
      const sync = () => cli(['sync', '--config', setup!.configFile, '--allow-duplicates']);
      const status = async () => {
        const r = await cli(['status', '--config', setup!.configFile]);
        const json = await cli(['status', '--json', '--config', setup!.configFile]);
        return { text: r.stdout, json: JSON.parse(json.stdout) as { unseenKept: number } };
      };
      writeTree(setup.root, { 'locked/in.txt': 'in', 'locked-not/x.txt': 'x', 'lockedx.txt': 'lx', 'keep.txt': 'keep' });
      expect((await sync()).code).toBe(0);
      const locked = path.join(setup.root, 'locked');
      fs.chmodSync(locked, 0o000);
      fs.rmSync(path.join(setup.root, 'locked-not'), { recursive: true });
      fs.rmSync(path.join(setup.root, 'lockedx.txt'));
      let r: CliResult;
      try {
        r = await sync();
      } finally {
        fs.chmodSync(locked, 0o755);
      }
      // The code once: node's message begins with it ("EACCES: permission denied, open '…'").
      expect(r.stdout).toMatch(/failed: locked: EACCES: permission denied/);
      expect(r.stdout).toMatch(/kept: 1 tracked file under folders that could not be read/);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(ourNames(emu)).toEqual(['keep.txt', 'locked∕in.txt']);
      expect(ledgerPaths(setup)).toEqual(['keep.txt', 'locked/in.txt']);
      // `status` says what the last run kept, and why.
      const held = await status();
      expect(held.text).toMatch(/kept: 1 tracked file under folders that could not be read/);
      expect(held.json.unseenKept).toBe(1);
      expect(held.text).toMatch(/^ {2}locked: EACCES: permission denied/m);
      // Readable again: nothing to do, nothing was lost, nothing kept.
      const again = await sync();
      expect(again.code, again.stdout + again.stderr).toBe(0);
      expect(ourNames(emu)).toEqual(['keep.txt', 'locked∕in.txt']);
      const clear = await status();
      expect(clear.text).not.toMatch(/kept: /);
      expect(clear.json.unseenKept).toBe(0);
    },
    60_000,
  );

  it.skipIf(isRoot && !canDropToNobody)(
    'the root itself of mode 000: the message names the root and the permissions, not its ignore file',
    async () => {
      emu = await emulator();
      setup = syncSetup(emu);
      writeTree(setup.root, { 'a.txt': 'a' });
      const cli = (args: string[]) => (isRoot ? cliAsNobody(setup!, args) : runCli(args, setup!.env));
      fs.chmodSync(setup.root, 0o000);
      let r: CliResult;
      try {
        r = await cli(['sync', '--config', setup.configFile, '--allow-duplicates']);
      } finally {
        fs.chmodSync(setup.root, 0o755);
      }
      expect(r.code, r.stdout + r.stderr).toBe(3);
      expect(r.stderr).toMatch(/sync root .* cannot be read \(EACCES\): check the permissions of the user files-sync runs as/);
      expect(r.stderr).not.toMatch(/filesyncignore/);
      expect(ourNames(emu)).toEqual([]);
    },
  );
});
