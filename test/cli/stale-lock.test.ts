// The `lock` file beside the real lock (lock.db) is a hint: after a daemon was killed (-9), its pid
// may be reused by an unrelated process. `sync` and `status` now ask the real lock whether anyone
// holds it; they used to trust the live pid, so `sync` refused (exit 2) and told the operator to
// stop a process that has nothing to do with files-sync, and `status` showed a daemon running.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { emulator, runCli, syncSetup, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
let other: ChildProcess | undefined;
afterEach(async () => {
  other?.kill('SIGKILL');
  setup?.cleanup();
  await emu?.close();
  emu = setup = other = undefined;
});

it('a lock hint naming a live process that holds no lock is ignored by sync and status', async () => {
  emu = await emulator();
  setup = syncSetup(emu);
  writeTree(setup.root, { 'a.txt': 'alpha' });
  expect((await runCli(['sync', '--config', setup.configFile], setup.env)).code).toBe(0);
  // What a killed daemon leaves, its pid now an unrelated process's.
  other = spawn('sleep', ['60'], { stdio: 'ignore' });
  fs.writeFileSync(path.join(setup.stateDir, 'lock'), JSON.stringify({ pid: other.pid, holder: 'daemon' }));

  writeTree(setup.root, { 'b.txt': 'bravo' });
  const run = await runCli(['sync', '--config', setup.configFile], setup.env);
  expect(run.stderr).not.toMatch(/control socket|stop it/);
  expect(run.code, run.stderr).toBe(0);
  expect(
    emu
      .state()
      .files.map((f) => f.filename)
      .sort(),
  ).toEqual(['a.txt', 'b.txt']);

  fs.writeFileSync(path.join(setup.stateDir, 'lock'), JSON.stringify({ pid: other.pid, holder: 'daemon' }));
  const status = await runCli(['status', '--config', setup.configFile], setup.env);
  expect(status.code, status.stderr).toBe(0);
  expect(status.stdout).not.toMatch(new RegExp(`pid ${other.pid}`));
  expect(status.stdout).toMatch(/up to date/);
});
